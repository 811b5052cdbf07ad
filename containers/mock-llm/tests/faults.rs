//! Every fault, as the real OpenAI client (`async-openai`) or raw HTTP/TCP experiences it.

mod common;

use std::time::{Duration, Instant};

use async_openai::error::{ApiErrorResponse, OpenAIError};
use clawchaos_mock_llm::{Behavior, Fault, Outcome};
use common::{
    TestResult, client, default_mock, mock, raw_body, request, request_with_usage, wait_until,
};
use futures_util::StreamExt;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    time::timeout,
};

fn error(status: u16) -> Fault {
    Fault::Error {
        status,
        retry_after_secs: None,
    }
}

/// The API error the client surfaced, or a panic naming what it got instead.
fn api_error<T: std::fmt::Debug>(result: Result<T, OpenAIError>) -> ApiErrorResponse {
    match result {
        Err(OpenAIError::ApiError(e)) => e,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn error_401_is_invalid_api_key() -> TestResult {
    let mock = default_mock().await;
    mock.set_behavior(Behavior::fault(error(401)));
    let e = api_error(client(&mock).chat().create(request("mock-model")).await);
    assert_eq!(e.status_code, 401);
    assert_eq!(e.api_error.code.as_deref(), Some("invalid_api_key"));
    assert_eq!(e.api_error.r#type.as_deref(), Some("invalid_request_error"));
    assert!(
        e.api_error
            .message
            .starts_with("Incorrect API key provided"),
        "{}",
        e.api_error.message
    );
    assert_eq!(mock.journal().len(), 1, "401 is not retried");
    Ok(())
}

#[tokio::test]
async fn error_403_is_permission_denied() -> TestResult {
    let mock = default_mock().await;
    mock.set_behavior(Behavior::fault(error(403)));
    let e = api_error(client(&mock).chat().create(request("mock-model")).await);
    assert_eq!(e.status_code, 403);
    assert_eq!(e.api_error.r#type.as_deref(), Some("invalid_request_error"));
    assert!(e.api_error.message.contains("insufficient permissions"));
    Ok(())
}

#[tokio::test]
async fn error_404_fault_names_the_model() -> TestResult {
    let mock = default_mock().await;
    mock.set_behavior(Behavior::fault(error(404)));
    let e = api_error(
        client(&mock)
            .chat()
            .create_stream(request("mock-model"))
            .await
            .map(|_| ()),
    );
    assert_eq!(e.status_code, 404);
    assert_eq!(e.api_error.code.as_deref(), Some("model_not_found"));
    assert!(e.api_error.message.contains("`mock-model`"));
    assert_eq!(mock.journal()[0].outcome, Outcome::Error(404));
    Ok(())
}

#[tokio::test]
async fn error_429_is_rate_limit_exceeded() -> TestResult {
    let mock = default_mock().await;
    mock.set_behavior(Behavior::fault(error(429)));
    let e = api_error(client(&mock).chat().create(request("mock-model")).await);
    assert_eq!(e.status_code, 429);
    assert_eq!(e.api_error.code.as_deref(), Some("rate_limit_exceeded"));
    assert_eq!(e.api_error.r#type.as_deref(), Some("requests"));
    // async-openai retries 429 three times on its own.
    assert_eq!(mock.journal().len(), 4);
    Ok(())
}

#[tokio::test]
async fn error_429_sends_retry_after() -> TestResult {
    let mock = default_mock().await;
    mock.set_behavior(Behavior::fault(Fault::Error {
        status: 429,
        retry_after_secs: Some(2),
    }));
    let response = reqwest::Client::new()
        .post(format!("{}/chat/completions", mock.base_url()))
        .json(&raw_body("mock-model", true))
        .send()
        .await?;
    assert_eq!(response.status(), 429);
    assert_eq!(
        response.headers().get("retry-after").map(|v| v.as_bytes()),
        Some(&b"2"[..])
    );
    let body: serde_json::Value = response.json().await?;
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    assert_eq!(body["error"]["param"], serde_json::Value::Null);

    mock.set_behavior(Behavior::fault(error(429)));
    let response = reqwest::Client::new()
        .post(format!("{}/chat/completions", mock.base_url()))
        .json(&raw_body("mock-model", true))
        .send()
        .await?;
    assert_eq!(response.status(), 429);
    assert!(response.headers().get("retry-after").is_none());
    Ok(())
}

#[tokio::test]
async fn errors_5xx_are_server_errors() -> TestResult {
    let mock = default_mock().await;
    for (status, kind, code) in [
        (500, "server_error", serde_json::Value::Null),
        (
            503,
            "service_unavailable_error",
            "server_is_overloaded".into(),
        ),
    ] {
        mock.set_behavior(Behavior::fault(error(status)));
        let e = api_error(client(&mock).chat().create(request("mock-model")).await);
        assert_eq!(e.status_code, status);
        // async-openai hands a 5xx body over unparsed, as the message.
        let body: serde_json::Value = serde_json::from_str(&e.api_error.message)?;
        assert_eq!(body["error"]["type"], kind);
        assert_eq!(body["error"]["code"], code);
    }
    Ok(())
}

#[tokio::test]
async fn delay_first_byte_is_observed() -> TestResult {
    let mock = default_mock().await;
    let delay = Duration::from_millis(300);
    mock.set_behavior(Behavior::fault(Fault::DelayFirstByte { ms: 300 }));
    let c = client(&mock);

    let started = Instant::now();
    let mut stream = c.chat().create_stream(request("mock-model")).await?;
    let first = stream.next().await.ok_or("empty stream")??;
    assert!(
        started.elapsed() >= delay,
        "first chunk after {:?}",
        started.elapsed()
    );
    assert_eq!(first.model, "mock-model");
    let mut rest = 0;
    while let Some(chunk) = stream.next().await {
        chunk?;
        rest += 1;
    }
    assert_eq!(rest, 3, "the rest of the stream is normal");

    let started = Instant::now();
    let plain = c.chat().create(request("mock-model")).await?;
    assert!(started.elapsed() >= delay);
    assert_eq!(plain.choices[0].message.content.as_deref(), Some("pong"));

    mock.reset();
    let started = Instant::now();
    c.chat().create(request("mock-model")).await?;
    assert!(started.elapsed() < delay, "reset removes the delay");
    Ok(())
}

#[tokio::test]
async fn stall_sends_n_chunks_then_goes_silent() -> TestResult {
    let mock = default_mock().await;
    mock.set_behavior(Behavior::fault(Fault::Stall { after_chunks: 2 }));
    let mut stream = client(&mock)
        .chat()
        .create_stream(request_with_usage("mock-model"))
        .await?;
    let first = timeout(Duration::from_secs(5), stream.next())
        .await?
        .ok_or("ended")??;
    assert_eq!(
        first.choices[0].delta.role,
        Some(async_openai::types::chat::Role::Assistant)
    );
    let second = timeout(Duration::from_secs(5), stream.next())
        .await?
        .ok_or("ended")??;
    assert_eq!(second.choices[0].delta.content.as_deref(), Some("po"));
    let third = timeout(Duration::from_millis(400), stream.next()).await;
    assert!(third.is_err(), "expected silence, got {third:?}");
    assert_eq!(mock.journal()[0].outcome, Outcome::Stall);
    Ok(())
}

#[tokio::test]
async fn stall_on_a_plain_request_sends_half_a_body() -> TestResult {
    let mock = default_mock().await;
    mock.set_behavior(Behavior::fault(Fault::Stall { after_chunks: 0 }));
    let mut response = reqwest::Client::new()
        .post(format!("{}/chat/completions", mock.base_url()))
        .json(&raw_body("mock-model", false))
        .send()
        .await?;
    assert_eq!(response.status(), 200);
    let part = timeout(Duration::from_secs(5), response.chunk())
        .await??
        .ok_or("no body")?;
    assert!(part.starts_with(b"{\"id\":\"chatcmpl-mock-"));
    let more = timeout(Duration::from_millis(300), response.chunk()).await;
    assert!(more.is_err(), "expected silence, got {more:?}");
    Ok(())
}

/// The raw SSE bytes of a streaming request to `mock`, read for `for_how_long`.
async fn sse_bytes_for(
    mock: &clawchaos_mock_llm::MockLlm,
    for_how_long: Duration,
) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    let mut response = reqwest::Client::new()
        .post(format!("{}/chat/completions", mock.base_url()))
        .json(&raw_body("mock-model", true))
        .send()
        .await?;
    assert_eq!(response.status(), 200);
    let mut seen = Vec::new();
    let until = Instant::now() + for_how_long;
    while let Ok(Ok(Some(chunk))) = timeout(
        until.saturating_duration_since(Instant::now()),
        response.chunk(),
    )
    .await
    {
        seen.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8_lossy(&seen).into_owned())
}

#[tokio::test]
async fn keepalive_comments_keep_a_stream_open_without_content_or_an_end() -> TestResult {
    let mock = default_mock().await;
    mock.set_behavior(Behavior::fault(Fault::Keepalive {
        every_ms: 100,
        empty_deltas: false,
    }));
    let text = sse_bytes_for(&mock, Duration::from_millis(750)).await?;
    assert!(text.starts_with("data: {"), "the role chunk first: {text}");
    let comments = text.matches(": keepalive\n\n").count();
    assert!(
        (3..=8).contains(&comments),
        "{comments} keepalives in 750 ms: {text}"
    );
    assert!(
        !text.contains("[DONE]") && !text.contains("\"stop\""),
        "{text}"
    );
    assert_eq!(mock.journal()[0].outcome, Outcome::Keepalive);
    Ok(())
}

#[tokio::test]
async fn keepalive_empty_deltas_look_like_an_answer_that_never_says_anything() -> TestResult {
    let mock = default_mock().await;
    mock.set_behavior(Behavior::fault(Fault::Keepalive {
        every_ms: 100,
        empty_deltas: true,
    }));
    let text = sse_bytes_for(&mock, Duration::from_millis(750)).await?;
    let empty = text.matches("\"delta\":{\"content\":\"\"}").count();
    assert!(
        (3..=8).contains(&empty),
        "{empty} empty deltas in 750 ms: {text}"
    );
    assert!(
        !text.contains(": keepalive") && !text.contains("[DONE]"),
        "{text}"
    );
    Ok(())
}

#[tokio::test]
async fn slow_tokens_paces_content_chunks() -> TestResult {
    let mock = mock(&["mock-model"], "abcdefgh").await;
    let per_token = Duration::from_millis(80);
    mock.set_behavior(Behavior::fault(Fault::SlowTokens { per_token_ms: 80 }));
    let started = Instant::now();
    let mut stream = client(&mock)
        .chat()
        .create_stream(request("mock-model"))
        .await?;
    let mut content_at = Vec::new();
    let mut text = String::new();
    while let Some(chunk) = timeout(Duration::from_secs(5), stream.next()).await? {
        let chunk = chunk?;
        if let Some(t) = chunk
            .choices
            .first()
            .and_then(|c| c.delta.content.as_deref())
            && !t.is_empty()
        {
            content_at.push(started.elapsed());
            text.push_str(t);
        }
    }
    assert_eq!(text, "abcdefgh");
    assert_eq!(content_at.len(), 4);
    // The server sleeps before each content chunk, so the k-th cannot arrive before k pauses.
    for (k, at) in content_at.iter().enumerate() {
        let floor = per_token * u32::try_from(k + 1)?;
        assert!(*at >= floor, "chunk {k} at {at:?}, before {floor:?}");
    }
    assert!(content_at[3] < Duration::from_secs(4), "{content_at:?}");
    Ok(())
}

#[tokio::test]
async fn drop_connection_sends_no_http_response() -> TestResult {
    let mock = default_mock().await;
    mock.set_behavior(Behavior::fault(Fault::DropConnection));

    let result = client(&mock).chat().create(request("mock-model")).await;
    assert!(
        matches!(result, Err(OpenAIError::Reqwest(_))),
        "expected a transport error, got {result:?}"
    );

    // On the wire: the request is read, then the socket closes with not one byte sent.
    let body = serde_json::to_vec(&raw_body("mock-model", true))?;
    let mut tcp = TcpStream::connect(mock.addr()).await?;
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n",
        mock.addr(),
        body.len()
    );
    tcp.write_all(head.as_bytes()).await?;
    tcp.write_all(&body).await?;
    let mut answer = Vec::new();
    let read = timeout(Duration::from_secs(5), tcp.read_to_end(&mut answer)).await?;
    assert!(
        read.is_err() || answer.is_empty(),
        "got bytes: {:?}",
        String::from_utf8_lossy(&answer)
    );
    let outcomes: Vec<Outcome> = mock.journal().iter().map(|e| e.outcome).collect();
    assert_eq!(outcomes, [Outcome::DropConnection, Outcome::DropConnection]);
    Ok(())
}

#[tokio::test]
async fn malformed_surfaces_as_client_errors() -> TestResult {
    let mock = default_mock().await;
    mock.set_behavior(Behavior::fault(Fault::Malformed));
    let c = client(&mock);

    let plain = c.chat().create(request("mock-model")).await;
    assert!(
        matches!(plain, Err(OpenAIError::JSONDeserialize(..))),
        "got {plain:?}"
    );

    let mut stream = c.chat().create_stream(request("mock-model")).await?;
    let first = timeout(Duration::from_secs(5), stream.next()).await?;
    assert!(
        matches!(first, Some(Err(OpenAIError::JSONDeserialize(..)))),
        "got {first:?}"
    );
    Ok(())
}

#[tokio::test]
async fn hang_never_answers() -> TestResult {
    let mock = default_mock().await;
    mock.set_behavior(Behavior::fault(Fault::Hang));
    let c = client(&mock);
    let call = timeout(
        Duration::from_millis(400),
        c.chat().create(request("mock-model")),
    )
    .await;
    assert!(call.is_err(), "expected no answer, got {call:?}");
    let entries = mock.journal();
    assert_eq!(entries.len(), 1, "journaled although unanswered");
    assert_eq!(entries[0].outcome, Outcome::Hang);
    Ok(())
}

#[tokio::test]
async fn times_n_reverts_to_normal() -> TestResult {
    let mock = default_mock().await;
    mock.set_behavior(Behavior::fault(error(401)).times(2));
    let c = client(&mock);
    assert_eq!(
        api_error(c.chat().create(request("mock-model")).await).status_code,
        401
    );
    assert_eq!(mock.behavior().times, Some(1));
    assert_eq!(
        api_error(c.chat().create(request("mock-model")).await).status_code,
        401
    );
    let ok = c.chat().create(request("mock-model")).await?;
    assert_eq!(ok.choices[0].message.content.as_deref(), Some("pong"));
    assert_eq!(mock.behavior(), Behavior::normal());
    let outcomes: Vec<String> = mock
        .journal()
        .iter()
        .map(|e| e.outcome.to_string())
        .collect();
    assert_eq!(outcomes, ["error:401", "error:401", "ok"]);
    Ok(())
}

#[tokio::test]
async fn only_model_faults_one_model_and_serves_the_fallback() -> TestResult {
    let mock = mock(&["mock-model", "mock-fallback"], "pong").await;
    mock.set_behavior(Behavior::fault(error(404)).only_model("mock-model"));
    let c = client(&mock);

    let e = api_error(c.chat().create(request("mock-model")).await);
    assert_eq!(e.status_code, 404);
    assert!(e.api_error.message.contains("`mock-model`"));

    let mut stream = c.chat().create_stream(request("mock-fallback")).await?;
    let mut text = String::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        assert_eq!(chunk.model, "mock-fallback");
        if let Some(t) = chunk
            .choices
            .first()
            .and_then(|c| c.delta.content.as_deref())
        {
            text.push_str(t);
        }
    }
    assert_eq!(text, "pong");

    let seen: Vec<(Option<String>, String)> = mock
        .journal()
        .into_iter()
        .map(|e| (e.model, e.outcome.to_string()))
        .collect();
    assert_eq!(
        seen,
        [
            (Some("mock-model".to_string()), "error:404".to_string()),
            (Some("mock-fallback".to_string()), "ok".to_string()),
        ]
    );
    Ok(())
}

#[tokio::test]
async fn shutdown_ends_hanging_and_stalled_requests() -> TestResult {
    let mock = default_mock().await;
    let c = client(&mock);
    mock.set_behavior(Behavior::fault(Fault::Stall { after_chunks: 1 }));
    let mut stalled = c.chat().create_stream(request("mock-model")).await?;
    stalled.next().await.ok_or("no first chunk")??;

    mock.set_behavior(Behavior::fault(Fault::Hang));
    let hanging = tokio::spawn({
        let c = c.clone();
        async move { c.chat().create(request("mock-model")).await }
    });
    wait_until(Duration::from_secs(5), "the hanging request", || {
        mock.journal().len() == 2
    })
    .await;

    let addr = mock.addr();
    timeout(Duration::from_secs(5), mock.shutdown()).await?;
    let hung = timeout(Duration::from_secs(5), hanging).await??;
    assert!(matches!(hung, Err(OpenAIError::Reqwest(_))), "got {hung:?}");
    let rest = timeout(Duration::from_secs(5), stalled.next()).await?;
    assert!(!matches!(rest, Some(Ok(_))), "got {rest:?}");
    assert!(TcpStream::connect(addr).await.is_err(), "still listening");
    Ok(())
}

#[tokio::test]
async fn drop_stops_the_server_and_open_connections() -> TestResult {
    let mock = default_mock().await;
    let c = client(&mock);
    mock.set_behavior(Behavior::fault(Fault::Hang));
    let hanging = tokio::spawn({
        let c = c.clone();
        async move { c.chat().create(request("mock-model")).await }
    });
    wait_until(Duration::from_secs(5), "the hanging request", || {
        mock.journal().len() == 1
    })
    .await;
    let addr = mock.addr();
    drop(mock);
    let hung = timeout(Duration::from_secs(5), hanging).await??;
    assert!(matches!(hung, Err(OpenAIError::Reqwest(_))), "got {hung:?}");

    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(addr).await.is_ok() {
        assert!(Instant::now() < deadline, "still listening after drop");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}
