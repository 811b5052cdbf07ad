//! The shared health state: per-link state with a log line per change, and the counters.

use super::report::{HealthReport, LinkReport, LinksReport, Status, TokenReport};
use crate::classify::ErrorClass;
use crate::secret::Redactor;
use serde::Serialize;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

/// One of the bridge's links.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Link {
    /// RabbitMQ or Kafka.
    Broker,
    /// The OpenClaw gateway.
    Gateway,
    /// The broker token (and the token service).
    Token,
}

impl Link {
    fn index(self) -> usize {
        match self {
            Link::Broker => 0,
            Link::Gateway => 1,
            Link::Token => 2,
        }
    }
}

impl fmt::Display for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Link::Broker => "broker",
            Link::Gateway => "gateway",
            Link::Token => "token",
        })
    }
}

/// A link's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkState {
    /// Working.
    Up,
    /// Not working.
    Down,
    /// Connected but refused work for now (RabbitMQ `connection.blocked`).
    Blocked,
}

impl fmt::Display for LinkState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LinkState::Up => "up",
            LinkState::Down => "down",
            LinkState::Blocked => "blocked",
        })
    }
}

#[derive(Debug, Clone)]
struct LinkRecord {
    state: LinkState,
    alarm: Option<ErrorClass>,
    /// The class of the current trouble (for the once-per-change log).
    current: Option<ErrorClass>,
    last_error_class: Option<ErrorClass>,
    last_error: Option<String>,
    since: Instant,
}

impl LinkRecord {
    fn new(state: LinkState) -> Self {
        Self {
            state,
            alarm: None,
            current: None,
            last_error_class: None,
            last_error: None,
            since: Instant::now(),
        }
    }
}

#[derive(Debug, Default)]
struct Counters {
    processed: AtomicU64,
    failed: AtomicU64,
    duplicates_skipped: AtomicU64,
    rejected: AtomicU64,
    reconnects: AtomicU64,
}

#[derive(Debug)]
struct Inner {
    links: Mutex<[LinkRecord; 3]>,
    token: Mutex<TokenReport>,
    counters: Counters,
    redactor: Redactor,
}

/// The bridge's health: cheap to clone, shared by every task.
#[derive(Debug, Clone)]
pub struct Health {
    inner: Arc<Inner>,
}

impl Health {
    /// Fresh health: broker and token down until proven up, gateway up until a request fails.
    pub fn new(redactor: Redactor) -> Self {
        Self {
            inner: Arc::new(Inner {
                links: Mutex::new([
                    LinkRecord::new(LinkState::Down),
                    LinkRecord::new(LinkState::Up),
                    LinkRecord::new(LinkState::Down),
                ]),
                token: Mutex::new(TokenReport::default()),
                counters: Counters::default(),
                redactor,
            }),
        }
    }

    /// The redactor every reported text passes through.
    pub fn redactor(&self) -> &Redactor {
        &self.inner.redactor
    }

    fn links(&self) -> MutexGuard<'_, [LinkRecord; 3]> {
        self.inner.links.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Marks `link` up (and clears its alarm).
    pub fn up(&self, link: Link) {
        self.transition(link, LinkState::Up, None, None);
    }

    /// Marks `link` down because of `error` of class `class`.
    pub fn down(&self, link: Link, class: ErrorClass, error: &str) {
        self.transition(link, LinkState::Down, Some((class, error)), None);
    }

    /// Marks `link` blocked (connected but refusing work).
    pub fn blocked(&self, link: Link, class: ErrorClass, error: &str) {
        self.transition(link, LinkState::Blocked, Some((class, error)), None);
    }

    /// Marks `link` up with an alarm raised (e.g. `clock_skew` on a token still in use).
    pub fn up_with_alarm(&self, link: Link, class: ErrorClass, error: &str) {
        self.transition(link, LinkState::Up, Some((class, error)), Some(class));
    }

    /// The current state of `link`.
    pub fn state(&self, link: Link) -> LinkState {
        self.links()[link.index()].state
    }

    /// The alarm raised on `link`, if any.
    pub fn alarm(&self, link: Link) -> Option<ErrorClass> {
        self.links()[link.index()].alarm
    }

    /// The class of the last error seen on `link`.
    pub fn last_error_class(&self, link: Link) -> Option<ErrorClass> {
        self.links()[link.index()].last_error_class
    }

    fn transition(
        &self,
        link: Link,
        state: LinkState,
        error: Option<(ErrorClass, &str)>,
        alarm: Option<ErrorClass>,
    ) {
        let class = error.map(|(c, _)| c);
        let text = error.map(|(_, e)| self.inner.redactor.scrub(e));
        let changed = {
            let mut links = self.links();
            let record = &mut links[link.index()];
            let changed = record.state != state || record.current != class;
            if record.state != state {
                record.since = Instant::now();
            }
            record.state = state;
            record.current = class;
            record.alarm = alarm;
            if let (Some(c), Some(t)) = (class, &text) {
                record.last_error_class = Some(c);
                record.last_error = Some(t.clone());
            }
            changed
        };
        if !changed {
            return;
        }
        match (class, text) {
            (Some(class), Some(error)) => tracing::warn!(
                link = %link,
                state = %state,
                class = %class,
                error = %error,
                "link state changed"
            ),
            _ => tracing::info!(link = %link, state = %state, "link state changed"),
        }
    }

