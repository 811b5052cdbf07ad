//! The config file exactly as written: every field optional so that the environment can
//! supply it, unknown keys refused.

use super::duration;
use super::{AckMode, BrokerKind};
use crate::secret::Secret;
use serde::Deserialize;
use std::time::Duration;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub messaging: RawMessaging,
    #[serde(default)]
    pub gateway: RawGateway,
    #[serde(default)]
    pub bridge: RawBridge,
}

/// `messaging:`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMessaging {
    pub broker: Option<BrokerKind>,
    pub url: Option<String>,
    pub tasks: Option<String>,
    pub results: Option<String>,
    #[serde(default, deserialize_with = "duration::opt")]
    pub heartbeat: Option<Duration>,
    pub prefetch: Option<u16>,
    #[serde(default, deserialize_with = "duration::opt")]
    pub publish_timeout: Option<Duration>,
    pub token: Option<RawToken>,
    pub sasl: Option<RawSasl>,
}

/// `messaging.token:`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawToken {
    pub url: Option<String>,
    #[serde(default, deserialize_with = "duration::opt")]
    pub refresh_before: Option<Duration>,
    #[serde(default, deserialize_with = "duration::opt")]
    pub leeway: Option<Duration>,
}

/// `messaging.sasl:` (Kafka only).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSasl {
    pub mechanism: String,
    pub username: String,
    pub password: Secret,
}

/// `gateway:`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGateway {
    pub url: Option<String>,
    pub token: Option<Secret>,
    pub model: Option<String>,
    #[serde(default, deserialize_with = "duration::opt")]
    pub timeout: Option<Duration>,
    pub attempts: Option<u32>,
}

/// `bridge:`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBridge {
    pub health_listen: Option<String>,
    pub ack: Option<AckMode>,
    pub own_network_namespace: Option<bool>,
}
