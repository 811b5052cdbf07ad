//! `timeout`: drops all data; closes the connection after `timeout` ms without data (0: never).

use std::any::Any;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Cx, Pull, Toxic, ToxicState, after, parse_attributes, to_attributes};
use crate::stream::{End, Item};

/// Attributes of the `timeout` toxic.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct Timeout {
    /// Milliseconds until the connection closes; 0 holds data back forever (a blackhole).
    pub(crate) timeout: u64,
}

/// Builds a `timeout` toxic from its attributes.
pub(super) fn build(attributes: &Value) -> Result<Arc<dyn Toxic>, String> {
    Ok(Arc::new(parse_attributes::<Timeout>(attributes)?))
}

impl Timeout {
    /// The close deadline counted from `from`, if the toxic closes at all.
    fn deadline(&self, from: Instant) -> Option<Instant> {
        if self.timeout == 0 {
            None
        } else {
            after(from, Duration::from_millis(self.timeout))
        }
    }
}

impl Toxic for Timeout {
    fn attributes(&self) -> Value {
        to_attributes(self)
    }

    fn start(&self, cx: &mut Cx<'_>) -> Box<dyn ToxicState> {
        Box::new(TimeoutState {
            deadline: self.deadline(cx.now),
            config: self.clone(),
            end: None,
            fired: false,
        })
    }

    fn closes_on_remove(&self) -> bool {
        true
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A running `timeout` stage.
struct TimeoutState {
    config: Timeout,
    deadline: Option<Instant>,
    /// An end that arrived from upstream in the chain, passed on as is.
    end: Option<End>,
    fired: bool,
}

impl ToxicState for TimeoutState {
    fn push(&mut self, item: Item, cx: &mut Cx<'_>) {
        match item {
            // Dropped; as in Toxiproxy, data restarts the countdown.
            Item::Data(_) => self.deadline = self.config.deadline(cx.now),
            Item::End(end) => self.end = Some(end),
        }
    }

    fn pull(&mut self, cx: &mut Cx<'_>) -> Pull {
        if let Some(end) = self.end.take() {
            return Pull::Ready(Item::End(end));
        }
        if self.fired {
            return Pull::Idle;
        }
        match self.deadline {
            Some(deadline) if deadline <= cx.now => {
                self.fired = true;
                Pull::Ready(Item::End(End::Close))
            }
            Some(deadline) => Pull::At(deadline),
            None => Pull::Idle,
        }
    }

    fn update(&mut self, toxic: &dyn Toxic, cx: &mut Cx<'_>) {
        if let Some(config) = toxic.as_any().downcast_ref::<Timeout>() {
            self.config = config.clone();
            self.deadline = self.config.deadline(cx.now);
        }
    }

    fn drain(self: Box<Self>) -> Vec<Item> {
        self.end.map(Item::End).into_iter().collect()
    }

    fn held_bytes(&self) -> usize {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{Harness, bytes_of, ends_of};
    use super::*;
    use serde_json::json;

    #[test]
    fn drops_data_and_closes_after_the_timeout() {
        let mut h = Harness::new("timeout", json!({"timeout": 100}));
        h.push_data(50, b"lost");
        // Data restarted the countdown: due at 150, not 100.
        assert!(matches!(h.pull(100), Pull::At(at) if at == h.at(150)));
        let out = h.pull_all(150);
        assert!(bytes_of(&out).is_empty());
        assert_eq!(ends_of(&out), vec![End::Close]);
        assert!(matches!(h.pull(1000), Pull::Idle));
    }

    #[test]
    fn zero_is_a_blackhole_that_never_closes() {
        let mut h = Harness::new("timeout", json!({"timeout": 0}));
        h.push_data(0, b"lost");
        assert!(matches!(h.pull(1_000_000), Pull::Idle));
        assert!(h.state.drain().is_empty());
    }
}
