//! Helpers shared by the integration tests: a service, minting over HTTP, decoding tokens.

#![allow(dead_code)] // each test binary uses its own subset

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use clawchaos_token_service::{Claims, TokenService, TokenServiceConfig, VerifyKey};
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};

pub type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// A service on a free loopback port with `config`'s other settings.
pub async fn start(config: TokenServiceConfig) -> TokenService {
    match TokenService::start(config).await {
        Ok(service) => service,
        Err(e) => panic!("token service did not start: {e}"),
    }
}

/// An HS256 service with the defaults.
pub async fn default_service() -> TokenService {
    start(TokenServiceConfig::default()).await
}

/// The system clock, Unix seconds.
pub fn system_now() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
}

/// `POST {base}/{route}` with an optional JSON body: status and JSON answer.
pub async fn post(
    http: &reqwest::Client,
    base: &str,
    route: &str,
    body: Option<serde_json::Value>,
) -> Result<(u16, serde_json::Value), Error> {
    let mut request = http.post(format!("{base}{route}"));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await?))
}

/// Mints at `/token` and returns the 200 answer; anything else is an error.
pub async fn mint(
    http: &reqwest::Client,
    service: &TokenService,
) -> Result<serde_json::Value, Error> {
    let (status, body) = post(http, &service.base_url(), "/token", None).await?;
    if status != 200 {
        return Err(format!("mint answered {status}: {body}").into());
    }
    Ok(body)
}

/// The `access_token` of a token answer.
pub fn access_token(answer: &serde_json::Value) -> Result<&str, Error> {
    answer["access_token"]
        .as_str()
        .ok_or_else(|| format!("no access_token in {answer}").into())
}

/// The decoding key jsonwebtoken needs for `key`, built only from what the service exposes.
pub fn decoding_key(key: &VerifyKey) -> Result<DecodingKey, Error> {
    Ok(match key {
        VerifyKey::Hs256 { secret_base64url } => {
            DecodingKey::from_secret(&URL_SAFE_NO_PAD.decode(secret_base64url)?)
        }
        VerifyKey::Rs256 { public_key_pem } => {
            DecodingKey::from_rsa_pem(public_key_pem.as_bytes())?
        }
    })
}

/// Verifies `token` with `key` (signature, `aud` = rabbitmq; times not checked, so tokens
/// from a skewed clock decode too) and returns its header and claims.
pub fn verify(token: &str, key: &VerifyKey, alg: Algorithm) -> Result<(Header, Claims), Error> {
    let mut validation = Validation::new(alg);
    validation.set_audience(&["rabbitmq"]);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.set_required_spec_claims(&["exp", "aud", "sub"]);
    let data = jsonwebtoken::decode::<Claims>(token, &decoding_key(key)?, &validation)?;
    Ok((data.header, data.claims))
}

/// `|a - b| <= tolerance`, with both in the message otherwise.
pub fn assert_near(what: &str, actual: i64, expected: i64, tolerance: i64) {
    assert!(
        (actual - expected).abs() <= tolerance,
        "{what}: {actual} is not within {tolerance} s of {expected}"
    );
}
