//! The request journal, and the HTTP control API a harness uses on a separate mock process.

mod common;

use std::time::Duration;

use clawchaos_mock_llm::{Behavior, Fault, JournalEntry, Outcome};
use common::{TestResult, client, default_mock, mock, raw_body, request, wait_until};
use futures_util::StreamExt;
use reqwest::StatusCode;

/// A body shaped like OpenClaw's: about 50 KB, a dozen tools, `tool_choice`, `stream_options`.
fn openclaw_like_body(model: &str) -> serde_json::Value {
    let tools: Vec<serde_json::Value> = (0..12)
        .map(|i| {
            serde_json::json!({
                "type": "function",
                "function": {
                    "name": format!("tool_{i}"),
                    "description": "x".repeat(4000),
                    "parameters": {"type": "object", "properties": {"arg": {"type": "string"}}},
                }
            })
        })
        .collect();
    serde_json::json!({
        "model": model,
        "stream": true,
        "stream_options": {"include_usage": true},
        "tool_choice": "auto",
        "tools": tools,
        "messages": [
            {"role": "system", "content": "You are a helpful agent."},
            {"role": "user", "content": "hi"},
        ],
    })
}

#[tokio::test]
async fn journal_records_what_the_provider_sees() -> TestResult {
    let mock = mock(&["mock-model", "mock-fallback"], "pong").await;
    let http = reqwest::Client::new();

    let body = serde_json::to_vec(&openclaw_like_body("mock-model"))?;
    assert!((47_000..60_000).contains(&body.len()), "{}", body.len());
    let response = http
        .post(format!("{}/chat/completions", mock.base_url()))
        .header("authorization", "Bearer sk-test")
        .header("user-agent", "OpenAI/JS 7.15.0")
        .header("x-stainless-retry-count", "0")
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await?;
    assert_eq!(response.status(), 200);
    let sse = response.text().await?;
    assert!(sse.ends_with("data: [DONE]\n\n"));

    client(&mock)
        .chat()
        .create(request("mock-fallback"))
        .await?;
    http.get(format!("{}/models", mock.base_url()))
        .send()
        .await?;
    mock.set_behavior(Behavior::fault(Fault::Error {
        status: 429,
        retry_after_secs: Some(1),
    }));
    let limited = http
        .post(format!("{}/chat/completions?x=1", mock.base_url()))
        .json(&raw_body("mock-model", true))
        .send()
        .await?;
    assert_eq!(limited.status(), 429);

    let journal = mock.journal();
    assert_eq!(journal.len(), 4);

    let first = &journal[0];
    assert_eq!(first.method, "POST");
    assert_eq!(first.path, "/v1/chat/completions");
    assert_eq!(first.model.as_deref(), Some("mock-model"));
    assert!(first.stream);
    assert_eq!(first.body_bytes, u64::try_from(body.len())?);
    assert_eq!(first.headers["authorization"], "Bearer sk-test");
    assert_eq!(first.headers["user-agent"], "OpenAI/JS 7.15.0");
    assert_eq!(first.headers["x-stainless-retry-count"], "0");
    assert_eq!(first.outcome, Outcome::Ok);

    let second = &journal[1];
    assert_eq!(second.model.as_deref(), Some("mock-fallback"));
    assert!(!second.stream);
    assert_eq!(second.headers["authorization"], "Bearer sk-test");

    let third = &journal[2];
    assert_eq!(
        (third.method.as_str(), third.path.as_str()),
        ("GET", "/v1/models")
    );
    assert_eq!(third.model, None);
    assert!(!third.headers.contains_key("authorization"));
    assert_eq!(third.outcome, Outcome::Ok);

    let fourth = &journal[3];
    assert_eq!(fourth.path, "/v1/chat/completions", "no query in the path");
    assert_eq!(fourth.outcome, Outcome::Error(429));

    for pair in journal.windows(2) {
        assert_eq!(pair[1].seq, pair[0].seq + 1);
        assert!(
            pair[1].at_ms > pair[0].at_ms,
            "{} then {}",
            pair[0].at_ms,
            pair[1].at_ms
        );
        assert!(pair[1].unix_ms >= pair[0].unix_ms);
    }
    assert!(journal[0].unix_ms > 1_700_000_000_000);

    // Wire shape of one entry.
    let json = serde_json::to_value(&journal[3])?;
    assert_eq!(json["outcome"], "error:429");
    assert_eq!(json["method"], "POST");
    assert!(json["at_ms"].is_f64());
    let back: JournalEntry = serde_json::from_value(json)?;
    assert_eq!(back, journal[3]);

    mock.clear_journal();
    assert!(mock.journal().is_empty());
    mock.reset();
    client(&mock).chat().create(request("mock-model")).await?;
    let after = mock.journal();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].seq, 4, "sequence keeps counting after a clear");
    Ok(())
}

