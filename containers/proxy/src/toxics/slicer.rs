//! `slicer`: cuts chunks into pieces of about `average_size` bytes, `delay` µs apart.

use std::any::Any;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Cx, Pull, Queue, Toxic, ToxicState, after, parse_attributes, to_attributes};
use crate::stream::{Chunk, Item};

/// Attributes of the `slicer` toxic.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct Slicer {
    /// Average piece size in bytes (0 behaves as 1).
    pub(crate) average_size: usize,
    /// How far a cut may stray from the middle, in bytes.
    pub(crate) size_variation: usize,
    /// Pause between pieces, in microseconds.
    pub(crate) delay: u64,
}

/// Builds a `slicer` toxic from its attributes.
pub(super) fn build(attributes: &Value) -> Result<Arc<dyn Toxic>, String> {
    Ok(Arc::new(parse_attributes::<Slicer>(attributes)?))
}

impl Slicer {
    /// End offsets of the pieces of a `len`-byte chunk: halve a span, moving the cut by up to
    /// `size_variation`, until each span is at most `average_size + size_variation` long.
    fn cuts(&self, len: usize, cx: &mut Cx<'_>) -> Vec<usize> {
        let largest = self.average_size.saturating_add(self.size_variation).max(1);
        let mut cuts = Vec::new();
        // Spans still to cut, rightmost at the bottom so pieces come out in order.
        let mut spans = vec![(0, len)];
        while let Some((start, end)) = spans.pop() {
            if end - start <= largest {
                if end > start {
                    cuts.push(end);
                }
                continue;
            }
            let mut mid = start + (end - start) / 2;
            if self.size_variation > 0 {
                let shift = cx
                    .rng
                    .random_range(0..=self.size_variation.saturating_mul(2));
                mid = mid
                    .saturating_add(shift)
                    .saturating_sub(self.size_variation);
            }
            let mid = mid.clamp(start + 1, end - 1);
            spans.push((mid, end));
            spans.push((start, mid));
        }
        cuts
    }
}

impl Toxic for Slicer {
    fn attributes(&self) -> Value {
        to_attributes(self)
    }

    fn start(&self, _cx: &mut Cx<'_>) -> Box<dyn ToxicState> {
        Box::new(SlicerState {
            config: self.clone(),
            queue: Queue::default(),
            next_at: None,
        })
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A running `slicer` stage.
struct SlicerState {
    config: Slicer,
    queue: Queue,
    /// When the next piece may go.
    next_at: Option<Instant>,
}

impl ToxicState for SlicerState {
    fn push(&mut self, item: Item, cx: &mut Cx<'_>) {
        match item {
            Item::Data(chunk) => {
                let pause = Duration::from_micros(self.config.delay);
                let mut at = Some(self.next_at.map_or(chunk.at, |next| next.max(chunk.at)));
                let mut start = 0;
                for cut in self.config.cuts(chunk.data.len(), cx) {
                    let piece = Chunk {
                        data: chunk.data.slice(start..cut),
                        at: chunk.at,
                    };
                    self.queue.push(at, Item::Data(piece));
                    at = at.and_then(|at| after(at, pause));
                    start = cut;
                }
                self.next_at = at;
            }
            end @ Item::End(_) => {
                let at = self.next_at.map_or(cx.now, |next| next.max(cx.now));
                self.queue.push(Some(at), end);
            }
        }
    }

    fn pull(&mut self, cx: &mut Cx<'_>) -> Pull {
        self.queue.pull(cx.now)
    }

    fn update(&mut self, toxic: &dyn Toxic, _cx: &mut Cx<'_>) {
        if let Some(config) = toxic.as_any().downcast_ref::<Slicer>() {
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
    use super::super::testing::{Harness, bytes_of};
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;
    use serde_json::json;

    fn cuts_with_seed(slicer: &Slicer, len: usize, seed: u64) -> Vec<usize> {
        let mut rng = SmallRng::seed_from_u64(seed);
        slicer.cuts(
            len,
            &mut Cx {
                now: Instant::now(),
                rng: &mut rng,
            },
        )
    }

    #[test]
    fn pieces_cover_the_chunk_within_size_bounds() {
        let slicer = Slicer {
            average_size: 10,
            size_variation: 4,
            delay: 0,
        };
        for len in [0, 1, 13, 14, 15, 100, 1000, 4097] {
            let cuts = cuts_with_seed(&slicer, len, len as u64);
            let mut start = 0;
            for &cut in &cuts {
                assert!(cut > start && cut - start <= 14, "len {len}: {cuts:?}");
                start = cut;
            }
            assert_eq!(start, len);
        }
    }

    #[test]
    fn same_seed_same_cuts() {
        let slicer = Slicer {
            average_size: 7,
            size_variation: 5,
            delay: 0,
        };
        assert_eq!(
            cuts_with_seed(&slicer, 5000, 42),
            cuts_with_seed(&slicer, 5000, 42)
        );
    }

    #[test]
    fn degenerate_sizes_still_terminate() {
        let slicer = Slicer {
            average_size: 0,
            size_variation: 50,
            delay: 0,
        };
        let cuts = cuts_with_seed(&slicer, 300, 1);
        assert_eq!(cuts.last(), Some(&300));
    }

    #[test]
    fn pieces_are_spaced_by_the_delay() {
        let mut h = Harness::new(
            "slicer",
            json!({"average_size": 2, "size_variation": 0, "delay": 1000}),
        );
        h.push_data(0, b"abcdefgh");
        assert_eq!(bytes_of(&h.pull_all(0)), b"ab");
        assert_eq!(bytes_of(&h.pull_all(1)), b"cd");
        assert_eq!(bytes_of(&h.pull_all(3)), b"efgh");
    }
}
