//! The fast path's ring buffer: one side reads into it while the other writes out of it.
//!
//! It starts small, so that idle and chatty connections cost little memory, and doubles
//! whenever a read fills all the space it was offered (a bulk transfer), up to 2 MiB, where
//! measured loopback throughput levels off.

use bytes::Bytes;

/// Size of a new ring.
const START_SIZE: usize = 64 * 1024;
/// Size a ring grows to at most.
pub(crate) const MAX_SIZE: usize = 2 * 1024 * 1024;

/// A ring of bytes; allocated on first use.
#[derive(Debug, Default)]
pub(crate) struct Ring {
    buf: Vec<u8>,
    /// Start of the bytes waiting to be written.
    head: usize,
    /// How many bytes wait.
    len: usize,
    /// Length of the free slice last handed out.
    offered: usize,
    /// Set when a read filled everything offered: grow once the ring is empty.
    grow: bool,
}

impl Ring {
    /// Bytes waiting to be written.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The next bytes to write and the free space to read into, as disjoint slices
    /// (either may be empty).
    pub(crate) fn split(&mut self) -> (&[u8], &mut [u8]) {
        if self.len == 0 {
            if self.buf.is_empty() || self.grow {
                let size = (self.buf.len() * 2).clamp(START_SIZE, MAX_SIZE);
                self.buf = vec![0; size];
                self.grow = false;
            }
            // Start over at the front for the longest contiguous free space.
            self.head = 0;
        }
        let size = self.buf.len();
        let tail = self.head + self.len;
        let (waiting, free) = if tail < size {
            // [head, tail) waits; [tail, size) is free.
            let (front, back) = self.buf.split_at_mut(tail);
            (&front[self.head..], back)
        } else {
            // Wrapped (or ending at the very end): [head, size) waits first;
            // [tail - size, head) is free.
            let (front, back) = self.buf.split_at_mut(self.head);
            (&*back, &mut front[tail - size..])
        };
        self.offered = free.len();
        (waiting, free)
    }

    /// Records `n` bytes read into the free slice that [`Ring::split`] gave.
    pub(crate) fn filled(&mut self, n: usize) {
        self.len += n;
        if n > 0 && n == self.offered && self.buf.len() < MAX_SIZE {
            self.grow = true;
        }
    }

    /// Records `n` bytes written from the slice that [`Ring::split`] gave.
    pub(crate) fn consumed(&mut self, n: usize) {
        let size = self.buf.len().max(1);
        self.head = (self.head + n) % size;
        self.len -= n;
    }

    /// Takes every waiting byte out, in order (when toxics take over).
    pub(crate) fn take(&mut self) -> Bytes {
        let size = self.buf.len();
        let mut out = Vec::with_capacity(self.len);
        let end = (self.head + self.len).min(size);
        out.extend_from_slice(&self.buf[self.head..end]);
        out.extend_from_slice(&self.buf[..self.len - (end - self.head)]);
        self.head = 0;
        self.len = 0;
        Bytes::from(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `data` in with writes of `out_step`, reading `in_step` at a time.
    fn pump(data: &[u8], in_step: usize, out_step: usize) -> Vec<u8> {
        let mut ring = Ring::default();
        let mut fed = 0;
        let mut out = Vec::new();
        while out.len() < data.len() {
            let (_, free) = ring.split();
            let n = free.len().min(in_step).min(data.len() - fed);
            free[..n].copy_from_slice(&data[fed..fed + n]);
            ring.filled(n);
            fed += n;
            let (waiting, _) = ring.split();
            let m = waiting.len().min(out_step);
            out.extend_from_slice(&waiting[..m]);
            ring.consumed(m);
        }
        out
    }

    #[test]
    fn bytes_come_out_in_order_across_wraps() {
        let data: Vec<u8> = (0..3 * MAX_SIZE + 12345)
            .map(|i| (i * 31 % 251) as u8)
            .collect();
        for (in_step, out_step) in [(MAX_SIZE, 1000), (7000, 5000), (100_000, 99_999)] {
            assert_eq!(pump(&data, in_step, out_step), data, "{in_step}/{out_step}");
        }
    }

    #[test]
    fn grows_under_bulk_reads_only() {
        let mut ring = Ring::default();
        let (_, free) = ring.split();
        assert_eq!(free.len(), START_SIZE);
        ring.filled(10);
        ring.consumed(10);
        assert_eq!(
            ring.split().1.len(),
            START_SIZE,
            "a short read does not grow it"
        );
        ring.filled(START_SIZE);
        assert_eq!(ring.split().1.len(), 0, "no growth while bytes wait");
        ring.consumed(START_SIZE);
        assert_eq!(ring.split().1.len(), 2 * START_SIZE);
        for _ in 0..10 {
            let offered = ring.split().1.len();
            ring.filled(offered);
            ring.consumed(offered);
        }
        assert_eq!(ring.split().1.len(), MAX_SIZE);
    }

    #[test]
    fn take_returns_wrapped_bytes_in_order() {
        let mut ring = Ring::default();
        let (_, free) = ring.split();
        free.fill(1);
        let size = free.len();
        ring.filled(size - 1);
        ring.consumed(size - 4);
        let (_, free) = ring.split();
        assert_eq!(free.len(), 1);
        free[0] = 2;
        ring.filled(1);
        let (_, free) = ring.split();
        assert_eq!(free.len(), size - 4, "wrapped free space");
        free[0] = 3;
        ring.filled(1);
        assert_eq!(&ring.take()[..], &[1, 1, 1, 2, 3]);
        assert_eq!(ring.len(), 0);
    }
}
