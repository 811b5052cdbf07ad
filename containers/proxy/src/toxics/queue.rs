//! The FIFO most toxics are built on: each item is released at its own time, never out of order.

use std::collections::VecDeque;
use std::time::Instant;

use super::Pull;
use crate::stream::Item;

/// Items waiting in a stage, each with its release time (`None`: held until re-timed).
#[derive(Debug, Default)]
pub(crate) struct Queue {
    items: VecDeque<(Option<Instant>, Item)>,
    bytes: usize,
    last: Option<Instant>,
}

impl Queue {
    /// Adds an item released at `at`, or later if an item before it is released later.
    pub(crate) fn push(&mut self, at: Option<Instant>, item: Item) {
        let at = at.map(|at| self.last.map_or(at, |last| at.max(last)));
        if at.is_some() {
            self.last = at;
        }
        self.bytes += item.len();
        self.items.push_back((at, item));
    }

    /// Releases the front item if it is due at `now`; a released chunk is stamped with the
    /// time it was due, so lateness of the caller does not add up along a chain.
    pub(crate) fn pull(&mut self, now: Instant) -> Pull {
        match self.items.front() {
            None | Some((None, _)) => Pull::Idle,
            Some((Some(at), _)) if *at > now => Pull::At(*at),
            Some(_) => match self.items.pop_front() {
                Some((at, mut item)) => {
                    self.bytes -= item.len();
                    if let (Item::Data(chunk), Some(at)) = (&mut item, at) {
                        chunk.at = chunk.at.max(at);
                    }
                    Pull::Ready(item)
                }
                None => Pull::Idle,
            },
        }
    }

    /// Gives every item back in order.
    pub(crate) fn drain(self) -> Vec<Item> {
        self.items.into_iter().map(|(_, item)| item).collect()
    }

    /// Payload bytes held.
    pub(crate) fn held_bytes(&self) -> usize {
        self.bytes
    }

    /// Recomputes every release time in order (for an attribute update).
    pub(crate) fn retime(&mut self, mut at: impl FnMut(&Item) -> Option<Instant>) {
        let items = std::mem::take(&mut self.items);
        self.bytes = 0;
        self.last = None;
        for (_, item) in items {
            let when = at(&item);
            self.push(when, item);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::{Chunk, End};
    use bytes::Bytes;
    use std::time::Duration;

    fn data(at: Instant, bytes: &'static [u8]) -> Item {
        Item::Data(Chunk {
            data: Bytes::from_static(bytes),
            at,
        })
    }

    #[test]
    fn never_reorders_and_stamps_release_time() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut queue = Queue::default();
        queue.push(Some(ms(10)), data(t0, b"a"));
        queue.push(Some(ms(5)), data(t0, b"b")); // due earlier, must still come second
        queue.push(Some(ms(0)), Item::End(End::Eof));
        assert_eq!(queue.held_bytes(), 2);
        assert!(matches!(queue.pull(ms(4)), Pull::At(at) if at == ms(10)));
        match queue.pull(ms(10)) {
            Pull::Ready(Item::Data(chunk)) => {
                assert_eq!(&chunk.data[..], b"a");
                assert_eq!(chunk.at, ms(10));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(queue.pull(ms(10)), Pull::Ready(Item::Data(_))));
        assert!(matches!(
            queue.pull(ms(10)),
            Pull::Ready(Item::End(End::Eof))
        ));
        assert!(matches!(queue.pull(ms(10)), Pull::Idle));
        assert_eq!(queue.held_bytes(), 0);
    }

    #[test]
    fn held_items_block_everything_behind_them() {
        let t0 = Instant::now();
        let mut queue = Queue::default();
        queue.push(None, data(t0, b"held"));
        queue.push(Some(t0), data(t0, b"x"));
        assert!(matches!(queue.pull(t0), Pull::Idle));
        queue.retime(|_| Some(t0));
        assert!(matches!(queue.pull(t0), Pull::Ready(_)));
        assert_eq!(queue.drain().len(), 1);
    }
}
