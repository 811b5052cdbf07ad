//! Errors: the crate's public error enum, and the API's HTTP errors with Toxiproxy's messages.

use std::net::SocketAddr;

use axum::http::StatusCode;

/// What can go wrong starting or running a proxy server.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// The HTTP API could not listen.
    #[error("cannot listen for the API on {addr}: {source}")]
    BindApi {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The precise timer's thread could not start.
    #[error("cannot start the timer thread: {0}")]
    Timer(#[source] std::io::Error),
    /// The HTTP API stopped with an error.
    #[error("the API server failed: {0}")]
    Serve(#[source] std::io::Error),
}

/// An API failure: an HTTP status and a message, written as `{"error", "status"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    /// 400: the body is not what the endpoint reads.
    pub(crate) fn bad_body(detail: impl std::fmt::Display) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("bad request body: {detail}"),
        )
    }

    /// 400: a required field is missing.
    pub(crate) fn missing_field(field: impl std::fmt::Display) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("missing required field: {field}"),
        )
    }

    /// 404: no proxy by that name.
    pub(crate) fn proxy_not_found() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "proxy not found")
    }

    /// 409: the proxy name is taken.
    pub(crate) fn proxy_exists() -> ApiError {
        ApiError::new(StatusCode::CONFLICT, "proxy already exists")
    }

    /// 400: `stream` is neither upstream nor downstream.
    pub(crate) fn invalid_stream() -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "stream was invalid, can be either upstream or downstream",
        )
    }

    /// 400: no toxic of that type.
    pub(crate) fn invalid_toxic_type() -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid toxic type")
    }

    /// 400: toxicity outside 0..=1 (Toxiproxy does not check this).
    pub(crate) fn invalid_toxicity() -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "toxicity must be between 0 and 1")
    }

    /// 409: the toxic name is taken on this proxy.
    pub(crate) fn toxic_exists() -> ApiError {
        ApiError::new(StatusCode::CONFLICT, "toxic already exists")
    }

    /// 404: no toxic by that name on this proxy.
    pub(crate) fn toxic_not_found() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "toxic not found")
    }

    /// 500: the proxy could not listen (Toxiproxy answers 500 here too).
    pub(crate) fn listen(address: &str, err: impl std::fmt::Display) -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("listen tcp {address}: {err}"),
        )
    }

    /// 503: the server is shutting down.
    pub(crate) fn shutting_down() -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "server is shutting down")
    }
}
