//! The HTTP server: shared state, routes, `GET /v1/models`, and serving until shut down.

use std::{
    future::Future,
    pin::pin,
    sync::{Arc, Mutex, MutexGuard},
    time::{SystemTime, UNIX_EPOCH},
};

use axum::{
    Json, Router,
    body::Body,
    extract::State,
    http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header},
    response::{IntoResponse, Response},
    routing::{get, post, put},
};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use tokio::net::TcpListener;

use crate::{
    behavior::{Behavior, Fault, Schedule},
    chat,
    closing::Closing,
    config::MockLlmConfig,
    control,
    error::MockLlmError,
    journal::{Arrival, Journal, Outcome},
    openai::{ApiError, ModelList},
};

/// Request bodies above this many bytes get 413 (OpenClaw sends 47–60 KB).
pub(crate) const BODY_LIMIT: usize = 8 * 1024 * 1024;

/// What every handler of one mock shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) models: Vec<String>,
    pub(crate) reply: String,
    pub(crate) started_unix_secs: u64,
    pub(crate) journal: Journal,
    pub(crate) closing: Closing,
    schedule: Mutex<Schedule>,
}

impl Shared {
    /// Fresh state for `config`: normal behaviour, empty journal.
    pub(crate) fn new(config: MockLlmConfig) -> Self {
        Self {
            models: config.models,
            reply: config.reply,
            started_unix_secs: unix_secs(),
            journal: Journal::new(),
            closing: Closing::new(),
            schedule: Mutex::new(Schedule::default()),
        }
    }

    fn schedule(&self) -> MutexGuard<'_, Schedule> {
        self.schedule
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Programs the behaviour for the next requests.
    pub(crate) fn set_behavior(&self, behavior: Behavior) {
        tracing::info!(?behavior, "behavior set");
        self.schedule().set(behavior);
    }

    /// The behaviour in force now.
    pub(crate) fn behavior(&self) -> Behavior {
        self.schedule().current()
    }

    /// The fault for a chat request for `model`, spending one of `times`.
    pub(crate) fn take_fault(&self, model: &str) -> Option<Fault> {
        self.schedule().take_fault(model)
    }
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub(crate) fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Every route of the mock.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(
            "/v1/chat/completions",
            post(chat::chat_completions).fallback(v1_unknown),
        )
        .route("/v1/models", get(models).fallback(v1_unknown))
        .route(
            "/_mock/behavior",
            put(control::put_behavior)
                .get(control::get_behavior)
                .delete(control::delete_behavior),
        )
        .route(
            "/_mock/journal",
            get(control::get_journal).delete(control::delete_journal),
        )
        .fallback(unknown)
        .with_state(shared)
}

/// Serves on `listener` until `shutdown` resolves or the mock's latch closes.
///
/// On shutdown it stops accepting, ends waiting requests (stalls, hangs, delays) by dropping
/// their connections, and returns once every connection is closed.
pub(crate) async fn run(
    listener: TcpListener,
    shared: Arc<Shared>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), MockLlmError> {
    let closing = shared.closing.clone();
    let graceful = {
        let closing = closing.clone();
        async move { closing.closed().await }
    };
    let mut server = pin!(
        axum::serve(listener, router(shared))
            .with_graceful_shutdown(graceful)
            .into_future()
    );
    tokio::select! {
        result = &mut server => return result.map_err(MockLlmError::Serve),
        () = shutdown => {}
    }
    closing.close();
    server.await.map_err(MockLlmError::Serve)
}

/// Runs a mock LLM on `config.addr` until `shutdown` resolves.
///
/// For a separate process; in-process, [`crate::MockLlm::start`] also hands back the address
/// and the knobs.
pub async fn serve(
    config: MockLlmConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), MockLlmError> {
    let addr = config.addr;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| MockLlmError::Bind { addr, source })?;
    let local = listener.local_addr().map_err(MockLlmError::LocalAddr)?;
    tracing::info!(addr = %local, "mock LLM listening");
    run(listener, Arc::new(Shared::new(config)), shutdown).await
}

/// A request body read whole, or why it could not be.
pub(crate) enum ReadBody {
    /// The body.
    Whole(Bytes),
    /// Above [`BODY_LIMIT`] or broken; the bytes read so far and the reason.
    Unreadable(usize, String),
}

/// Reads a request body up to [`BODY_LIMIT`].
pub(crate) async fn read_body(body: Body) -> ReadBody {
    let mut stream = body.into_data_stream();
    let mut buf = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(chunk) => {
                if buf.len() + chunk.len() > BODY_LIMIT {
                    let seen = buf.len() + chunk.len();
                    return ReadBody::Unreadable(
                        seen,
                        format!("larger than the mock's limit of {BODY_LIMIT} bytes"),
                    );
                }
                buf.extend_from_slice(&chunk);
            }
            Err(e) => return ReadBody::Unreadable(buf.len(), e.to_string()),
        }
    }
    ReadBody::Whole(buf.freeze())
}

/// A JSON error answer, with `Retry-After` when given.
pub(crate) fn error_response(status: u16, error: ApiError, retry_after: Option<u64>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, Json(error.into_body())).into_response();
    if let Some(secs) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// Logs one journaled request; never logs header values.
pub(crate) fn log_request(entry: &crate::JournalEntry) {
    tracing::info!(
        seq = entry.seq,
        method = %entry.method,
        path = %entry.path,
        model = entry.model.as_deref().unwrap_or("-"),
        stream = entry.stream,
        body_bytes = entry.body_bytes,
        outcome = %entry.outcome,
        "request"
    );
}

async fn models(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let size = match read_body(body).await {
        ReadBody::Whole(bytes) => bytes.len(),
        ReadBody::Unreadable(seen, _) => seen,
    };
    let entry = shared.journal.record(
        Arrival::new(method.as_str(), uri.path(), &headers, size),
        Outcome::Ok,
    );
    log_request(&entry);
    Json(ModelList::new(&shared.models, shared.started_unix_secs)).into_response()
}

/// A `/v1/*` request the mock does not serve: journaled, then OpenAI's "Invalid URL" 404.
async fn v1_unknown(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let size = match read_body(body).await {
        ReadBody::Whole(bytes) => bytes.len(),
        ReadBody::Unreadable(seen, _) => seen,
    };
    let entry = shared.journal.record(
        Arrival::new(method.as_str(), uri.path(), &headers, size),
        Outcome::Error(404),
    );
    log_request(&entry);
    error_response(
        404,
        ApiError::invalid_url(method.as_str(), uri.path()),
        None,
    )
}

async fn unknown(
    state: State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if uri.path().starts_with("/v1/") {
        return v1_unknown(state, method, uri, headers, body).await;
    }
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}
