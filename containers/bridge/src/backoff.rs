//! Exponential backoff with jitter: 250 ms doubling to a 5 s cap, never zero.

use rand::{Rng, SeedableRng, rngs::SmallRng};
use std::time::Duration;

/// The first delay's ceiling.
pub const BASE: Duration = Duration::from_millis(250);
/// The largest delay.
pub const CAP: Duration = Duration::from_secs(5);

/// Delays for successive retries: attempt `n` waits a random time in
/// `[ceiling/2, ceiling]`, where `ceiling = min(CAP, BASE * 2^n)` ("equal jitter").
#[derive(Debug)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    attempt: u32,
    rng: SmallRng,
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new(BASE, CAP)
    }
}

impl Backoff {
    /// A backoff from `base` doubling up to `cap`, seeded from the OS.
    pub fn new(base: Duration, cap: Duration) -> Self {
        Self::with_rng(base, cap, SmallRng::from_os_rng())
    }

    /// A backoff with a fixed seed, for reproducible tests.
    pub fn seeded(base: Duration, cap: Duration, seed: u64) -> Self {
        Self::with_rng(base, cap, SmallRng::seed_from_u64(seed))
    }

    fn with_rng(base: Duration, cap: Duration, rng: SmallRng) -> Self {
        Self {
            base: base.max(Duration::from_millis(1)),
            cap: cap.max(base),
            attempt: 0,
            rng,
        }
    }

    /// The ceiling for the current attempt.
    pub fn ceiling(&self) -> Duration {
        let factor = 1u32 << self.attempt.min(20);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// The next delay to wait; each call moves to the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        let ceiling = self.ceiling();
        let half = ceiling / 2;
        let jitter_ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
        let extra = Duration::from_millis(self.rng.random_range(0..=jitter_ms));
        self.attempt = self.attempt.saturating_add(1);
        (half + extra).max(Duration::from_millis(1))
    }

    /// How many delays were handed out since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// Starts again from `base` (after a success).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_stay_within_bounds_and_grow_to_the_cap() {
        for seed in 0..50 {
            let mut b = Backoff::seeded(BASE, CAP, seed);
            let mut ceilings = Vec::new();
            for _ in 0..12 {
                let ceiling = b.ceiling();
                let d = b.next_delay();
                assert!(d >= ceiling / 2, "{d:?} below half of {ceiling:?}");
                assert!(d <= ceiling, "{d:?} above {ceiling:?}");
                assert!(d >= BASE / 2, "never a hot loop: {d:?}");
                assert!(d <= CAP);
                ceilings.push(ceiling);
            }
            assert_eq!(ceilings[0], BASE);
            assert_eq!(ceilings[1], BASE * 2);
            assert_eq!(*ceilings.last().unwrap(), CAP);
            assert!(ceilings.windows(2).all(|w| w[0] <= w[1]));
        }
    }

    #[test]
    fn jitter_spreads_delays() {
        let mut b = Backoff::seeded(BASE, CAP, 7);
        for _ in 0..6 {
            b.next_delay();
        }
        let delays: std::collections::HashSet<_> = (0..20).map(|_| b.next_delay()).collect();
        assert!(delays.len() > 5, "jitter should vary the delay: {delays:?}");
    }

    #[test]
    fn reset_starts_over() {
        let mut b = Backoff::seeded(BASE, CAP, 1);
        for _ in 0..10 {
            b.next_delay();
        }
        assert_eq!(b.ceiling(), CAP);
        assert_eq!(b.attempts(), 10);
        b.reset();
        assert_eq!(b.ceiling(), BASE);
        assert!(b.next_delay() <= BASE);
    }
}
