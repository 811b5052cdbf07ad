//! The `clawchaos-token-service` binary: flags, the printed addresses, the control API.

mod common;

use std::{
    io::{BufRead, BufReader, Read},
    net::SocketAddr,
    process::{Child, ChildStdout, Command, Stdio},
    time::{Duration, Instant},
};

use clawchaos_token_service::VerifyKey;
use common::{Error, TestResult, access_token, assert_near, post, system_now, verify};
use jsonwebtoken::Algorithm;
use tokio::{net::TcpStream, time::timeout};

const BIN: &str = env!("CARGO_BIN_EXE_clawchaos-token-service");

/// Kills the child (by its pid) if a test fails before stopping it.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Reads one stdout line off the async runtime, within ten seconds.
async fn read_line(
    reader: BufReader<ChildStdout>,
) -> Result<(String, BufReader<ChildStdout>), Error> {
    let read = tokio::task::spawn_blocking(move || {
        let mut reader = reader;
        let mut line = String::new();
        reader.read_line(&mut line).map(|_| (line, reader))
    });
    Ok(timeout(Duration::from_secs(10), read).await???)
}

fn address(line: &str, prefix: &str) -> Result<SocketAddr, Error> {
    Ok(line
        .trim_end()
        .strip_prefix(prefix)
        .ok_or_else(|| format!("expected `{prefix}ADDR`, got {line:?}"))?
        .parse()?)
}

#[tokio::test]
async fn binary_mints_and_obeys_the_control_api() -> TestResult {
    let key_dir = std::env::temp_dir().join(format!(
        "clawchaos-token-service-bin-{}-{}",
        std::process::id(),
        system_now()
    ));
    std::fs::create_dir_all(&key_dir)?;
    let mut child = Running(
        Command::new(BIN)
            .args(["--listen", "127.0.0.1:0", "--control-listen", "127.0.0.1:0"])
            .args(["--alg", "hs256", "--ttl", "90s", "--clock-offset", "-2h"])
            .args([
                "--audience",
                "rabbitmq",
                "--kid",
                "bin-kid",
                "--subject",
                "bin",
            ])
            .arg("--key-out")
            .arg(&key_dir)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?,
    );
    let stdout = child.0.stdout.take().ok_or("no stdout")?;
    // Readiness is the printed line, nothing else.
    let (line, stdout) = read_line(BufReader::new(stdout)).await?;
    let addr = address(&line, "listening on ")?;
    let (line, stdout) = read_line(stdout).await?;
    let control = address(&line, "control listening on ")?;
    let base = format!("http://{addr}");
    let ctl = format!("http://{control}/control");
    let http = reqwest::Client::new();

    // The key file, written before the lines, verifies the token.
    let key = VerifyKey::Hs256 {
        secret_base64url: std::fs::read_to_string(key_dir.join("hs256.key"))?
            .trim()
            .to_string(),
    };
    let (status, answer) = post(&http, &base, "/token", None).await?;
    assert_eq!(status, 200, "{answer}");
    let (header, claims) = verify(access_token(&answer)?, &key, Algorithm::HS256)?;
    assert_eq!(header.kid.as_deref(), Some("bin-kid"));
    assert_eq!(claims.sub, "bin");
    assert_eq!(claims.exp - claims.iat, 90);
    assert_near("iat", claims.iat, system_now() - 7200, 2);

    // Clock and ttl through the control API.
    let put =
        |path: &str, body: serde_json::Value| http.put(format!("{ctl}{path}")).json(&body).send();
    assert_eq!(
        put("/clock", serde_json::json!({"offset_seconds": 600}))
            .await?
            .status(),
        204
    );
    assert_eq!(
        put("/ttl", serde_json::json!({"ttl_seconds": 5}))
            .await?
            .status(),
        204
    );
    let (_, answer) = post(&http, &base, "/refresh", None).await?;
    let (_, claims) = verify(access_token(&answer)?, &key, Algorithm::HS256)?;
    assert_eq!(claims.exp - claims.iat, 5);
    assert_near("iat", claims.iat, system_now() + 600, 2);
    let state: serde_json::Value = http
        .get(format!("{ctl}/state"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(state["mode"], "ok");
    assert_eq!(state["offset_seconds"], 600);
    assert_eq!(state["ttl_seconds"], 5);

    // Error mode, then down (the port refuses), then back up on the same port.
    let error = put("/mode", serde_json::json!({"mode": "error", "status": 503})).await?;
    assert_eq!(error.status(), 204);
    let (status, body) = post(&http, &base, "/token", None).await?;
    assert_eq!(
        (status, body["error"].as_str()),
        (503, Some("temporarily_unavailable"))
    );
    assert_eq!(
        put("/mode", serde_json::json!({"mode": "down"}))
            .await?
            .status(),
        204
    );
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "listening while down"
    );
    let bad = put("/mode", serde_json::json!({"mode": "error", "status": 200})).await?;
    assert_eq!(bad.status(), 400);
    assert_eq!(
        http.post(format!("{ctl}/reset")).send().await?.status(),
        204
    );
    let (status, answer) = post(&http, &base, "/token", None).await?;
    assert_eq!(status, 200, "{answer}");
    let (_, claims) = verify(access_token(&answer)?, &key, Algorithm::HS256)?;
    assert_eq!(claims.exp - claims.iat, 90, "reset clears the ttl override");
    assert_near("iat", claims.iat, system_now() - 7200, 2);

    let journal: serde_json::Value = http
        .get(format!("{ctl}/journal"))
        .send()
        .await?
        .json()
        .await?;
    let outcomes: Vec<_> = journal["requests"]
        .as_array()
        .ok_or("no requests")?
        .iter()
        .map(|e| (e["route"].as_str(), e["outcome"].as_str()))
        .collect();
    assert_eq!(
        outcomes,
        [
            (Some("/token"), Some("issued")),
            (Some("/refresh"), Some("issued")),
            (Some("/token"), Some("error:503")),
            (Some("/token"), Some("issued")),
        ]
    );
    assert!(!journal.to_string().contains(access_token(&answer)?));

    // SIGTERM by pid: a clean exit, and nothing more on stdout.
    let term = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()?;
    assert!(term.success(), "kill -TERM failed");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.0.try_wait()? {
            break status;
        }
        assert!(Instant::now() < deadline, "no exit within 10 s of SIGTERM");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(status.success(), "exit status {status}");
    let mut rest = String::new();
    stdout.into_inner().read_to_string(&mut rest)?;
    assert_eq!(rest, "", "stdout after the address lines");
    std::fs::remove_dir_all(&key_dir)?;
    Ok(())
}

#[tokio::test]
async fn binary_refuses_a_non_loopback_address() -> TestResult {
    let output = tokio::task::spawn_blocking(|| {
        Command::new(BIN)
            .args(["--listen", "0.0.0.0:0"])
            .stdin(Stdio::null())
            .output()
    });
    let output = timeout(Duration::from_secs(10), output).await???;
    assert!(!output.status.success(), "started on 0.0.0.0");
    assert!(
        output.stdout.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&output.stdout)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("only loopback"), "{stderr}");
    Ok(())
}
