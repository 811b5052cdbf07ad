//! One direction of a proxied connection: read one socket, run the toxic chain, write the other.
//!
//! With no toxic active the link is a plain copy through a ring buffer, reading and writing at
//! the same time: no allocation, no channel, no extra task. It still watches its direction's
//! chain, so a toxic added while the connection is open takes over at once; bytes read but not yet written then go out ahead of
//! everything the new toxic holds. With toxics active, each read becomes a timestamped chunk
//! pushed through the chain's stages in order, and the link writes whatever the last stage
//! releases, sleeping on the precise timer until the next release is due.

use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Buf, BytesMut};
use rand::Rng;
use rand::rngs::SmallRng;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;

use crate::ring::Ring;
use crate::stream::{Chunk, Direction, End, Item};
use crate::timer::{Sleep, Timer};
use crate::toxic_collection::{Chain, ToxicEntry};
use crate::toxics::{Cx, Pull, ToxicState};

/// Read size with toxics active (the largest chunk a toxic sees).
const BUFFER_SIZE: usize = 64 * 1024;
/// Reading pauses while toxics and the write queue hold this many bytes.
const MAX_HELD: usize = 32 * 1024 * 1024;

/// How a link ended.
#[derive(Debug)]
pub(crate) enum LinkEnd {
    /// The source ended and the destination's write side was shut down (half-close).
    Finished,
    /// A toxic closed the connection.
    Close,
    /// A toxic reset the connection.
    Reset,
    /// Reading or writing failed.
    Failed(io::Error),
}

/// A toxic on this link: its configuration and, if its toxicity roll hit, its running stage.
struct Stage {
    entry: Arc<ToxicEntry>,
    state: Option<Box<dyn ToxicState>>,
}

/// What woke the link up.
enum Event {
    ChainChanged,
    ChainGone,
    Wrote(io::Result<usize>),
    Read(io::Result<usize>),
    Timer,
    Nothing,
}

/// How the fast path stopped.
enum Fast {
    ChainChanged,
    Eof,
    Failed(io::Error),
}

/// One direction of one connection.
pub(crate) struct Link<R, W> {
    direction: Direction,
    reader: R,
    writer: W,
    chain: watch::Receiver<Chain>,
    watching: bool,
    stages: Vec<Stage>,
    /// Items past every stage, waiting to be written.
    out: VecDeque<Item>,
    out_bytes: usize,
    /// The fast path's ring buffer, allocated on first use.
    ring: Ring,
    read_buf: BytesMut,
    read_done: bool,
    rng: SmallRng,
    sleep: Sleep,
}

