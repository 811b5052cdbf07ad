//! The request journal every mock service keeps: entries numbered in arrival order, stamped
//! with the wall clock, readable and clearable over the service's control API.
//!
//! Each service defines its own entry type; this module owns the numbering, the stamp and the
//! locking, and the `"error:503"` wire form of an outcome that was an HTTP error.

use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

/// What the journal gives each new entry: its number and arrival time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Position since the service started (not reset by [`Journal::clear`]).
    pub seq: u64,
    /// Wall-clock arrival time, milliseconds since the Unix epoch.
    pub unix_ms: u64,
}

/// An append-only journal of `E`, ordered by arrival.
#[derive(Debug)]
pub struct Journal<E> {
    inner: Mutex<Entries<E>>,
}

#[derive(Debug)]
struct Entries<E> {
    next_seq: u64,
    list: Vec<E>,
}

impl<E> Default for Journal<E> {
    fn default() -> Self {
        Self {
            inner: Mutex::new(Entries {
                next_seq: 0,
                list: Vec::new(),
            }),
        }
    }
}

impl<E: Clone> Journal<E> {
    fn lock(&self) -> MutexGuard<'_, Entries<E>> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records the entry `make` builds from its stamp, and returns it. `make` runs under the
    /// journal's lock, so any clock it reads agrees with the numbering.
    pub fn record(&self, make: impl FnOnce(Stamp) -> E) -> E {
        let mut entries = self.lock();
        let stamp = Stamp {
            seq: entries.next_seq,
            unix_ms: unix_ms_now(),
        };
        let entry = make(stamp);
        entries.next_seq += 1;
        entries.list.push(entry.clone());
        entry
    }

    /// A copy of every entry, oldest first.
    pub fn entries(&self) -> Vec<E> {
        self.lock().list.clone()
    }

    /// Forgets every entry; sequence numbers keep counting.
    pub fn clear(&self) {
        self.lock().list.clear();
    }
}

/// Milliseconds since the Unix epoch on the real wall clock (0 before the epoch).
pub fn unix_ms_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The wire form of an outcome that was an HTTP error status: `"error:503"`.
pub fn error_outcome(status: u16) -> String {
    format!("error:{status}")
}

/// The status in an `"error:503"` outcome; `None` for any other text.
pub fn parse_error_outcome(s: &str) -> Option<u16> {
    s.strip_prefix("error:")?.parse().ok()
}

/// Makes an outcome type travel as its string (`Display` out, `FromStr` in, with `String`
/// errors), for `#[serde(into = "String", try_from = "String")]`.
#[macro_export]
macro_rules! outcome_as_string {
    ($outcome:ty) => {
        impl ::std::convert::From<$outcome> for ::std::string::String {
            fn from(outcome: $outcome) -> Self {
                outcome.to_string()
            }
        }

        impl ::std::convert::TryFrom<::std::string::String> for $outcome {
            type Error = ::std::string::String;

            fn try_from(
                s: ::std::string::String,
            ) -> ::std::result::Result<Self, ::std::string::String> {
                s.parse()
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_numbered_in_order_and_clear_keeps_counting() {
        let journal = Journal::default();
        let a = journal.record(|s| s);
        let b = journal.record(|s| s);
        assert_eq!((a.seq, b.seq), (0, 1));
        assert!(b.unix_ms >= a.unix_ms && a.unix_ms > 0);
        journal.clear();
        assert!(journal.entries().is_empty());
        let c = journal.record(|s| s);
        assert_eq!(c.seq, 2);
        assert_eq!(journal.entries(), vec![c]);
    }

    #[test]
    fn error_outcomes_round_trip() {
        assert_eq!(error_outcome(503), "error:503");
        assert_eq!(parse_error_outcome("error:429"), Some(429));
        assert_eq!(parse_error_outcome("error:x"), None);
        assert_eq!(parse_error_outcome("ok"), None);
    }
}
