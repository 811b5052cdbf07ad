//! The task ledger: tasks published with ids, results collected, and the counts that make
//! "nothing lost, nothing doubled, nothing overdue" a checked fact.
//!
//! [`Ledger`] is the shared book; [`rabbitmq`] and [`kafka`] are the broker sides that fill it.

pub mod kafka;
pub mod rabbitmq;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::scenario::LedgerCheck;

/// A task as the bridge reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    /// Unique id, `t-000001` and up.
    pub id: String,
    /// The prompt sent through the gateway.
    pub prompt: String,
    /// Filler that makes the task as large as `[ledger] task_bytes` asks (the bridge ignores
    /// it).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub padding: String,
}

/// The ledger's publisher and collector on one broker, running until stopped or dropped.
pub struct LedgerClient {
    task: tokio::task::JoinHandle<()>,
}

impl LedgerClient {
    /// Runs `work` (a broker side's loop) until the client is stopped or dropped.
    pub(crate) fn spawn(work: impl std::future::Future<Output = ()> + Send + 'static) -> Self {
        Self {
            task: tokio::spawn(work),
        }
    }

    /// Stops the loop and waits until its clients are closed.
    pub async fn stop(mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }
}

/// Ticks `rate` times per second; a late tick delays the next ones (no burst to catch up).
pub(crate) fn publish_ticker(rate: f64) -> tokio::time::Interval {
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick
}

impl Drop for LedgerClient {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A result as the bridge publishes it (other fields are ignored).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TaskResult {
    /// The task's id.
    pub id: String,
    /// `done` or `failed`.
    pub status: String,
    /// Which run of the task through the gateway produced it: the same value again is the
    /// same result delivered twice (at-least-once transport), another value is the task done
    /// twice.
    #[serde(default)]
    pub completion: Option<String>,
}

/// What the ledger knows of one task.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    published: Instant,
    result: Option<(Instant, bool)>,
    completion: Option<String>,
}

#[derive(Debug, Default)]
struct Book {
    tasks: BTreeMap<String, Entry>,
    next: u64,
    duplicates: usize,
    redelivered: usize,
    strangers: usize,
    last_result: Option<Instant>,
    publishing: bool,
    last_error: Option<String>,
}

/// The ledger's counts at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Counts {
    /// Tasks the broker confirmed.
    pub published: usize,
    /// Tasks with a `done` result.
    pub done: usize,
    /// Tasks with a `failed` result (explicitly failed: not lost).
    pub failed: usize,
    /// Published tasks without a result yet.
    pub outstanding: usize,
    /// Outstanding tasks older than the budget.
    pub overdue: usize,
    /// Tasks done twice: a second result from another run through the gateway.
    pub duplicates: usize,
    /// The same result delivered again (harmless for a consumer that de-duplicates by id).
    pub redelivered: usize,
    /// Results for ids the ledger never published.
    pub strangers: usize,
}

/// The shared book: cheap to clone, safe to read from every probe.
#[derive(Debug, Clone)]
pub struct Ledger {
    book: Arc<Mutex<Book>>,
    budget: Duration,
    task_bytes: usize,
}

impl Ledger {
    /// An empty ledger whose tasks are overdue after `budget`.
    pub fn new(budget: Duration) -> Self {
        Self {
            book: Arc::new(Mutex::new(Book {
                publishing: true,
                ..Book::default()
            })),
            budget,
            task_bytes: 0,
        }
    }

    /// Pads every task to at least `bytes` bytes of JSON.
    pub fn with_task_bytes(mut self, bytes: usize) -> Self {
        self.task_bytes = bytes;
        self
    }

