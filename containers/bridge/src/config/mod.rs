//! The bridge's configuration: an `openclaw.config.yaml`-style file, overridden by the
//! environment, validated (loopback only, unless `bridge.own_network_namespace: true` says
//! the bridge is alone in a network namespace the harness made) before anything starts.

mod duration;
mod env;
mod locate;
pub mod loopback;
mod raw;
mod resolve;

pub use env::ENV_VARS;
pub use locate::{Position, locate};

use crate::secret::Secret;
use raw::RawConfig;
use reqwest::Url;
use serde::Deserialize;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// Which broker carries tasks and results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BrokerKind {
    /// RabbitMQ over AMQP 0-9-1.
    Rabbitmq,
    /// Kafka (or a Kafka-protocol broker such as Tansu).
    Kafka,
}

impl FromStr for BrokerKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "rabbitmq" => Ok(BrokerKind::Rabbitmq),
            "kafka" => Ok(BrokerKind::Kafka),
            other => Err(format!("expected `rabbitmq` or `kafka`, found `{other}`")),
        }
    }
}

impl fmt::Display for BrokerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BrokerKind::Rabbitmq => "rabbitmq",
            BrokerKind::Kafka => "kafka",
        })
    }
}

/// When a task is acknowledged relative to its result's publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AckMode {
    /// Acknowledge once the result's publish is confirmed (correct: nothing is lost).
    AfterPublish,
    /// Acknowledge on receipt, before processing (deliberately wrong: a crash loses the task).
    BeforePublish,
}

/// Where the broker credential (a JWT) comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// No JWT: the credentials in the broker URL (if any) are used.
    None,
    /// A fixed token (`OPENCLAW_MESSAGING_TOKEN`); it cannot be refreshed.
    Static(Secret),
    /// Minted by the token service: `POST url`; refreshed with `POST` to `refresh_url`.
    Service {
        /// The mint endpoint, e.g. `http://127.0.0.1:7000/token`.
        url: Url,
        /// The refresh endpoint: the same base with `refresh` as the last segment.
        refresh_url: Url,
    },
}

/// `messaging.token` resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSettings {
    /// Where tokens come from.
    pub source: TokenSource,
    /// Refresh this long before `exp` (by our clock).
    pub refresh_before: Duration,
    /// Allowed difference between our clock and the issuer's.
    pub leeway: Duration,
}

/// Kafka SASL credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sasl {
    /// `SCRAM-SHA-256`, `SCRAM-SHA-512` or `PLAIN`.
    pub mechanism: String,
    /// The user name.
    pub username: String,
    /// The password.
    pub password: Secret,
}

/// `messaging:` resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Messaging {
    /// Which broker.
    pub broker: BrokerKind,
    /// AMQP URL (RabbitMQ) or bootstrap servers (Kafka).
    pub url: String,
    /// The queue/topic tasks arrive on.
    pub tasks: String,
    /// The queue/topic results go to.
    pub results: String,
    /// AMQP heartbeat interval.
    pub heartbeat: Duration,
    /// How many unacknowledged tasks the broker hands us at once (RabbitMQ); on Kafka, how
    /// many wait per partition behind the one in hand.
    pub prefetch: u16,
    /// How long a result publish may wait for its confirm before the link counts as stalled.
    pub publish_timeout: Duration,
    /// JWT settings.
    pub token: TokenSettings,
    /// Kafka SASL, if any.
    pub sasl: Option<Sasl>,
}

/// `gateway:` resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gateway {
    /// Base URL of the OpenClaw gateway.
    pub url: Url,
    /// Bearer token for the gateway.
    pub token: Secret,
    /// The model name sent in each request.
    pub model: String,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Tries per task before a `failed` result.
    pub attempts: u32,
}

/// `bridge:` resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeSettings {
    /// Where `GET /health` is served.
    pub health_listen: SocketAddr,
    /// When tasks are acknowledged.
    pub ack: AckMode,
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The messaging link.
    pub messaging: Messaging,
    /// The gateway link.
    pub gateway: Gateway,
    /// The bridge itself.
    pub bridge: BridgeSettings,
}

/// Where a configuration error was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A place in the file.
    File {
        /// The file.
        path: PathBuf,
        /// Line and column, when known.
        position: Option<Position>,
    },
    /// An environment variable.
    Env(&'static str),
}

/// A configuration error: where, and what was expected. Displays as `FILE:LINE:COL: message`
/// (or `VAR: message` for the environment).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct ConfigError {
    /// Where.
    pub origin: Origin,
    /// What was expected.
    pub message: String,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File {
                path,
                position: Some(p),
            } => write!(f, "{}:{}:{}", path.display(), p.line, p.column),
            Origin::File {
                path,
                position: None,
            } => write!(f, "{}", path.display()),
            Origin::Env(var) => f.write_str(var),
        }
    }
}

/// The default AMQP heartbeat.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(5);
/// The default prefetch.
pub const DEFAULT_PREFETCH: u16 = 4;
/// The default confirm/delivery wait before a publish counts as stalled.
pub const DEFAULT_PUBLISH_TIMEOUT: Duration = Duration::from_secs(15);
/// The default refresh margin before `exp`.
pub const DEFAULT_REFRESH_BEFORE: Duration = Duration::from_secs(10);
/// The default clock leeway.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);
/// The default gateway model.
pub const DEFAULT_MODEL: &str = "openclaw";
/// The default gateway timeout.
pub const DEFAULT_GATEWAY_TIMEOUT: Duration = Duration::from_secs(60);
/// The default gateway tries per task.
pub const DEFAULT_ATTEMPTS: u32 = 3;
/// The default health address.
pub const DEFAULT_HEALTH_LISTEN: &str = "127.0.0.1:8080";

impl Config {
    /// Reads, parses and validates `path`, with `env` (a variable lookup) overriding the file.
    pub fn load(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            origin: Origin::File {
                path: path.to_owned(),
                position: None,
            },
            message: format!("cannot read the config file: {e}"),
        })?;
        Self::from_yaml(&text, path, env)
    }

    /// Parses and validates `text` (named `path` in errors), with `env` overriding it.
    pub fn from_yaml(
        text: &str,
        path: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let raw = parse_raw(text, path)?;
        let at = |keys: &[&str], message: String| ConfigError {
            origin: Origin::File {
                path: path.to_owned(),
                position: locate(text, keys),
            },
            message,
        };
        resolve::Resolver { raw, env, at: &at }.resolve()
    }
}

fn parse_raw(text: &str, path: &Path) -> Result<RawConfig, ConfigError> {
    if text.trim().is_empty()
        || text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        return Err(ConfigError {
            origin: Origin::File {
                path: path.to_owned(),
                position: Some(Position { line: 1, column: 1 }),
            },
            message: "expected a mapping with `messaging:` and `gateway:`, found an empty file"
                .into(),
        });
    }
    serde_yaml::from_str::<RawConfig>(text).map_err(|e| {
        let position = e.location().map(|l| Position {
            line: l.line(),
            column: l.column(),
        });
        ConfigError {
            origin: Origin::File {
                path: path.to_owned(),
                position,
            },
            message: strip_location(&e.to_string()),
        }
    })
}

/// serde_yaml appends ` at line L column C`; the location is already in front.
fn strip_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests;
