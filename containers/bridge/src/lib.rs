//! claw-bridge: the queue worker of an OpenClaw deployment under chaos test.
//!
//! It consumes tasks from RabbitMQ (`openclaw_tasks`) or Kafka (`openclaw.tasks`), runs each
//! through the OpenClaw gateway's `/v1/chat/completions`, publishes the result with the task id
//! (`openclaw_results` / `openclaw.results`), acknowledges a task only once its result is
//! confirmed, skips redeliveries of tasks already done, refreshes its broker JWT, and reports
//! each link's state on `GET /health` and in one log line per change.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use clawchaos_bridge::{Bridge, config::Config};
//! let config = Config::load("bridge.yaml".as_ref(), &|k| std::env::var(k).ok())?;
//! let bridge = Bridge::start(config).await?;
//! println!("health on http://{}/health", bridge.health_addr());
//! bridge.run_until(clawchaos_service_kit::shutdown_signal()).await?;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod backoff;
pub mod bridge;
pub mod broker;
pub mod classify;
pub mod config;
pub mod dedup;
pub mod gateway;
pub mod health;
pub mod pipeline;
pub mod secret;
pub mod stop;
pub mod task;
pub mod text;
pub mod token;

pub use bridge::{Bridge, BridgeError};