#[tokio::test]
async fn journal_entry_exists_while_a_stream_is_still_running() -> TestResult {
    let mock = default_mock().await;
    mock.set_behavior(Behavior::fault(Fault::SlowTokens { per_token_ms: 2000 }));
    let mut stream = client(&mock)
        .chat()
        .create_stream(request("mock-model"))
        .await?;
    stream.next().await.ok_or("no role chunk")??;
    let journal = mock.journal();
    assert_eq!(journal.len(), 1);
    assert_eq!(journal[0].outcome, Outcome::SlowTokens);
    Ok(())
}

struct Control {
    http: reqwest::Client,
    base: String,
}

impl Control {
    fn new(mock: &clawchaos_mock_llm::MockLlm) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: format!("http://{}", mock.addr()),
        }
    }

    async fn put_behavior(&self, body: &str) -> reqwest::Result<reqwest::Response> {
        self.http
            .put(format!("{}/_mock/behavior", self.base))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
    }

    async fn journal(&self) -> Result<serde_json::Value, Box<dyn std::error::Error + Send + Sync>> {
        let response = self
            .http
            .get(format!("{}/_mock/journal", self.base))
            .send()
            .await?;
        assert_eq!(response.status(), StatusCode::OK);
        Ok(response.json().await?)
    }

    async fn chat(&self, model: &str) -> reqwest::Result<reqwest::Response> {
        self.http
            .post(format!("{}/v1/chat/completions", self.base))
            .json(&raw_body(model, false))
            .send()
            .await
    }
}

#[tokio::test]
async fn control_api_programs_and_reads_the_mock() -> TestResult {
    let mock = default_mock().await;
    let control = Control::new(&mock);

    let put = control
        .put_behavior(
            r#"{"fault":{"kind":"error","status":503,"retry_after_secs":null},"times":2,"only_model":"mock-model"}"#,
        )
        .await?;
    assert_eq!(put.status(), StatusCode::NO_CONTENT);
    let current: serde_json::Value = control
        .http
        .get(format!("{}/_mock/behavior", control.base))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(current["fault"]["status"], 503);
    assert_eq!(current["times"], 2);

    assert_eq!(control.chat("mock-model").await?.status(), 503);
    assert_eq!(
        mock.behavior().times,
        Some(1),
        "the HTTP and in-process views agree"
    );

    let delete = control
        .http
        .delete(format!("{}/_mock/behavior", control.base))
        .send()
        .await?;
    assert_eq!(delete.status(), StatusCode::NO_CONTENT);
    assert_eq!(control.chat("mock-model").await?.status(), 200);

    let journal = control.journal().await?;
    let requests = journal["requests"].as_array().ok_or("no requests array")?;
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0]["outcome"], "error:503");
    assert_eq!(requests[1]["outcome"], "ok");
    assert_eq!(requests[1]["model"], "mock-model");
    assert_eq!(requests[1]["stream"], false);
    assert_eq!(requests[1]["path"], "/v1/chat/completions");
    for key in ["seq", "at_ms", "unix_ms", "method", "body_bytes", "headers"] {
        assert!(requests[1].get(key).is_some(), "entry lacks {key}");
    }
    let control_calls = requests
        .iter()
        .filter(|r| r["path"].as_str().is_some_and(|p| p.starts_with("/_mock")))
        .count();
    assert_eq!(control_calls, 0, "control calls are not journaled");

    let clear = control
        .http
        .delete(format!("{}/_mock/journal", control.base))
        .send()
        .await?;
    assert_eq!(clear.status(), StatusCode::NO_CONTENT);
    assert_eq!(control.journal().await?["requests"], serde_json::json!([]));
    Ok(())
}

