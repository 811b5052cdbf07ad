//! The control API on its own listener (the token port vanishes in `Down` mode):
//! `/control/state`, `/control/mode`, `/control/clock`, `/control/ttl`, `/control/journal`,
//! `/control/reset`.

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post, put},
};
use bytes::Bytes;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::{
    config::SigningAlg, error::TokenServiceError, journal::JournalEntry, service::Core, state::Mode,
};

/// `GET /control/state`.
#[derive(Debug, Serialize)]
struct StateBody {
    #[serde(flatten)]
    mode: Mode,
    addr: String,
    alg: SigningAlg,
    kid: String,
    offset_seconds: i64,
    ttl_seconds: u64,
    ttl_overridden: bool,
}

/// `PUT /control/clock`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockBody {
    offset_seconds: i64,
}

/// `PUT /control/ttl`; `null` clears the override.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TtlBody {
    ttl_seconds: Option<u64>,
}

/// `GET /control/journal`.
#[derive(Debug, Serialize)]
struct JournalBody {
    requests: Vec<JournalEntry>,
}

/// A refused or failed control request.
#[derive(Debug, Serialize)]
struct ControlError {
    error: String,
}

/// Every route of the control API.
pub(crate) fn router(core: Arc<Core>) -> Router {
    Router::new()
        .route("/control/state", get(get_state))
        .route("/control/mode", put(put_mode))
        .route("/control/clock", put(put_clock))
        .route("/control/ttl", put(put_ttl))
        .route("/control/journal", get(get_journal).delete(delete_journal))
        .route("/control/reset", post(reset))
        .with_state(core)
}

fn refuse(status: StatusCode, message: String) -> Response {
    tracing::warn!(%message, "control request refused");
    (status, Json(ControlError { error: message })).into_response()
}

/// The JSON body, or the 400 answer saying what is wrong with it.
fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Box<Response>> {
    serde_json::from_slice(body).map_err(|e| {
        Box::new(refuse(
            StatusCode::BAD_REQUEST,
            format!("invalid JSON body: {e}"),
        ))
    })
}

/// 204, or what went wrong: 400 for a bad request, 500 when the port cannot be re-bound.
fn done(result: Result<(), TokenServiceError>) -> Response {
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e @ TokenServiceError::InvalidStatus(_)) => {
            refuse(StatusCode::BAD_REQUEST, e.to_string())
        }
        Err(e) => refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// `GET /control/state`: mode (flattened: `"mode"`, `"status"`), address, algorithm, kid,
/// clock offset and the ttl in force.
async fn get_state(State(core): State<Arc<Core>>) -> Response {
    let shared = &core.shared;
    Json(StateBody {
        mode: shared.mode(),
        addr: core.addr.to_string(),
        alg: shared.keys.alg,
        kid: shared.kid().to_string(),
        offset_seconds: shared.clock_offset_secs(),
        ttl_seconds: shared.ttl().as_secs(),
        ttl_overridden: shared.ttl_override().is_some(),
    })
    .into_response()
}

/// `PUT /control/mode`: `{"mode":"ok"}`, `{"mode":"error","status":503}` or `{"mode":"down"}`.
async fn put_mode(State(core): State<Arc<Core>>, body: Bytes) -> Response {
    match parse::<Mode>(&body) {
        Ok(mode) => done(core.set_mode(mode).await),
        Err(response) => *response,
    }
}

/// `PUT /control/clock`: `{"offset_seconds": -7200}`.
async fn put_clock(State(core): State<Arc<Core>>, body: Bytes) -> Response {
    match parse::<ClockBody>(&body) {
        Ok(clock) => {
            core.set_clock_offset(clock.offset_seconds);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(response) => *response,
    }
}

/// `PUT /control/ttl`: `{"ttl_seconds": 5}` overrides every token's lifetime; `null` clears.
async fn put_ttl(State(core): State<Arc<Core>>, body: Bytes) -> Response {
    match parse::<TtlBody>(&body) {
        Ok(ttl) => {
            core.set_ttl(ttl.ttl_seconds.map(std::time::Duration::from_secs));
            StatusCode::NO_CONTENT.into_response()
        }
        Err(response) => *response,
    }
}

/// `GET /control/journal`: `{"requests": [...]}`, oldest first.
async fn get_journal(State(core): State<Arc<Core>>) -> Response {
    Json(JournalBody {
        requests: core.shared.journal.entries(),
    })
    .into_response()
}

/// `DELETE /control/journal`: forgets every entry.
async fn delete_journal(State(core): State<Arc<Core>>) -> StatusCode {
    core.shared.journal.clear();
    StatusCode::NO_CONTENT
}

/// `POST /control/reset`: mode `ok` (re-binding if down), configured ttl and clock offset.
/// The journal is kept.
async fn reset(State(core): State<Arc<Core>>) -> Response {
    done(core.reset().await)
}
