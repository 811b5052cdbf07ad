//! Holds the current broker token, refreshes it before it expires (by our clock), and keeps
//! the token link's health.

use super::client::{TokenClient, TokenFetchError};
use super::info::TokenInfo;
use super::jwt;
use crate::backoff::Backoff;
use crate::classify::{ErrorClass, TokenView, refine_auth};
use crate::config::{TokenSettings, TokenSource};
use crate::health::{Health, Link, LinkState};
use crate::secret::{Redactor, Secret};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::watch;

/// The shortest wait before re-refreshing a token that arrived already close to expiry.
const MIN_REFRESH_SPACING: Duration = Duration::from_millis(500);
/// How often the refresher re-reads the wall clock (which libfaketime may move).
const TICK: Duration = Duration::from_secs(1);

/// When the next refresh is due.
#[derive(Debug, Clone, Copy)]
enum Next {
    /// Nothing scheduled (no exp, or no token source).
    Never,
    /// At this wall-clock time (re-read every tick, so a moved clock is noticed).
    At(SystemTime),
    /// After this monotonic instant (retries after a failure).
    After(Instant),
}

#[derive(Debug)]
struct Schedule {
    next: Next,
    backoff: Backoff,
    last_failed: bool,
}

/// The broker token's keeper.
#[derive(Debug)]
pub struct TokenManager {
    settings: TokenSettings,
    client: Option<TokenClient>,
    health: Health,
    redactor: Redactor,
    current: watch::Sender<Option<Arc<TokenInfo>>>,
    refresh_lock: tokio::sync::Mutex<()>,
    schedule: Mutex<Schedule>,
}

impl TokenManager {
    /// A keeper for `settings`; a static token is installed at once.
    pub fn new(
        settings: TokenSettings,
        health: Health,
        redactor: Redactor,
    ) -> Result<Arc<Self>, reqwest::Error> {
        let client = match &settings.source {
            TokenSource::Service { url, refresh_url } => Some(TokenClient::new(
                url.clone(),
                refresh_url.clone(),
                redactor.clone(),
            )?),
            _ => None,
        };
        let manager = Arc::new(Self {
            client,
            health,
            redactor,
            current: watch::Sender::new(None),
            refresh_lock: tokio::sync::Mutex::new(()),
            schedule: Mutex::new(Schedule {
                next: Next::Never,
                backoff: Backoff::default(),
                last_failed: false,
            }),
            settings,
        });
        match &manager.settings.source {
            TokenSource::None => manager.health.up(Link::Token),
            TokenSource::Static(secret) => manager.accept(secret.clone(), false),
            TokenSource::Service { .. } => {}
        }
        Ok(manager)
    }

    /// Whether the broker credential is a JWT (static or from the service).
    pub fn uses_jwt(&self) -> bool {
        self.settings.source != TokenSource::None
    }

    /// Watches the current token; a new value means "apply it to open connections".
    pub fn subscribe(&self) -> watch::Receiver<Option<Arc<TokenInfo>>> {
        self.current.subscribe()
    }

    /// The current token, if any.
    pub fn current(&self) -> Option<Arc<TokenInfo>> {
        self.current.borrow().clone()
    }

    fn schedule(&self) -> MutexGuard<'_, Schedule> {
        self.schedule.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The token to open a broker connection with (`None` without a JWT source). Fetches one
    /// if there is none; refreshes one that is due, falling back to the old one on failure.
    pub async fn for_connect(&self) -> Result<Option<Secret>, TokenFetchError> {
        if !self.uses_jwt() {
            return Ok(None);
        }
        let current = self.current();
        match (&current, &self.client) {
            (None, Some(_)) => self.refresh(None).await.map(|t| Some(t.secret.clone())),
            (Some(t), Some(_)) if self.due_now() => match self.refresh(Some(&t.secret)).await {
                Ok(fresh) => Ok(Some(fresh.secret.clone())),
                Err(_) => Ok(Some(t.secret.clone())),
            },
            (Some(t), _) => Ok(Some(t.secret.clone())),
            (None, None) => Ok(None),
        }
    }

