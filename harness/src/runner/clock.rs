//! Clock arithmetic that cannot panic: a duration from a scenario file added to a reading of
//! the monotonic clock.

use std::time::{Duration, Instant};

/// Far enough ahead to mean "never" in a test run, near enough not to overflow the clock.
const NEVER: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// `at + d`; when that is past what the clock can hold, an instant a century ahead instead.
pub(crate) fn after(at: Instant, d: Duration) -> Instant {
    at.checked_add(d)
        .or_else(|| at.checked_add(NEVER))
        .unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adding_the_largest_duration_does_not_panic() {
        let now = Instant::now();
        assert!(after(now, Duration::MAX) > now);
        assert_eq!(
            after(now, Duration::from_secs(1)),
            now + Duration::from_secs(1)
        );
    }
}
