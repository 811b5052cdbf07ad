//! A client for the mock LLM's control API (`/_mock/...`), so the harness programs it the same
//! way whether it runs in-process, as a process or in a container.

use serde::{Deserialize, Serialize};

use super::{ClientError, decode, send};

/// One request the mock LLM received.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// Arrival order.
    pub seq: u64,
    /// Milliseconds since the mock started (monotonic).
    pub at_ms: f64,
    /// Wall clock, milliseconds since the epoch.
    pub unix_ms: u64,
    /// HTTP method.
    pub method: String,
    /// Request path.
    pub path: String,
    /// Model requested, if any.
    #[serde(default)]
    pub model: Option<String>,
    /// Whether streaming was asked for.
    #[serde(default)]
    pub stream: bool,
    /// Request body size.
    #[serde(default)]
    pub body_bytes: u64,
    /// What the mock did with it (`ok`, `error:429`, `stall`, ...).
    #[serde(default)]
    pub outcome: String,
}

#[derive(Deserialize)]
struct Journal {
    requests: Vec<JournalEntry>,
}

/// A client for one mock LLM.
#[derive(Debug, Clone)]
pub struct MockLlmClient {
    base: String,
    http: reqwest::Client,
}

impl MockLlmClient {
    /// A client for the mock at `base_url`, e.g. `http://127.0.0.1:9000`.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base: base_url.into().trim_end_matches('/').to_string(),
            http: reqwest::Client::new(),
        }
    }

    /// `PUT /_mock/behavior`: the behaviour as the mock's JSON contract spells it.
    pub async fn set_behavior(&self, behavior: &serde_json::Value) -> Result<(), ClientError> {
        let url = format!("{}/_mock/behavior", self.base);
        send(
            "set mock LLM behaviour",
            self.http.put(&url).json(behavior),
            &[200, 204],
        )
        .await?;
        Ok(())
    }

    /// `DELETE /_mock/behavior`: back to normal answers.
    pub async fn reset_behavior(&self) -> Result<(), ClientError> {
        let url = format!("{}/_mock/behavior", self.base);
        send(
            "reset mock LLM behaviour",
            self.http.delete(&url),
            &[200, 204],
        )
        .await?;
        Ok(())
    }

    /// `GET /_mock/journal`.
    pub async fn journal(&self) -> Result<Vec<JournalEntry>, ClientError> {
        let url = format!("{}/_mock/journal", self.base);
        let body = send("read mock LLM journal", self.http.get(&url), &[200]).await?;
        let journal: Journal = decode("read mock LLM journal", &url, &body)?;
        Ok(journal.requests)
    }
}
