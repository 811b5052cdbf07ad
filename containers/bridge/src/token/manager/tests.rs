use super::*;
use crate::health::LinkState;
use crate::token::testing::{StubState, make_jwt, now_unix, start_stub};
use reqwest::Url;
use std::sync::atomic::Ordering;

fn settings(source: TokenSource) -> TokenSettings {
    TokenSettings {
        source,
        refresh_before: Duration::from_secs(10),
        leeway: Duration::from_secs(30),
    }
}

async fn service(state: &Arc<StubState>) -> TokenSettings {
    let url = start_stub(Arc::clone(state)).await;
    let refresh_url = url.join("refresh").expect("refresh url");
    settings(TokenSource::Service { url, refresh_url })
}

fn manager(settings: TokenSettings) -> (Arc<TokenManager>, Health) {
    let redactor = Redactor::default();
    let health = Health::new(redactor.clone());
    let m = TokenManager::new(settings, health.clone(), redactor).expect("manager");
    (m, health)
}

#[tokio::test]
async fn first_token_is_minted_and_decoded() {
    let state = Arc::new(StubState::default());
    state.ttl.store(300, Ordering::SeqCst);
    let (m, health) = manager(service(&state).await);
    let secret = m.for_connect().await.expect("token").expect("some token");
    let info = m.current().expect("current");
    assert_eq!(info.secret, secret);
    assert!(info.skew_seconds().expect("skew").abs() <= 1);
    let report = health.report();
    assert_eq!(report.links.token.state, LinkState::Up);
    assert!(report.links.token.alarm.is_none());
    assert_eq!(report.token.expires_at, info.claims.exp);
    assert_eq!(state.hits.lock().unwrap().as_slice(), ["/token"]);
    // A refresh goes to /refresh.
    m.refresh(Some(&secret)).await.expect("refresh");
    assert_eq!(
        state.hits.lock().unwrap().as_slice(),
        ["/token", "/refresh"]
    );
}

#[tokio::test]
async fn skew_beyond_leeway_raises_clock_skew_but_keeps_the_token() {
    let state = Arc::new(StubState::default());
    state.ttl.store(7200, Ordering::SeqCst);
    state.offset.store(3600, Ordering::SeqCst);
    let (m, health) = manager(service(&state).await);
    assert!(m.for_connect().await.expect("token").is_some());
    let r = health.report();
    assert_eq!(r.links.token.state, LinkState::Up);
    assert_eq!(r.links.token.alarm, Some(ErrorClass::ClockSkew));
    assert_eq!(r.links.token.last_error_class, Some(ErrorClass::ClockSkew));
    let skew = r.token.skew_seconds.expect("skew");
    assert!((3599..=3601).contains(&skew), "{skew}");
    // A refusal of a token we believe valid while skewed is clock_skew.
    assert_eq!(m.classify(ErrorClass::AuthFailed), ErrorClass::ClockSkew);
}

#[tokio::test]
async fn skew_within_leeway_raises_no_alarm() {
    let state = Arc::new(StubState::default());
    state.ttl.store(300, Ordering::SeqCst);
    state.offset.store(-20, Ordering::SeqCst);
    let (m, health) = manager(service(&state).await);
    m.for_connect().await.expect("token");
    let r = health.report();
    assert!(r.links.token.alarm.is_none());
    assert!(r.links.token.last_error_class.is_none());
    assert_eq!(m.classify(ErrorClass::AuthFailed), ErrorClass::AuthFailed);
}

#[tokio::test]
async fn service_failure_is_unavailable_while_valid_and_expired_after() {
    let state = Arc::new(StubState::default());
    state.ttl.store(300, Ordering::SeqCst);
    let (m, health) = manager(service(&state).await);
    state.fail.store(503, Ordering::SeqCst);
    assert!(
        m.for_connect().await.is_err(),
        "no token and a failing service"
    );
    assert_eq!(
        health.report().links.token.last_error_class,
        Some(ErrorClass::TokenServiceUnavailable)
    );
    state.fail.store(0, Ordering::SeqCst);
    let secret = m.refresh(None).await.expect("token").secret.clone();
    assert_eq!(health.state(Link::Token), LinkState::Up);
    state.fail.store(500, Ordering::SeqCst);
    assert!(m.refresh(Some(&secret)).await.is_err());
    let r = health.report();
    assert_eq!(r.links.token.state, LinkState::Down);
    assert_eq!(
        r.links.token.last_error_class,
        Some(ErrorClass::TokenServiceUnavailable)
    );
    assert!(
        r.links
            .token
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("500")
    );
}

#[tokio::test]
async fn expired_token_and_failing_service_is_token_expired() {
    let state = Arc::new(StubState::default());
    // Already expired when minted, without skew.
    state.ttl.store(-5, Ordering::SeqCst);
    let (m, health) = manager(service(&state).await);
    let secret = m.refresh(None).await.expect("token").secret.clone();
    assert_eq!(
        health.last_error_class(Link::Token),
        Some(ErrorClass::TokenExpired)
    );
    state.fail.store(503, Ordering::SeqCst);
    assert!(m.refresh(Some(&secret)).await.is_err());
    assert_eq!(
        health.last_error_class(Link::Token),
        Some(ErrorClass::TokenExpired)
    );
    assert_eq!(m.classify(ErrorClass::AuthFailed), ErrorClass::TokenExpired);
}

