//! An OpenAI-compatible mock LLM whose faults are programmed at run time.
//!
//! The mock answers `POST /v1/chat/completions` (plain JSON or SSE, as the real OpenClaw gateway
//! always asks for `stream: true`) and `GET /v1/models`, journals every `/v1/*` request before it
//! answers, and misbehaves on demand: an OpenAI-shaped error, a late first byte, a stalled or
//! slow stream, a dropped connection, a broken body, or no answer at all. A [`Behavior`] can
//! apply to the next N requests only, and to one model only.
//!
//! Embedded in-process:
//!
//! ```
//! use clawchaos_mock_llm::{Behavior, Fault, MockLlm, MockLlmConfig};
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mock = MockLlm::start(MockLlmConfig::default()).await?;
//!
//! // The next two requests for `mock-model` are rate limited, then it answers normally.
//! let fault = Fault::Error { status: 429, retry_after_secs: Some(2) };
//! mock.set_behavior(Behavior::fault(fault).times(2).only_model("mock-model"));
//!
//! let models: serde_json::Value =
//!     reqwest::get(format!("{}/models", mock.base_url())).await?.json().await?;
//! assert_eq!(models["data"][0]["id"], "mock-model");
//! assert_eq!(mock.journal()[0].path, "/v1/models");
//!
//! mock.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! Run as its own process (`clawchaos-mock-llm --port N`), the same knobs are an HTTP control
//! API: `PUT`/`GET`/`DELETE /_mock/behavior` and `GET`/`DELETE /_mock/journal`.

#![warn(missing_docs)]

mod behavior;
mod chat;
mod closing;
mod config;
mod control;
mod error;
mod journal;
mod mock;
mod openai;
mod script;
mod server;

pub use behavior::{Behavior, Fault};
pub use config::MockLlmConfig;
pub use error::MockLlmError;
pub use journal::{JournalEntry, Outcome};
pub use mock::MockLlm;
pub use server::serve;
