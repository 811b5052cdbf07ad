//! The issuer's clock offset and the ttl override, at start and at run time.

mod common;

use std::time::Duration;

use clawchaos_token_service::{Claims, TokenServiceConfig};
use common::{TestResult, access_token, assert_near, mint, post, start, system_now, verify};
use jsonwebtoken::{Algorithm, Validation};

#[tokio::test]
async fn clock_offset_shifts_iat_and_exp() -> TestResult {
    // Two hours behind from the start.
    let service = start(TokenServiceConfig {
        clock_offset_secs: -7200,
        ..TokenServiceConfig::default()
    })
    .await;
    assert_near("service clock", service.now(), system_now() - 7200, 2);
    let http = reqwest::Client::new();
    let answer = mint(&http, &service).await?;
    let token = access_token(&answer)?;
    let (_, claims) = verify(token, service.verify_key(), Algorithm::HS256)?;
    assert_near("iat", claims.iat, system_now() - 7200, 2);
    assert_eq!(claims.exp - claims.iat, 60);
    assert_eq!(answer["issued_at"], claims.iat);
    assert_eq!(answer["expires_at"], claims.exp);

    // A verifier with a correct clock sees it as long expired.
    let mut strict = Validation::new(Algorithm::HS256);
    strict.set_audience(&["rabbitmq"]);
    let key = common::decoding_key(service.verify_key())?;
    let expired = jsonwebtoken::decode::<Claims>(token, &key, &strict);
    assert!(
        expired.is_err(),
        "a token from 2 h ago verified: {expired:?}"
    );

    // Ten minutes ahead, at run time.
    service.set_clock_offset(600);
    assert_eq!(service.clock_offset(), 600);
    let answer = mint(&http, &service).await?;
    let (_, claims) = verify(
        access_token(&answer)?,
        service.verify_key(),
        Algorithm::HS256,
    )?;
    assert_near("iat", claims.iat, system_now() + 600, 2);
    assert_eq!(claims.nbf, claims.iat, "not valid before the skewed now");

    // Reset goes back to the configured offset.
    service.reset().await?;
    assert_eq!(service.clock_offset(), -7200);
    service.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn ttl_override_applies_mid_run_and_beats_the_request() -> TestResult {
    let service = start(TokenServiceConfig::default()).await;
    let http = reqwest::Client::new();
    let base = service.base_url();
    let lifetime = |answer: &serde_json::Value| -> Result<i64, common::Error> {
        let (_, claims) = verify(
            access_token(answer)?,
            service.verify_key(),
            Algorithm::HS256,
        )?;
        assert_eq!(answer["expires_in"], claims.exp - claims.iat);
        Ok(claims.exp - claims.iat)
    };
    let asks_an_hour = serde_json::json!({"ttl_seconds": 3600});

    assert_eq!(lifetime(&mint(&http, &service).await?)?, 60);
    service.set_ttl(Some(Duration::from_secs(5)));
    assert_eq!(service.ttl(), Duration::from_secs(5));
    assert_eq!(lifetime(&mint(&http, &service).await?)?, 5);
    let (_, answer) = post(&http, &base, "/refresh", Some(asks_an_hour.clone())).await?;
    assert_eq!(lifetime(&answer)?, 5, "the override beats the request");

    service.set_ttl(None);
    assert_eq!(service.ttl(), Duration::from_secs(60));
    let (_, answer) = post(&http, &base, "/refresh", Some(asks_an_hour)).await?;
    assert_eq!(lifetime(&answer)?, 3600);
    assert_eq!(lifetime(&mint(&http, &service).await?)?, 60);
    Ok(())
}
