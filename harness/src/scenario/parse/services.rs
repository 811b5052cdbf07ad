//! `[services.NAME]`: the kinds of service and their settings.

use std::time::Duration;

use toml::de::DeValue;

use super::*;

/// Every service kind scenario files can name.
pub const SERVICE_KINDS: &[&str] = &[
    "mock_llm",
    "openclaw",
    "process",
    "rabbitmq",
    "tansu",
    "token_service",
    "bridge",
];

const BRIDGE_KEYS: &[&str] = &[
    "kind",
    "broker",
    "gateway",
    "tokens",
    "ack",
    "heartbeat",
    "refresh_before",
    "leeway",
    "attempts",
    "gateway_timeout",
    "ready_within",
];

pub(super) const OPENCLAW_KEYS: &[&str] = &[
    "kind",
    "provider",
    "models",
    "fallbacks",
    "timeout_seconds",
    "bind",
    "token",
    "api_key",
    "allowed_origins",
    "port",
    "port_from",
    "user",
    "env",
    "ready_within",
    "wait_ready",
    "config",
    "config_file",
];

pub(super) fn read_service(
    source: &Source<'_>,
    name: &Spanned<String>,
    value: &toml::Spanned<DeValue<'_>>,
) -> Option<ServiceSpec> {
    let what = format!("[services.{}]", name.value);
    let kind = raw_kind(value);
    let allowed: &[&str] = match kind {
        "mock_llm" => &["kind", "models", "reply"],
        "process" => &["kind", "command", "env", "ready", "ready_within"],
        "openclaw" => OPENCLAW_KEYS,
        "rabbitmq" => &["kind", "tokens"],
        "tansu" => &["kind", "scram"],
        "token_service" => &["kind", "algorithm", "ttl", "clock_offset"],
        "bridge" => BRIDGE_KEYS,
        _ => &present_keys(value),
    };
    let t = source.table(value, &what, allowed)?;
    let kind = t.req_string("kind", "the service kind")?;
    let kind = match kind.value.as_str() {
        "mock_llm" => ServiceKind::MockLlm {
            models: t
                .strings("models")
                .map(|v| v.into_iter().map(|s| s.value).collect())
                .unwrap_or_else(|| vec!["mock-model".to_string()]),
            reply: t
                .string("reply")
                .map_or_else(|| "pong".to_string(), |s| s.value),
        },
        "openclaw" => ServiceKind::OpenClaw(Box::new(read_openclaw(&t))),
        "process" => {
            let command = t.strings("command");
            match &command {
                None if !t.has("command") => t.missing("command", "program and arguments"),
                Some(c) if c.is_empty() => source.problem(
                    t.raw("command").map_or(t.span(), |v| v.span()),
                    format!("`command` in {what} must name a program"),
                ),
                _ => {}
            }
            ServiceKind::Process {
                command: command?.into_iter().map(|s| s.value).collect(),
                env: t.string_map("env"),
                ready: t.string("ready").map(|s| s.value),
                ready_within: t
                    .positive_duration("ready_within")
                    .map_or(Duration::from_secs(30), |d| d.value),
            }
        }
        "rabbitmq" => ServiceKind::RabbitMq {
            tokens: t.string("tokens").map(|s| s.value),
        },
        "tansu" => ServiceKind::Tansu {
            scram: t.boolean("scram").unwrap_or(false),
        },
        "token_service" => ServiceKind::TokenService {
            algorithm: t
                .choice("algorithm", &["hs256", "rs256"])
                .map_or_else(|| "hs256".to_string(), |s| s.value),
            ttl: t
                .positive_duration("ttl")
                .map_or(Duration::from_secs(60), |d| d.value),
            clock_offset_secs: read_signed_duration(&t, "clock_offset").unwrap_or(0),
        },
        "bridge" => {
            let broker = read_target_table(&t, "broker", "the broker");
            let gateway = read_target_table(&t, "gateway", "the gateway");
            if broker.is_none() && !t.has("broker") {
                t.missing("broker", "{ service = \"NAME\" } or { link = \"NAME\" }");
            }
            if gateway.is_none() && !t.has("gateway") {
                t.missing("gateway", "{ service = \"NAME\" } or { link = \"NAME\" }");
            }
            let spec = BridgeSpec {
                broker: broker?,
                broker_kind: BrokerKind::RabbitMq,
                gateway: gateway?,
                tokens: read_target_table(&t, "tokens", "the token service"),
                ack_before_publish: t
                    .choice("ack", &["after_publish", "before_publish"])
                    .is_some_and(|a| a.value == "before_publish"),
                heartbeat: t
                    .positive_duration("heartbeat")
                    .map_or(Duration::from_secs(5), |d| d.value),
                refresh_before: t
                    .duration("refresh_before")
                    .map_or(Duration::from_secs(10), |d| d.value),
                leeway: t
                    .duration("leeway")
                    .map_or(Duration::from_secs(30), |d| d.value),
                attempts: t.integer("attempts", 1..=100).map_or(3, |n| n as u32),
                gateway_timeout: t
                    .positive_duration("gateway_timeout")
                    .map_or(Duration::from_secs(60), |d| d.value),
                ready_within: t
                    .positive_duration("ready_within")
                    .map_or(Duration::from_secs(30), |d| d.value),
                clock_skew: false,
            };
            ServiceKind::Bridge(Box::new(spec))
        }
        other => return unknown_kind(source, &kind, "service", other, SERVICE_KINDS, &what),
    };
    Some(ServiceSpec {
        name: name.value.clone(),
        kind,
    })
}