impl<R, W> Link<R, W>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    /// A link reading `reader` and writing `writer`, following one direction's chain.
    pub(crate) fn new(
        direction: Direction,
        reader: R,
        writer: W,
        chain: watch::Receiver<Chain>,
        timer: &Timer,
        rng: SmallRng,
    ) -> Self {
        Link {
            direction,
            reader,
            writer,
            chain,
            watching: true,
            stages: Vec::new(),
            out: VecDeque::new(),
            out_bytes: 0,
            ring: Ring::default(),
            read_buf: BytesMut::new(),
            read_done: false,
            rng,
            sleep: timer.sleep(),
        }
    }

    /// Runs until the stream ends, a toxic ends it, or I/O fails.
    pub(crate) async fn run(mut self) -> LinkEnd {
        self.apply_chain(Instant::now());
        loop {
            if self.is_fast() {
                match self.copy_fast().await {
                    Fast::ChainChanged => self.apply_chain(Instant::now()),
                    Fast::Eof => {
                        self.read_done = true;
                        self.deliver(0, Item::End(End::Eof), Instant::now());
                    }
                    Fast::Failed(err) => return LinkEnd::Failed(err),
                }
            } else if let Some(end) = self.step().await {
                return end;
            }
        }
    }

    /// True when nothing is held and no stage is active: the plain copy applies.
    fn is_fast(&self) -> bool {
        !self.read_done && self.out.is_empty() && self.stages.iter().all(|s| s.state.is_none())
    }

    /// The plain copy: reads into the ring while writing out of it, until the chain changes,
    /// the source ends (and everything read is written) or I/O fails.
    async fn copy_fast(&mut self) -> Fast {
        let mut eof = false;
        loop {
            if eof && self.ring.len() == 0 {
                return Fast::Eof;
            }
            let (waiting, free) = self.ring.split();
            let (can_write, can_read) = (!waiting.is_empty(), !eof && !free.is_empty());
            let event = tokio::select! {
                biased;
                changed = self.chain.changed(), if self.watching => match changed {
                    Ok(()) => Event::ChainChanged,
                    Err(_) => Event::ChainGone,
                },
                wrote = self.writer.write(waiting), if can_write => Event::Wrote(wrote),
                read = self.reader.read(free), if can_read => Event::Read(read),
            };
            match event {
                Event::ChainChanged => {
                    // Already read before the change: goes out ahead of the new chain.
                    if self.ring.len() > 0 {
                        let rest = self.ring.take();
                        self.out_bytes += rest.len();
                        self.out.push_back(Item::Data(Chunk {
                            data: rest,
                            at: Instant::now(),
                        }));
                    }
                    if eof {
                        self.read_done = true;
                        self.out.push_back(Item::End(End::Eof));
                    }
                    return Fast::ChainChanged;
                }
                Event::ChainGone => self.watching = false,
                Event::Wrote(Ok(0)) => return Fast::Failed(io::ErrorKind::WriteZero.into()),
                Event::Wrote(Ok(n)) => self.ring.consumed(n),
                Event::Read(Ok(0)) => eof = true,
                Event::Read(Ok(n)) => self.ring.filled(n),
                Event::Wrote(Err(err)) | Event::Read(Err(err)) => return Fast::Failed(err),
                Event::Timer | Event::Nothing => {}
            }
        }
    }

    /// One round with toxics: move due items along, then wait for the next event.
    async fn step(&mut self) -> Option<LinkEnd> {
        let now = Instant::now();
        let next_due = match self.pump(now) {
            Ok(next_due) => next_due,
            Err(end) => return Some(end),
        };
        match self.out.front() {
            Some(Item::End(End::Eof)) => {
                // Half-close: the other direction keeps running.
                return Some(match self.writer.shutdown().await {
                    Ok(()) => LinkEnd::Finished,
                    Err(err) if err.kind() == io::ErrorKind::NotConnected => LinkEnd::Finished,
                    Err(err) => LinkEnd::Failed(err),
                });
            }
            Some(Item::End(End::Close)) => return Some(LinkEnd::Close),
            Some(Item::End(End::Reset)) => return Some(LinkEnd::Reset),
            _ => {}
        }
        if self.is_fast() {
            return None;
        }

        let can_read = !self.read_done && self.held_bytes() < MAX_HELD;
        if can_read && self.read_buf.capacity() < BUFFER_SIZE / 8 {
            self.read_buf.reserve(BUFFER_SIZE);
        }
        self.sleep.reset(next_due);
        let front = match self.out.front() {
            Some(Item::Data(chunk)) => Some(chunk.data.clone()),
            _ => None,
        };
        let event = tokio::select! {
            biased;
            changed = self.chain.changed(), if self.watching => match changed {
                Ok(()) => Event::ChainChanged,
                Err(_) => Event::ChainGone,
            },
            () = &mut self.sleep, if next_due.is_some() => Event::Timer,
            wrote = write_some(&mut self.writer, front.as_deref()), if front.is_some() => Event::Wrote(wrote),
            read = self.reader.read_buf(&mut self.read_buf), if can_read => Event::Read(read),
            else => Event::Nothing,
        };
        match event {
            Event::ChainChanged => self.apply_chain(Instant::now()),
            Event::ChainGone => self.watching = false,
            Event::Timer => {}
            Event::Wrote(Ok(0)) => return Some(LinkEnd::Failed(io::ErrorKind::WriteZero.into())),
            Event::Wrote(Ok(n)) => self.consume_front(n),
            Event::Read(Ok(0)) => {
                self.read_done = true;
                self.deliver(0, Item::End(End::Eof), Instant::now());
            }
            Event::Read(Ok(_)) => {
                let data = self.read_buf.split().freeze();
                let chunk = Chunk {
                    data,
                    at: Instant::now(),
                };
                self.deliver(0, Item::Data(chunk), Instant::now());
            }
            Event::Wrote(Err(err)) | Event::Read(Err(err)) => return Some(LinkEnd::Failed(err)),
            Event::Nothing => {
                // Everything is held with no deadline and nothing can change it: wait for the
                // connection to be torn down from the other direction or from outside.
                std::future::pending::<()>().await;
            }
        }
        None
    }

    /// Marks `n` bytes of the front chunk as written.
    fn consume_front(&mut self, n: usize) {
        if let Some(Item::Data(chunk)) = self.out.front_mut() {
            let n = n.min(chunk.data.len());
            chunk.data.advance(n);
            self.out_bytes -= n;
            if chunk.data.is_empty() {
                self.out.pop_front();
            }
        }
    }

    /// Bytes held by stages and the write queue.
    fn held_bytes(&self) -> usize {
        self.out_bytes
            + self
                .stages
                .iter()
                .filter_map(|stage| stage.state.as_ref())
                .map(|state| state.held_bytes())
                .sum::<usize>()
    }

    /// Gives `item` to the first active stage at or after `from`, or to the write queue.
    fn deliver(&mut self, from: usize, item: Item, now: Instant) {
        let mut cx = Cx {
            now,
            rng: &mut self.rng,
        };
        for stage in self.stages.iter_mut().skip(from) {
            if let Some(state) = stage.state.as_mut() {
                state.push(item, &mut cx);
                return;
            }
        }
        self.out_bytes += item.len();
        self.out.push_back(item);
    }

    /// Moves every due item one stage on, front to back; returns when the next one is due.
    /// A reset ends the link at once, dropping whatever is held.
    fn pump(&mut self, now: Instant) -> Result<Option<Instant>, LinkEnd> {
        let mut next_due: Option<Instant> = None;
        for index in 0..self.stages.len() {
            while let Some(state) = self.stages[index].state.as_mut() {
                let pulled = state.pull(&mut Cx {
                    now,
                    rng: &mut self.rng,
                });
                match pulled {
                    Pull::Ready(Item::End(End::Reset)) => return Err(LinkEnd::Reset),
                    Pull::Ready(item) => self.deliver(index + 1, item, now),
                    Pull::At(at) => {
                        next_due = Some(next_due.map_or(at, |due| due.min(at)));
                        break;
                    }
                    Pull::Idle => break,
                }
            }
        }
        Ok(next_due)
    }

    /// Brings the stages in line with the latest chain for this link's direction.
    fn apply_chain(&mut self, now: Instant) {
        let chain: Chain = Arc::clone(&self.chain.borrow_and_update());

        // Removed toxics: whatever they hold moves on to the next stage, in order.
        let mut index = 0;
        while index < self.stages.len() {
            if chain.iter().any(|e| e.id == self.stages[index].entry.id) {
                index += 1;
                continue;
            }
            let stage = self.stages.remove(index);
            tracing::debug!(direction = self.direction.as_str(), toxic = %stage.entry.name, "toxic left link");
            let mut items = stage.state.map(|state| state.drain()).unwrap_or_default();
            if stage.entry.toxic.closes_on_remove() {
                items.push(Item::End(End::Close));
            }
            for item in items {
                self.deliver(index, item, now);
            }
        }

        // Updated toxics keep their place; new ones go at the end, as in Toxiproxy.
        for entry in chain.iter() {
            match self.stages.iter().position(|s| s.entry.id == entry.id) {
                Some(pos) if self.stages[pos].entry.version != entry.version => {
                    self.update_stage(pos, entry, now);
                }
                Some(_) => {}
                None => {
                    let state = roll(&mut self.rng, entry.toxicity).then(|| {
                        entry.toxic.start(&mut Cx {
                            now,
                            rng: &mut self.rng,
                        })
                    });
                    tracing::debug!(
                        direction = self.direction.as_str(),
                        toxic = %entry.name,
                        active = state.is_some(),
                        "toxic joined link"
                    );
                    self.stages.push(Stage {
                        entry: Arc::clone(entry),
                        state,
                    });
                }
            }
        }
    }

    /// Applies a new version of the toxic at `pos`; toxicity is re-rolled only if it changed.
    fn update_stage(&mut self, pos: usize, entry: &Arc<ToxicEntry>, now: Instant) {
        let stage = &mut self.stages[pos];
        let active = if stage.entry.toxicity == entry.toxicity {
            stage.state.is_some()
        } else {
            roll(&mut self.rng, entry.toxicity)
        };
        let old = stage.state.take();
        stage.entry = Arc::clone(entry);
        let mut cx = Cx {
            now,
            rng: &mut self.rng,
        };
        match (old, active) {
            (Some(mut state), true) => {
                state.update(entry.toxic.as_ref(), &mut cx);
                stage.state = Some(state);
            }
            (None, true) => stage.state = Some(entry.toxic.start(&mut cx)),
            (Some(state), false) => {
                for item in state.drain() {
                    self.deliver(pos + 1, item, now);
                }
            }
            (None, false) => {}
        }
    }
}

