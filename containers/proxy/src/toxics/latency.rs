//! `latency`: delays every chunk by `latency` ± `jitter` ms from its own arrival (pipelined).

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Cx, Pull, Queue, Toxic, ToxicState, after, parse_attributes, to_attributes};
use crate::stream::Item;

/// Attributes of the `latency` toxic.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct Latency {
    /// Delay in milliseconds.
    pub(crate) latency: u64,
    /// Random variation in milliseconds, either way.
    pub(crate) jitter: u64,
}

/// Builds a `latency` toxic from its attributes.
pub(super) fn build(attributes: &Value) -> Result<Arc<dyn Toxic>, String> {
    Ok(Arc::new(parse_attributes::<Latency>(attributes)?))
}

impl Latency {
    /// One chunk's delay: `latency` plus a uniform offset in `[-jitter, +jitter]`, at least 0.
    fn delay(&self, cx: &mut Cx<'_>) -> Duration {
        let base = Duration::from_millis(self.latency);
        if self.jitter == 0 {
            return base;
        }
        let jitter_us = self.jitter.saturating_mul(1000);
        let offset = cx.rng.random_range(0..=jitter_us.saturating_mul(2));
        if offset >= jitter_us {
            base.saturating_add(Duration::from_micros(offset - jitter_us))
        } else {
            base.saturating_sub(Duration::from_micros(jitter_us - offset))
        }
    }
}

impl Toxic for Latency {
    fn attributes(&self) -> Value {
        to_attributes(self)
    }

    fn start(&self, _cx: &mut Cx<'_>) -> Box<dyn ToxicState> {
        Box::new(LatencyState {
            config: self.clone(),
            queue: Queue::default(),
        })
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A running `latency` stage.
struct LatencyState {
    config: Latency,
    queue: Queue,
}

impl ToxicState for LatencyState {
    fn push(&mut self, item: Item, cx: &mut Cx<'_>) {
        let at = match &item {
            // From the chunk's own arrival: chunks in flight overlap, so throughput holds.
            Item::Data(chunk) => after(chunk.at, self.config.delay(cx)),
            // An end follows the data before it without a delay of its own.
            Item::End(_) => Some(cx.now),
        };
        self.queue.push(at, item);
    }

    fn pull(&mut self, cx: &mut Cx<'_>) -> Pull {
        self.queue.pull(cx.now)
    }

    fn update(&mut self, toxic: &dyn Toxic, _cx: &mut Cx<'_>) {
        if let Some(config) = toxic.as_any().downcast_ref::<Latency>() {
            self.config = config.clone();
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
    fn each_chunk_is_delayed_from_its_own_arrival() {
        let mut h = Harness::new("latency", json!({"latency": 100}));
        h.push_data(0, b"a");
        h.push_data(1, b"b");
        h.push_data(2, b"c");
        assert!(matches!(h.pull(99), Pull::At(at) if at == h.at(100)));
        assert_eq!(bytes_of(&h.pull_all(100)), b"a");
        // Pipelined: "b" is due at 101, not at 200.
        assert_eq!(bytes_of(&h.pull_all(101)), b"b");
        assert_eq!(bytes_of(&h.pull_all(102)), b"c");
    }

    #[test]
    fn jitter_never_reorders() {
        let mut h = Harness::new("latency", json!({"latency": 10, "jitter": 10}));
        let payloads: [&'static [u8]; 6] = [b"0", b"1", b"2", b"3", b"4", b"5"];
        for (i, payload) in payloads.iter().enumerate() {
            h.push_data(i as u64, payload);
        }
        h.push_end(6, End::Eof);
        let mut out = Vec::new();
        let mut last = h.t0;
        for ms in 0..=40 {
            for item in h.pull_all(ms) {
                if let Item::Data(chunk) = &item {
                    assert!(chunk.at >= last, "release times go forward");
                    last = chunk.at;
                }
                out.push(item);
            }
        }
        assert_eq!(bytes_of(&out), b"012345");
        assert_eq!(ends_of(&out), vec![End::Eof]);
    }

    #[test]
    fn jitter_stays_within_bounds() {
        let mut h = Harness::new("latency", json!({"latency": 50, "jitter": 20}));
        let config = Latency {
            latency: 50,
            jitter: 20,
        };
        for _ in 0..1000 {
            let delay = config.delay(&mut Cx {
                now: h.t0,
                rng: &mut h.rng,
            });
            assert!(delay >= Duration::from_millis(30) && delay <= Duration::from_millis(70));
        }
    }

    #[test]
    fn drain_returns_everything_in_order() {
        let mut h = Harness::new("latency", json!({"latency": 1000}));
        h.push_data(0, b"ab");
        h.push_data(1, b"cd");
        h.push_end(2, End::Eof);
        assert_eq!(h.state.held_bytes(), 4);
        let items = h.state.drain();
        assert_eq!(bytes_of(&items), b"abcd");
        assert_eq!(ends_of(&items), vec![End::Eof]);
    }
}
