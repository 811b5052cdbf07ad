//! A Toxiproxy-compatible TCP proxy for fault injection, embeddable in-process.
//!
//! The HTTP API speaks Toxiproxy 2.x (the same routes, JSON and status codes), so the same
//! client drives this server or a real Toxiproxy. Toxics follow Toxiproxy's semantics:
//! latency is pipelined (each chunk is delayed from its own arrival), a toxic changed on an
//! open connection applies to its own direction, removing a `timeout` closes the connection,
//! `timeout: 0` on one stream is a one-way blackhole. With no toxic active a connection is a
//! plain copy.
//!
//! Where it deliberately differs from Toxiproxy 2.12:
//! - a TCP half-close passes through (Toxiproxy closes both sides on the first EOF);
//! - `toxicity` outside 0..=1 and negative attributes are refused with 400, the message naming
//!   the field (`attributes.latency: invalid value: integer `-500`, expected u64`);
//! - bad input never answers 500: a listen address that is not `host:port` with a port of
//!   0 to 65535, or not this host's, is 400; one in use is 409;
//! - proxy and toxic names must round-trip through a URL path: 1 to 128 of `A-Z a-z 0-9 - . _ ~`,
//!   not `.` or `..` (400 otherwise);
//! - `bandwidth` needs `rate` of at least 1 (Toxiproxy takes 0, which holds every byte: use
//!   `timeout` to stall a link);
//! - every error, 403, 404, 405 and 413 included, is the JSON `{"error", "status"}`;
//! - `POST /populate` also takes `{"proxies": [...]}`, not only a bare array;
//! - a proxy created without `listen` listens on `127.0.0.1:0`, not on every interface;
//! - `reset_peer` resets with RST even when added to an open connection, and updating a toxic
//!   re-rolls its toxicity only when the toxicity changed;
//! - latency, bandwidth, slicer and slow_close wake on a sub-millisecond timer.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use clawchaos_proxy::{ProxyServer, ProxyServerConfig};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // An echo server to stand behind the proxy.
//! let echo = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let upstream = echo.local_addr()?;
//! tokio::spawn(async move {
//!     while let Ok((mut socket, _)) = echo.accept().await {
//!         tokio::spawn(async move {
//!             let (mut read, mut write) = socket.split();
//!             let _ = tokio::io::copy(&mut read, &mut write).await;
//!         });
//!     }
//! });
//!
//! let server = ProxyServer::start(ProxyServerConfig { seed: Some(7), ..Default::default() }).await?;
//! let http = reqwest::Client::new();
//! let proxy: serde_json::Value = http
//!     .post(format!("{}/proxies", server.url()))
//!     .json(&serde_json::json!({"name": "echo", "listen": "127.0.0.1:0", "upstream": upstream.to_string()}))
//!     .send().await?.error_for_status()?.json().await?;
//! http.post(format!("{}/proxies/echo/toxics", server.url()))
//!     .json(&serde_json::json!({"type": "latency", "stream": "downstream", "attributes": {"latency": 50}}))
//!     .send().await?.error_for_status()?;
//!
//! let listen = proxy["listen"].as_str().ok_or("no listen address")?;
//! let mut client = tokio::net::TcpStream::connect(listen).await?;
//! let sent = Instant::now();
//! client.write_all(b"ping").await?;
//! let mut reply = [0; 4];
//! client.read_exact(&mut reply).await?;
//! assert_eq!(&reply, b"ping");
//! assert!(sent.elapsed() >= Duration::from_millis(50));
//! server.shutdown().await;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod api;
mod collection;
mod connection;
mod error;
mod link;
pub mod model;
mod proxy;
mod ring;
mod server;
mod stream;
mod timer;
mod toxic_collection;
mod toxics;

pub use error::ProxyError;
pub use server::{ProxyServer, ProxyServerConfig, serve};