/// Whether a toxic applies to this link: true with probability `toxicity`.
fn roll(rng: &mut SmallRng, toxicity: f32) -> bool {
    rng.random::<f32>() < toxicity
}

/// Writes some of `data` (a cancel-safe single write).
async fn write_some<W: AsyncWrite + Unpin>(
    writer: &mut W,
    data: Option<&[u8]>,
) -> io::Result<usize> {
    match data {
        Some(data) => writer.write(data).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ToxicInput;
    use crate::timer::TimerThread;
    use crate::toxic_collection::ToxicCollection;
    use rand::SeedableRng;
    use serde_json::json;
    use std::time::Duration;
    use tokio::io::{DuplexStream, duplex};

    struct Fixture {
        toxics: Arc<ToxicCollection>,
        _timer: TimerThread,
        /// Writes into the link.
        source: DuplexStream,
        /// Reads what the link wrote.
        sink: DuplexStream,
        task: tokio::task::JoinHandle<LinkEnd>,
    }

    fn fixture(direction: Direction) -> Fixture {
        fixture_with_buffers(direction, 1 << 20, 1 << 20)
    }

    /// A link between two in-memory pipes of the given capacities (small ones push back).
    fn fixture_with_buffers(direction: Direction, source_cap: usize, sink_cap: usize) -> Fixture {
        let toxics = Arc::new(ToxicCollection::default());
        let timer = TimerThread::spawn().expect("timer");
        let (source, link_in) = duplex(source_cap);
        let (link_out, sink) = duplex(sink_cap);
        let link = Link::new(
            direction,
            link_in,
            link_out,
            toxics.subscribe(direction),
            &timer.handle(),
            SmallRng::seed_from_u64(1),
        );
        let task = tokio::spawn(link.run());
        Fixture {
            toxics,
            _timer: timer,
            source,
            sink,
            task,
        }
    }

    fn add(toxics: &ToxicCollection, body: serde_json::Value) {
        let input: ToxicInput = serde_json::from_value(body).expect("input");
        toxics.add(input).expect("add toxic");
    }

    async fn read_exact(sink: &mut DuplexStream, len: usize) -> Vec<u8> {
        let mut buf = vec![0; len];
        tokio::time::timeout(Duration::from_secs(10), sink.read_exact(&mut buf))
            .await
            .expect("read in time")
            .expect("read");
        buf
    }

    #[tokio::test]
    async fn copies_and_half_closes_without_toxics() {
        let mut f = fixture(Direction::Upstream);
        f.source.write_all(b"hello").await.expect("write");
        assert_eq!(read_exact(&mut f.sink, 5).await, b"hello");
        f.source.shutdown().await.expect("shutdown");
        let mut rest = Vec::new();
        f.sink.read_to_end(&mut rest).await.expect("eof");
        assert!(rest.is_empty());
        assert!(matches!(f.task.await.expect("join"), LinkEnd::Finished));
    }

    #[tokio::test]
    async fn data_held_by_a_removed_toxic_is_neither_lost_nor_reordered() {
        let mut f = fixture(Direction::Downstream);
        add(
            &f.toxics,
            json!({"type": "latency", "attributes": {"latency": 60_000}}),
        );
        // Make sure the link has the toxic before writing (a later write proves it).
        f.source.write_all(b"first,").await.expect("write");
        f.source.write_all(b"second,").await.expect("write");
        let mut probe = [0u8; 1];
        let early = tokio::time::timeout(Duration::from_millis(100), f.sink.read(&mut probe)).await;
        assert!(early.is_err(), "latency holds the data");
        f.toxics.remove("latency_downstream").expect("remove");
        f.source.write_all(b"third").await.expect("write");
        assert_eq!(read_exact(&mut f.sink, 18).await, b"first,second,third");
    }

    #[tokio::test]
    async fn removing_a_timeout_closes_the_link() {
        let mut f = fixture(Direction::Upstream);
        add(
            &f.toxics,
            json!({"type": "timeout", "stream": "upstream", "attributes": {"timeout": 0}}),
        );
        f.source.write_all(b"dropped").await.expect("write");
        tokio::time::sleep(Duration::from_millis(20)).await;
        f.toxics.remove("timeout_upstream").expect("remove");
        let end = tokio::time::timeout(Duration::from_secs(5), f.task)
            .await
            .expect("ends")
            .expect("join");
        assert!(matches!(end, LinkEnd::Close), "{end:?}");
        let mut rest = Vec::new();
        let _ = f.sink.read_to_end(&mut rest).await;
        assert!(rest.is_empty(), "timeout dropped the data");
    }

    #[tokio::test]
    async fn toxicity_zero_keeps_the_fast_path() {
        let mut f = fixture(Direction::Downstream);
        add(
            &f.toxics,
            json!({"type": "latency", "toxicity": 0.0, "attributes": {"latency": 60_000}}),
        );
        f.source.write_all(b"quick").await.expect("write");
        assert_eq!(read_exact(&mut f.sink, 5).await, b"quick");
    }

    #[tokio::test]
    async fn limit_data_closes_after_the_limit() {
        let mut f = fixture(Direction::Downstream);
        add(
            &f.toxics,
            json!({"type": "limit_data", "attributes": {"bytes": 4}}),
        );
        f.source.write_all(b"abcdefgh").await.expect("write");
        let end = tokio::time::timeout(Duration::from_secs(5), f.task)
            .await
            .expect("ends")
            .expect("join");
        assert!(matches!(end, LinkEnd::Close));
        assert_eq!(read_exact(&mut f.sink, 4).await, b"abcd");
    }

    /// Lets every other task on a current-thread runtime run until it blocks.
    async fn settle() {
        for _ in 0..200 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_eof_read_before_a_toxic_arrives_is_kept() {
        // The sink holds 1 KiB and nobody reads it yet: the link reads the data and the EOF
        // into its ring and waits to write when the toxic arrives.
        let mut f = fixture_with_buffers(Direction::Downstream, 64 * 1024, 1024);
        let data: Vec<u8> = (0..20_000u32).map(|i| (i % 253) as u8).collect();
        f.source.write_all(&data).await.expect("write");
        f.source.shutdown().await.expect("shutdown");
        settle().await;
        add(
            &f.toxics,
            json!({"type": "slow_close", "attributes": {"delay": 1}}),
        );
        let mut out = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), f.sink.read_to_end(&mut out))
            .await
            .expect("EOF arrives")
            .expect("read");
        assert_eq!(out, data);
        assert!(matches!(f.task.await.expect("join"), LinkEnd::Finished));
    }

    /// One randomized run: a writer, a slow reader and toxics coming and going, all driven
    /// from one seed on a current-thread runtime so a failure replays exactly.
    async fn churn_run(seed: u64) {
        let mut rng = SmallRng::seed_from_u64(seed);
        let direction = if rng.random() {
            Direction::Upstream
        } else {
            Direction::Downstream
        };
        let mut f = fixture_with_buffers(
            direction,
            rng.random_range(512..8192),
            rng.random_range(512..8192),
        );
        let len = rng.random_range(0..200_000);
        let data: Vec<u8> = (0..len).map(|_| rng.random()).collect();

        let mut source = f.source;
        let to_send = data.clone();
        let mut writer_rng = SmallRng::seed_from_u64(rng.random());
        let writer = tokio::spawn(async move {
            let mut sent = 0;
            while sent < to_send.len() {
                let end = (sent + writer_rng.random_range(1..20_000)).min(to_send.len());
                source.write_all(&to_send[sent..end]).await.expect("write");
                sent = end;
                for _ in 0..writer_rng.random_range(0..4) {
                    tokio::task::yield_now().await;
                }
            }
            source.shutdown().await.expect("shutdown");
        });

        let toxics = Arc::clone(&f.toxics);
        let stream = direction.as_str();
        let mut churn_rng = SmallRng::seed_from_u64(rng.random());
        let churn = tokio::spawn(async move {
            let mut present = [false; 3];
            for _ in 0..churn_rng.random_range(1..12) {
                for _ in 0..churn_rng.random_range(0..50) {
                    tokio::task::yield_now().await;
                }
                let slot = churn_rng.random_range(0..3);
                let name = format!("t{slot}");
                if present[slot] {
                    toxics.remove(&name).expect("remove");
                } else {
                    let toxic = match churn_rng.random_range(0..4) {
                        0 => json!({"type": "latency", "attributes": {"latency": 1, "jitter": 1}}),
                        1 => json!({"type": "slicer", "attributes":
                            {"average_size": 700, "size_variation": 300, "delay": 50}}),
                        2 => json!({"type": "bandwidth", "attributes": {"rate": 50_000}}),
                        _ => json!({"type": "slow_close", "attributes": {"delay": 1}}),
                    };
                    let mut toxic = toxic;
                    toxic["name"] = json!(name);
                    toxic["stream"] = json!(stream);
                    add(&toxics, toxic);
                }
                present[slot] = !present[slot];
            }
        });

        let mut out = Vec::with_capacity(len);
        let mut buf = vec![0; 4096];
        let read_all = async {
            loop {
                let want = rng.random_range(1..buf.len());
                let n = f.sink.read(&mut buf[..want]).await.expect("read");
                if n == 0 {
                    break;
                }
                out.extend_from_slice(&buf[..n]);
                for _ in 0..rng.random_range(0..3) {
                    tokio::task::yield_now().await;
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(20), read_all)
            .await
            .unwrap_or_else(|_| panic!("seed {seed}: stalled after {} of {len} bytes", out.len()));
        writer.await.expect("writer");
        churn.await.expect("churn");
        assert!(
            out == data,
            "seed {seed}: {} of {len} bytes, first difference at {:?}",
            out.len(),
            out.iter().zip(&data).position(|(a, b)| a != b)
        );
        let end = f.task.await.expect("join");
        assert!(matches!(end, LinkEnd::Finished), "seed {seed}: {end:?}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn toxics_churning_under_back_pressure_keep_data_intact() {
        for seed in 0..40 {
            churn_run(seed).await;
        }
    }
}
