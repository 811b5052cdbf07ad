//! Helpers shared by the integration tests: a mock, a real OpenAI client, small waits.

#![allow(dead_code)] // each test binary uses its own subset

use std::time::{Duration, Instant};

use async_openai::{
    Client,
    config::OpenAIConfig,
    types::chat::{
        ChatCompletionRequestUserMessageArgs, ChatCompletionStreamOptions,
        CreateChatCompletionRequest, CreateChatCompletionRequestArgs,
    },
};
use clawchaos_mock_llm::{MockLlm, MockLlmConfig};

pub type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// A mock on a free port serving `models`, answering `reply`.
pub async fn mock(models: &[&str], reply: &str) -> MockLlm {
    let config = MockLlmConfig {
        models: models.iter().map(|m| m.to_string()).collect(),
        reply: reply.to_string(),
        ..MockLlmConfig::default()
    };
    match MockLlm::start(config).await {
        Ok(mock) => mock,
        Err(e) => panic!("mock did not start: {e}"),
    }
}

/// The default mock: `mock-model`, reply `pong`.
pub async fn default_mock() -> MockLlm {
    mock(&["mock-model"], "pong").await
}

/// The real OpenAI client, pointed at the mock, key `sk-test`.
pub fn client(mock: &MockLlm) -> Client<OpenAIConfig> {
    Client::with_config(
        OpenAIConfig::new()
            .with_api_base(mock.base_url())
            .with_api_key("sk-test"),
    )
}

/// A one-message chat request for `model`.
pub fn request(model: &str) -> CreateChatCompletionRequest {
    let message = ChatCompletionRequestUserMessageArgs::default()
        .content("hi")
        .build()
        .map(Into::into);
    let built = message.and_then(|m| {
        CreateChatCompletionRequestArgs::default()
            .model(model)
            .messages(vec![m])
            .build()
    });
    match built {
        Ok(r) => r,
        Err(e) => panic!("cannot build request: {e}"),
    }
}

/// The same request with `stream_options.include_usage = true`.
pub fn request_with_usage(model: &str) -> CreateChatCompletionRequest {
    let mut r = request(model);
    r.stream_options = Some(ChatCompletionStreamOptions {
        include_usage: Some(true),
        include_obfuscation: None,
    });
    r
}

/// Polls `condition` every 5 ms until it holds; panics after `within`.
pub async fn wait_until(within: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !condition() {
        if Instant::now() > deadline {
            panic!("timed out after {within:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A raw chat completion body, as a non-OpenAI caller would send it.
pub fn raw_body(model: &str, stream: bool) -> serde_json::Value {
    serde_json::json!({
        "model": model,
        "stream": stream,
        "messages": [{"role": "user", "content": "hi"}],
    })
}