pub(super) fn read_openclaw(t: &Table<'_, '_, '_>) -> OpenClawSpec {
    let defaults = OpenClawSpec::default();
    let strings = |key: &str| {
        t.strings(key)
            .map(|v| v.into_iter().map(|s| s.value).collect::<Vec<_>>())
    };
    let provider = read_target_table(t, "provider", "the mock LLM");
    let provider_given = t.has("provider");
    let config = t
        .raw("config")
        .and_then(|v| to_json(t.source(), v))
        .unwrap_or(defaults.config.clone());
    if !config.is_object() {
        t.source().problem(
            t.raw("config").map_or(t.span(), |v| v.span()),
            "`config` must be a table of OpenClaw config overrides",
        );
    }
    OpenClawSpec {
        provider,
        models: strings("models").unwrap_or(defaults.models),
        fallbacks: strings("fallbacks").unwrap_or_default(),
        timeout_seconds: t.integer("timeout_seconds", 1..=86_400).map(|n| n as u64),
        bind: t
            .choice("bind", &["loopback", "lan", "tailnet", "auto", "custom"])
            .map_or(defaults.bind, |s| s.value),
        token: t.string("token").map_or(defaults.token, |s| s.value),
        api_key: t.string("api_key").map_or(defaults.api_key, |s| s.value),
        allowed_origins: strings("allowed_origins").unwrap_or_default(),
        port: t.integer("port", 1..=65_535).map(|n| n as u16),
        port_from: match t.choice("port_from", &["flag", "env", "config"]) {
            Some(s) if s.value == "env" => PortSource::Env,
            Some(s) if s.value == "config" => PortSource::Config,
            _ => PortSource::Flag,
        },
        user: t.string("user").map(|s| s.value),
        env: t.string_map("env"),
        ready_within: t
            .positive_duration("ready_within")
            .map_or(defaults.ready_within, |d| d.value),
        wait_ready: t.boolean("wait_ready").unwrap_or(true),
        config,
        config_file: read_config_file(t, provider_given),
    }
}

