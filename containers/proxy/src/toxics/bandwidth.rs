//! `bandwidth`: passes data at no more than `rate` KB/s (1 KB = 1000 bytes, as in Toxiproxy).

use std::any::Any;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Cx, Pull, Queue, Toxic, ToxicState, after, parse_attributes, to_attributes};
use crate::stream::{Chunk, Item};

/// Attributes of the `bandwidth` toxic.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct Bandwidth {
    /// Rate in KB/s, at least 1 (Toxiproxy 2.x takes 0 and then holds all data).
    pub(crate) rate: u64,
}

/// Builds a `bandwidth` toxic from its attributes; a rate of 0 is refused (it would hold
/// every byte rather than cap the rate: the `timeout` toxic is the way to stall a link).
pub(super) fn build(attributes: &Value) -> Result<Arc<dyn Toxic>, String> {
    let bandwidth = parse_attributes::<Bandwidth>(attributes)?;
    if bandwidth.rate == 0 {
        return Err(
            "attributes.rate: must be at least 1 (KB/s); to stall the link use the timeout toxic"
                .to_owned(),
        );
    }
    Ok(Arc::new(bandwidth))
}

impl Bandwidth {
    /// How long `len` bytes take on the wire.
    fn transfer_time(&self, len: usize) -> Duration {
        // rate KB/s == rate bytes per ms.
        let nanos = (len as u128 * 1_000_000) / u128::from(self.rate.max(1));
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// Largest piece sent at once: 100 ms worth, so a slow rate still trickles.
    fn piece_size(&self) -> usize {
        usize::try_from(self.rate.saturating_mul(100))
            .unwrap_or(usize::MAX)
            .max(1)
    }
}

impl Toxic for Bandwidth {
    fn attributes(&self) -> Value {
        to_attributes(self)
    }

    fn start(&self, _cx: &mut Cx<'_>) -> Box<dyn ToxicState> {
        Box::new(BandwidthState {
            config: self.clone(),
            queue: Queue::default(),
            free_at: None,
        })
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A running `bandwidth` stage.
struct BandwidthState {
    config: Bandwidth,
    queue: Queue,
    /// When the simulated wire is free again.
    free_at: Option<Instant>,
}

impl BandwidthState {
    /// Release time of a piece of `len` bytes that is ready at `ready`.
    fn schedule(&mut self, ready: Instant, len: usize) -> Option<Instant> {
        if self.config.rate == 0 {
            return None;
        }
        let start = self.free_at.map_or(ready, |free| free.max(ready));
        let done = after(start, self.config.transfer_time(len));
        self.free_at = done;
        done
    }
}

impl ToxicState for BandwidthState {
    fn push(&mut self, item: Item, cx: &mut Cx<'_>) {
        match item {
            Item::Data(chunk) => {
                let piece = self.config.piece_size();
                let mut data = chunk.data;
                while !data.is_empty() {
                    let part = data.split_to(piece.min(data.len()));
                    let at = self.schedule(chunk.at, part.len());
                    self.queue.push(
                        at,
                        Item::Data(Chunk {
                            data: part,
                            at: chunk.at,
                        }),
                    );
                }
            }
            end @ Item::End(_) => self.queue.push(Some(cx.now), end),
        }
    }

    fn pull(&mut self, cx: &mut Cx<'_>) -> Pull {
        self.queue.pull(cx.now)
    }

    fn update(&mut self, toxic: &dyn Toxic, cx: &mut Cx<'_>) {
        if let Some(config) = toxic.as_any().downcast_ref::<Bandwidth>() {
            self.config = config.clone();
            // Whatever is still queued goes out at the new rate from now on.
            self.free_at = None;
            let now = cx.now;
            let mut queue = std::mem::take(&mut self.queue);
            queue.retime(|item| match item {
                Item::Data(chunk) => self.schedule(now, chunk.data.len()),
                Item::End(_) => Some(now),
            });
            self.queue = queue;
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
    use super::super::testing::{Harness, bytes_of};
    use super::*;
    use serde_json::json;

    #[test]
    fn paces_data_at_the_rate() {
        // 10 KB/s = 10 bytes per ms.
        let mut h = Harness::new("bandwidth", json!({"rate": 10}));
        h.push_data(0, &[1; 100]); // 10 ms of wire time
        h.push_data(0, &[2; 50]); // 5 more
        assert!(matches!(h.pull(9), Pull::At(at) if at == h.at(10)));
        assert_eq!(bytes_of(&h.pull_all(10)).len(), 100);
        assert!(h.pull_all(14).is_empty());
        assert_eq!(bytes_of(&h.pull_all(15)).len(), 50);
    }

    #[test]
    fn big_chunks_trickle_in_100ms_pieces() {
        // 1 KB/s: 100-byte pieces, one every 100 ms.
        let mut h = Harness::new("bandwidth", json!({"rate": 1}));
        h.push_data(0, &[7; 250]);
        assert_eq!(bytes_of(&h.pull_all(100)).len(), 100);
        assert_eq!(bytes_of(&h.pull_all(200)).len(), 100);
        assert!(h.pull_all(249).is_empty());
        assert_eq!(bytes_of(&h.pull_all(250)).len(), 50);
    }

    #[test]
    fn rate_zero_is_refused_by_name() {
        let err = build(&json!({"rate": 0})).expect_err("rate 0 blocks everything");
        assert!(err.starts_with("attributes.rate:"), "{err}");
        let err = build(&json!({"rate": -5})).expect_err("negative");
        assert!(err.starts_with("attributes.rate:"), "{err}");
    }

    #[test]
    fn a_faster_rate_releases_what_a_slow_one_held() {
        // 1 KB/s: 5,000 bytes would take 5 s.
        let mut h = Harness::new("bandwidth", json!({"rate": 1}));
        h.push_data(0, &[7; 5000]);
        assert_eq!(bytes_of(&h.pull_all(100)).len(), 100);
        let faster = build(&json!({"rate": 1000})).expect("bandwidth");
        let now = h.at(100);
        h.state.update(
            faster.as_ref(),
            &mut Cx {
                now,
                rng: &mut h.rng,
            },
        );
        assert_eq!(bytes_of(&h.pull_all(300)).len(), 4900);
    }
}
