//! A client for the token service's control API (`/control/...`), so the harness drives it
//! the same way whether it runs in-process or as a process.

use serde_json::json;

use super::{ClientError, send};

/// A client for one token service's control port.
#[derive(Debug, Clone)]
pub struct TokenServiceClient {
    base: String,
    http: reqwest::Client,
}

/// What the token service answers to `/token` and `/refresh`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenMode {
    /// Tokens.
    Ok,
    /// This HTTP status with an OAuth error body.
    Error(u16),
    /// Its port refuses connections.
    Down,
}

impl TokenServiceClient {
    /// A client for the control API at `base_url`, e.g. `http://127.0.0.1:9001`.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base: base_url.into().trim_end_matches('/').to_string(),
            http: reqwest::Client::new(),
        }
    }

    /// `PUT /control/mode`.
    pub async fn set_mode(&self, mode: TokenMode) -> Result<(), ClientError> {
        let body = match mode {
            TokenMode::Ok => json!({"mode": "ok"}),
            TokenMode::Error(status) => json!({"mode": "error", "status": status}),
            TokenMode::Down => json!({"mode": "down"}),
        };
        self.put("set token service mode", "mode", body).await
    }

    /// `PUT /control/clock`: the issuer's clock offset from the real one.
    pub async fn set_clock_offset(&self, offset_secs: i64) -> Result<(), ClientError> {
        let body = json!({"offset_seconds": offset_secs});
        self.put("set token service clock", "clock", body).await
    }

    /// `PUT /control/ttl`: the lifetime of tokens from now on (`None`: the configured one).
    pub async fn set_ttl(&self, ttl: Option<std::time::Duration>) -> Result<(), ClientError> {
        let body = json!({"ttl_seconds": ttl.map(|t| t.as_secs().max(1))});
        self.put("set token service ttl", "ttl", body).await
    }

    /// `POST /control/reset`: tokens, the configured clock and lifetime.
    pub async fn reset(&self) -> Result<(), ClientError> {
        let url = format!("{}/control/reset", self.base);
        send("reset token service", self.http.post(&url), &[200, 204]).await?;
        Ok(())
    }

    async fn put(
        &self,
        what: &str,
        path: &str,
        body: serde_json::Value,
    ) -> Result<(), ClientError> {
        let url = format!("{}/control/{path}", self.base);
        send(what, self.http.put(&url).json(&body), &[200, 204]).await?;
        Ok(())
    }
}
