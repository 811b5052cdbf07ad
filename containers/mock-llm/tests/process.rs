//! The mock outside a `MockLlm` handle: `serve()` with a shutdown future, and the binary.

use std::{
    io::{BufRead, BufReader},
    net::{Ipv4Addr, SocketAddr},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use clawchaos_mock_llm::{MockLlmConfig, serve};
use tokio::{net::TcpStream, sync::oneshot, time::timeout};

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// Polls until something accepts connections on `addr`; panics after five seconds.
async fn wait_listening(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(addr).await.is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {addr}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn serve_runs_until_its_shutdown_future_resolves() -> TestResult {
    // Borrow a free port from the OS, then hand it to `serve`.
    let addr = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?;
    let config = MockLlmConfig {
        addr,
        models: vec!["served-model".to_string()],
        ..MockLlmConfig::default()
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(serve(config, async {
        let _ = stopped.await;
    }));
    wait_listening(addr).await;

    let http = reqwest::Client::new();
    let models: serde_json::Value = http
        .get(format!("http://{addr}/v1/models"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(models["data"][0]["id"], "served-model");

    // Program a hang over the control API: shutdown must still complete.
    let put = http
        .put(format!("http://{addr}/_mock/behavior"))
        .body(r#"{"fault":{"kind":"hang"}}"#)
        .send()
        .await?;
    assert_eq!(put.status(), 204);
    let hanging = tokio::spawn({
        let http = http.clone();
        async move {
            http.post(format!("http://{addr}/v1/chat/completions"))
                .json(&serde_json::json!({"model": "served-model", "stream": true}))
                .send()
                .await
        }
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let journal: serde_json::Value = http
            .get(format!("http://{addr}/_mock/journal"))
            .send()
            .await?
            .json()
            .await?;
        if journal["requests"].as_array().is_some_and(|r| r.len() == 2) {
            break;
        }
        assert!(Instant::now() < deadline, "hanging request never journaled");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let _ = stop.send(());
    timeout(Duration::from_secs(5), server).await???;
    let hung = timeout(Duration::from_secs(5), hanging).await??;
    assert!(
        hung.is_err(),
        "the hanging request gets no answer: {hung:?}"
    );
    assert!(TcpStream::connect(addr).await.is_err(), "still listening");
    Ok(())
}

#[tokio::test]
async fn serve_reports_a_taken_port() -> TestResult {
    let taken = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    let config = MockLlmConfig {
        addr: taken.local_addr()?,
        ..MockLlmConfig::default()
    };
    let result = serve(config, std::future::pending()).await;
    let message = result.err().ok_or("bound a taken port")?.to_string();
    assert!(message.contains("cannot listen on"), "{message}");
    Ok(())
}

#[tokio::test]
async fn binary_prints_its_address_and_serves() -> TestResult {
    let mut child = Command::new(env!("CARGO_BIN_EXE_clawchaos-mock-llm"))
        .args([
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--model",
            "one",
            "--model",
            "two",
            "--reply",
            "hi there",
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    });
    let line = timeout(Duration::from_secs(10), line).await???;
    let result = async {
        let addr: SocketAddr = line
            .trim()
            .strip_prefix("listening on ")
            .ok_or_else(|| format!("unexpected first line {line:?}"))?
            .parse()?;
        let http = reqwest::Client::new();
        let models: serde_json::Value = http
            .get(format!("http://{addr}/v1/models"))
            .send()
            .await?
            .json()
            .await?;
        assert_eq!(models["data"][0]["id"], "one");
        assert_eq!(models["data"][1]["id"], "two");
        let answer: serde_json::Value = http
            .post(format!("http://{addr}/v1/chat/completions"))
            .json(&serde_json::json!({"model": "two", "messages": []}))
            .send()
            .await?
            .json()
            .await?;
        assert_eq!(answer["choices"][0]["message"]["content"], "hi there");
        assert_eq!(answer["model"], "two");
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
    }
    .await;
    if result.is_err() {
        let _ = child.kill();
        let _ = child.wait();
        return result;
    }

    // SIGTERM: a clean exit, 0.
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()?;
    assert!(term.success(), "kill -TERM failed");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no exit within 10 s of SIGTERM");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(status.success(), "exit status {status}");
    Ok(())
}
