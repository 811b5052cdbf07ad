//! Error classes the bridge reports, and how broker and transport errors map onto them.

use serde::Serialize;
use std::fmt;
use std::io;

/// What went wrong on a link, as reported in `/health` and in log lines (snake_case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// The JWT expired (by our clock, or the broker said so).
    TokenExpired,
    /// Our clock and the token issuer's differ by more than the leeway.
    ClockSkew,
    /// Credentials refused for a reason other than expiry (bad signature, audience, password).
    AuthFailed,
    /// Connection limit reached, connection blocked, HTTP 429.
    RateLimited,
    /// Connection refused, no route, reset, closed.
    Unreachable,
    /// Heartbeats, confirms or a request timed out: a partition or a hang.
    Stalled,
    /// The broker closed the connection on purpose (`320 CONNECTION_FORCED`).
    ConnectionForced,
    /// The gateway answered with an error or an unusable body.
    GatewayError,
    /// The token service could not be reached or answered with an error.
    TokenServiceUnavailable,
}

impl ErrorClass {
    /// The snake_case name used on the wire and in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::TokenExpired => "token_expired",
            ErrorClass::ClockSkew => "clock_skew",
            ErrorClass::AuthFailed => "auth_failed",
            ErrorClass::RateLimited => "rate_limited",
            ErrorClass::Unreachable => "unreachable",
            ErrorClass::Stalled => "stalled",
            ErrorClass::ConnectionForced => "connection_forced",
            ErrorClass::GatewayError => "gateway_error",
            ErrorClass::TokenServiceUnavailable => "token_service_unavailable",
        }
    }

    /// Whether the class is a refusal of our credentials (the token may need a refresh).
    pub fn is_auth(self) -> bool {
        matches!(
            self,
            ErrorClass::TokenExpired | ErrorClass::ClockSkew | ErrorClass::AuthFailed
        )
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Classifies a broker refusal from its AMQP reply code (if known) and text.
///
/// Texts seen from RabbitMQ 3.10: `403 ACCESS_REFUSED - Login was refused using authentication
/// mechanism PLAIN`, `403 ACCESS_REFUSED ... Provided JWT token has expired at timestamp X`,
/// `530 NOT_ALLOWED - access to vhost '/' refused for user 'u': connection limit (1) is
/// reached`, `320 CONNECTION_FORCED - Closed via management plugin`. An auth refusal still
/// needs [`refine_auth`] with what we know about our token.
pub fn classify_broker(code: Option<u16>, text: &str) -> ErrorClass {
    let t = text.to_ascii_lowercase();
    let has = |needle: &str| t.contains(needle);
    if has("expired") && (has("token") || has("jwt")) {
        return ErrorClass::TokenExpired;
    }
    if code == Some(320) || has("connection_forced") || has("connection-forced") {
        return ErrorClass::ConnectionForced;
    }
    if code == Some(530) && (has("limit") || has("blocked"))
        || has("connection limit")
        || has("is reached")
        || has("blocked")
        || has("resource_limit")
        || has("resource-limit")
    {
        return ErrorClass::RateLimited;
    }
    if code == Some(403)
        || has("access_refused")
        || has("access-refused")
        || has("login was refused")
        || has("authentication")
    {
        return ErrorClass::AuthFailed;
    }
    if has("heartbeat")
        || has("haven't received anything")
        || has("timed out")
        || has("timeout")
        || has("stalled")
    {
        return ErrorClass::Stalled;
    }
    ErrorClass::Unreachable
}

/// Classifies an I/O error from a socket.
pub fn classify_io(error: &io::Error) -> ErrorClass {
    match error.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => ErrorClass::Stalled,
        _ => ErrorClass::Unreachable,
    }
}

/// What we know about the token the broker just refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenView {
    /// Whether the token is still valid by our clock (`exp` in the future, or no `exp`).
    pub valid_by_our_clock: bool,
    /// Whether |token `iat` - our clock| exceeds the leeway.
    pub skewed: bool,
}

