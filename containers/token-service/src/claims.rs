//! What a token says and how one is minted: claims, the request body, the answer.

use jsonwebtoken::{Algorithm, Header};
use serde::{Deserialize, Serialize};

use crate::{
    config::SigningAlg,
    keys::{Keys, random_hex},
};

/// The claims of every token the service mints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Subject.
    pub sub: String,
    /// Audience; RabbitMQ checks its `resource_server_id` is in it.
    pub aud: Vec<String>,
    /// Space-separated scopes, e.g. `rabbitmq.read:*/*`.
    pub scope: String,
    /// Issued at, Unix seconds by the service's clock.
    pub iat: i64,
    /// Not before; equal to `iat`.
    pub nbf: i64,
    /// Expiry: `iat` plus the lifetime.
    pub exp: i64,
    /// A random id, unique per token.
    pub jti: String,
}

/// The optional JSON body of `POST /token` and `POST /refresh`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TokenRequest {
    /// Lifetime asked for; a run-time ttl override still wins.
    pub(crate) ttl_seconds: Option<u64>,
    /// Scope asked for instead of the configured one.
    pub(crate) scope: Option<String>,
}

/// The 200 answer: an OAuth 2.0 token response plus the times by the service's clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct TokenResponse {
    pub(crate) access_token: String,
    pub(crate) token_type: &'static str,
    pub(crate) expires_in: u64,
    pub(crate) expires_at: i64,
    pub(crate) issued_at: i64,
}

/// Why a token could not be minted (a 500 for the caller).
#[derive(Debug, thiserror::Error)]
pub(crate) enum MintError {
    /// No randomness for the `jti`.
    #[error("cannot make a token id: {0}")]
    Random(String),
    /// Signing failed.
    #[error("cannot sign the token: {0}")]
    Sign(#[from] jsonwebtoken::errors::Error),
}

/// Everything but the times and the id: the fixed part of a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClaimTemplate {
    pub(crate) kid: String,
    pub(crate) sub: String,
    pub(crate) aud: Vec<String>,
    pub(crate) scope: String,
}

/// Signs a token issued at `now` (service clock, Unix seconds) living `ttl_secs`.
pub(crate) fn mint(
    keys: &Keys,
    template: &ClaimTemplate,
    now: i64,
    ttl_secs: u64,
    scope: Option<String>,
) -> Result<(String, Claims), MintError> {
    let claims = Claims {
        sub: template.sub.clone(),
        aud: template.aud.clone(),
        scope: scope.unwrap_or_else(|| template.scope.clone()),
        iat: now,
        nbf: now,
        exp: now.saturating_add(i64::try_from(ttl_secs).unwrap_or(i64::MAX)),
        jti: random_hex(16).map_err(MintError::Random)?,
    };
    let mut header = Header::new(match keys.alg {
        SigningAlg::Hs256 => Algorithm::HS256,
        SigningAlg::Rs256 => Algorithm::RS256,
    });
    header.kid = Some(template.kid.clone());
    let token = jsonwebtoken::encode(&header, &claims, &keys.encoding)?;
    Ok((token, claims))
}
