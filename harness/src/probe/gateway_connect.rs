//! The gateway-connect probe: OpenClaw's WebSocket handshake as the dashboard makes it.
//!
//! The gateway sends `connect.challenge` (a nonce and a timestamp); the client answers with a
//! `connect` request carrying the gateway token and a device identity that signs the nonce
//! (Ed25519, the `v2` payload of OpenClaw's protocol docs). The gateway answers `hello-ok` or
//! an error and closes the socket (1008 for policy refusals such as a disallowed Origin).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer as _, SigningKey};
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use super::{ProbeContext, ms};
use crate::scenario::{ConnectOutcome, ProbeKind};

/// The id of the probe's `connect` request.
const REQUEST_ID: &str = "clawchaos-connect";

/// How a handshake ended.
#[derive(Debug, PartialEq)]
enum Answer {
    /// `hello-ok`, with the server version it reported.
    Accepted { server: String },
    /// An error answer or a close before any answer.
    Refused {
        message: String,
        code: Option<String>,
    },
    /// No answer: the connection failed, or the gateway said something unexpected.
    Failed(String),
}

pub(super) async fn evaluate(kind: &ProbeKind, context: &ProbeContext) -> (bool, String) {
    let ProbeKind::GatewayConnect {
        target,
        family,
        path,
        origin,
        token,
        client,
        outcome,
        error,
        timeout,
        clock_offset_secs,
    } = kind
    else {
        return (false, "not a gateway_connect probe".to_string());
    };
    let signer = Signer {
        origin: origin.as_deref(),
        token,
        client,
        clock_offset_ms: clock_offset_secs.saturating_mul(1000),
    };
    let addr = match context.target_addr(target, *family) {
        Ok(a) => a,
        Err(e) => return (false, e),
    };
    let url = format!("ws://{addr}{path}");
    let answer = match tokio::time::timeout(*timeout, handshake(&url, &signer)).await {
        Ok(answer) => answer,
        Err(_) => Answer::Failed(format!("no answer within {}", ms(*timeout))),
    };
    judge(*outcome, error.as_ref(), &answer)
}

fn judge(outcome: ConnectOutcome, error: Option<&regex::Regex>, answer: &Answer) -> (bool, String) {
    match answer {
        Answer::Accepted { server } => (
            outcome == ConnectOutcome::Accepted,
            format!("accepted (hello-ok from {server})"),
        ),
        Answer::Refused { message, code } => {
            let matches = error.is_none_or(|e| e.is_match(message));
            let code = code
                .as_deref()
                .map(|c| format!(" [{c}]"))
                .unwrap_or_default();
            (
                outcome == ConnectOutcome::Refused && matches,
                format!("refused: {message}{code}"),
            )
        }
        Answer::Failed(why) => (false, format!("no handshake: {why}")),
    }
}

/// A device identity that stays the same for every evaluation of the same probe settings, so
/// the gateway sees one device rather than a new one per poll.
fn device_key(origin: Option<&str>, client_id: &str) -> SigningKey {
    let seed: [u8; 32] = Sha256::new()
        .chain_update(b"clawchaos gateway_connect probe|")
        .chain_update(origin.unwrap_or("").as_bytes())
        .chain_update(b"|")
        .chain_update(client_id.as_bytes())
        .finalize()
        .into();
    SigningKey::from_bytes(&seed)
}

/// The `connect` request answering `challenge`.
fn connect_request(
    key: &SigningKey,
    token: &str,
    (client_id, client_mode): &(String, String),
    nonce: &str,
    signed_at: u64,
) -> Value {
    let public = key.verifying_key().to_bytes();
    let device_id: String = Sha256::digest(public)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let (role, scopes) = ("operator", ["operator.read"]);
    let payload = [
        "v2",
        &device_id,
        client_id,
        client_mode,
        role,
        &scopes.join(","),
        &signed_at.to_string(),
        token,
        nonce,
    ]
    .join("|");
    let signature = URL_SAFE_NO_PAD.encode(key.sign(payload.as_bytes()).to_bytes());
    json!({
        "type": "req",
        "id": REQUEST_ID,
        "method": "connect",
        "params": {
            "minProtocol": 4,
            "maxProtocol": 4,
            "client": {
                "id": client_id,
                "version": env!("CARGO_PKG_VERSION"),
                "platform": "linux",
                "mode": client_mode,
            },
            "role": role,
            "scopes": scopes,
            "caps": [],
            "commands": [],
            "permissions": {},
            "auth": { "token": token },
            "locale": "en-US",
            "userAgent": concat!("clawchaos/", env!("CARGO_PKG_VERSION")),
            "device": {
                "id": device_id,
                "publicKey": URL_SAFE_NO_PAD.encode(public),
                "signature": signature,
                "signedAt": signed_at,
                "nonce": nonce,
            },
        },
    })
}

/// Who the probe says it is in the handshake, and how far its clock is off the gateway's.
struct Signer<'a> {
    origin: Option<&'a str>,
    token: &'a str,
    client: &'a (String, String),
    clock_offset_ms: i64,
}

