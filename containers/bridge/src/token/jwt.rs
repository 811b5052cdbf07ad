//! Reading a JWT's `iat` and `exp` without checking its signature (the broker does that).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The claims the bridge cares about.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Claims {
    /// Issued at, Unix seconds by the issuer's clock.
    pub iat: Option<i64>,
    /// Expiry, Unix seconds by the issuer's clock.
    pub exp: Option<i64>,
}

/// Why a token's payload could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// Not three dot-separated parts.
    #[error("not a JWT: expected three dot-separated parts")]
    Shape,
    /// The payload is not base64url.
    #[error("JWT payload is not base64url: {0}")]
    Base64(String),
    /// The payload is not a JSON object with numeric `iat`/`exp`.
    #[error("JWT payload is not a JSON claims object: {0}")]
    Json(String),
}

#[derive(Deserialize)]
struct RawClaims {
    iat: Option<f64>,
    exp: Option<f64>,
}

/// Decodes the payload (second part) of `token` and returns its `iat` and `exp`.
pub fn decode_claims(token: &str) -> Result<Claims, JwtError> {
    let mut parts = token.trim().split('.');
    let (Some(_header), Some(payload), Some(_sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Shape);
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|e| JwtError::Base64(e.to_string()))?;
    let raw: RawClaims =
        serde_json::from_slice(&bytes).map_err(|e| JwtError::Json(e.to_string()))?;
    // NumericDate may carry a fraction; whole seconds are enough here.
    let secs = |v: f64| v.floor() as i64;
    Ok(Claims {
        iat: raw.iat.map(secs),
        exp: raw.exp.map(secs),
    })
}

/// `now` as Unix seconds (negative before 1970, which a faked clock could produce).
pub fn unix_seconds(now: SystemTime) -> f64 {
    match now.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

/// The skew between the issuer and us: token `iat` minus our wall clock `now`, in whole
/// seconds (positive: the issuer's clock is ahead of ours).
pub fn skew_seconds(iat: i64, now: SystemTime) -> i64 {
    (iat as f64 - unix_seconds(now)).round() as i64
}

/// Whether a skew exceeds the leeway.
pub fn exceeds_leeway(skew_seconds: i64, leeway: Duration) -> bool {
    skew_seconds.unsigned_abs() > leeway.as_secs()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A token with the given payload JSON and a fake signature.
    pub(crate) fn token_with(payload: &str) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let body = URL_SAFE_NO_PAD.encode(payload.as_bytes());
        format!("{header}.{body}.c2lnbmF0dXJl")
    }

    #[test]
    fn decodes_iat_and_exp() {
        let t =
            token_with(r#"{"sub":"claw","aud":["rabbitmq"],"iat":1764120000,"exp":1764120300}"#);
        assert_eq!(
            decode_claims(&t),
            Ok(Claims {
                iat: Some(1_764_120_000),
                exp: Some(1_764_120_300)
            })
        );
        let t = token_with(r#"{"iat":1764120000.7}"#);
        assert_eq!(
            decode_claims(&t),
            Ok(Claims {
                iat: Some(1_764_120_000),
                exp: None
            })
        );
    }

    #[test]
    fn rejects_non_jwts() {
        assert_eq!(decode_claims("opaque-token"), Err(JwtError::Shape));
        assert_eq!(decode_claims("a.b.c.d"), Err(JwtError::Shape));
        assert!(matches!(decode_claims("a.!!!.c"), Err(JwtError::Base64(_))));
        let not_json = format!("a.{}.c", URL_SAFE_NO_PAD.encode(b"\"claims\""));
        assert!(matches!(decode_claims(&not_json), Err(JwtError::Json(_))));
    }

    #[test]
    fn skew_is_iat_minus_our_clock() {
        let now = UNIX_EPOCH + Duration::from_secs(1_764_120_000);
        assert_eq!(skew_seconds(1_764_120_000, now), 0);
        assert_eq!(skew_seconds(1_764_123_600, now), 3600, "issuer ahead");
        assert_eq!(skew_seconds(1_764_116_400, now), -3600, "issuer behind");
        let leeway = Duration::from_secs(30);
        assert!(!exceeds_leeway(30, leeway));
        assert!(!exceeds_leeway(-30, leeway));
        assert!(exceeds_leeway(31, leeway));
        assert!(exceeds_leeway(-3600, leeway));
    }
}
