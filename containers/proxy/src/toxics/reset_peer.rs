//! `reset_peer`: once data arrives, waits `timeout` ms and resets the connection (TCP RST).

use std::any::Any;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Cx, Pull, Toxic, ToxicState, after, parse_attributes, to_attributes};
use crate::stream::{End, Item};

/// Attributes of the `reset_peer` toxic.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct ResetPeer {
    /// Milliseconds between the first data and the reset.
    pub(crate) timeout: u64,
}

/// Builds a `reset_peer` toxic from its attributes.
pub(super) fn build(attributes: &Value) -> Result<Arc<dyn Toxic>, String> {
    Ok(Arc::new(parse_attributes::<ResetPeer>(attributes)?))
}

impl Toxic for ResetPeer {
    fn attributes(&self) -> Value {
        to_attributes(self)
    }

    fn start(&self, _cx: &mut Cx<'_>) -> Box<dyn ToxicState> {
        Box::new(ResetPeerState {
            config: self.clone(),
            triggered: None,
            fired: false,
        })
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A running `reset_peer` stage.
struct ResetPeerState {
    config: ResetPeer,
    /// When the first item arrived; the reset is due `timeout` ms later.
    triggered: Option<Instant>,
    fired: bool,
}

impl ToxicState for ResetPeerState {
    fn push(&mut self, _item: Item, cx: &mut Cx<'_>) {
        // As in Toxiproxy, whatever arrives is dropped; the first arrival starts the clock.
        self.triggered.get_or_insert(cx.now);
    }

    fn pull(&mut self, cx: &mut Cx<'_>) -> Pull {
        let Some(triggered) = self.triggered.filter(|_| !self.fired) else {
            return Pull::Idle;
        };
        match after(triggered, Duration::from_millis(self.config.timeout)) {
            Some(due) if due <= cx.now => {
                self.fired = true;
                Pull::Ready(Item::End(End::Reset))
            }
            Some(due) => Pull::At(due),
            None => Pull::Idle,
        }
    }

    fn update(&mut self, toxic: &dyn Toxic, _cx: &mut Cx<'_>) {
        if let Some(config) = toxic.as_any().downcast_ref::<ResetPeer>() {
            self.config = config.clone();
        }
    }

    fn drain(self: Box<Self>) -> Vec<Item> {
        Vec::new()
    }

    fn held_bytes(&self) -> usize {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{Harness, ends_of};
    use super::*;
    use serde_json::json;

    #[test]
    fn resets_timeout_after_the_first_data() {
        let mut h = Harness::new("reset_peer", json!({"timeout": 30}));
        assert!(matches!(h.pull(100), Pull::Idle));
        h.push_data(100, b"x");
        h.push_data(110, b"y");
        assert!(matches!(h.pull(120), Pull::At(at) if at == h.at(130)));
        assert_eq!(ends_of(&h.pull_all(130)), vec![End::Reset]);
    }
}