/// Turns a broker auth refusal into the class to report, given what we know of our token.
///
/// A refusal of a token we believe valid while our clock is skewed beyond the leeway is
/// `clock_skew`; of a token expired by our clock, or one the broker says expired,
/// `token_expired`; a bare login refusal of a token that is valid and unskewed is
/// `auth_failed` (bad signature, audience, scope). Non-auth classes pass unchanged.
pub fn refine_auth(class: ErrorClass, token: Option<TokenView>) -> ErrorClass {
    if !class.is_auth() {
        return class;
    }
    let Some(token) = token else {
        return class;
    };
    if token.valid_by_our_clock && token.skewed {
        ErrorClass::ClockSkew
    } else if !token.valid_by_our_clock {
        ErrorClass::TokenExpired
    } else {
        class
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOGIN_REFUSED: &str = "ACCESS_REFUSED - Login was refused using authentication \
        mechanism PLAIN. For details see the broker logfile.";
    const EXPIRED: &str = "ACCESS_REFUSED - access to queue 'openclaw_results' in vhost '/' \
        refused for user 'claw-bridge': Provided JWT token has expired at timestamp 1764120000 \
        (validated at 1764120042)";

    #[test]
    fn classifies_rabbitmq_refusals() {
        assert_eq!(
            classify_broker(Some(403), EXPIRED),
            ErrorClass::TokenExpired
        );
        assert_eq!(
            classify_broker(Some(403), LOGIN_REFUSED),
            ErrorClass::AuthFailed
        );
        assert_eq!(
            classify_broker(
                Some(530),
                "NOT_ALLOWED - access to vhost '/' refused for user 'claw-bridge': connection limit (1) is reached"
            ),
            ErrorClass::RateLimited
        );
        assert_eq!(
            classify_broker(
                Some(320),
                "CONNECTION_FORCED - Closed via management plugin"
            ),
            ErrorClass::ConnectionForced
        );
        assert_eq!(
            classify_broker(
                None,
                "protocol error: AMQP hard error: CONNECTION-FORCED: CONNECTION_FORCED - bye"
            ),
            ErrorClass::ConnectionForced
        );
        assert_eq!(
            classify_broker(None, "missing heartbeat from the broker"),
            ErrorClass::Stalled
        );
        assert_eq!(
            classify_broker(None, "connection blocked: low on memory"),
            ErrorClass::RateLimited
        );
        assert_eq!(
            classify_broker(None, "IO error: Connection refused (os error 111)"),
            ErrorClass::Unreachable
        );
    }

    #[test]
    fn io_errors() {
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(classify_io(&refused), ErrorClass::Unreachable);
        let timeout = io::Error::from(io::ErrorKind::TimedOut);
        assert_eq!(classify_io(&timeout), ErrorClass::Stalled);
    }

    #[test]
    fn refines_auth_refusals_with_token_knowledge() {
        let auth = classify_broker(Some(403), LOGIN_REFUSED);
        let valid_skewed = TokenView {
            valid_by_our_clock: true,
            skewed: true,
        };
        let expired = TokenView {
            valid_by_our_clock: false,
            skewed: false,
        };
        let fine = TokenView {
            valid_by_our_clock: true,
            skewed: false,
        };
        assert_eq!(refine_auth(auth, Some(valid_skewed)), ErrorClass::ClockSkew);
        assert_eq!(refine_auth(auth, Some(expired)), ErrorClass::TokenExpired);
        assert_eq!(refine_auth(auth, Some(fine)), ErrorClass::AuthFailed);
        assert_eq!(refine_auth(auth, None), ErrorClass::AuthFailed);
        let broker_says_expired = classify_broker(Some(403), EXPIRED);
        assert_eq!(
            refine_auth(broker_says_expired, Some(fine)),
            ErrorClass::TokenExpired
        );
        assert_eq!(
            refine_auth(broker_says_expired, Some(valid_skewed)),
            ErrorClass::ClockSkew
        );
        assert_eq!(
            refine_auth(ErrorClass::Unreachable, Some(expired)),
            ErrorClass::Unreachable
        );
    }

    #[test]
    fn classes_serialise_snake_case() {
        let json = serde_json::to_string(&ErrorClass::TokenServiceUnavailable).unwrap();
        assert_eq!(json, "\"token_service_unavailable\"");
        assert_eq!(ErrorClass::ClockSkew.to_string(), "clock_skew");
    }
}