    /// Records the current token's expiry and skew.
    pub fn set_token(&self, expires_at: Option<i64>, skew_seconds: Option<i64>) {
        let mut t = self.inner.token.lock().unwrap_or_else(|e| e.into_inner());
        *t = TokenReport {
            expires_at,
            skew_seconds,
        };
    }

    /// Counts a confirmed `done` result.
    pub fn count_processed(&self) {
        self.inner
            .counters
            .processed
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a confirmed `failed` result.
    pub fn count_failed(&self) {
        self.inner.counters.failed.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a redelivery skipped because its task was already done.
    pub fn count_duplicate(&self) {
        self.inner
            .counters
            .duplicates_skipped
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a message that was not a task.
    pub fn count_rejected(&self) {
        self.inner.counters.rejected.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a broker reconnect attempt.
    pub fn count_reconnect(&self) {
        self.inner
            .counters
            .reconnects
            .fetch_add(1, Ordering::Relaxed);
    }

    /// The report served on `GET /health`.
    pub fn report(&self) -> HealthReport {
        let links = self.links().clone();
        let link = |r: &LinkRecord| LinkReport {
            state: r.state,
            last_error_class: r.last_error_class,
            last_error: r.last_error.clone(),
            since_ms: u64::try_from(r.since.elapsed().as_millis()).unwrap_or(u64::MAX),
            alarm: r.alarm,
        };
        let status = if links[0].state == LinkState::Down {
            Status::Down
        } else if links
            .iter()
            .all(|r| r.state == LinkState::Up && r.alarm.is_none())
        {
            Status::Ok
        } else {
            Status::Degraded
        };
        let c = &self.inner.counters;
        HealthReport {
            status,
            links: LinksReport {
                broker: link(&links[0]),
                gateway: link(&links[1]),
                token: link(&links[2]),
            },
            processed: c.processed.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            duplicates_skipped: c.duplicates_skipped.load(Ordering::Relaxed),
            rejected: c.rejected.load(Ordering::Relaxed),
            reconnects: c.reconnects.load(Ordering::Relaxed),
            token: self
                .inner
                .token
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_up() -> Health {
        let h = Health::new(Redactor::default());
        h.up(Link::Broker);
        h.up(Link::Token);
        h
    }

    #[test]
    fn status_follows_links() {
        let h = Health::new(Redactor::default());
        assert_eq!(h.report().status, Status::Down, "broker unknown at start");
        let h = all_up();
        assert_eq!(h.report().status, Status::Ok);
        h.down(Link::Gateway, ErrorClass::Unreachable, "connection refused");
        assert_eq!(h.report().status, Status::Degraded);
        h.up(Link::Gateway);
        h.blocked(Link::Broker, ErrorClass::RateLimited, "low on memory");
        assert_eq!(h.report().status, Status::Degraded);
        h.down(Link::Broker, ErrorClass::Unreachable, "refused");
        assert_eq!(h.report().status, Status::Down);
        h.up(Link::Broker);
        h.up_with_alarm(Link::Token, ErrorClass::ClockSkew, "iat 3600s ahead");
        let r = h.report();
        assert_eq!(r.status, Status::Degraded);
        assert_eq!(r.links.token.state, LinkState::Up);
        assert_eq!(r.links.token.alarm, Some(ErrorClass::ClockSkew));
        h.up(Link::Token);
        assert_eq!(h.report().status, Status::Ok);
    }

    #[test]
    fn last_error_is_kept_after_recovery() {
        let h = all_up();
        h.down(
            Link::Broker,
            ErrorClass::TokenExpired,
            "403 ACCESS_REFUSED - expired",
        );
        h.up(Link::Broker);
        let r = h.report();
        assert_eq!(r.links.broker.state, LinkState::Up);
        assert_eq!(
            r.links.broker.last_error_class,
            Some(ErrorClass::TokenExpired)
        );
        assert_eq!(
            r.links.broker.last_error.as_deref(),
            Some("403 ACCESS_REFUSED - expired")
        );
    }

    #[test]
    fn report_json_shape() {
        let h = all_up();
        h.count_processed();
        h.count_duplicate();
        h.count_reconnect();
        h.set_token(Some(1_764_120_000), Some(-2));
        let json = serde_json::to_value(h.report()).unwrap();
        assert_eq!(json["status"], "ok");
        assert_eq!(json["links"]["broker"]["state"], "up");
        assert!(json["links"]["broker"]["last_error_class"].is_null());
        assert!(json["links"]["gateway"]["since_ms"].is_u64());
        assert_eq!(json["processed"], 1);
        assert_eq!(json["failed"], 0);
        assert_eq!(json["duplicates_skipped"], 1);
        assert_eq!(json["reconnects"], 1);
        assert_eq!(json["token"]["expires_at"], 1_764_120_000);
        assert_eq!(json["token"]["skew_seconds"], -2);
    }
}
