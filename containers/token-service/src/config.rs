//! How a token service is set up: where it listens, how it signs, what its tokens claim.

use std::{
    fmt,
    net::{Ipv4Addr, SocketAddr},
    str::FromStr,
    time::Duration,
};

use serde::{Deserialize, Serialize};

/// The JWT signature algorithm; the key is generated afresh at every start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SigningAlg {
    /// HMAC-SHA256 with a random 32-byte shared secret.
    #[default]
    Hs256,
    /// RSA PKCS#1 v1.5 with SHA-256 and a fresh 2048-bit key pair.
    Rs256,
}

impl fmt::Display for SigningAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SigningAlg::Hs256 => "hs256",
            SigningAlg::Rs256 => "rs256",
        })
    }
}

impl FromStr for SigningAlg {
    type Err = String;

    /// `hs256` or `rs256`, any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "hs256" => Ok(SigningAlg::Hs256),
            "rs256" => Ok(SigningAlg::Rs256),
            other => Err(format!(
                "unknown algorithm `{other}` (expected hs256 or rs256)"
            )),
        }
    }
}

/// Set-up of one token service. Holds no key material: keys are made by
/// [`crate::TokenService::start`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenServiceConfig {
    /// Where to listen; a loopback address unless `own_namespace`. Port 0 picks a free port (read it back
    /// with [`crate::TokenService::addr`]); going `Down` and back up re-binds that same port.
    pub addr: SocketAddr,
    /// How tokens are signed.
    pub alg: SigningAlg,
    /// The key id put in every token's header (`kid`).
    pub kid: String,
    /// The `sub` claim.
    pub subject: String,
    /// The `aud` claim; RabbitMQ wants its `resource_server_id` in it.
    pub audience: Vec<String>,
    /// The `scope` claim (space-separated), unless a request names its own.
    pub scope: String,
    /// Token lifetime (`exp - iat`), unless a request or a run-time override says otherwise.
    /// Whole seconds; any fraction is dropped.
    pub ttl: Duration,
    /// The service's clock error in seconds: `iat`, `nbf` and `exp` are stamped with system
    /// time plus this (negative = a clock running behind).
    pub clock_offset_secs: i64,
    /// Where to serve the control API (`/control/*`), if anywhere; loopback as `addr`. Kept
    /// separate because the token port goes away in `Down` mode.
    pub control_addr: Option<SocketAddr>,
    /// The service is alone in a network namespace the harness made for it (a container on
    /// a run's own network), so any address of it may be listened on; otherwise only
    /// loopback addresses are.
    pub own_namespace: bool,
}

impl Default for TokenServiceConfig {
    /// `127.0.0.1:0`, HS256, kid `clawchaos`, sub `claw-bridge`, aud `["rabbitmq"]`, full
    /// RabbitMQ scopes on every vhost, 60 s tokens, a correct clock, no control API.
    fn default() -> Self {
        Self {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            alg: SigningAlg::default(),
            kid: "clawchaos".to_string(),
            subject: "claw-bridge".to_string(),
            audience: vec!["rabbitmq".to_string()],
            scope: "rabbitmq.configure:*/* rabbitmq.write:*/* rabbitmq.read:*/*".to_string(),
            ttl: Duration::from_secs(60),
            clock_offset_secs: 0,
            control_addr: None,
            own_namespace: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alg_parses_any_case_and_round_trips() {
        assert_eq!("HS256".parse(), Ok(SigningAlg::Hs256));
        assert_eq!("rs256".parse(), Ok(SigningAlg::Rs256));
        assert!("es256".parse::<SigningAlg>().is_err());
        for alg in [SigningAlg::Hs256, SigningAlg::Rs256] {
            assert_eq!(alg.to_string().parse(), Ok(alg));
        }
    }
}
