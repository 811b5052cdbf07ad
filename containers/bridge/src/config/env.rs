//! The environment variables that beat the config file.

/// `messaging.broker`.
pub const BROKER: &str = "OPENCLAW_MESSAGING_BROKER";
/// `messaging.url`.
pub const URL: &str = "OPENCLAW_MESSAGING_URL";
/// A static JWT used instead of the token service.
pub const TOKEN: &str = "OPENCLAW_MESSAGING_TOKEN";
/// `messaging.token.url`.
pub const TOKEN_URL: &str = "OPENCLAW_MESSAGING_TOKEN_URL";
/// `gateway.url`.
pub const GATEWAY_URL: &str = "OPENCLAW_GATEWAY_URL";
/// `gateway.token`.
pub const GATEWAY_TOKEN: &str = "OPENCLAW_GATEWAY_TOKEN";
/// `bridge.health_listen`.
pub const HEALTH_LISTEN: &str = "CLAW_BRIDGE_HEALTH_LISTEN";

/// Every variable the bridge reads, in the order of the config file.
pub const ENV_VARS: [&str; 7] = [
    BROKER,
    URL,
    TOKEN,
    TOKEN_URL,
    GATEWAY_URL,
    GATEWAY_TOKEN,
    HEALTH_LISTEN,
];
