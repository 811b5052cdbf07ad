//! One task per probe, evaluating it over and over and keeping every observation.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use super::{Observation, ProbeContext, evaluate};
use crate::scenario::ProbeSpec;

/// The observations of one probe, shared between its poller and the runner.
#[derive(Debug, Clone, Default)]
pub struct History {
    observations: Arc<Mutex<Vec<Observation>>>,
}

impl History {
    /// Every observation so far.
    pub fn snapshot(&self) -> Vec<Observation> {
        self.observations
            .lock()
            .map(|o| o.clone())
            .unwrap_or_default()
    }

    /// The latest observation.
    pub fn latest(&self) -> Option<Observation> {
        self.observations
            .lock()
            .ok()
            .and_then(|o| o.last().cloned())
    }

    /// The first observation that started at or after `from` and satisfies `pred`.
    pub fn first_after(
        &self,
        from: Instant,
        pred: impl Fn(&Observation) -> bool,
    ) -> Option<Observation> {
        self.observations
            .lock()
            .ok()
            .and_then(|o| o.iter().find(|x| x.started >= from && pred(x)).cloned())
    }

    fn push(&self, observation: Observation) {
        if let Ok(mut o) = self.observations.lock() {
            o.push(observation);
        }
    }
}

/// A running poller; stops when dropped. It evaluates only while active, so a probe that
/// drives real work (a whole gateway turn) runs only while some check needs it.
pub struct Poller {
    /// Its observations.
    pub history: History,
    active: tokio::sync::watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Poller {
    /// Starts polling `probe` every `interval` (after each evaluation completes), or at the
    /// probe's own interval if it has one.
    pub fn start(probe: ProbeSpec, context: ProbeContext, interval: Duration) -> Self {
        let interval = probe.interval.unwrap_or(interval);
        let history = History::default();
        let sink = history.clone();
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .no_proxy()
            .build()
            .unwrap_or_default();
        let (active, mut wanted) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            loop {
                if wanted.wait_for(|on| *on).await.is_err() {
                    return;
                }
                let observation = evaluate(&probe, &context, &http).await;
                tracing::trace!(probe = %probe.name, holds = observation.holds, detail = %observation.detail);
                sink.push(observation);
                // Sleep the interval, but wake at once when a check starts needing the probe.
                tokio::select! {
                    _ = tokio::time::sleep(interval) => {}
                    _ = wanted.wait_for(|on| !*on) => {}
                }
            }
        });
        Self {
            history,
            active,
            task,
        }
    }

    /// Starts or pauses evaluations (an evaluation under way finishes either way).
    pub fn set_active(&self, on: bool) {
        self.active.send_if_modified(|current| {
            let changed = *current != on;
            *current = on;
            changed
        });
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        self.task.abort();
    }
}
