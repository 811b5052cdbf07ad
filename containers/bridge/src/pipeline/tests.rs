use super::*;
use crate::classify::ErrorClass;
use crate::config::{self, AckMode};
use crate::secret::{Redactor, Secret};
use axum::{Json, Router, extract::State, http::HeaderMap, http::StatusCode, routing::post};
use reqwest::Url;
use std::sync::atomic::{AtomicU16, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

const GATEWAY_TOKEN: &str = "gw-secret-token-4711";

/// The stand-in gateway: fails the first `fail_first` calls with `status`, then says pong.
#[derive(Default)]
struct StubGateway {
    fail_first: AtomicU32,
    status: AtomicU16,
    calls: AtomicU32,
}

async fn chat(
    State(s): State<Arc<StubGateway>>,
    headers: HeaderMap,
    Json(body): Json<serde_json::Value>,
) -> (StatusCode, Json<serde_json::Value>) {
    let n = s.calls.fetch_add(1, Ordering::SeqCst);
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if n < s.fail_first.load(Ordering::SeqCst) {
        let status = StatusCode::from_u16(s.status.load(Ordering::SeqCst))
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        // A careless server that echoes the credential: the bridge must not repeat it.
        return (
            status,
            Json(serde_json::json!({"error": format!("rejected {auth}")})),
        );
    }
    assert_eq!(auth, format!("Bearer {GATEWAY_TOKEN}"));
    assert_eq!(body["model"], "openclaw");
    assert_eq!(body["messages"][0]["role"], "user");
    let prompt = body["messages"][0]["content"].as_str().unwrap_or_default();
    let answer = if prompt == "ping" { "pong" } else { "ok" };
    (
        StatusCode::OK,
        Json(serde_json::json!({"choices":[{"message":{"role":"assistant","content": answer}}]})),
    )
}

async fn start_gateway(state: Arc<StubGateway>) -> Url {
    let router = Router::new()
        .route("/v1/chat/completions", post(chat))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Url::parse(&format!("http://{addr}")).expect("url")
}

type Events = Arc<Mutex<Vec<String>>>;

struct FakeAck(Events);

impl Acknowledge for FakeAck {
    async fn ack(&mut self) -> Result<(), BrokerError> {
        self.0.lock().unwrap().push("ack".into());
        Ok(())
    }
}

#[derive(Default)]
struct FakeSink {
    events: Events,
    fail: std::sync::atomic::AtomicBool,
    published: Mutex<Vec<serde_json::Value>>,
}

impl Publish for FakeSink {
    async fn publish(&self, id: &str, body: Vec<u8>) -> Result<(), BrokerError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(BrokerError::new(ErrorClass::Stalled, "no confirm"));
        }
        self.events.lock().unwrap().push(format!("publish {id}"));
        self.published
            .lock()
            .unwrap()
            .push(serde_json::from_slice(&body).expect("json result"));
        Ok(())
    }
}

async fn pipeline(gw: &Arc<StubGateway>, ack_mode: AckMode, attempts: u32) -> (Pipeline, Health) {
    let url = start_gateway(Arc::clone(gw)).await;
    let redactor = Redactor::default();
    let health = Health::new(redactor.clone());
    let gateway = GatewayClient::new(
        &config::Gateway {
            url,
            token: Secret::new(GATEWAY_TOKEN),
            model: "openclaw".into(),
            timeout: Duration::from_secs(10),
            attempts,
        },
        redactor,
    )
    .expect("client");
    let p = Pipeline::new(gateway, Dedup::new(100), health.clone(), attempts, ack_mode);
    (p, health)
}

fn events(sink: &FakeSink) -> Vec<String> {
    sink.events.lock().unwrap().clone()
}

#[tokio::test]
async fn acks_only_after_the_publish_is_confirmed() {
    let gw = Arc::new(StubGateway::default());
    let (p, health) = pipeline(&gw, AckMode::AfterPublish, 3).await;
    let sink = FakeSink::default();
    let handled = p
        .handle(
            br#"{"id":"t-000001","prompt":"ping"}"#,
            FakeAck(sink.events.clone()),
            &sink,
        )
        .await
        .expect("handled");
    assert_eq!(handled, Handled::Done);
    assert_eq!(events(&sink), ["publish t-000001", "ack"]);
    let published = sink.published.lock().unwrap()[0].clone();
    assert_eq!(published["id"], "t-000001");
    assert_eq!(published["status"], "done");
    assert_eq!(published["output"], "pong");
    assert_eq!(published["attempts"], 1);
    assert_eq!(published["completion"].as_str().map(str::len), Some(16));
    assert_eq!(health.report().processed, 1);
}

