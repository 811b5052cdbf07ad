//! De-duplication by task id: which tasks already have a confirmed result, and which are
//! being worked on right now.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;

/// How many completed ids are remembered before the oldest are forgotten.
pub const DEFAULT_CAPACITY: usize = 100_000;

/// Where a task id stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Its result was confirmed: a redelivery must be acknowledged and skipped.
    Done,
    /// Another delivery of the same id is being processed now.
    InFlight,
    /// Never seen (or forgotten): process it.
    New,
}

/// The bookkeeping itself, without locking: a bounded set of done ids plus the in-flight ids.
#[derive(Debug)]
pub struct DedupSet {
    done: HashSet<String>,
    order: VecDeque<String>,
    in_flight: HashSet<String>,
    /// Results published but not confirmed (the connection failed first): the broker may or
    /// may not hold them. A redelivery republishes the same bytes instead of running the task
    /// again, so a task is done once even when its confirm is lost.
    in_doubt: std::collections::HashMap<String, Vec<u8>>,
    capacity: usize,
}

impl DedupSet {
    /// An empty set remembering at most `capacity` done ids.
    pub fn new(capacity: usize) -> Self {
        Self {
            done: HashSet::new(),
            order: VecDeque::new(),
            in_flight: HashSet::new(),
            in_doubt: std::collections::HashMap::new(),
            capacity: capacity.max(1),
        }
    }

    /// Where `id` stands.
    pub fn seen(&self, id: &str) -> Seen {
        if self.done.contains(id) {
            Seen::Done
        } else if self.in_flight.contains(id) {
            Seen::InFlight
        } else {
            Seen::New
        }
    }

    /// Claims `id` for processing if it is new; returns where it stood before.
    pub fn claim(&mut self, id: &str) -> Seen {
        let seen = self.seen(id);
        if seen == Seen::New {
            self.in_flight.insert(id.to_owned());
        }
        seen
    }

    /// Records that `result` is about to be published for `id`: until it is confirmed, it is
    /// in doubt.
    pub fn publishing(&mut self, id: &str, result: &[u8]) {
        self.in_doubt.insert(id.to_owned(), result.to_vec());
    }

    /// The result published for `id` whose confirm never came, if any.
    pub fn in_doubt(&self, id: &str) -> Option<Vec<u8>> {
        self.in_doubt.get(id).cloned()
    }

    /// Ends processing of `id`: with `confirmed`, its result is durable and it becomes done.
    pub fn finish(&mut self, id: &str, confirmed: bool) {
        self.in_flight.remove(id);
        if confirmed {
            self.in_doubt.remove(id);
        }
        if confirmed && self.done.insert(id.to_owned()) {
            self.order.push_back(id.to_owned());
            while self.order.len() > self.capacity {
                if let Some(oldest) = self.order.pop_front() {
                    self.done.remove(&oldest);
                }
            }
        }
    }

    /// How many done ids are remembered.
    pub fn done_len(&self) -> usize {
        self.done.len()
    }
}

/// The shared, async face of [`DedupSet`]: a duplicate that arrives while its twin is in
/// flight waits for the twin to finish instead of being processed twice.
#[derive(Debug, Clone)]
pub struct Dedup {
    set: Arc<Mutex<DedupSet>>,
    finished: Arc<Notify>,
}

