//! What the HTTP handlers share: keys, run-time settings (mode, ttl, clock), the journal, and
//! the decision how to answer one minting request.

use std::{
    fmt,
    sync::{Mutex, MutexGuard},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use serde::{Deserialize, Serialize};

use crate::{
    claims::{ClaimTemplate, TokenRequest, TokenResponse, mint},
    config::TokenServiceConfig,
    error::TokenServiceError,
    journal::{Journal, JournalEntry, Outcome, Record, Route},
    keys::Keys,
};

/// How the service answers `/token` and `/refresh`; on the wire `{"mode":"ok"}`,
/// `{"mode":"error","status":503}` or `{"mode":"down"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum Mode {
    /// Mints tokens.
    #[default]
    Ok,
    /// Answers every `/token` and `/refresh` with `status` and an OAuth error body
    /// (`invalid_client` for 401/403, else `temporarily_unavailable`). `/health` stays 200.
    Error {
        /// An HTTP error status, 400..=599; 503 when omitted on the wire.
        #[serde(default = "default_error_status")]
        status: u16,
    },
    /// Not listening: connections are refused and open ones are cut. Leaving `Down` re-binds
    /// the same port.
    Down,
}

fn default_error_status() -> u16 {
    503
}

impl Mode {
    /// Refuses an error mode whose status is not an HTTP error.
    pub fn validate(self) -> Result<(), TokenServiceError> {
        match self {
            Mode::Error { status } if !(400..=599).contains(&status) => {
                Err(TokenServiceError::InvalidStatus(status))
            }
            _ => Ok(()),
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mode::Ok => f.write_str("ok"),
            Mode::Error { status } => write!(f, "error:{status}"),
            Mode::Down => f.write_str("down"),
        }
    }
}

/// The knobs a scenario turns at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Settings {
    mode: Mode,
    ttl_override_secs: Option<u64>,
    clock_offset_secs: i64,
}

/// How to answer one minting request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    /// 200 with a token.
    Issued(TokenResponse),
    /// An OAuth-style error.
    Error {
        status: u16,
        error: &'static str,
        description: String,
    },
}

/// State shared by every handler of one service.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) keys: Keys,
    template: ClaimTemplate,
    default_ttl_secs: u64,
    default_clock_offset_secs: i64,
    settings: Mutex<Settings>,
    pub(crate) journal: Journal,
}

impl Shared {
    /// Fresh state for `config`, signing with `keys`: mode `Ok`, no ttl override.
    pub(crate) fn new(config: &TokenServiceConfig, keys: Keys) -> Self {
        Self {
            keys,
            template: ClaimTemplate {
                kid: config.kid.clone(),
                sub: config.subject.clone(),
                aud: config.audience.clone(),
                scope: config.scope.clone(),
            },
            default_ttl_secs: config.ttl.as_secs(),
            default_clock_offset_secs: config.clock_offset_secs,
            settings: Mutex::new(Settings {
                mode: Mode::Ok,
                ttl_override_secs: None,
                clock_offset_secs: config.clock_offset_secs,
            }),
            journal: Journal::default(),
        }
    }

    fn settings(&self) -> MutexGuard<'_, Settings> {
        self.settings
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn kid(&self) -> &str {
        &self.template.kid
    }

    pub(crate) fn mode(&self) -> Mode {
        self.settings().mode
    }

    pub(crate) fn set_mode(&self, mode: Mode) {
        self.settings().mode = mode;
    }

    pub(crate) fn clock_offset_secs(&self) -> i64 {
        self.settings().clock_offset_secs
    }

    pub(crate) fn set_clock_offset_secs(&self, offset: i64) {
        self.settings().clock_offset_secs = offset;
    }

    /// The lifetime for a request that names none: the override, else the configured one.
    pub(crate) fn ttl(&self) -> Duration {
        Duration::from_secs(
            self.settings()
                .ttl_override_secs
                .unwrap_or(self.default_ttl_secs),
        )
    }

    pub(crate) fn ttl_override(&self) -> Option<Duration> {
        self.settings().ttl_override_secs.map(Duration::from_secs)
    }

    pub(crate) fn set_ttl_override(&self, ttl: Option<Duration>) {
        self.settings().ttl_override_secs = ttl.map(|ttl| ttl.as_secs());
    }

    /// Back to the configured ttl and clock offset; the mode is the caller's business.
    pub(crate) fn reset_knobs(&self) {
        let mut settings = self.settings();
        settings.ttl_override_secs = None;
        settings.clock_offset_secs = self.default_clock_offset_secs;
    }

