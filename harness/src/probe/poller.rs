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

/// A running poller; stops when dropped.
pub struct Poller {
    /// Its observations.
    pub history: History,
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
        let task = tokio::spawn(async move {
            loop {
                let observation = evaluate(&probe, &context, &http).await;
                tracing::trace!(probe = %probe.name, holds = observation.holds, detail = %observation.detail);
                sink.push(observation);
                tokio::time::sleep(interval).await;
            }
        });
        Self { history, task }
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        self.task.abort();
    }
}
