//! The journal: routes, outcomes and token times, never the token itself.

mod common;

use clawchaos_token_service::{Mode, Outcome, Route};
use common::{TestResult, access_token, default_service, post, system_now, verify};
use jsonwebtoken::Algorithm;

#[tokio::test]
async fn journal_records_routes_outcomes_and_claims_but_no_token() -> TestResult {
    let service = default_service().await;
    let http = reqwest::Client::new();
    let base = service.base_url();
    let before_ms = u64::try_from(system_now() - 1)? * 1000;

    let (_, first) = post(&http, &base, "/token", None).await?;
    let (_, refreshed) = post(&http, &base, "/refresh", None).await?;
    service.set_mode(Mode::Error { status: 503 }).await?;
    post(&http, &base, "/refresh", None).await?;
    // Not journaled: not a minting route.
    http.get(format!("{base}/health")).send().await?;

    let journal = service.journal();
    let shape: Vec<(Route, Outcome)> = journal.iter().map(|e| (e.route, e.outcome)).collect();
    assert_eq!(
        shape,
        [
            (Route::Token, Outcome::Issued),
            (Route::Refresh, Outcome::Issued),
            (Route::Refresh, Outcome::Error(503)),
        ]
    );
    assert_eq!(journal.iter().map(|e| e.seq).collect::<Vec<_>>(), [0, 1, 2]);
    for (entry, answer) in journal.iter().zip([&first, &refreshed]) {
        let (_, claims) = verify(
            access_token(answer)?,
            service.verify_key(),
            Algorithm::HS256,
        )?;
        assert_eq!(entry.iat, Some(claims.iat));
        assert_eq!(entry.exp, Some(claims.exp));
        assert_eq!(entry.jti.as_deref(), Some(claims.jti.as_str()));
        assert!(entry.unix_ms >= before_ms, "{entry:?}");
    }
    assert_eq!((journal[2].iat, journal[2].jti.as_deref()), (None, None));

    let json = serde_json::to_string(&journal)?;
    for token in [access_token(&first)?, access_token(&refreshed)?] {
        assert!(!json.contains(token), "the journal holds a token: {json}");
        // Not even its signature.
        let signature = token.rsplit('.').next().ok_or("no signature")?;
        assert!(!json.contains(signature), "{json}");
    }
    let secret = service.hs256_secret_base64url().ok_or("no secret")?;
    assert!(!json.contains(secret), "the journal holds the secret");
    assert!(json.contains(r#""route":"/refresh""#), "{json}");
    assert!(json.contains(r#""outcome":"error:503""#), "{json}");

    service.clear_journal();
    assert!(service.journal().is_empty());
    service.set_mode(Mode::Ok).await?;
    post(&http, &base, "/token", None).await?;
    assert_eq!(
        service.journal()[0].seq,
        3,
        "sequence numbers keep counting"
    );
    Ok(())
}