    /// After the broker refused `refused`: fetch a new token (if the service can), unless
    /// another task already replaced it.
    pub async fn refresh_after_refusal(&self, refused: &Secret) {
        let backing_off = {
            let s = self.schedule();
            s.last_failed && matches!(s.next, Next::After(i) if Instant::now() < i)
        };
        if self.client.is_some() && !backing_off {
            let _ = self.refresh(Some(refused)).await;
        }
    }

    /// Classifies a broker refusal with what we know of the current token.
    pub fn classify(&self, class: ErrorClass) -> ErrorClass {
        refine_auth(class, self.view())
    }

    /// The current token as [`refine_auth`] sees it.
    pub fn view(&self) -> Option<TokenView> {
        let token = self.current()?;
        Some(TokenView {
            valid_by_our_clock: token.valid_at(SystemTime::now(), self.settings.leeway),
            skewed: token.skewed(self.settings.leeway),
        })
    }

    /// Fetches a new token (refresh if we hold one, else mint). `seen` is the token the caller
    /// holds: if another task replaced it meanwhile, that newer token is returned instead.
    pub async fn refresh(&self, seen: Option<&Secret>) -> Result<Arc<TokenInfo>, TokenFetchError> {
        let _guard = self.refresh_lock.lock().await;
        let current = self.current();
        if let Some(cur) = &current
            && seen != Some(&cur.secret)
        {
            return Ok(Arc::clone(cur));
        }
        let Some(client) = &self.client else {
            return current.ok_or_else(|| TokenFetchError::Malformed {
                url: String::new(),
                reason: "no token source".into(),
            });
        };
        let result = match &current {
            Some(cur) => client.refresh(Some(&cur.secret)).await,
            None => client.mint().await,
        };
        match result {
            Ok(secret) => {
                self.accept(secret, true);
                self.current().ok_or_else(|| TokenFetchError::Malformed {
                    url: String::new(),
                    reason: "token vanished".into(),
                })
            }
            Err(e) => {
                self.failed(&e);
                Err(e)
            }
        }
    }

    fn failed(&self, error: &TokenFetchError) {
        {
            let mut s = self.schedule();
            s.last_failed = true;
            let delay = s.backoff.next_delay();
            s.next = Next::After(Instant::now() + delay);
        }
        let now = SystemTime::now();
        let error = self.redactor.scrub(&error.to_string());
        match self.current() {
            Some(t) if !t.valid_at(now, self.settings.leeway) => self.health.down(
                Link::Token,
                ErrorClass::TokenExpired,
                &format!("{}; renewal failed: {error}", expired_text(&t, now)),
            ),
            _ => self
                .health
                .down(Link::Token, ErrorClass::TokenServiceUnavailable, &error),
        }
    }

    /// Installs a newly received token: claims, skew, health, next refresh time.
    fn accept(&self, secret: Secret, fresh: bool) {
        self.redactor.add(&secret);
        let now = SystemTime::now();
        let info = TokenInfo::new(secret, now, fresh);
        let leeway = self.settings.leeway;
        let skew = info.skew_seconds();
        self.health.set_token(info.claims.exp, skew);
        tracing::info!(
            expires_at = ?info.claims.exp,
            issued_at = ?info.claims.iat,
            skew_seconds = ?skew,
            "broker token received"
        );
        if info.skewed(leeway) {
            self.raise_skew(skew.unwrap_or_default());
        } else if !info.valid_at(now, leeway) {
            self.health.down(
                Link::Token,
                ErrorClass::TokenExpired,
                &expired_text(&info, now),
            );
        } else {
            self.health.up(Link::Token);
        }
        {
            let mut s = self.schedule();
            s.last_failed = false;
            s.next = match info.remaining(now) {
                None => Next::Never,
                Some(left) if left > self.settings.refresh_before.as_secs_f64() => {
                    s.backoff.reset();
                    let at = info.claims.exp.unwrap_or_default()
                        - i64::try_from(self.settings.refresh_before.as_secs()).unwrap_or(0);
                    Next::At(system_time(at))
                }
                Some(left) if left > 0.0 => {
                    let half = Duration::from_secs_f64(left / 2.0).max(MIN_REFRESH_SPACING);
                    Next::At(now + half)
                }
                Some(_) => {
                    let delay = s.backoff.next_delay();
                    Next::After(Instant::now() + delay)
                }
            };
        }
        self.current.send_replace(Some(Arc::new(info)));
    }