    /// The service's clock: system time plus the offset, Unix seconds.
    pub(crate) fn now(&self) -> i64 {
        let offset = self.clock_offset_secs();
        let system = match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(since) => i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
            Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
        };
        system.saturating_add(offset)
    }

    /// Decides the answer to one request on `route` with `body`, journals and logs it.
    pub(crate) fn answer(&self, route: Route, body: &[u8]) -> Answer {
        let (answer, record) = self.decide(route, body);
        let entry = self.journal.record(record);
        log(&entry);
        answer
    }

    fn decide(&self, route: Route, body: &[u8]) -> (Answer, Record) {
        let settings = *self.settings();
        let failed = |status: u16, error: &'static str, description: String| {
            let record = Record {
                route,
                outcome: Outcome::Error(status),
                issued: None,
            };
            let answer = Answer::Error {
                status,
                error,
                description,
            };
            (answer, record)
        };
        match settings.mode {
            Mode::Ok => {}
            Mode::Error { status } => {
                let error = match status {
                    401 | 403 => "invalid_client",
                    _ => "temporarily_unavailable",
                };
                let description = format!("the token service is set to fail with {status}");
                return failed(status, error, description);
            }
            // Only a request racing the switch to Down sees this.
            Mode::Down => {
                let description = "the token service is going down".to_string();
                return failed(503, "temporarily_unavailable", description);
            }
        }
        let request = match parse_request(body) {
            Ok(request) => request,
            Err(e) => {
                return failed(400, "invalid_request", format!("invalid request body: {e}"));
            }
        };
        let ttl_secs = settings
            .ttl_override_secs
            .or(request.ttl_seconds)
            .unwrap_or(self.default_ttl_secs);
        let now = self.now();
        match mint(&self.keys, &self.template, now, ttl_secs, request.scope) {
            Ok((access_token, claims)) => {
                let answer = Answer::Issued(TokenResponse {
                    access_token,
                    token_type: "Bearer",
                    expires_in: ttl_secs,
                    expires_at: claims.exp,
                    issued_at: claims.iat,
                });
                let record = Record {
                    route,
                    outcome: Outcome::Issued,
                    issued: Some((claims.iat, claims.exp, claims.jti)),
                };
                (answer, record)
            }
            Err(e) => failed(500, "server_error", e.to_string()),
        }
    }
}

/// An empty (or blank) body asks for the defaults.
fn parse_request(body: &[u8]) -> Result<TokenRequest, serde_json::Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(TokenRequest::default());
    }
    serde_json::from_slice(body)
}

/// Logs one journaled request: never the token, never a key.
fn log(entry: &JournalEntry) {
    tracing::info!(
        seq = entry.seq,
        route = %entry.route,
        outcome = %entry.outcome,
        iat = entry.iat,
        exp = entry.exp,
        jti = entry.jti.as_deref().unwrap_or("-"),
        "token request"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SigningAlg;

    fn shared() -> Result<Shared, TokenServiceError> {
        let config = TokenServiceConfig::default();
        Ok(Shared::new(&config, Keys::generate(SigningAlg::Hs256)?))
    }

    #[test]
    fn mode_wire_format() -> serde_json::Result<()> {
        let error: Mode = serde_json::from_str(r#"{"mode":"error"}"#)?;
        assert_eq!(error, Mode::Error { status: 503 });
        let error: Mode = serde_json::from_str(r#"{"mode":"error","status":401}"#)?;
        assert_eq!(error, Mode::Error { status: 401 });
        assert_eq!(serde_json::to_string(&Mode::Down)?, r#"{"mode":"down"}"#);
        assert!(serde_json::from_str::<Mode>(r#"{"mode":"sideways"}"#).is_err());
        assert!(Mode::Error { status: 200 }.validate().is_err());
        assert!(Mode::Error { status: 599 }.validate().is_ok());
        Ok(())
    }

    #[test]
    fn override_beats_the_request_which_beats_the_default() -> Result<(), TokenServiceError> {
        let state = shared()?;
        let ttl_of = |body: &[u8]| match state.answer(Route::Token, body) {
            Answer::Issued(response) => response.expires_in,
            other => panic!("not issued: {other:?}"),
        };
        assert_eq!(ttl_of(b""), 60);
        assert_eq!(ttl_of(br#"{"ttl_seconds": 7}"#), 7);
        state.set_ttl_override(Some(Duration::from_secs(3)));
        assert_eq!(ttl_of(br#"{"ttl_seconds": 7}"#), 3);
        state.reset_knobs();
        assert_eq!(ttl_of(b" \n"), 60);
        Ok(())
    }

    #[test]
    fn a_bad_body_is_a_400_and_journaled() -> Result<(), TokenServiceError> {
        let state = shared()?;
        let answer = state.answer(Route::Refresh, br#"{"ttl":5}"#);
        assert!(
            matches!(
                answer,
                Answer::Error {
                    status: 400,
                    error: "invalid_request",
                    ..
                }
            ),
            "{answer:?}"
        );
        assert_eq!(state.journal.entries()[0].outcome, Outcome::Error(400));
        Ok(())
    }
}
