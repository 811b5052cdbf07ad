//! `slow_close`: passes data, but holds the end of the stream back for `delay` ms.

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Cx, Pull, Queue, Toxic, ToxicState, after, parse_attributes, to_attributes};
use crate::stream::Item;

/// Attributes of the `slow_close` toxic.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct SlowClose {
    /// How long to hold the close, in milliseconds.
    pub(crate) delay: u64,
}

/// Builds a `slow_close` toxic from its attributes.
pub(super) fn build(attributes: &Value) -> Result<Arc<dyn Toxic>, String> {
    Ok(Arc::new(parse_attributes::<SlowClose>(attributes)?))
}

impl Toxic for SlowClose {
    fn attributes(&self) -> Value {
        to_attributes(self)
    }

    fn start(&self, _cx: &mut Cx<'_>) -> Box<dyn ToxicState> {
        Box::new(SlowCloseState {
            config: self.clone(),
            queue: Queue::default(),
        })
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A running `slow_close` stage.
struct SlowCloseState {
    config: SlowClose,
    queue: Queue,
}

impl ToxicState for SlowCloseState {
    fn push(&mut self, item: Item, cx: &mut Cx<'_>) {
        let at = match &item {
            Item::Data(chunk) => Some(chunk.at),
            Item::End(_) => after(cx.now, Duration::from_millis(self.config.delay)),
        };
        self.queue.push(at, item);
    }

    fn pull(&mut self, cx: &mut Cx<'_>) -> Pull {
        self.queue.pull(cx.now)
    }

    fn update(&mut self, toxic: &dyn Toxic, cx: &mut Cx<'_>) {
        if let Some(config) = toxic.as_any().downcast_ref::<SlowClose>() {
            self.config = config.clone();
            // As in Toxiproxy, an update restarts the wait for a held close.
            let delay = Duration::from_millis(self.config.delay);
            let now = cx.now;
            self.queue.retime(|item| match item {
                Item::Data(chunk) => Some(chunk.at),
                Item::End(_) => after(now, delay),
            });
        }
    }

    fn drain(self: Box<Self>) -> Vec<Item> {
        self.queue.drain()
    }

    fn held_bytes(&self) -> usize {
        self.queue.held_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{Harness, bytes_of, ends_of};
    use super::*;
    use crate::stream::End;
    use serde_json::json;

    #[test]
    fn data_passes_and_the_end_waits() {
        let mut h = Harness::new("slow_close", json!({"delay": 50}));
        h.push_data(0, b"hi");
        h.push_end(1, End::Eof);
        assert_eq!(bytes_of(&h.pull_all(1)), b"hi");
        assert!(matches!(h.pull(2), Pull::At(at) if at == h.at(51)));
        assert_eq!(ends_of(&h.pull_all(51)), vec![End::Eof]);
    }
}
