//! Mints and refreshes JWTs that RabbitMQ's `rabbitmq_auth_backend_oauth2` accepts as the
//! AMQP password, and misbehaves on demand.
//!
//! Tokens are HS256 (a random 32-byte secret) or RS256 (a fresh 2048-bit key), both made at
//! every start and never stored in code. The broker is given the verification half:
//! [`TokenService::hs256_secret_base64url`] (a JWK `k`) or
//! [`TokenService::rs256_public_key_pem`]. Claims are `sub`, `aud`, `scope`, `iat`, `nbf`,
//! `exp` and a unique `jti`, with the configured `kid` in the header.
//!
//! What a scenario can turn at run time: the [`Mode`] (`Ok`, an HTTP `Error`, or `Down` —
//! port closed, re-bound on the way back up), the issuer's clock offset, and a ttl override.
//! Every `/token` and `/refresh` request is journaled ([`JournalEntry`]) without the token.
//!
//! Embedded in-process:
//!
//! ```
//! use clawchaos_token_service::{Mode, TokenService, TokenServiceConfig};
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let tokens = TokenService::start(TokenServiceConfig::default()).await?;
//! let secret = tokens.hs256_secret_base64url(); // for the broker's advanced.config
//! assert!(secret.is_some());
//!
//! let http = reqwest::Client::new();
//! let answer: serde_json::Value =
//!     http.post(format!("{}/token", tokens.base_url())).send().await?.json().await?;
//! assert_eq!(answer["expires_in"], 60);
//!
//! // The issuer's clock runs two hours behind, and then it fails outright.
//! tokens.set_clock_offset(-7200);
//! tokens.set_mode(Mode::Error { status: 503 }).await?;
//! let refused = http.post(format!("{}/refresh", tokens.base_url())).send().await?;
//! assert_eq!(refused.status(), 503);
//! assert_eq!(tokens.journal().len(), 2);
//!
//! tokens.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! Run as its own process (`clawchaos-token-service --control-listen 127.0.0.1:0`), the same
//! knobs are an HTTP control API on a second port: `PUT /control/mode`, `/control/clock`,
//! `/control/ttl`, `GET /control/state`, `GET`/`DELETE /control/journal`,
//! `POST /control/reset`.

#![warn(missing_docs)]

mod claims;
mod config;
mod control;
mod error;
mod journal;
mod keys;
mod listener;
mod server;
mod service;
mod state;

pub use claims::Claims;
pub use config::{SigningAlg, TokenServiceConfig};
pub use error::TokenServiceError;
pub use journal::{JournalEntry, Outcome, Route};
pub use keys::VerifyKey;
pub use service::TokenService;
pub use state::Mode;
