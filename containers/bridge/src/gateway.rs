//! The OpenClaw gateway's OpenAI-compatible `POST /v1/chat/completions`.

use crate::classify::ErrorClass;
use crate::config;
use crate::secret::{Redactor, Secret};
use crate::text::{error_chain, truncate};
use reqwest::{StatusCode, Url};
use std::time::Duration;

/// One failed gateway request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct GatewayError {
    /// The class reported on the gateway link.
    pub class: ErrorClass,
    /// What happened (secrets scrubbed).
    pub message: String,
    /// Whether trying again can help.
    pub retryable: bool,
    /// A `Retry-After` the gateway asked for.
    pub retry_after: Option<Duration>,
}

/// A client for the gateway.
#[derive(Debug, Clone)]
pub struct GatewayClient {
    http: reqwest::Client,
    endpoint: Url,
    token: Secret,
    model: String,
    timeout: Duration,
    redactor: Redactor,
}

impl GatewayClient {
    /// A client for `config`.
    pub fn new(config: &config::Gateway, redactor: Redactor) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .no_proxy()
            .build()?;
        let base = config.url.as_str().trim_end_matches('/');
        let endpoint = Url::parse(&format!("{base}/v1/chat/completions"))
            .unwrap_or_else(|_| config.url.clone());
        redactor.add(&config.token);
        Ok(Self {
            http,
            endpoint,
            token: config.token.clone(),
            model: config.model.clone(),
            timeout: config.timeout,
            redactor,
        })
    }

    /// The completions endpoint.
    pub fn endpoint(&self) -> &Url {
        &self.endpoint
    }

    /// Sends `prompt` as one user message; returns `/choices/0/message/content`.
    pub async fn complete(&self, prompt: &str) -> Result<String, GatewayError> {
        let body = serde_json::json!({
            "model": self.model,
            "messages": [{"role": "user", "content": prompt}],
        });
        let response = self
            .http
            .post(self.endpoint.clone())
            .bearer_auth(self.token.expose())
            .json(&body)
            .send()
            .await
            .map_err(|e| self.transport_error(&e))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.transport_error(&e))?;
        if !status.is_success() {
            let text = self
                .redactor
                .scrub(&truncate(&String::from_utf8_lossy(&bytes), 300));
            return Err(status_error(status, &text, retry_after));
        }
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| GatewayError {
                class: ErrorClass::GatewayError,
                message: format!("gateway answered 200 with a body that is not JSON: {e}"),
                retryable: true,
                retry_after: None,
            })?;
        match value.pointer("/choices/0/message/content") {
            Some(serde_json::Value::String(text)) => Ok(text.clone()),
            _ => Err(GatewayError {
                class: ErrorClass::GatewayError,
                message: format!(
                    "gateway answered 200 without /choices/0/message/content: {}",
                    self.redactor.scrub(&truncate(&value.to_string(), 300))
                ),
                retryable: true,
                retry_after: None,
            }),
        }
    }

    fn transport_error(&self, e: &reqwest::Error) -> GatewayError {
        let detail = self.redactor.scrub(&error_chain(e));
        let (class, message) = if e.is_timeout() {
            (
                ErrorClass::Stalled,
                format!(
                    "gateway request timed out after {}: {detail}",
                    humantime::format_duration(self.timeout)
                ),
            )
        } else if e.is_connect() {
            (
                ErrorClass::Unreachable,
                format!("gateway unreachable: {detail}"),
            )
        } else {
            (
                ErrorClass::Unreachable,
                format!("gateway connection failed: {detail}"),
            )
        };
        GatewayError {
            class,
            message,
            retryable: true,
            retry_after: None,
        }
    }
}

/// Maps an HTTP error status to a class and whether retrying helps.
pub fn status_error(status: StatusCode, body: &str, retry_after: Option<Duration>) -> GatewayError {
    let code = status.as_u16();
    let (class, retryable) = match code {
        401 | 403 => (ErrorClass::AuthFailed, false),
        429 => (ErrorClass::RateLimited, true),
        408 | 504 => (ErrorClass::Stalled, true),
        400 | 404 | 422 => (ErrorClass::GatewayError, false),
        _ => (ErrorClass::GatewayError, true),
    };
    GatewayError {
        class,
        message: format!("gateway answered {status}: {body}"),
        retryable,
        retry_after,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_classes() {
        let e = status_error(StatusCode::UNAUTHORIZED, "bad key", None);
        assert_eq!((e.class, e.retryable), (ErrorClass::AuthFailed, false));
        let e = status_error(
            StatusCode::TOO_MANY_REQUESTS,
            "",
            Some(Duration::from_secs(2)),
        );
        assert_eq!((e.class, e.retryable), (ErrorClass::RateLimited, true));
        assert_eq!(e.retry_after, Some(Duration::from_secs(2)));
        let e = status_error(StatusCode::BAD_GATEWAY, "", None);
        assert_eq!((e.class, e.retryable), (ErrorClass::GatewayError, true));
        let e = status_error(StatusCode::NOT_FOUND, "model_not_found", None);
        assert_eq!((e.class, e.retryable), (ErrorClass::GatewayError, false));
        assert!(e.message.contains("model_not_found"));
    }
}