impl Default for Dedup {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

/// The outcome of [`Dedup::claim`].
#[derive(Debug)]
pub enum Claim {
    /// Already done: acknowledge and skip.
    Duplicate,
    /// Ours to process; finish it through the guard.
    Start(ClaimGuard),
}

impl Dedup {
    /// A shared set remembering at most `capacity` done ids.
    pub fn new(capacity: usize) -> Self {
        Self {
            set: Arc::new(Mutex::new(DedupSet::new(capacity))),
            finished: Arc::new(Notify::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, DedupSet> {
        self.set.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Claims `id`, waiting while another delivery of it is in flight.
    pub async fn claim(&self, id: &str) -> Claim {
        loop {
            let notified = self.finished.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.lock().claim(id) {
                Seen::Done => return Claim::Duplicate,
                Seen::New => {
                    return Claim::Start(ClaimGuard {
                        dedup: self.clone(),
                        id: id.to_owned(),
                        finished: false,
                    });
                }
                Seen::InFlight => {}
            }
            notified.await;
        }
    }

    /// Where `id` stands right now.
    pub fn seen(&self, id: &str) -> Seen {
        self.lock().seen(id)
    }

    /// See [`DedupSet::publishing`].
    pub fn publishing(&self, id: &str, result: &[u8]) {
        self.lock().publishing(id, result);
    }

    /// See [`DedupSet::in_doubt`].
    pub fn in_doubt(&self, id: &str) -> Option<Vec<u8>> {
        self.lock().in_doubt(id)
    }

    fn finish(&self, id: &str, confirmed: bool) {
        self.lock().finish(id, confirmed);
        self.finished.notify_waiters();
    }
}

/// Ownership of one in-flight id; dropping it without [`ClaimGuard::confirmed`] releases the id
/// unconfirmed (so a redelivery is processed again).
#[derive(Debug)]
pub struct ClaimGuard {
    dedup: Dedup,
    id: String,
    finished: bool,
}

impl ClaimGuard {
    /// Marks the id done: its result is confirmed by the broker.
    pub fn confirmed(mut self) {
        self.finished = true;
        self.dedup.finish(&self.id, true);
    }
}

impl Drop for ClaimGuard {
    fn drop(&mut self) {
        if !self.finished {
            self.dedup.finish(&self.id, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn set_tracks_new_in_flight_done() {
        let mut s = DedupSet::new(10);
        assert_eq!(s.claim("t-1"), Seen::New);
        assert_eq!(s.claim("t-1"), Seen::InFlight);
        s.finish("t-1", false);
        assert_eq!(s.seen("t-1"), Seen::New, "unconfirmed work is forgotten");
        assert_eq!(s.claim("t-1"), Seen::New);
        s.finish("t-1", true);
        assert_eq!(s.claim("t-1"), Seen::Done);
    }

    #[test]
    fn set_is_bounded_oldest_first() {
        let mut s = DedupSet::new(3);
        for i in 0..5 {
            let id = format!("t-{i}");
            s.claim(&id);
            s.finish(&id, true);
        }
        assert_eq!(s.done_len(), 3);
        assert_eq!(s.seen("t-0"), Seen::New);
        assert_eq!(s.seen("t-1"), Seen::New);
        assert_eq!(s.seen("t-4"), Seen::Done);
    }

    #[tokio::test]
    async fn duplicate_waits_for_twin_then_is_skipped() {
        let d = Dedup::new(10);
        let Claim::Start(guard) = d.claim("t-9").await else {
            panic!("first claim must start");
        };
        let d2 = d.clone();
        let twin = tokio::spawn(async move { matches!(d2.claim("t-9").await, Claim::Duplicate) });
        // The twin cannot finish while the first is in flight.
        tokio::task::yield_now().await;
        assert!(!twin.is_finished());
        guard.confirmed();
        let skipped = tokio::time::timeout(Duration::from_secs(5), twin)
            .await
            .expect("twin wakes up")
            .expect("twin task");
        assert!(skipped);
    }

    #[tokio::test]
    async fn dropped_guard_lets_the_twin_process() {
        let d = Dedup::new(10);
        let Claim::Start(guard) = d.claim("t-3").await else {
            panic!("first claim must start");
        };
        let d2 = d.clone();
        let twin = tokio::spawn(async move { matches!(d2.claim("t-3").await, Claim::Start(_)) });
        drop(guard);
        let started = tokio::time::timeout(Duration::from_secs(5), twin)
            .await
            .expect("twin wakes up")
            .expect("twin task");
        assert!(started);
    }
}
