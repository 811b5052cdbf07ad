//! No key material and no token in any log line, and `Debug` redacts the secret.
//!
//! Its own test binary: it installs a process-wide subscriber capturing every event.

mod common;

use std::{
    io,
    sync::{Arc, Mutex},
};

use clawchaos_token_service::{Mode, SigningAlg, TokenServiceConfig};
use common::{TestResult, access_token, mint, start};
use tracing_subscriber::fmt::MakeWriter;

/// Everything written to it, kept.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    fn text(&self) -> String {
        let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Ok(mut bytes) = self.0.lock() {
            bytes.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_or_token_in_logs_or_debug() -> TestResult {
    let capture = Capture::default();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(capture.clone())
        .try_init()?;

    let http = reqwest::Client::new();
    for alg in [SigningAlg::Hs256, SigningAlg::Rs256] {
        let service = start(TokenServiceConfig {
            alg,
            control_addr: Some(([127, 0, 0, 1], 0).into()),
            ..TokenServiceConfig::default()
        })
        .await;
        let answer = mint(&http, &service).await?;
        let token = access_token(&answer)?.to_string();
        service.set_ttl(Some(std::time::Duration::from_secs(5)));
        service.set_mode(Mode::Down).await?;
        service.set_mode(Mode::Ok).await?;
        let control = service.control_addr().ok_or("no control API")?;
        http.get(format!("http://{control}/control/journal"))
            .send()
            .await?;
        let jti = service.journal()[0].jti.clone().ok_or("no jti")?;

        let secret = service.hs256_secret_base64url().map(str::to_string);
        let debug = format!("{service:?} {:?}", service.verify_key());
        service.shutdown().await;
        let logs = capture.text();

        // The capture works: the mint was logged, by its id.
        assert!(logs.contains(&jti), "no log line names jti {jti}:\n{logs}");
        let signature = token.rsplit('.').next().ok_or("no signature")?;
        for (what, text) in [("logs", &logs), ("Debug", &debug)] {
            assert!(!text.contains(&token), "{what} hold the token");
            assert!(
                !text.contains(signature),
                "{what} hold the token's signature"
            );
        }
        match (alg, secret) {
            (SigningAlg::Hs256, Some(secret)) => {
                assert!(debug.contains("[redacted]"), "{debug}");
                for encoded in secret_encodings(&secret)? {
                    assert!(!logs.contains(&encoded), "logs hold the secret");
                    assert!(!debug.contains(&encoded), "Debug holds the secret");
                }
            }
            (SigningAlg::Rs256, None) => {
                // The public key may be shown; the private key never is.
                for marker in ["PRIVATE KEY", "BEGIN RSA"] {
                    assert!(!logs.contains(marker), "logs hold {marker}");
                    assert!(!debug.contains(marker), "Debug holds {marker}");
                }
            }
            (alg, secret) => panic!("{alg} service, secret present: {}", secret.is_some()),
        }
    }
    Ok(())
}

/// The secret as base64url, standard base64 and hex.
fn secret_encodings(base64url: &str) -> Result<Vec<String>, common::Error> {
    use base64::{
        Engine,
        engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD},
    };
    let raw = URL_SAFE_NO_PAD.decode(base64url)?;
    let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    Ok(vec![
        base64url.to_string(),
        STANDARD_NO_PAD.encode(&raw),
        hex,
    ])
}