#[tokio::test]
async fn before_publish_mode_acks_first() {
    let gw = Arc::new(StubGateway::default());
    let (p, _) = pipeline(&gw, AckMode::BeforePublish, 3).await;
    let sink = FakeSink::default();
    p.handle(
        br#"{"id":"t-7","prompt":"ping"}"#,
        FakeAck(sink.events.clone()),
        &sink,
    )
    .await
    .expect("handled");
    assert_eq!(events(&sink), ["ack", "publish t-7"]);
}

#[tokio::test]
async fn redelivery_of_a_done_task_is_acked_without_work() {
    let gw = Arc::new(StubGateway::default());
    let (p, health) = pipeline(&gw, AckMode::AfterPublish, 3).await;
    let sink = FakeSink::default();
    let task = br#"{"id":"t-42","prompt":"ping"}"#;
    p.handle(task, FakeAck(sink.events.clone()), &sink)
        .await
        .expect("first");
    let again = p
        .handle(task, FakeAck(sink.events.clone()), &sink)
        .await
        .expect("again");
    assert_eq!(again, Handled::Duplicate);
    assert_eq!(events(&sink), ["publish t-42", "ack", "ack"]);
    assert_eq!(gw.calls.load(Ordering::SeqCst), 1, "gateway called once");
    assert_eq!(health.report().duplicates_skipped, 1);
}

#[tokio::test]
async fn an_unconfirmed_result_is_republished_not_redone() {
    let gw = Arc::new(StubGateway::default());
    let (p, _) = pipeline(&gw, AckMode::AfterPublish, 3).await;
    let sink = FakeSink::default();
    sink.fail.store(true, Ordering::SeqCst);
    let task = br#"{"id":"t-5","prompt":"ping"}"#;
    let err = p
        .handle(task, FakeAck(sink.events.clone()), &sink)
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Stalled);
    assert!(
        events(&sink).is_empty(),
        "no ack without a confirmed result"
    );
    // The redelivery republishes the same result (the first may have reached the broker,
    // only its confirm was lost) instead of running the task through the gateway again.
    sink.fail.store(false, Ordering::SeqCst);
    let again = p
        .handle(task, FakeAck(sink.events.clone()), &sink)
        .await
        .expect("again");
    assert_eq!(again, Handled::Duplicate);
    assert_eq!(events(&sink), ["publish t-5", "ack"]);
    assert_eq!(gw.calls.load(Ordering::SeqCst), 1, "one gateway run in all");
    let republished = sink.published.lock().unwrap()[0].clone();
    assert_eq!(republished["status"], "done");
    assert!(republished["completion"].is_string());
    // Once confirmed, a further redelivery is a plain duplicate: acked, nothing published.
    let third = p
        .handle(task, FakeAck(sink.events.clone()), &sink)
        .await
        .expect("third");
    assert_eq!(third, Handled::Duplicate);
    assert_eq!(events(&sink), ["publish t-5", "ack", "ack"]);
}

#[tokio::test]
async fn gateway_errors_are_retried_then_failed_explicitly() {
    let gw = Arc::new(StubGateway::default());
    gw.fail_first.store(2, Ordering::SeqCst);
    gw.status.store(502, Ordering::SeqCst);
    let (p, health) = pipeline(&gw, AckMode::AfterPublish, 3).await;
    let sink = FakeSink::default();
    let handled = p
        .handle(
            br#"{"id":"t-1","prompt":"ping"}"#,
            FakeAck(sink.events.clone()),
            &sink,
        )
        .await
        .expect("handled");
    assert_eq!(handled, Handled::Done);
    assert_eq!(sink.published.lock().unwrap()[0]["attempts"], 3);
    assert_eq!(
        health.report().links.gateway.state,
        crate::health::LinkState::Up
    );

    gw.fail_first.store(100, Ordering::SeqCst);
    let handled = p
        .handle(
            br#"{"id":"t-2","prompt":"ping"}"#,
            FakeAck(sink.events.clone()),
            &sink,
        )
        .await
        .expect("handled");
    assert_eq!(handled, Handled::Failed);
    let failed = sink.published.lock().unwrap()[1].clone();
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["error_class"], "gateway_error");
    assert_eq!(events(&sink).last().map(String::as_str), Some("ack"));
    let r = health.report();
    assert_eq!(r.failed, 1);
    assert_eq!(
        r.links.gateway.last_error_class,
        Some(ErrorClass::GatewayError)
    );
}