/// What a user's own config may not set, because the harness must, each with the scenario key
/// that says it instead. (`agents.defaults.model` only with a provider: the harness's.)
pub const HARNESS_OWNS: &[(&str, &str)] = &[
    ("/gateway/port", "`port` or `port_from`"),
    ("/gateway/bind", "`bind`"),
    ("/gateway/auth", "`token`"),
    ("/gateway/mode", "nothing: a test gateway runs `local`"),
    (
        "/logging/file",
        "nothing: the log is kept in the run folder",
    ),
    (
        "/models/providers/mock",
        "`provider`, `models`, `timeout_seconds`",
    ),
];

/// `config_file = "openclaw.json"`: the user's own config, from the scenario's folder, read and
/// checked now so that `clawchaos validate` finds its problems.
fn read_config_file(t: &Table<'_, '_, '_>, provider_given: bool) -> Option<UserConfig> {
    let named = t.string("config_file")?;
    let source = t.source();
    let path = source
        .file()
        .parent()
        .unwrap_or_else(|| std::path::Path::new("."))
        .join(&named.value);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => {
            source.problem(
                named.span.clone(),
                format!("cannot read the config file {}: {e}", path.display()),
            );
            return None;
        }
    };
    let value: serde_json::Value = match serde_json::from_str(&text) {
        Ok(value) => value,
        Err(e) => {
            let place = format!(" at line {} column {}", e.line(), e.column());
            let why = e.to_string();
            source.problem(
                named.span.clone(),
                format!(
                    "{}:{}:{}: not a JSON object of OpenClaw settings: {}",
                    path.display(),
                    e.line(),
                    e.column(),
                    why.strip_suffix(&place).unwrap_or(&why)
                ),
            );
            return None;
        }
    };
    if !value.is_object() {
        source.problem(
            named.span.clone(),
            format!("{}: not a JSON object of OpenClaw settings", path.display()),
        );
        return None;
    }
    let model = ("/agents/defaults/model", "`models` and `fallbacks`");
    let owned = HARNESS_OWNS
        .iter()
        .chain(provider_given.then_some(&model))
        .filter(|(pointer, _)| value.pointer(pointer).is_some())
        .map(|(pointer, instead)| {
            format!(
                "`{}` (the scenario's {instead})",
                pointer.trim_start_matches('/').replace('/', ".")
            )
        })
        .collect::<Vec<_>>();
    if !owned.is_empty() {
        source.problem(
            named.span.clone(),
            format!(
                "{} sets what the harness sets for every test gateway: {}; take it out of the file",
                path.display(),
                owned.join(", ")
            ),
        );
        return None;
    }
    Some(UserConfig { path, value })
}

/// `KEY = { link = "NAME" }` or `KEY = { service = "NAME" }`: where a service reaches another.
pub(super) fn read_target_table(t: &Table<'_, '_, '_>, key: &str, what: &str) -> Option<Target> {
    let p = t.table(key, &["link", "service"])?;
    match (p.string("link"), p.string("service")) {
        (Some(l), None) => Some(Target::Link(l.value)),
        (None, Some(s)) => Some(Target::Service(s.value)),
        _ => {
            t.source().problem(
                p.span(),
                format!(
                    "`{key}` names {what} as {{ link = \"NAME\" }} or {{ service = \"NAME\" }}"
                ),
            );
            None
        }
    }
}

/// A duration that may start with `-` or `+` (a clock offset), in whole seconds.
pub(super) fn read_signed_duration(t: &Table<'_, '_, '_>, key: &str) -> Option<i64> {
    let raw = t.string(key)?;
    let (sign, text) = match raw.value.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, raw.value.strip_prefix('+').unwrap_or(&raw.value)),
    };
    match humantime::parse_duration(text.trim()) {
        Ok(d) => Some(sign * d.as_secs() as i64),
        Err(e) => {
            t.source().problem(
                raw.span,
                format!(
                    "`{key}` is not a duration ({e}); expected e.g. \"-2h\", \"+10m\" or \"90s\""
                ),
            );
            None
        }
    }
}
