//! Minting: tokens verify with the exposed key and carry the configured claims.

mod common;

use std::collections::HashSet;

use clawchaos_token_service::{SigningAlg, TokenServiceConfig, VerifyKey};
use common::{
    TestResult, access_token, assert_near, default_service, mint, post, start, system_now, verify,
};
use jsonwebtoken::{Algorithm, Validation};

#[tokio::test]
async fn hs256_token_verifies_with_the_exposed_secret() -> TestResult {
    let service = default_service().await;
    assert_eq!(service.alg(), SigningAlg::Hs256);
    assert!(service.rs256_public_key_pem().is_none());
    let http = reqwest::Client::new();
    let answer = mint(&http, &service).await?;
    let token = access_token(&answer)?;

    let (header, claims) = verify(token, service.verify_key(), Algorithm::HS256)?;
    assert_eq!(header.alg, Algorithm::HS256);
    assert_eq!(header.kid.as_deref(), Some("clawchaos"));
    assert_eq!(claims.sub, "claw-bridge");
    assert_eq!(claims.aud, ["rabbitmq"]);
    assert_eq!(
        claims.scope,
        "rabbitmq.configure:*/* rabbitmq.write:*/* rabbitmq.read:*/*"
    );
    assert_eq!(claims.exp - claims.iat, 60);
    assert_eq!(claims.nbf, claims.iat);
    assert_near("iat", claims.iat, system_now(), 2);
    assert_eq!(claims.jti.len(), 32);

    assert_eq!(answer["token_type"], "Bearer");
    assert_eq!(answer["expires_in"], 60);
    assert_eq!(answer["expires_at"], claims.exp);
    assert_eq!(answer["issued_at"], claims.iat);

    // A full check, times included, passes too: the token is live now.
    let mut strict = Validation::new(Algorithm::HS256);
    strict.set_audience(&["rabbitmq"]);
    let key = common::decoding_key(service.verify_key())?;
    jsonwebtoken::decode::<clawchaos_token_service::Claims>(token, &key, &strict)?;
    service.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn rs256_token_verifies_with_the_exposed_public_key() -> TestResult {
    let config = TokenServiceConfig {
        alg: SigningAlg::Rs256,
        kid: "rsa-kid".to_string(),
        subject: "someone".to_string(),
        audience: vec!["rabbitmq".to_string(), "other".to_string()],
        scope: "rabbitmq.read:*/*".to_string(),
        ttl: std::time::Duration::from_secs(120),
        ..TokenServiceConfig::default()
    };
    let service = start(config).await;
    assert!(service.hs256_secret_base64url().is_none());
    let pem = service.rs256_public_key_pem().ok_or("no public key")?;
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"), "{pem}");

    let http = reqwest::Client::new();
    let (status, answer) = post(&http, &service.base_url(), "/refresh", None).await?;
    assert_eq!(status, 200, "{answer}");
    let (header, claims) = verify(
        access_token(&answer)?,
        service.verify_key(),
        Algorithm::RS256,
    )?;
    assert_eq!(header.alg, Algorithm::RS256);
    assert_eq!(header.kid.as_deref(), Some("rsa-kid"));
    assert_eq!(claims.sub, "someone");
    assert_eq!(claims.aud, ["rabbitmq", "other"]);
    assert_eq!(claims.scope, "rabbitmq.read:*/*");
    assert_eq!(claims.exp - claims.iat, 120);

    // The PEM written for the broker is the same key.
    let dir = tempdir("rs256")?;
    let path = service.write_key(&dir)?;
    assert_eq!(
        path.file_name().and_then(|n| n.to_str()),
        Some("rs256.pub.pem")
    );
    let written = VerifyKey::Rs256 {
        public_key_pem: std::fs::read_to_string(&path)?,
    };
    verify(access_token(&answer)?, &written, Algorithm::RS256)?;
    std::fs::remove_dir_all(&dir)?;
    service.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn hs256_key_file_is_private_and_holds_the_secret() -> TestResult {
    use std::os::unix::fs::PermissionsExt;
    let service = default_service().await;
    let dir = tempdir("hs256")?;
    let path = service.write_key(&dir)?;
    assert_eq!(path.file_name().and_then(|n| n.to_str()), Some("hs256.key"));
    let mode = std::fs::metadata(&path)?.permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "mode {mode:o}");
    let written = std::fs::read_to_string(&path)?;
    assert_eq!(Some(written.trim()), service.hs256_secret_base64url());
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

#[tokio::test]
async fn keys_and_token_ids_are_fresh() -> TestResult {
    let a = default_service().await;
    let b = default_service().await;
    assert_ne!(a.hs256_secret_base64url(), b.hs256_secret_base64url());

    let http = reqwest::Client::new();
    let mut ids = HashSet::new();
    for _ in 0..5 {
        let answer = mint(&http, &a).await?;
        let (_, claims) = verify(access_token(&answer)?, a.verify_key(), Algorithm::HS256)?;
        assert!(
            ids.insert(claims.jti.clone()),
            "jti {} repeated",
            claims.jti
        );
    }
    // A token from one service does not verify with another's key.
    let answer = mint(&http, &a).await?;
    assert!(verify(access_token(&answer)?, b.verify_key(), Algorithm::HS256).is_err());
    Ok(())
}

#[tokio::test]
async fn body_asks_for_ttl_and_scope() -> TestResult {
    let service = default_service().await;
    let http = reqwest::Client::new();
    let body = serde_json::json!({"ttl_seconds": 5, "scope": "rabbitmq.read:vhost/q"});
    let (status, answer) = post(&http, &service.base_url(), "/token", Some(body)).await?;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["expires_in"], 5);
    let (_, claims) = verify(
        access_token(&answer)?,
        service.verify_key(),
        Algorithm::HS256,
    )?;
    assert_eq!(claims.exp - claims.iat, 5);
    assert_eq!(claims.scope, "rabbitmq.read:vhost/q");
    Ok(())
}

#[tokio::test]
async fn a_bad_body_is_an_oauth_invalid_request() -> TestResult {
    let service = default_service().await;
    let http = reqwest::Client::new();
    let body = serde_json::json!({"ttl": 5});
    let (status, answer) = post(&http, &service.base_url(), "/token", Some(body)).await?;
    assert_eq!(status, 400);
    assert_eq!(answer["error"], "invalid_request");
    assert!(answer.get("access_token").is_none());
    Ok(())
}

#[tokio::test]
async fn health_answers_ok() -> TestResult {
    let service = default_service().await;
    let health: serde_json::Value = reqwest::get(format!("{}/health", service.base_url()))
        .await?
        .json()
        .await?;
    assert_eq!(health, serde_json::json!({"status": "ok"}));
    Ok(())
}

/// A fresh directory under the system temp dir.
fn tempdir(tag: &str) -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "clawchaos-token-service-{tag}-{}-{}",
        std::process::id(),
        common::system_now()
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
