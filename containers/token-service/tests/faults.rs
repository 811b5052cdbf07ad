//! Failure modes: error answers, and going down for real (and back up on the same port).

mod common;

use std::{net::Ipv4Addr, time::Duration};

use clawchaos_token_service::{Mode, Outcome, TokenService, TokenServiceConfig, TokenServiceError};
use common::{TestResult, default_service, mint, post};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    time::timeout,
};

#[tokio::test]
async fn error_mode_answers_the_status_with_an_oauth_body() -> TestResult {
    let service = default_service().await;
    let http = reqwest::Client::new();
    let base = service.base_url();

    service.set_mode(Mode::Error { status: 503 }).await?;
    assert_eq!(service.mode(), Mode::Error { status: 503 });
    for route in ["/token", "/refresh"] {
        let (status, body) = post(&http, &base, route, None).await?;
        assert_eq!(status, 503, "{route}");
        assert_eq!(body["error"], "temporarily_unavailable", "{route}: {body}");
        assert!(body["error_description"].is_string(), "{body}");
        assert!(body.get("access_token").is_none());
    }

    service.set_mode(Mode::Error { status: 401 }).await?;
    let (status, body) = post(&http, &base, "/token", None).await?;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_client");

    // Health still answers: the process is up, minting is what fails.
    let health = http.get(format!("{base}/health")).send().await?;
    assert_eq!(health.status(), 200);

    let outcomes: Vec<Outcome> = service.journal().iter().map(|e| e.outcome).collect();
    assert_eq!(
        outcomes,
        [
            Outcome::Error(503),
            Outcome::Error(503),
            Outcome::Error(401)
        ]
    );

    service.set_mode(Mode::Ok).await?;
    mint(&http, &service).await?;
    Ok(())
}

#[tokio::test]
async fn error_mode_needs_an_error_status() -> TestResult {
    let service = default_service().await;
    let refused = service.set_mode(Mode::Error { status: 200 }).await;
    assert!(
        matches!(refused, Err(TokenServiceError::InvalidStatus(200))),
        "{refused:?}"
    );
    assert_eq!(service.mode(), Mode::Ok);
    Ok(())
}

#[tokio::test]
async fn down_refuses_connections_and_ok_rebinds_the_same_port() -> TestResult {
    let service = default_service().await;
    let addr = service.addr();
    let http = reqwest::Client::new();
    mint(&http, &service).await?;

    // A keep-alive connection that has already been served once.
    let mut open = TcpStream::connect(addr).await?;
    open.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
        .await?;
    let mut buf = [0u8; 1024];
    let n = timeout(Duration::from_secs(5), open.read(&mut buf)).await??;
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&buf[..n])
    );

    service.set_mode(Mode::Down).await?;
    assert_eq!(service.mode(), Mode::Down);
    let refused = TcpStream::connect(addr).await;
    assert!(refused.is_err(), "{addr} still accepts connections");
    // The open connection was cut too: EOF or a reset, not an answer.
    let _ = open
        .write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
        .await;
    match timeout(Duration::from_secs(5), open.read(&mut buf)).await? {
        Ok(0) | Err(_) => {}
        Ok(n) => panic!(
            "a cut connection answered: {:?}",
            String::from_utf8_lossy(&buf[..n])
        ),
    }
    assert!(mint(&http, &service).await.is_err(), "minted while down");

    // Back up: same address, serving again.
    service.set_mode(Mode::Ok).await?;
    assert_eq!(service.addr(), addr);
    let answer = mint(&http, &service).await?;
    assert_eq!(answer["token_type"], "Bearer");

    // Down, then straight to an error mode: also re-bound.
    service.set_mode(Mode::Down).await?;
    service.set_mode(Mode::Error { status: 502 }).await?;
    let (status, _) = post(&http, &service.base_url(), "/token", None).await?;
    assert_eq!(status, 502);

    // Down twice is harmless; reset brings it back.
    service.set_mode(Mode::Down).await?;
    service.set_mode(Mode::Down).await?;
    service.reset().await?;
    mint(&http, &service).await?;
    service.shutdown().await;
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "still listening after shutdown"
    );
    Ok(())
}

#[tokio::test]
async fn a_taken_port_keeps_it_down_with_an_error() -> TestResult {
    let service = default_service().await;
    let addr = service.addr();
    service.set_mode(Mode::Down).await?;
    let squatter = std::net::TcpListener::bind(addr)?;
    let result = service.set_mode(Mode::Ok).await;
    assert!(
        matches!(result, Err(TokenServiceError::Bind { .. })),
        "{result:?}"
    );
    assert_eq!(service.mode(), Mode::Down);
    drop(squatter);
    service.set_mode(Mode::Ok).await?;
    mint(&reqwest::Client::new(), &service).await?;
    Ok(())
}

#[tokio::test]
async fn only_loopback_addresses_are_accepted() -> TestResult {
    for addr in [
        (Ipv4Addr::UNSPECIFIED, 0).into(),
        (Ipv4Addr::new(10, 0, 0, 1), 0).into(),
    ] {
        let result = TokenService::start(TokenServiceConfig {
            addr,
            ..TokenServiceConfig::default()
        })
        .await;
        let message = result
            .err()
            .ok_or("started on a non-loopback address")?
            .to_string();
        assert!(message.contains("only loopback"), "{message}");
    }
    let result = TokenService::start(TokenServiceConfig {
        control_addr: Some((Ipv4Addr::UNSPECIFIED, 0).into()),
        ..TokenServiceConfig::default()
    })
    .await;
    assert!(
        matches!(result, Err(TokenServiceError::NotLoopback { .. })),
        "control API on 0.0.0.0: {result:?}"
    );
    Ok(())
}

#[tokio::test]
async fn dropping_the_handle_closes_both_ports() -> TestResult {
    let service = common::start(TokenServiceConfig {
        control_addr: Some((Ipv4Addr::LOCALHOST, 0).into()),
        ..TokenServiceConfig::default()
    })
    .await;
    let addr = service.addr();
    let control = service.control_addr().ok_or("no control API")?;
    assert!(TcpStream::connect(control).await.is_ok());
    drop(service);
    // Stopping after a drop is asynchronous: poll, with a deadline.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(addr).await.is_ok() || TcpStream::connect(control).await.is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "still listening 5 s after the handle was dropped"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}