async fn handshake(url: &str, signer: &Signer<'_>) -> Answer {
    let origin = signer.origin;
    let mut request = match url.into_client_request() {
        Ok(r) => r,
        Err(e) => return Answer::Failed(format!("bad url {url}: {e}")),
    };
    if let Some(origin) = origin {
        match HeaderValue::from_str(origin) {
            Ok(v) => {
                request.headers_mut().insert("origin", v);
            }
            Err(e) => return Answer::Failed(format!("bad origin {origin:?}: {e}")),
        }
    }
    let mut socket = match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => socket,
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            return Answer::Refused {
                message: format!("upgrade refused with HTTP {}", response.status()),
                code: None,
            };
        }
        Err(e) => return Answer::Failed(e.to_string()),
    };
    let answer = converse(&mut socket, signer).await;
    let _ = socket.close(None).await;
    answer
}

async fn converse<S>(
    socket: &mut tokio_tungstenite::WebSocketStream<S>,
    signer: &Signer<'_>,
) -> Answer
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut sent = false;
    while let Some(message) = socket.next().await {
        let text = match message {
            Ok(Message::Text(text)) => text,
            Ok(Message::Close(frame)) => {
                return Answer::Refused {
                    message: frame
                        .as_ref()
                        .map_or_else(String::new, |f| f.reason.to_string()),
                    code: frame.map(|f| format!("close {}", u16::from(f.code))),
                };
            }
            Ok(_) => continue,
            Err(e) => return Answer::Failed(e.to_string()),
        };
        let frame: Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => return Answer::Failed(format!("not JSON from the gateway: {e}")),
        };
        if !sent && frame["event"] == "connect.challenge" {
            let (Some(nonce), Some(ts)) = (
                frame.pointer("/payload/nonce").and_then(Value::as_str),
                frame.pointer("/payload/ts").and_then(Value::as_u64),
            ) else {
                return Answer::Failed(format!("a challenge without nonce or ts: {text}"));
            };
            let key = device_key(signer.origin, &signer.client.0);
            // The client's clock: the gateway's, shifted by the probe's offset.
            let signed_at = ts.saturating_add_signed(signer.clock_offset_ms);
            let request = connect_request(&key, signer.token, signer.client, nonce, signed_at);
            if let Err(e) = socket.send(Message::text(request.to_string())).await {
                return Answer::Failed(format!("cannot send connect: {e}"));
            }
            sent = true;
            continue;
        }
        if frame["type"] == "res" && frame["id"] == REQUEST_ID {
            return if frame["ok"] == true {
                Answer::Accepted {
                    server: frame
                        .pointer("/payload/server/version")
                        .and_then(Value::as_str)
                        .unwrap_or("an unnamed server")
                        .to_string(),
                }
            } else {
                Answer::Refused {
                    message: frame
                        .pointer("/error/message")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    code: frame
                        .pointer("/error/details/code")
                        .or_else(|| frame.pointer("/error/code"))
                        .and_then(Value::as_str)
                        .map(str::to_string),
                }
            };
        }
    }
    Answer::Failed("the gateway closed the connection without a close frame".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::Verifier as _;

    #[test]
    fn the_device_key_is_stable_per_settings_and_differs_between_them() {
        let a = device_key(Some("http://a.test"), "openclaw-control-ui");
        let b = device_key(Some("http://a.test"), "openclaw-control-ui");
        let c = device_key(Some("http://b.test"), "openclaw-control-ui");
        assert_eq!(a.to_bytes(), b.to_bytes());
        assert_ne!(a.to_bytes(), c.to_bytes());
    }

    #[test]
    fn connect_signs_the_v2_payload_with_the_nonce_and_token() {
        let key = device_key(None, "cli");
        let client = ("openclaw-control-ui".to_string(), "ui".to_string());
        let request = connect_request(&key, "tok", &client, "nonce-1", 1_700_000_000_000);
        let device = &request["params"]["device"];
        let id = device["id"].as_str().unwrap_or_default();
        let expected_id: String = Sha256::digest(key.verifying_key().to_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(id, expected_id);
        let payload = format!(
            "v2|{id}|openclaw-control-ui|ui|operator|operator.read|1700000000000|tok|nonce-1"
        );
        let signature = URL_SAFE_NO_PAD
            .decode(device["signature"].as_str().unwrap_or_default())
            .expect("base64url signature");
        let signature =
            ed25519_dalek::Signature::from_slice(&signature).expect("a 64-byte signature");
        assert!(
            key.verifying_key()
                .verify(payload.as_bytes(), &signature)
                .is_ok()
        );
        assert_eq!(request["params"]["auth"]["token"], "tok");
        assert_eq!(device["nonce"], "nonce-1");
    }

    #[test]
    fn judge_requires_the_outcome_and_the_refusal_pattern() {
        let refused = Answer::Refused {
            message: "origin not allowed (open the Control UI from the gateway host)".into(),
            code: Some("CONTROL_UI_ORIGIN_NOT_ALLOWED".into()),
        };
        let pattern = regex::Regex::new("origin not allowed").ok();
        let other = regex::Regex::new("device identity").ok();
        assert!(judge(ConnectOutcome::Refused, pattern.as_ref(), &refused).0);
        assert!(!judge(ConnectOutcome::Refused, other.as_ref(), &refused).0);
        assert!(!judge(ConnectOutcome::Accepted, None, &refused).0);
        let accepted = Answer::Accepted {
            server: "2026.9.6".into(),
        };
        assert!(judge(ConnectOutcome::Accepted, None, &accepted).0);
        assert!(!judge(ConnectOutcome::Refused, None, &accepted).0);
        let failed = Answer::Failed("connection refused".into());
        assert!(!judge(ConnectOutcome::Refused, None, &failed).0);
        assert!(!judge(ConnectOutcome::Accepted, None, &failed).0);
    }
}