#[tokio::test]
async fn auth_refusal_is_not_retried() {
    let gw = Arc::new(StubGateway::default());
    gw.fail_first.store(100, Ordering::SeqCst);
    gw.status.store(401, Ordering::SeqCst);
    let (p, _) = pipeline(&gw, AckMode::AfterPublish, 3).await;
    let sink = FakeSink::default();
    p.handle(
        br#"{"id":"t-3","prompt":"ping"}"#,
        FakeAck(sink.events.clone()),
        &sink,
    )
    .await
    .expect("handled");
    assert_eq!(gw.calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        sink.published.lock().unwrap()[0]["error_class"],
        "auth_failed"
    );
}

#[tokio::test]
async fn messages_without_an_id_are_rejected_and_acked() {
    let gw = Arc::new(StubGateway::default());
    let (p, health) = pipeline(&gw, AckMode::AfterPublish, 3).await;
    let sink = FakeSink::default();
    let handled = p
        .handle(b"garbage", FakeAck(sink.events.clone()), &sink)
        .await
        .expect("handled");
    assert_eq!(handled, Handled::Rejected);
    assert_eq!(events(&sink), ["ack"]);
    assert_eq!(health.report().rejected, 1);
    let handled = p
        .handle(br#"{"id":"t-9"}"#, FakeAck(sink.events.clone()), &sink)
        .await
        .expect("handled");
    assert_eq!(handled, Handled::Failed);
    assert_eq!(sink.published.lock().unwrap()[0]["error_class"], "bad_task");
}

/// A writer collecting log output.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every log line of this test binary, from the first call on: a global subscriber, since a
/// thread-local one misses events whose call sites other tests already marked as unheard.
fn captured_logs() -> Captured {
    static CAPTURED: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    CAPTURED
        .get_or_init(|| {
            let captured = Captured::default();
            let writer = captured.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_writer(move || writer.clone())
                .with_max_level(tracing::Level::TRACE)
                .with_ansi(false)
                .finish();
            let _ = tracing::subscriber::set_global_default(subscriber);
            captured
        })
        .clone()
}

#[tokio::test(flavor = "current_thread")]
async fn no_secret_reaches_logs_or_health() {
    let captured = captured_logs();

    // A gateway that echoes our bearer token in its 401 body.
    let gw = Arc::new(StubGateway::default());
    gw.fail_first.store(100, Ordering::SeqCst);
    gw.status.store(401, Ordering::SeqCst);
    let (p, health) = pipeline(&gw, AckMode::AfterPublish, 1).await;
    let sink = FakeSink::default();
    p.handle(
        br#"{"id":"t-1","prompt":"ping"}"#,
        FakeAck(sink.events.clone()),
        &sink,
    )
    .await
    .expect("handled");

    // A token service whose tokens pass through the token manager and health.
    let state = Arc::new(crate::token::testing::StubState::default());
    state.ttl.store(300, Ordering::SeqCst);
    let url = crate::token::testing::start_stub(Arc::clone(&state)).await;
    let tokens = crate::token::TokenManager::new(
        config::TokenSettings {
            source: config::TokenSource::Service {
                refresh_url: url.join("refresh").expect("url"),
                url,
            },
            refresh_before: Duration::from_secs(10),
            leeway: Duration::from_secs(30),
        },
        health.clone(),
        health.redactor().clone(),
    )
    .expect("tokens");
    let jwt = tokens.for_connect().await.expect("token").expect("some");
    // A broker error that quotes the token.
    health.down(
        Link::Broker,
        ErrorClass::AuthFailed,
        &format!("refused password {}", jwt.expose()),
    );

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).expect("utf8");
    let report = serde_json::to_string(&health.report()).expect("json");
    assert!(logs.contains("link state changed"), "logs captured: {logs}");
    assert!(
        logs.contains("link=gateway state=down class=auth_failed"),
        "{logs}"
    );
    for secret in [GATEWAY_TOKEN, jwt.expose()] {
        assert!(!logs.contains(secret), "secret in logs: {logs}");
        assert!(!report.contains(secret), "secret in health: {report}");
    }
    let published = serde_json::to_string(&*sink.published.lock().unwrap()).expect("json");
    assert!(
        !published.contains(GATEWAY_TOKEN),
        "secret in a result: {published}"
    );
    assert!(
        report.contains("[redacted]"),
        "the echoed secret was scrubbed: {report}"
    );
}
