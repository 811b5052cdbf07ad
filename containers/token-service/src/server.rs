//! The token API: `POST /token`, `POST /refresh`, `GET /health`.

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use bytes::Bytes;
use serde::Serialize;

use crate::{
    journal::Route,
    state::{Answer, Shared},
};

/// An OAuth 2.0 error body (RFC 6749 §5.2).
#[derive(Debug, Serialize)]
struct OAuthError<'a> {
    error: &'a str,
    error_description: &'a str,
}

/// Every route of the token API.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/token", post(token))
        .route("/refresh", post(refresh))
        .route("/health", get(health))
        .with_state(shared)
}

/// `POST /token`: a first mint. Optional body `{"ttl_seconds": N, "scope": "..."}`.
async fn token(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    respond(shared.answer(Route::Token, &body))
}

/// `POST /refresh`: the same as `/token`, journaled as a refresh.
async fn refresh(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    respond(shared.answer(Route::Refresh, &body))
}

/// `GET /health`: `{"status":"ok"}` whenever the service listens (also in error mode).
async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

fn respond(answer: Answer) -> Response {
    let mut response = match answer {
        Answer::Issued(token) => Json(token).into_response(),
        Answer::Error {
            status,
            error,
            description,
        } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let body = OAuthError {
                error,
                error_description: &description,
            };
            (status, Json(body)).into_response()
        }
    };
    // RFC 6749 §5.1: token responses are not to be cached.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
