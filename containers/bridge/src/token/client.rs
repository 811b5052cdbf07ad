//! The token service's HTTP API: `POST {url}` mints, `POST {base}/refresh` refreshes.

use crate::secret::{Redactor, Secret};
use crate::text::{error_chain, truncate};
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use std::time::Duration;

/// How long one token request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Why no token came back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenFetchError {
    /// No answer: refused, reset, timed out.
    #[error("token service unreachable at {url}: {reason}")]
    Unreachable {
        /// The endpoint.
        url: String,
        /// What the HTTP client said.
        reason: String,
    },
    /// An HTTP error status.
    #[error("token service at {url} answered {status}: {body}")]
    Status {
        /// The endpoint.
        url: String,
        /// The status code.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// A 200 whose body has no usable token.
    #[error("token service at {url} answered without a usable token: {reason}")]
    Malformed {
        /// The endpoint.
        url: String,
        /// What was wrong.
        reason: String,
    },
}

/// The token response; only `access_token` is trusted, the times come from the JWT itself.
#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
}

/// An HTTP client for the token service.
#[derive(Debug, Clone)]
pub struct TokenClient {
    http: reqwest::Client,
    url: Url,
    refresh_url: Url,
    redactor: Redactor,
}

impl TokenClient {
    /// A client minting at `url` and refreshing at `refresh_url`.
    pub fn new(url: Url, refresh_url: Url, redactor: Redactor) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(REQUEST_TIMEOUT)
            .no_proxy()
            .build()?;
        Ok(Self {
            http,
            url,
            refresh_url,
            redactor,
        })
    }

    /// Mints a fresh token.
    pub async fn mint(&self) -> Result<Secret, TokenFetchError> {
        self.post(&self.url, None).await
    }

    /// Refreshes `current`; falls back to minting if the service has no refresh route.
    pub async fn refresh(&self, current: Option<&Secret>) -> Result<Secret, TokenFetchError> {
        match self.post(&self.refresh_url, current).await {
            Err(TokenFetchError::Status { status, .. })
                if status == StatusCode::NOT_FOUND.as_u16()
                    || status == StatusCode::METHOD_NOT_ALLOWED.as_u16() =>
            {
                self.mint().await
            }
            other => other,
        }
    }

    async fn post(&self, url: &Url, bearer: Option<&Secret>) -> Result<Secret, TokenFetchError> {
        let mut request = self.http.post(url.clone());
        if let Some(token) = bearer {
            request = request.bearer_auth(token.expose());
        }
        let response = request
            .send()
            .await
            .map_err(|e| TokenFetchError::Unreachable {
                url: url.to_string(),
                reason: self.redactor.scrub(&error_chain(&e)),
            })?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| TokenFetchError::Unreachable {
                url: url.to_string(),
                reason: self.redactor.scrub(&error_chain(&e)),
            })?;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body);
            return Err(TokenFetchError::Status {
                url: url.to_string(),
                status: status.as_u16(),
                body: self.redactor.scrub(&truncate(&text, 200)),
            });
        }
        let parsed: TokenResponse =
            serde_json::from_slice(&body).map_err(|e| TokenFetchError::Malformed {
                url: url.to_string(),
                reason: e.to_string(),
            })?;
        if parsed.access_token.trim().is_empty() {
            return Err(TokenFetchError::Malformed {
                url: url.to_string(),
                reason: "empty access_token".into(),
            });
        }
        Ok(Secret::new(parsed.access_token.trim()))
    }
}
