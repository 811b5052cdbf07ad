//! The JSON shape of `GET /health`.

use super::LinkState;
use crate::classify::ErrorClass;
use serde::Serialize;

/// The bridge's overall state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Every link up, no alarm.
    Ok,
    /// The broker link is up or blocked, and some link is not up or has an alarm raised.
    Degraded,
    /// The broker link is down: no task can move.
    Down,
}

/// One link in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkReport {
    /// `up`, `down` or `blocked`.
    pub state: LinkState,
    /// The class of the last error seen on this link (kept after recovery), or `null`.
    pub last_error_class: Option<ErrorClass>,
    /// The text of the last error seen on this link (kept after recovery), or `null`.
    pub last_error: Option<String>,
    /// Milliseconds since the link entered its current state.
    pub since_ms: u64,
    /// A condition raised while the link is up (only `clock_skew` today), or `null`.
    pub alarm: Option<ErrorClass>,
}

/// The three links.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinksReport {
    /// The messaging broker.
    pub broker: LinkReport,
    /// The OpenClaw gateway.
    pub gateway: LinkReport,
    /// The token (and the token service behind it).
    pub token: LinkReport,
}

/// What we know of the current broker token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TokenReport {
    /// The token's `exp` (Unix seconds), or `null` when there is none.
    pub expires_at: Option<i64>,
    /// The token's `iat` minus our wall clock when it arrived, in seconds, or `null`.
    pub skew_seconds: Option<i64>,
}

/// The whole `GET /health` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthReport {
    /// `ok` (HTTP 200), `degraded` or `down` (HTTP 503).
    pub status: Status,
    /// Per-link state.
    pub links: LinksReport,
    /// Tasks whose `done` result was confirmed.
    pub processed: u64,
    /// Tasks whose `failed` result was confirmed.
    pub failed: u64,
    /// Redeliveries of tasks already done, acknowledged without work.
    pub duplicates_skipped: u64,
    /// Messages that were not a task at all (no id), acknowledged and dropped.
    pub rejected: u64,
    /// Broker reconnect attempts.
    pub reconnects: u64,
    /// The current broker token.
    pub token: TokenReport,
}
