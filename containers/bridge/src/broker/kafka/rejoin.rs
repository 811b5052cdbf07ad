//! When a consumer without partitions should leave its group and join again.
//!
//! Tansu 0.6.0 can leave the bridge in its group for good with no partitions. Measured here:
//! a bridge restarted after a crash joins a generation whose leader is its dead predecessor;
//! that leader never assigns, and when Tansu expires it (session timeout) the survivor's
//! heartbeats are not told to rejoin. The same happens after every connection was reset. A
//! fresh join, once the dead member has surely expired, gets all partitions at once.
//!
//! So the first rejoin comes a little after the session timeout, and later ones at doubling
//! intervals: a bridge that is idle on purpose (more bridges than partitions) does not keep
//! rebalancing its group. While the broker link is down the clock does not run: a rejoin
//! cannot reach the coordinator, and would leave a member behind that it cannot tell to go.

use std::time::{Duration, Instant};

/// What the consumer looks like at one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// It holds partitions.
    Partitions,
    /// It holds none, and the broker link is up (or only slow).
    NoPartitions,
    /// The broker link is down.
    LinkDown,
}

/// Decides, tick by tick, when a consumer without partitions rejoins its group.
#[derive(Debug, Clone)]
pub struct RejoinWatchdog {
    first: Duration,
    cap: Duration,
    wait: Duration,
    unassigned_since: Option<Instant>,
}

impl RejoinWatchdog {
    /// A watchdog that first rejoins after `first` without partitions, then after doubling
    /// waits up to `cap`.
    pub fn new(first: Duration, cap: Duration) -> Self {
        Self {
            first,
            cap: cap.max(first),
            wait: first,
            unassigned_since: None,
        }
    }

    /// Records what the consumer looks like at `now`; returns how long it has been without
    /// partitions, on a link that is up, when it is time to rejoin.
    pub fn check(&mut self, seen: Seen, now: Instant) -> Option<Duration> {
        if seen != Seen::NoPartitions {
            self.unassigned_since = None;
            self.wait = self.first;
            return None;
        }
        let since = *self.unassigned_since.get_or_insert(now);
        let without = now.saturating_duration_since(since);
        if without < self.wait {
            return None;
        }
        // The clock restarts with the new membership; the next wait is longer.
        self.unassigned_since = None;
        self.wait = (self.wait * 2).min(self.cap);
        Some(without)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn rejoins_after_the_first_wait_then_backs_off() {
        let t0 = Instant::now();
        let mut w = RejoinWatchdog::new(10 * S, 40 * S);
        assert_eq!(w.check(Seen::NoPartitions, t0), None);
        assert_eq!(w.check(Seen::NoPartitions, t0 + 9 * S), None);
        assert_eq!(w.check(Seen::NoPartitions, t0 + 10 * S), Some(10 * S));
        // Still without partitions after the rejoin: 20 s, then 40 s (the cap), then 40 s.
        assert_eq!(w.check(Seen::NoPartitions, t0 + 11 * S), None);
        assert_eq!(w.check(Seen::NoPartitions, t0 + 30 * S), None);
        assert_eq!(w.check(Seen::NoPartitions, t0 + 31 * S), Some(20 * S));
        assert_eq!(w.check(Seen::NoPartitions, t0 + 32 * S), None);
        assert_eq!(w.check(Seen::NoPartitions, t0 + 72 * S), Some(40 * S));
        assert_eq!(w.check(Seen::NoPartitions, t0 + 73 * S), None);
        assert_eq!(w.check(Seen::NoPartitions, t0 + 113 * S), Some(40 * S));
    }

    #[test]
    fn partitions_reset_the_clock_and_the_wait() {
        let t0 = Instant::now();
        let mut w = RejoinWatchdog::new(10 * S, 40 * S);
        w.check(Seen::NoPartitions, t0);
        assert_eq!(w.check(Seen::NoPartitions, t0 + 10 * S), Some(10 * S));
        assert_eq!(w.check(Seen::Partitions, t0 + 12 * S), None);
        // Losing them again starts over from the first wait.
        assert_eq!(w.check(Seen::NoPartitions, t0 + 50 * S), None);
        assert_eq!(w.check(Seen::NoPartitions, t0 + 59 * S), None);
        assert_eq!(w.check(Seen::NoPartitions, t0 + 60 * S), Some(10 * S));
        // A link down stops the clock and starts it over once it is up.
        assert_eq!(w.check(Seen::NoPartitions, t0 + 61 * S), None);
        assert_eq!(w.check(Seen::LinkDown, t0 + 80 * S), None);
        assert_eq!(w.check(Seen::NoPartitions, t0 + 81 * S), None);
        assert_eq!(w.check(Seen::NoPartitions, t0 + 90 * S), None);
        assert_eq!(w.check(Seen::NoPartitions, t0 + 91 * S), Some(10 * S));
        // Never without partitions: never a rejoin.
        let mut steady = RejoinWatchdog::new(10 * S, 40 * S);
        assert!((0..100).all(|i| steady.check(Seen::Partitions, t0 + i * S).is_none()));
    }
}
