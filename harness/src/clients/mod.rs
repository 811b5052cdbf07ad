//! Typed HTTP clients for the services the harness controls.

pub mod controls;
pub mod mock_llm;
pub mod token_service;
pub mod toxiproxy;

/// A client call that failed: transport, an unexpected status, or an unreadable body.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The request did not complete.
    #[error("{what}: request to {url} failed: {source}")]
    Transport {
        /// The operation.
        what: String,
        /// The URL.
        url: String,
        /// The underlying error.
        source: reqwest::Error,
    },
    /// The server answered with a status the operation does not accept.
    #[error("{what}: {url} answered {status}: {body}")]
    Status {
        /// The operation.
        what: String,
        /// The URL.
        url: String,
        /// The status received.
        status: u16,
        /// The response body (trimmed).
        body: String,
    },
    /// The body could not be decoded.
    #[error("{what}: cannot decode the answer from {url}: {source}")]
    Decode {
        /// The operation.
        what: String,
        /// The URL.
        url: String,
        /// The decode error.
        source: serde_json::Error,
    },
}

impl ClientError {
    /// The HTTP status, when the server answered with an unexpected one.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Sends `request`, requires `expected` status, and returns the body.
pub(crate) async fn send(
    what: &str,
    request: reqwest::RequestBuilder,
    expected: &[u16],
) -> Result<bytes::Bytes, ClientError> {
    let (client, request) = request.build_split();
    let request = request.map_err(|source| ClientError::Transport {
        what: what.to_string(),
        url: String::new(),
        source,
    })?;
    let url = request.url().to_string();
    let response = client
        .execute(request)
        .await
        .map_err(|source| ClientError::Transport {
            what: what.to_string(),
            url: url.clone(),
            source,
        })?;
    let status = response.status().as_u16();
    let body = response
        .bytes()
        .await
        .map_err(|source| ClientError::Transport {
            what: what.to_string(),
            url: url.clone(),
            source,
        })?;
    if !expected.contains(&status) {
        let mut text = String::from_utf8_lossy(&body).trim().to_string();
        text.truncate(500);
        return Err(ClientError::Status {
            what: what.to_string(),
            url,
            status,
            body: text,
        });
    }
    Ok(body)
}

/// Decodes a JSON body.
pub(crate) fn decode<T: serde::de::DeserializeOwned>(
    what: &str,
    url: &str,
    body: &[u8],
) -> Result<T, ClientError> {
    serde_json::from_slice(body).map_err(|source| ClientError::Decode {
        what: what.to_string(),
        url: url.to_string(),
        source,
    })
}
