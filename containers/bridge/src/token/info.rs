//! One token and what it tells: its claims, whether it is still valid, the clock skew.

use super::jwt::{self, Claims};
use crate::secret::Secret;
use std::time::{Duration, Instant, SystemTime};

/// A token and what we read from it when it arrived.
#[derive(Debug, Clone)]
pub struct TokenInfo {
    /// The token itself.
    pub secret: Secret,
    /// Its `iat` and `exp` (empty for an opaque token).
    pub claims: Claims,
    /// Whether it came fresh from the issuer (then `iat` tells the issuer's clock; a static
    /// token's `iat` only says when it was made).
    pub fresh: bool,
    /// Our wall clock at arrival.
    pub received_at: SystemTime,
    /// The monotonic clock at arrival (libfaketime leaves it alone), to follow later moves of
    /// our wall clock.
    pub received_mono: Instant,
}

impl TokenInfo {
    /// Reads `secret`'s claims at our wall-clock time `now`; `fresh` when it was just issued.
    pub fn new(secret: Secret, now: SystemTime, fresh: bool) -> Self {
        Self {
            claims: jwt::decode_claims(secret.expose()).unwrap_or_default(),
            secret,
            fresh,
            received_at: now,
            received_mono: Instant::now(),
        }
    }

    /// The issuer's clock minus ours, in seconds, as of wall time `now`, `since_arrival` after
    /// the token arrived: at arrival `iat - now`; later the issuer's clock is taken to have
    /// advanced by `since_arrival`, so a jump of our wall clock changes the skew.
    pub fn skew_at(&self, now: SystemTime, since_arrival: Duration) -> Option<i64> {
        let iat = self.claims.iat.filter(|_| self.fresh)?;
        // Our wall clock as it would read at arrival, had it not moved since.
        let then = now.checked_sub(since_arrival).unwrap_or(now);
        Some(jwt::skew_seconds(iat, then))
    }

    /// The skew now (see [`TokenInfo::skew_at`]).
    pub fn skew_seconds(&self) -> Option<i64> {
        self.skew_at(SystemTime::now(), self.received_mono.elapsed())
    }

    /// Whether the token is unexpired at our wall-clock time `now` (a token without `exp`
    /// always is). A skew within `leeway` is tolerated: `exp` is then read on the issuer's
    /// clock (our clock plus the skew), so a clock difference the leeway allows raises no
    /// expiry alarm; beyond the leeway (or with no skew known) our clock alone decides.
    pub fn valid_at(&self, now: SystemTime, leeway: Duration) -> bool {
        let Some(exp) = self.claims.exp else {
            return true;
        };
        let tolerated = self
            .skew_at(now, self.received_mono.elapsed())
            .filter(|&s| !jwt::exceeds_leeway(s, leeway))
            .unwrap_or(0);
        jwt::unix_seconds(now) + (tolerated as f64) < exp as f64
    }

    /// Seconds from `now` until `exp` by our clock (negative once expired).
    pub fn remaining(&self, now: SystemTime) -> Option<f64> {
        self.claims
            .exp
            .map(|exp| exp as f64 - jwt::unix_seconds(now))
    }

    /// Whether the issuer's clock differs from ours by more than `leeway` (now).
    pub fn skewed(&self, leeway: Duration) -> bool {
        self.skew_seconds()
            .is_some_and(|s| jwt::exceeds_leeway(s, leeway))
    }
}