#[tokio::test]
async fn unreachable_service_is_unavailable() {
    // A port nothing listens on: bind, learn the port, close.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let url = Url::parse(&format!("http://127.0.0.1:{port}/token")).expect("url");
    let refresh_url = url.join("refresh").expect("url");
    let (m, health) = manager(settings(TokenSource::Service { url, refresh_url }));
    assert!(m.for_connect().await.is_err());
    let r = health.report();
    assert_eq!(r.links.token.state, LinkState::Down);
    assert_eq!(
        r.links.token.last_error_class,
        Some(ErrorClass::TokenServiceUnavailable)
    );
}

#[tokio::test]
async fn static_expired_token_is_token_expired() {
    let now = now_unix();
    let token = make_jwt(now - 600, now - 300);
    let (m, health) = manager(settings(TokenSource::Static(Secret::new(token.clone()))));
    assert_eq!(health.state(Link::Token), LinkState::Down);
    assert_eq!(
        health.last_error_class(Link::Token),
        Some(ErrorClass::TokenExpired)
    );
    assert_eq!(
        m.for_connect()
            .await
            .expect("static")
            .map(|s| s.expose().to_owned()),
        Some(token)
    );
    assert_eq!(m.classify(ErrorClass::AuthFailed), ErrorClass::TokenExpired);
    assert_eq!(
        health.report().token.skew_seconds,
        None,
        "no skew for a static token"
    );
}

#[test]
fn refresh_is_scheduled_before_exp_by_our_clock() {
    let now = SystemTime::now();
    let n = now_unix();
    let leeway = Duration::from_secs(30);
    let info = TokenInfo::new(Secret::new(make_jwt(n, n + 60)), now, true);
    assert!(info.valid_at(now, leeway));
    let left = info.remaining(now).expect("exp");
    assert!((58.0..=61.0).contains(&left), "{left}");
    let later = now + Duration::from_secs(61);
    assert!(!info.valid_at(later, leeway));
    let opaque = TokenInfo::new(Secret::new("not-a-jwt"), now, true);
    assert!(opaque.valid_at(later, leeway), "no exp never expires");
    assert_eq!(opaque.skew_seconds(), None);
}

#[test]
fn skew_within_leeway_does_not_expire_a_fresh_token_early() {
    let leeway = Duration::from_secs(30);
    let n = now_unix();
    // Our clock is 20 s ahead of the issuer; the token lives 15 s on the issuer's clock.
    let ours = SystemTime::now() + Duration::from_secs(20);
    let info = TokenInfo::new(Secret::new(make_jwt(n, n + 15)), ours, true);
    assert!(
        info.valid_at(ours, leeway),
        "within leeway: read exp on the issuer's clock"
    );
    // 40 s ahead is beyond the leeway: our clock decides, and the token looks expired.
    let far = SystemTime::now() + Duration::from_secs(40);
    let info = TokenInfo::new(Secret::new(make_jwt(n, n + 15)), far, true);
    assert!(!info.valid_at(far, leeway));
    assert_eq!(
        info.skew_at(far, Duration::ZERO).map(|s| s < -30),
        Some(true)
    );
    // A static token's expiry is judged by our clock alone.
    let stat = TokenInfo::new(
        Secret::new(make_jwt(n - 100, n - 10)),
        SystemTime::now(),
        false,
    );
    assert!(!stat.valid_at(SystemTime::now(), leeway));
}

#[test]
fn skew_follows_moves_of_our_wall_clock() {
    let now = SystemTime::now();
    let n = now_unix();
    let info = TokenInfo::new(Secret::new(make_jwt(n, n + 600)), now, true);
    assert_eq!(
        info.skew_at(now, Duration::ZERO).map(|s| s.abs() <= 1),
        Some(true)
    );
    // 60 s later by both clocks: still no skew.
    let later = now + Duration::from_secs(60);
    assert_eq!(
        info.skew_at(later, Duration::from_secs(60))
            .map(|s| s.abs() <= 1),
        Some(true)
    );
    // Our wall clock jumped 10 minutes ahead, 5 s after arrival: skew about -600.
    let jumped = now + Duration::from_secs(605);
    let skew = info.skew_at(jumped, Duration::from_secs(5)).expect("skew");
    assert!((-601..=-599).contains(&skew), "{skew}");
    // A static token has no skew.
    let stat = TokenInfo::new(Secret::new(make_jwt(n - 900, n + 600)), now, false);
    assert_eq!(stat.skew_at(now, Duration::ZERO), None);
}

#[tokio::test]
async fn token_due_soon_is_refreshed_by_the_background_task() {
    let state = Arc::new(StubState::default());
    // ttl 12s, refresh_before 10s: due in ~2s.
    state.ttl.store(12, Ordering::SeqCst);
    let (m, _health) = manager(service(&state).await);
    let mut rx = m.subscribe();
    let (stop_tx, stop_rx) = watch::channel(false);
    let task = tokio::spawn(Arc::clone(&m).run(stop_rx));
    // First token, then the scheduled refresh.
    rx.wait_for(|t| t.is_some()).await.expect("first token");
    let first = m.current().expect("first").secret.clone();
    tokio::time::timeout(
        Duration::from_secs(10),
        rx.wait_for(|t| t.as_ref().is_some_and(|t| t.secret != first)),
    )
    .await
    .expect("refreshed within 10s")
    .expect("watch open");
    assert!(state.hits.lock().unwrap().contains(&"/refresh".to_owned()));
    let _ = stop_tx.send(true);
    task.await.expect("refresher stops");
}
