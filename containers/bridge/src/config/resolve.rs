//! Resolving the configuration: the environment over the file, defaults, then validation.

use super::loopback::Reach;
use super::raw::{self, RawConfig};
use super::{
    AckMode, BridgeSettings, BrokerKind, Config, ConfigError, DEFAULT_ATTEMPTS,
    DEFAULT_GATEWAY_TIMEOUT, DEFAULT_HEALTH_LISTEN, DEFAULT_HEARTBEAT, DEFAULT_LEEWAY,
    DEFAULT_MODEL, DEFAULT_PREFETCH, DEFAULT_PUBLISH_TIMEOUT, DEFAULT_REFRESH_BEFORE, Gateway,
    Messaging, Origin, Sasl, TokenSettings, TokenSource, env,
};
use crate::secret::Secret;
use std::time::Duration;

/// Applies the environment over the raw file and validates the result.
pub(super) struct Resolver<'a> {
    pub(super) raw: RawConfig,
    pub(super) env: &'a dyn Fn(&str) -> Option<String>,
    /// Builds an error located at a key path of the file.
    pub(super) at: &'a dyn Fn(&[&str], String) -> ConfigError,
}

fn env_err(var: &'static str, message: String) -> ConfigError {
    ConfigError {
        origin: Origin::Env(var),
        message,
    }
}

