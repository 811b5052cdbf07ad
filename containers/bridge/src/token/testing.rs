//! Test helpers: unsigned JWTs and an in-process stand-in for the token service.

use axum::{Json, Router, extract::State, http::StatusCode, routing::post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Url;
use std::sync::atomic::{AtomicI64, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

/// A JWT-shaped token with `iat`/`exp` (fake signature).
pub fn make_jwt(iat: i64, exp: i64) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let body = URL_SAFE_NO_PAD.encode(format!(r#"{{"iat":{iat},"exp":{exp},"aud":["rabbitmq"]}}"#));
    format!("{header}.{body}.c2lnbmF0dXJl")
}

/// Our wall clock in Unix seconds.
pub fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// Knobs and journal of the stand-in token service.
#[derive(Default)]
pub struct StubState {
    /// Issuer clock offset in seconds.
    pub offset: AtomicI64,
    /// Token lifetime in seconds.
    pub ttl: AtomicI64,
    /// When non-zero, every request answers this status.
    pub fail: AtomicU16,
    /// Makes every token unique (stands for the signature).
    pub serial: AtomicI64,
    /// Paths requested, in order.
    pub hits: Mutex<Vec<String>>,
}

async fn mint(state: &StubState, path: &str) -> (StatusCode, Json<serde_json::Value>) {
    state
        .hits
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(path.to_owned());
    let fail = state.fail.load(Ordering::SeqCst);
    if fail != 0 {
        return (
            StatusCode::from_u16(fail).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            Json(serde_json::json!({"error": "temporarily_unavailable"})),
        );
    }
    let iat = now_unix() + state.offset.load(Ordering::SeqCst);
    let ttl = state.ttl.load(Ordering::SeqCst);
    let serial = state.serial.fetch_add(1, Ordering::SeqCst);
    let token = format!(
        "{}.{serial}",
        make_jwt(iat, iat + ttl)
            .rsplit_once('.')
            .map(|(a, _)| a)
            .unwrap_or_default()
    );
    (
        StatusCode::OK,
        Json(serde_json::json!({
            "access_token": token, "token_type": "Bearer",
            "expires_in": ttl, "expires_at": iat + ttl, "issued_at": iat
        })),
    )
}

/// Starts the stand-in on an ephemeral loopback port; returns its `/token` URL.
pub async fn start_stub(state: Arc<StubState>) -> Url {
    let router = Router::new()
        .route(
            "/token",
            post(|State(s): State<Arc<StubState>>| async move { mint(&s, "/token").await }),
        )
        .route(
            "/refresh",
            post(|State(s): State<Arc<StubState>>| async move { mint(&s, "/refresh").await }),
        )
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind stub");
    let addr = listener.local_addr().expect("stub addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Url::parse(&format!("http://{addr}/token")).expect("stub url")
}
