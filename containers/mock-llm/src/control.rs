//! The control API a harness uses when the mock runs as its own process (`/_mock/*`).

use std::sync::Arc;

use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use serde::Serialize;

use crate::{behavior::Behavior, journal::JournalEntry, server::Shared};

/// `GET /_mock/journal`.
#[derive(Debug, Serialize)]
struct JournalBody {
    requests: Vec<JournalEntry>,
}

/// A refused control request.
#[derive(Debug, Serialize)]
struct ControlError {
    error: String,
}

fn bad_request(message: String) -> Response {
    tracing::warn!(%message, "control request refused");
    (
        StatusCode::BAD_REQUEST,
        Json(ControlError { error: message }),
    )
        .into_response()
}

/// `PUT /_mock/behavior`: a [`Behavior`] JSON body; 204, or 400 saying what is wrong.
pub(crate) async fn put_behavior(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let behavior: Behavior = match serde_json::from_slice(&body) {
        Ok(behavior) => behavior,
        Err(e) => return bad_request(format!("invalid behavior JSON: {e}")),
    };
    if let Err(message) = behavior.validate() {
        return bad_request(format!("invalid behavior: {message}"));
    }
    shared.set_behavior(behavior);
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /_mock/behavior`: the behaviour in force, `times` showing what is left.
pub(crate) async fn get_behavior(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.behavior()).into_response()
}

/// `DELETE /_mock/behavior`: back to normal service; 204.
pub(crate) async fn delete_behavior(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.set_behavior(Behavior::normal());
    StatusCode::NO_CONTENT
}

/// `GET /_mock/journal`: `{"requests": [...]}`, oldest first.
pub(crate) async fn get_journal(State(shared): State<Arc<Shared>>) -> Response {
    Json(JournalBody {
        requests: shared.journal.entries(),
    })
    .into_response()
}

/// `DELETE /_mock/journal`: forgets every entry; 204.
pub(crate) async fn delete_journal(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.journal.clear();
    StatusCode::NO_CONTENT
}