    fn with<T>(&self, f: impl FnOnce(&mut Book) -> T) -> T {
        match self.book.lock() {
            Ok(mut book) => f(&mut book),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    /// The next task to publish (the same one again until [`Ledger::published`] takes it).
    pub fn next_task(&self, prompt: &str) -> Task {
        let n = self.with(|b| b.next + 1);
        let id = format!("t-{n:06}");
        // `{"id":"..","prompt":"..","padding":".."}` is about 40 bytes more than its strings.
        let bare = id.len() + prompt.len() + 40;
        Task {
            id,
            prompt: prompt.to_string(),
            padding: ".".repeat(self.task_bytes.saturating_sub(bare)),
        }
    }

    /// The broker confirmed `task`.
    pub fn published(&self, task: &Task) {
        self.with(|b| {
            b.next += 1;
            b.tasks.entry(task.id.clone()).or_insert(Entry {
                published: Instant::now(),
                result: None,
                completion: None,
            });
        });
    }

    /// A result arrived.
    pub fn result(&self, result: &TaskResult) {
        let now = Instant::now();
        self.with(|b| {
            b.last_result = Some(now);
            match b.tasks.get_mut(&result.id) {
                Some(entry) if entry.result.is_some() => {
                    if result.completion.is_some() && entry.completion == result.completion {
                        b.redelivered += 1;
                    } else {
                        b.duplicates += 1;
                    }
                }
                Some(entry) => {
                    entry.result = Some((now, result.status == "done"));
                    entry.completion = result.completion.clone();
                }
                // The task being published now: the broker took it, only its confirm has not
                // come (e.g. a blocked connection). It counts as published.
                None if result.id == format!("t-{:06}", b.next + 1) => {
                    b.tasks.insert(
                        result.id.clone(),
                        Entry {
                            published: now,
                            result: Some((now, result.status == "done")),
                            completion: result.completion.clone(),
                        },
                    );
                }
                None => b.strangers += 1,
            }
        });
    }

    /// Whether new tasks are still to be published.
    pub fn publishing(&self) -> bool {
        self.with(|b| b.publishing)
    }

    /// Stops publishing (the end of the run).
    pub fn stop_publishing(&self) {
        self.with(|b| b.publishing = false);
    }

    /// Records the broker side's latest trouble (for reports).
    pub fn set_error(&self, error: Option<String>) {
        self.with(|b| b.last_error = error);
    }

    /// The broker side's latest trouble.
    pub fn last_error(&self) -> Option<String> {
        self.with(|b| b.last_error.clone())
    }

    /// The counts now.
    pub fn counts(&self) -> Counts {
        let now = Instant::now();
        self.with(|b| {
            let mut c = Counts {
                published: b.tasks.len(),
                duplicates: b.duplicates,
                redelivered: b.redelivered,
                strangers: b.strangers,
                ..Counts::default()
            };
            for entry in b.tasks.values() {
                match entry.result {
                    Some((_, true)) => c.done += 1,
                    Some((_, false)) => c.failed += 1,
                    None => {
                        c.outstanding += 1;
                        if now.duration_since(entry.published) > self.budget {
                            c.overdue += 1;
                        }
                    }
                }
            }
            c
        })
    }

    /// The ids of up to `most` published tasks still without a result, oldest first: what a
    /// reader of a lost-task failure looks for in the services' logs.
    pub fn outstanding_ids(&self, most: usize) -> Vec<String> {
        self.with(|b| {
            let mut waiting: Vec<(&Instant, &String)> = b
                .tasks
                .iter()
                .filter(|(_, e)| e.result.is_none())
                .map(|(id, e)| (&e.published, id))
                .collect();
            waiting.sort();
            waiting
                .into_iter()
                .take(most)
                .map(|(_, id)| id.clone())
                .collect()
        })
    }

    /// Time since the latest result, if any arrived.
    pub fn since_last_result(&self) -> Option<Duration> {
        self.with(|b| b.last_result.map(|t| t.elapsed()))
    }

    /// Results that came later than the budget after their task (done or failed late).
    pub fn late(&self) -> usize {
        self.with(|b| {
            b.tasks
                .values()
                .filter(|e| {
                    e.result
                        .is_some_and(|(at, _)| at.duration_since(e.published) > self.budget)
                })
                .count()
        })
    }

    /// Evaluates a ledger probe. With `event_age` (how long ago the latest injection or heal
    /// was), the result conditions count only results that came after it.
    pub fn check(&self, check: &LedgerCheck, event_age: Option<Duration>) -> (bool, String) {
        let c = self.counts();
        let last = self.since_last_result();
        // Time since the last result, counted from the event at the latest.
        let since = match event_age {
            Some(age) => Some(last.map_or(age, |l| l.min(age))),
            None => last,
        };
        let fresh = |s: Duration| event_age.is_none_or(|age| s < age);
        let results = match event_age {
            Some(age) => self.results_within(age),
            None => c.done + c.failed,
        };
        let mut holds = check.min_overdue.is_none_or(|n| c.overdue >= n)
            && check.max_overdue.is_none_or(|n| c.overdue <= n)
            && check.max_duplicates.is_none_or(|n| c.duplicates <= n)
            && check.max_outstanding.is_none_or(|n| c.outstanding <= n)
            && check.min_results.is_none_or(|n| results >= n)
            && check.min_failed.is_none_or(|n| c.failed >= n);
        if let Some(within) = check.results_within {
            holds &= last.is_some_and(|s| s <= within && fresh(s));
        }
        if let Some(quiet) = check.no_results_for {
            holds &= since.is_none_or(|s| s >= quiet);
        }
        let mut detail = format!("{}; ", describe(&c));
        match last {
            Some(s) => detail.push_str(&format!("last result {}ms ago", s.as_millis())),
            None => detail.push_str("no result yet"),
        }
        if let Some(age) = event_age {
            detail.push_str(&format!(
                "; {results} since the latest injection or heal ({}ms ago)",
                age.as_millis()
            ));
        }
        (holds, detail)
    }

    /// Tasks whose (first) result came within the last `window`.
    fn results_within(&self, window: Duration) -> usize {
        self.with(|b| {
            b.tasks
                .values()
                .filter(|e| e.result.is_some_and(|(at, _)| at.elapsed() < window))
                .count()
        })
    }
}

/// "12 published, 10 done, 0 failed, 2 outstanding (1 overdue), 0 duplicates".
pub fn describe(c: &Counts) -> String {
    format!(
        "{} published, {} done, {} failed, {} outstanding ({} overdue), {} done twice, {} redelivered",
        c.published, c.done, c.failed, c.outstanding, c.overdue, c.duplicates, c.redelivered
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(id: &str, status: &str) -> TaskResult {
        TaskResult {
            id: id.into(),
            status: status.into(),
            completion: Some(format!("run-of-{id}")),
        }
    }

    #[test]
    fn ids_advance_only_when_the_broker_confirms() {
        let ledger = Ledger::new(Duration::from_secs(10));
        let first = ledger.next_task("ping");
        assert_eq!(
            first,
            ledger.next_task("ping"),
            "not confirmed: same id again"
        );
        ledger.published(&first);
        assert_eq!(ledger.next_task("ping").id, "t-000002");
        assert_eq!(ledger.counts().published, 1);
    }

    #[test]
    fn results_are_counted_once_and_repeats_are_duplicates() {
        let ledger = Ledger::new(Duration::from_secs(10));
        for _ in 0..3 {
            let t = ledger.next_task("ping");
            ledger.published(&t);
        }
        ledger.result(&result("t-000001", "done"));
        ledger.result(&result("t-000002", "failed"));
        ledger.result(&result("t-000001", "done"));
        let mut again = result("t-000001", "done");
        again.completion = Some("another run".into());
        ledger.result(&again);
        ledger.result(&result("t-999999", "done"));
        let c = ledger.counts();
        assert_eq!((c.done, c.failed, c.outstanding), (1, 1, 1));
        assert_eq!((c.duplicates, c.redelivered, c.strangers), (1, 1, 1));
        let (holds, detail) = ledger.check(
            &LedgerCheck {
                max_duplicates: Some(0),
                ..LedgerCheck::default()
            },
            None,
        );
        assert!(!holds, "{detail}");
    }

    #[test]
    fn a_result_for_the_task_awaiting_its_confirm_counts_once() {
        let ledger = Ledger::new(Duration::from_secs(10));
        let pending = ledger.next_task("ping");
        ledger.result(&result(&pending.id, "done"));
        ledger.published(&pending);
        let c = ledger.counts();
        assert_eq!(
            (c.published, c.done, c.outstanding, c.strangers),
            (1, 1, 0, 0)
        );
        assert_eq!(ledger.next_task("ping").id, "t-000002");
    }

    #[test]
    fn the_tasks_without_a_result_are_named_oldest_first() {
        let ledger = Ledger::new(Duration::from_secs(10));
        let mut ids = Vec::new();
        for _ in 0..4 {
            let t = ledger.next_task("ping");
            ledger.published(&t);
            ids.push(t.id);
        }
        ledger.result(&result(&ids[1], "done"));
        assert_eq!(ledger.outstanding_ids(2), [ids[0].clone(), ids[2].clone()]);
        assert_eq!(ledger.outstanding_ids(10).len(), 3);
    }

    #[test]
    fn an_outstanding_task_becomes_overdue_after_the_budget() {
        let ledger = Ledger::new(Duration::ZERO);
        let t = ledger.next_task("ping");
        ledger.published(&t);
        std::thread::sleep(Duration::from_millis(5));
        let overdue = LedgerCheck {
            min_overdue: Some(1),
            ..LedgerCheck::default()
        };
        assert!(ledger.check(&overdue, None).0);
        ledger.result(&result("t-000001", "done"));
        assert!(
            !ledger.check(&overdue, None).0,
            "a task with a result is not overdue"
        );
        assert_eq!(ledger.late(), 1, "it came after the budget");
    }

    #[test]
    fn a_backlog_past_max_outstanding_fails_until_drained() {
        let ledger = Ledger::new(Duration::from_secs(10));
        let caught_up = LedgerCheck {
            max_outstanding: Some(1),
            ..LedgerCheck::default()
        };
        assert!(ledger.check(&caught_up, None).0, "nothing published yet");
        for _ in 0..2 {
            let t = ledger.next_task("ping");
            ledger.published(&t);
        }
        let (holds, detail) = ledger.check(&caught_up, None);
        assert!(!holds, "two outstanding: {detail}");
        ledger.result(&result("t-000001", "done"));
        assert!(ledger.check(&caught_up, None).0, "one outstanding");
    }

    #[test]
    fn flowing_needs_a_recent_result() {
        let ledger = Ledger::new(Duration::from_secs(10));
        let flowing = LedgerCheck {
            results_within: Some(Duration::from_secs(5)),
            ..LedgerCheck::default()
        };
        assert!(!ledger.check(&flowing, None).0, "no result yet");
        let t = ledger.next_task("ping");
        ledger.published(&t);
        ledger.result(&result("t-000001", "done"));
        assert!(ledger.check(&flowing, None).0);
    }

    #[test]
    fn since_an_event_only_the_results_after_it_count() {
        let ledger = Ledger::new(Duration::from_secs(10));
        let t = ledger.next_task("ping");
        ledger.published(&t);
        ledger.result(&result("t-000001", "done"));
        let flowing = LedgerCheck {
            results_within: Some(Duration::from_secs(5)),
            min_results: Some(1),
            ..LedgerCheck::default()
        };
        assert!(ledger.check(&flowing, None).0);
        // An event that happened just now: the result came before it.
        let (holds, detail) = ledger.check(&flowing, Some(Duration::ZERO));
        assert!(!holds, "{detail}");
        assert!(detail.contains("0 since the latest injection"), "{detail}");
        // An event a minute ago: the result came after it.
        let (holds, detail) = ledger.check(&flowing, Some(Duration::from_secs(60)));
        assert!(holds, "{detail}");
        assert!(detail.contains("1 since the latest injection"), "{detail}");
        let quiet = LedgerCheck {
            no_results_for: Some(Duration::from_secs(30)),
            ..LedgerCheck::default()
        };
        assert!(
            !ledger.check(&quiet, Some(Duration::from_secs(60))).0,
            "a result came just now"
        );
    }
}