    fn due_now(&self) -> bool {
        match self.schedule().next {
            Next::Never => false,
            Next::At(t) => SystemTime::now() >= t,
            Next::After(i) => Instant::now() >= i,
        }
    }

    fn until_due(&self) -> Duration {
        match self.schedule().next {
            Next::Never => TICK,
            Next::At(t) => t.duration_since(SystemTime::now()).unwrap_or_default(),
            Next::After(i) => i.saturating_duration_since(Instant::now()),
        }
    }

    fn raise_skew(&self, skew: i64) {
        self.health.up_with_alarm(
            Link::Token,
            ErrorClass::ClockSkew,
            &format!(
                "the token issuer's clock differs from ours by {skew}s (leeway {}s); using the \
                 token anyway",
                self.settings.leeway.as_secs()
            ),
        );
    }

    /// Re-reads our wall clock against the token's: raises or clears the `clock_skew` alarm
    /// when our clock moved (libfaketime can move it at run time).
    fn reassess_skew(&self) {
        let Some(token) = self.current() else {
            return;
        };
        let Some(skew) = token.skew_seconds() else {
            return;
        };
        self.health.set_token(token.claims.exp, Some(skew));
        if self.health.state(Link::Token) != LinkState::Up {
            return;
        }
        let skewed = jwt::exceeds_leeway(skew, self.settings.leeway);
        let alarmed = self.health.alarm(Link::Token) == Some(ErrorClass::ClockSkew);
        if skewed && !alarmed {
            self.raise_skew(skew);
        } else if !skewed && alarmed {
            tracing::info!(skew_seconds = skew, "clock skew back within leeway");
            self.health.up(Link::Token);
        }
    }

    /// Reports `token_expired` once the token has expired by our clock and cannot be renewed.
    fn check_expiry(&self) {
        let Some(token) = self.current() else {
            return;
        };
        let now = SystemTime::now();
        if token.valid_at(now, self.settings.leeway) || token.skewed(self.settings.leeway) {
            return;
        }
        let renewable = self.client.is_some() && !self.schedule().last_failed;
        if !renewable {
            self.health.down(
                Link::Token,
                ErrorClass::TokenExpired,
                &expired_text(&token, now),
            );
        }
    }

    /// Keeps the token fresh until `shutdown` turns true: fetches the first one, refreshes each
    /// at `exp - refresh_before` (our wall clock), retries failures with backoff.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        if self.client.is_some() && self.current().is_none() {
            let _ = self.refresh(None).await;
        }
        loop {
            let wait = self.until_due().min(TICK);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = crate::stop::stopped(&mut shutdown) => return,
            }
            self.reassess_skew();
            self.check_expiry();
            if self.client.is_some() && (self.current().is_none() || self.due_now()) {
                let seen = self.current().map(|t| t.secret.clone());
                let _ = self.refresh(seen.as_ref()).await;
            }
        }
    }
}

fn expired_text(token: &TokenInfo, now: SystemTime) -> String {
    format!(
        "token expired at {} by our clock (now {})",
        token.claims.exp.unwrap_or_default(),
        jwt::unix_seconds(now).floor() as i64
    )
}

fn system_time(unix: i64) -> SystemTime {
    if unix >= 0 {
        UNIX_EPOCH + Duration::from_secs(unix.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_secs(unix.unsigned_abs())
    }
}

#[cfg(test)]
mod tests;