#[tokio::test]
async fn control_api_refuses_bad_behaviors_clearly() -> TestResult {
    let mock = default_mock().await;
    let control = Control::new(&mock);
    mock.set_behavior(Behavior::fault(Fault::Malformed));

    for (body, says) in [
        ("{not json", "invalid behavior JSON"),
        (r#"{"fault":{"kind":"explode"}}"#, "explode"),
        (r#"{"fault":{"kind":"stall"}}"#, "after_chunks"),
        (r#"{"fault":{"kind":"hang"},"time":3}"#, "time"),
        (r#"{"fault":{"kind":"error","status":200}}"#, "200"),
    ] {
        let response = control.put_behavior(body).await?;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        let error: serde_json::Value = response.json().await?;
        let message = error["error"].as_str().ok_or("no error message")?;
        assert!(message.contains(says), "{body}: {message}");
    }
    assert_eq!(
        mock.behavior(),
        Behavior::fault(Fault::Malformed),
        "a refused body changes nothing"
    );
    Ok(())
}

#[tokio::test]
async fn every_fault_kind_can_be_put_over_http() -> TestResult {
    let mock = default_mock().await;
    let control = Control::new(&mock);
    for (body, fault) in [
        (
            r#"{"kind":"delay_first_byte","ms":1500}"#,
            Fault::DelayFirstByte { ms: 1500 },
        ),
        (
            r#"{"kind":"stall","after_chunks":2}"#,
            Fault::Stall { after_chunks: 2 },
        ),
        (
            r#"{"kind":"slow_tokens","per_token_ms":200}"#,
            Fault::SlowTokens { per_token_ms: 200 },
        ),
        (r#"{"kind":"drop_connection"}"#, Fault::DropConnection),
        (r#"{"kind":"malformed"}"#, Fault::Malformed),
        (r#"{"kind":"hang"}"#, Fault::Hang),
        (
            r#"{"kind":"keepalive","every_ms":500,"empty_deltas":true}"#,
            Fault::Keepalive {
                every_ms: 500,
                empty_deltas: true,
            },
        ),
    ] {
        let response = control
            .put_behavior(&format!(
                r#"{{"fault":{body},"times":null,"only_model":null}}"#
            ))
            .await?;
        assert_eq!(response.status(), StatusCode::NO_CONTENT, "{body}");
        assert_eq!(mock.behavior(), Behavior::fault(fault));
    }
    Ok(())
}

#[tokio::test]
async fn large_bodies_are_accepted_and_huge_ones_refused() -> TestResult {
    let mock = default_mock().await;
    let http = reqwest::Client::new();
    let url = format!("{}/chat/completions", mock.base_url());

    let mut big = raw_body("mock-model", false);
    big["padding"] = serde_json::Value::String("y".repeat(3 * 1024 * 1024));
    assert_eq!(http.post(&url).json(&big).send().await?.status(), 200);

    let mut huge = raw_body("mock-model", false);
    huge["padding"] = serde_json::Value::String("z".repeat(9 * 1024 * 1024));
    let refused = http.post(&url).json(&huge).send().await;
    // The mock answers 413 as soon as it passes its limit; the client may still be sending.
    if let Ok(response) = refused {
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
    wait_until(
        Duration::from_secs(5),
        "the refused request's entry",
        || mock.journal().len() == 2,
    )
    .await;
    assert_eq!(mock.journal()[1].outcome, Outcome::Error(413));
    Ok(())
}
