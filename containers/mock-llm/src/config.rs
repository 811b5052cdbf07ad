//! How a mock LLM is set up: where it listens, which models it knows, what it answers.

use std::net::{Ipv4Addr, SocketAddr};

/// Set-up of one mock LLM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockLlmConfig {
    /// Where to listen; port 0 picks a free port (read it back with [`crate::MockLlm::addr`]).
    pub addr: SocketAddr,
    /// Model ids it serves; a request for any other model gets 404 `model_not_found`.
    pub models: Vec<String>,
    /// The assistant's answer to every chat completion.
    pub reply: String,
}

impl Default for MockLlmConfig {
    /// `127.0.0.1:0`, one model `mock-model`, reply `pong`.
    fn default() -> Self {
        Self {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            models: vec!["mock-model".to_string()],
            reply: "pong".to_string(),
        }
    }
}