impl Resolver<'_> {
    fn var(&self, name: &str) -> Option<String> {
        (self.env)(name).filter(|v| !v.trim().is_empty())
    }

    /// A value from the environment (checked with `check`, errors naming the variable) or the
    /// file (errors naming file:line:col of `keys`).
    fn pick<T>(
        &self,
        var: &'static str,
        file: Option<String>,
        keys: &[&str],
        check: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ConfigError> {
        if let Some(v) = self.var(var) {
            return check(&v).map(Some).map_err(|m| env_err(var, m));
        }
        match file {
            Some(v) => check(&v).map(Some).map_err(|m| (self.at)(keys, m)),
            None => Ok(None),
        }
    }

    pub(super) fn resolve(mut self) -> Result<Config, ConfigError> {
        let m = std::mem::take(&mut self.raw.messaging);
        let g = std::mem::take(&mut self.raw.gateway);
        let b = std::mem::take(&mut self.raw.bridge);
        let reach = if b.own_network_namespace.unwrap_or(false) {
            Reach::OwnNamespace
        } else {
            Reach::Loopback
        };

        let broker = match self.var(env::BROKER) {
            Some(v) => v.parse().map_err(|e| env_err(env::BROKER, e))?,
            None => m.broker.unwrap_or(BrokerKind::Rabbitmq),
        };
        let url_check = |v: &str| match broker {
            BrokerKind::Rabbitmq => reach.amqp_url(v),
            BrokerKind::Kafka => reach.bootstrap_servers(v),
        };
        let url = self
            .pick(env::URL, m.url, &["messaging", "url"], url_check)?
            .ok_or_else(|| {
                (self.at)(
                    &["messaging"],
                    format!(
                        "expected `messaging.url` ({}), or {} in the environment",
                        match broker {
                            BrokerKind::Rabbitmq => "an amqp:// URL",
                            BrokerKind::Kafka => "bootstrap servers like 127.0.0.1:9092",
                        },
                        env::URL
                    ),
                )
            })?;
        let (tasks_default, results_default) = match broker {
            BrokerKind::Rabbitmq => ("openclaw_tasks", "openclaw_results"),
            BrokerKind::Kafka => ("openclaw.tasks", "openclaw.results"),
        };
        let name = |v: Option<String>, default: &str, key: &str| -> Result<String, ConfigError> {
            let v = v.unwrap_or_else(|| default.to_owned());
            if v.trim().is_empty() {
                Err((self.at)(
                    &["messaging", key],
                    format!("expected a non-empty {key} name"),
                ))
            } else {
                Ok(v)
            }
        };
        let tasks = name(m.tasks, tasks_default, "tasks")?;
        let results = name(m.results, results_default, "results")?;
        if tasks == results {
            return Err((self.at)(
                &["messaging", "results"],
                "expected `results` to differ from `tasks`".into(),
            ));
        }
        let heartbeat = m.heartbeat.unwrap_or(DEFAULT_HEARTBEAT);
        if heartbeat < Duration::from_secs(1) || heartbeat > Duration::from_secs(65_535) {
            return Err((self.at)(
                &["messaging", "heartbeat"],
                "expected a heartbeat between 1s and 65535s (AMQP counts whole seconds)".into(),
            ));
        }
        let prefetch = m.prefetch.unwrap_or(DEFAULT_PREFETCH);
        if prefetch == 0 {
            return Err((self.at)(
                &["messaging", "prefetch"],
                "expected a prefetch of at least 1".into(),
            ));
        }
        let publish_timeout = m.publish_timeout.unwrap_or(DEFAULT_PUBLISH_TIMEOUT);
        if publish_timeout.is_zero() {
            return Err((self.at)(
                &["messaging", "publish_timeout"],
                "expected a positive publish_timeout".into(),
            ));
        }
        let token = self.token(m.token, reach)?;
        let sasl = match m.sasl {
            None => None,
            Some(_) if broker == BrokerKind::Rabbitmq => {
                return Err((self.at)(
                    &["messaging", "sasl"],
                    "expected no `sasl` for rabbitmq (it is for kafka only; RabbitMQ \
                     authenticates with the JWT)"
                        .into(),
                ));
            }
            Some(s) => {
                let mechanism = s.mechanism.to_ascii_uppercase();
                if !["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"].contains(&mechanism.as_str()) {
                    return Err((self.at)(
                        &["messaging", "sasl"],
                        format!(
                            "expected sasl mechanism SCRAM-SHA-256, SCRAM-SHA-512 or PLAIN, \
                             found `{}`",
                            s.mechanism
                        ),
                    ));
                }
                Some(Sasl {
                    mechanism,
                    username: s.username,
                    password: s.password,
                })
            }
        };

        let gateway_url = self
            .pick(env::GATEWAY_URL, g.url, &["gateway", "url"], |v| {
                reach.http_url(v)
            })?
            .ok_or_else(|| {
                (self.at)(
                    &["gateway"],
                    format!(
                        "expected `gateway.url` (http://127.0.0.1:PORT), or {} in the environment",
                        env::GATEWAY_URL
                    ),
                )
            })?;
        let gateway_token = match self.var(env::GATEWAY_TOKEN) {
            Some(v) => Secret::new(v),
            None => g.token.filter(|t| !t.is_empty()).ok_or_else(|| {
                (self.at)(
                    &["gateway"],
                    format!(
                        "expected `gateway.token`, or {} in the environment",
                        env::GATEWAY_TOKEN
                    ),
                )
            })?,
        };
        let model = g.model.unwrap_or_else(|| DEFAULT_MODEL.to_owned());
        if model.trim().is_empty() {
            return Err((self.at)(
                &["gateway", "model"],
                "expected a model name".into(),
            ));
        }
        let timeout = g.timeout.unwrap_or(DEFAULT_GATEWAY_TIMEOUT);
        if timeout.is_zero() {
            return Err((self.at)(
                &["gateway", "timeout"],
                "expected a positive timeout".into(),
            ));
        }
        let attempts = g.attempts.unwrap_or(DEFAULT_ATTEMPTS);
        if attempts == 0 {
            return Err((self.at)(
                &["gateway", "attempts"],
                "expected at least 1 attempt".into(),
            ));
        }

        let health_listen = self
            .pick(
                env::HEALTH_LISTEN,
                b.health_listen,
                &["bridge", "health_listen"],
                |v| reach.listen_addr(v),
            )?
            .map_or_else(|| reach.listen_addr(DEFAULT_HEALTH_LISTEN), Ok)
            .map_err(|m| (self.at)(&["bridge", "health_listen"], m))?;

        Ok(Config {
            messaging: Messaging {
                broker,
                url,
                tasks,
                results,
                heartbeat,
                prefetch,
                publish_timeout,
                token,
                sasl,
            },
            gateway: Gateway {
                url: gateway_url,
                token: gateway_token,
                model,
                timeout,
                attempts,
            },
            bridge: BridgeSettings {
                health_listen,
                ack: b.ack.unwrap_or(AckMode::AfterPublish),
            },
        })
    }

    fn token(
        &self,
        raw: Option<raw::RawToken>,
        reach: Reach,
    ) -> Result<TokenSettings, ConfigError> {
        let raw = raw.unwrap_or_default();
        let refresh_before = raw.refresh_before.unwrap_or(DEFAULT_REFRESH_BEFORE);
        let leeway = raw.leeway.unwrap_or(DEFAULT_LEEWAY);
        let source = if let Some(token) = self.var(env::TOKEN) {
            TokenSource::Static(Secret::new(token.trim()))
        } else if let Some(url) = self.pick(
            env::TOKEN_URL,
            raw.url,
            &["messaging", "token", "url"],
            |v| reach.http_url(v),
        )? {
            let refresh_url = url.join("refresh").map_err(|e| {
                (self.at)(
                    &["messaging", "token", "url"],
                    format!("cannot derive the refresh URL: {e}"),
                )
            })?;
            TokenSource::Service { url, refresh_url }
        } else {
            TokenSource::None
        };
        Ok(TokenSettings {
            source,
            refresh_before,
            leeway,
        })
    }
}
