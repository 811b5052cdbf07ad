//! Normal service, judged by the real OpenAI client (`async-openai`) and by raw HTTP.

mod common;

use async_openai::{error::OpenAIError, types::chat::FinishReason};
use common::{TestResult, client, default_mock, mock, raw_body, request, request_with_usage};
use futures_util::StreamExt;

#[tokio::test]
async fn plain_chat_completion() -> TestResult {
    let mock = default_mock().await;
    let response = client(&mock).chat().create(request("mock-model")).await?;
    assert_eq!(response.object, "chat.completion");
    assert_eq!(response.model, "mock-model");
    assert_eq!(response.choices.len(), 1);
    assert_eq!(response.choices[0].message.content.as_deref(), Some("pong"));
    assert_eq!(response.choices[0].finish_reason, Some(FinishReason::Stop));
    let usage = response.usage.ok_or("no usage")?;
    assert_eq!(usage.completion_tokens, 2);
    assert_eq!(
        usage.total_tokens,
        usage.prompt_tokens + usage.completion_tokens
    );
    Ok(())
}

#[tokio::test]
async fn streaming_chat_completion_ends_cleanly() -> TestResult {
    let mock = mock(&["mock-model"], "Hello from the mock").await;
    let mut stream = client(&mock)
        .chat()
        .create_stream(request_with_usage("mock-model"))
        .await?;
    let mut text = String::new();
    let mut chunks = 0;
    let mut finish = None;
    let mut usage = None;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        chunks += 1;
        assert_eq!(chunk.object, "chat.completion.chunk");
        assert_eq!(chunk.model, "mock-model");
        for choice in &chunk.choices {
            text.push_str(choice.delta.content.as_deref().unwrap_or(""));
            if choice.finish_reason.is_some() {
                finish = choice.finish_reason;
            }
        }
        if let Some(u) = chunk.usage {
            assert!(chunk.choices.is_empty(), "usage chunk has no choices");
            usage = Some(u);
        }
    }
    assert_eq!(text, "Hello from the mock");
    assert_eq!(finish, Some(FinishReason::Stop));
    // role + 10 content chunks + stop + usage
    assert_eq!(chunks, 13);
    assert_eq!(usage.ok_or("no usage chunk")?.completion_tokens, 10);
    Ok(())
}

#[tokio::test]
async fn streaming_without_include_usage_has_no_usage_chunk() -> TestResult {
    let mock = default_mock().await;
    let mut stream = client(&mock)
        .chat()
        .create_stream(request("mock-model"))
        .await?;
    let mut chunks = Vec::new();
    while let Some(chunk) = stream.next().await {
        chunks.push(chunk?);
    }
    assert_eq!(chunks.len(), 4, "role, po, ng, stop");
    assert!(chunks.iter().all(|c| c.usage.is_none()));
    assert_eq!(
        chunks[0].choices[0].delta.role,
        Some(async_openai::types::chat::Role::Assistant)
    );
    Ok(())
}

#[tokio::test]
async fn sse_framing_on_the_wire() -> TestResult {
    let mock = default_mock().await;
    let mut body = raw_body("mock-model", true);
    body["stream_options"] = serde_json::json!({"include_usage": true});
    let response = reqwest::Client::new()
        .post(format!("{}/chat/completions", mock.base_url()))
        .json(&body)
        .send()
        .await?;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers().get("content-type").map(|v| v.as_bytes()),
        Some(&b"text/event-stream"[..])
    );
    let text = response.text().await?;
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    let events: Vec<&str> = text.split_terminator("\n\n").collect();
    assert_eq!(events.len(), 6, "role, po, ng, stop, usage, DONE: {text}");
    for event in &events[..5] {
        let json = event.strip_prefix("data: ").ok_or("not a data line")?;
        let chunk: serde_json::Value = serde_json::from_str(json)?;
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["model"], "mock-model");
    }
    Ok(())
}

#[tokio::test]
async fn answers_echo_the_requested_model() -> TestResult {
    let mock = mock(&["a-model", "b-model"], "pong").await;
    let c = client(&mock);
    assert_eq!(c.chat().create(request("a-model")).await?.model, "a-model");
    assert_eq!(c.chat().create(request("b-model")).await?.model, "b-model");
    Ok(())
}

#[tokio::test]
async fn list_models() -> TestResult {
    let mock = mock(&["mock-model", "mock-fallback"], "pong").await;
    let list = client(&mock).models().list().await?;
    assert_eq!(list.object, "list");
    let ids: Vec<&str> = list.data.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["mock-model", "mock-fallback"]);
    assert!(list.data.iter().all(|m| m.object == "model"));

    // Without any auth header too.
    let raw = reqwest::get(format!("{}/models", mock.base_url())).await?;
    assert_eq!(raw.status(), 200);
    Ok(())
}

#[tokio::test]
async fn unknown_model_is_404_model_not_found_naming_it() -> TestResult {
    let mock = default_mock().await;
    let result = client(&mock).chat().create(request("gpt-nope")).await;
    let Err(OpenAIError::ApiError(e)) = result else {
        panic!("expected an API error, got {result:?}");
    };
    assert_eq!(e.status_code, 404);
    assert_eq!(e.api_error.code.as_deref(), Some("model_not_found"));
    assert_eq!(e.api_error.r#type.as_deref(), Some("invalid_request_error"));
    assert_eq!(
        e.api_error.message,
        "The model `gpt-nope` does not exist or you do not have access to it."
    );
    Ok(())
}

#[tokio::test]
async fn bad_requests_get_openai_shaped_400s() -> TestResult {
    let mock = default_mock().await;
    let url = format!("{}/chat/completions", mock.base_url());
    let http = reqwest::Client::new();

    let not_json = http.post(&url).body("{nope").send().await?;
    assert_eq!(not_json.status(), 400);
    let body: serde_json::Value = not_json.json().await?;
    assert_eq!(body["error"]["type"], "invalid_request_error");

    let no_model = http
        .post(&url)
        .json(&serde_json::json!({"messages": []}))
        .send()
        .await?;
    assert_eq!(no_model.status(), 400);
    let body: serde_json::Value = no_model.json().await?;
    assert_eq!(body["error"]["param"], "model");

    let wrong_route = http.get(&url).send().await?;
    assert_eq!(wrong_route.status(), 404);
    let body: serde_json::Value = wrong_route.json().await?;
    assert_eq!(
        body["error"]["message"],
        "Invalid URL (GET /v1/chat/completions)"
    );

    let outcomes: Vec<String> = mock
        .journal()
        .iter()
        .map(|e| e.outcome.to_string())
        .collect();
    assert_eq!(outcomes, ["error:400", "error:400", "error:404"]);
    Ok(())
}
