//! Errors: the crate's public error enum, and the API's HTTP errors with Toxiproxy's messages.

use std::net::SocketAddr;

use axum::http::StatusCode;

/// The longest proxy or toxic name the API accepts (it travels in URL paths).
pub(crate) const MAX_NAME: usize = 128;

/// Whether `name` round-trips through a URL path unencoded: 1 to [`MAX_NAME`] unreserved
/// characters (RFC 3986: letters, digits, `-`, `.`, `_`, `~`), and not a dot segment.
pub(crate) fn is_usable_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

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

    /// Any status with its message (for answers the routes do not write themselves: 404 for
    /// an unknown path, 405, 413).
    pub(crate) fn with_status(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError::new(status, message)
    }

    /// 400: the body is not what the endpoint reads.
    pub(crate) fn bad_body(detail: impl std::fmt::Display) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("bad request body: {detail}"),
        )
    }

    /// 400: a proxy or toxic name that cannot be used in the API's paths.
    pub(crate) fn invalid_name(field: &str, name: &str) -> ApiError {
        let shown: String = name.chars().take(40).collect();
        let more = if shown.len() < name.len() { "..." } else { "" };
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!(
                "{field}: {shown:?}{more} is not usable in a URL path: a name is 1 to {MAX_NAME} letters, digits, `_`, `-`, `.` or `~`, and not `.` or `..`"
            ),
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

    /// 400: `listen` is not an address this host can listen on.
    pub(crate) fn bad_listen(address: &str, why: impl std::fmt::Display) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("listen: {address:?} {why}"),
        )
    }

    /// The proxy could not listen: 409 if the address is taken, 400 if it is not this host's
    /// or not allowed, 500 (as in Toxiproxy) for anything else.
    pub(crate) fn listen(address: &str, err: &std::io::Error) -> ApiError {
        let status = match err.kind() {
            std::io::ErrorKind::AddrInUse => StatusCode::CONFLICT,
            std::io::ErrorKind::AddrNotAvailable | std::io::ErrorKind::PermissionDenied => {
                StatusCode::BAD_REQUEST
            }
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, format!("listen tcp {address}: {err}"))
    }

    /// 503: the server is shutting down.
    pub(crate) fn shutting_down() -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "server is shutting down")
    }
}
