//! TOML to [`Scenario`]: structure, values and cross references, every problem recorded.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use toml::de::{DeTable, DeValue};

use super::reader::{Source, Sp, Table};
use super::*;

const TOP_KEYS: &[&str] = &[
    "name",
    "description",
    "seed",
    "settings",
    "services",
    "links",
    "probes",
    "steady_state",
    "faults",
    "expect",
];

/// Parses and validates `text` (read from `file`).
pub(super) fn parse(file: &Path, text: &str) -> Result<Scenario, ScenarioError> {
    let source = Source::new(file, text);
    let doc = match DeTable::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            source.problem(span, format!("not valid TOML: {}", e.message().trim()));
            return Err(ScenarioError::Invalid(source.into_problems()));
        }
    };
    let scenario = read_scenario(&source, file, doc.get_ref(), doc.span());
    let problems = source.into_problems();
    match scenario {
        Some(s) if problems.is_empty() => Ok(s),
        _ => Err(ScenarioError::Invalid(problems)),
    }
}

fn read_scenario(
    source: &Source<'_>,
    file: &Path,
    doc: &DeTable<'_>,
    span: std::ops::Range<usize>,
) -> Option<Scenario> {
    let top = source.table_of(doc, span.start..span.start, "the scenario", TOP_KEYS);
    let name = top.string("name").map(|s| s.value).unwrap_or_else(|| {
        file.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "scenario".to_string())
    });
    let description = top
        .string("description")
        .map(|s| s.value)
        .unwrap_or_default();
    let seed = top.integer("seed", 0..=i64::MAX).unwrap_or(0) as u64;
    let settings = read_settings(&top);

    let mut services = BTreeMap::new();
    for (name, value) in top.entries("services") {
        if let Some(spec) = read_service(source, &name, value) {
            services.insert(name.value.clone(), spec);
        }
    }

    let mut links = BTreeMap::new();
    for (name, value) in top.entries("links") {
        let Some(t) = source.table(value, &format!("[links.{}]", name.value), &["to"]) else {
            continue;
        };
        if let Some(to) = t.req_string("to", "the service this proxy forwards to") {
            require_service(source, &to, &services);
            links.insert(
                name.value.clone(),
                LinkSpec {
                    name: name.value.clone(),
                    to: to.value,
                },
            );
        }
    }

    // A gateway's provider must be a mock LLM, reached directly or through a link to one.
    for (name, value) in top.entries("services") {
        let Some(provider) = value
            .get_ref()
            .as_table()
            .and_then(|t| t.get("provider"))
            .and_then(|p| p.get_ref().as_table())
        else {
            continue;
        };
        let target = match (provider.get("link"), provider.get("service")) {
            (Some(l), _) => l
                .get_ref()
                .as_str()
                .map(|v| (Sp::new(v.to_string(), l.span()), true)),
            (None, Some(s)) => s
                .get_ref()
                .as_str()
                .map(|v| (Sp::new(v.to_string(), s.span()), false)),
            _ => None,
        };
        let Some((target, is_link)) = target else {
            continue;
        };
        let service = if is_link {
            require_link(source, &target, &links);
            links.get(&target.value).map(|l| l.to.clone())
        } else if require_service(source, &target, &services) {
            Some(target.value.clone())
        } else {
            None
        };
        if let Some(service) = service
            && !matches!(
                services.get(&service).map(|s| &s.kind),
                Some(ServiceKind::MockLlm { .. })
            )
        {
            source.problem(
                target.span.clone(),
                format!(
                    "the provider of {} must be a mock_llm service (or a link to one)",
                    name.value
                ),
            );
        }
    }

    let refs = Refs {
        services: &services,
        links: &links,
    };
    let mut probes = BTreeMap::new();
    let mut probe_refs = Vec::new();
    for (name, value) in top.entries("probes") {
        if let Some(p) = read_probe(source, &name, value, &refs) {
            probes.insert(name.value.clone(), p);
        }
    }

    // Readiness probes named by process services must exist.
    for (_, value) in top.entries("services") {
        if let Some(ready) = value.get_ref().as_table().and_then(|t| t.get("ready"))
            && let Some(name) = ready.get_ref().as_str()
        {
            probe_refs.push(Sp::new(name.to_string(), ready.span()));
        }
    }

    let steady_state = match top.table("steady_state", &["probes", "within"]) {
        Some(t) => {
            let names = t.strings("probes").unwrap_or_default();
            probe_refs.extend(names.iter().cloned());
            SteadyState {
                probes: names.into_iter().map(|s| s.value).collect(),
                within: t
                    .duration("within")
                    .map_or(Duration::from_secs(30), |d| d.value),
            }
        }
        None => SteadyState {
            probes: Vec::new(),
            within: Duration::from_secs(30),
        },
    };

    let mut faults: Vec<FaultSpec> = Vec::new();
    let mut fault_spans: BTreeMap<String, std::ops::Range<usize>> = BTreeMap::new();
    for value in top.array_of_tables("faults") {
        // A fault with problems of its own still defines its name, so expectations that
        // refer to it do not add a second, misleading problem.
        let declared = value
            .get_ref()
            .as_table()
            .and_then(|t| t.get("name"))
            .and_then(|n| n.get_ref().as_str().map(|s| (s.to_string(), n.span())));
        let parsed = read_fault(source, value, &refs);
        if parsed.is_none() {
            if let Some((name, span)) = declared {
                fault_spans.entry(name).or_insert(span);
            }
            continue;
        }
        if let Some((fault, name_span, after)) = parsed {
            if let Some(first) = fault_spans.get(&fault.name) {
                let first = source.position(first.clone());
                source.problem(
                    name_span,
                    format!(
                        "fault name \"{}\" is used twice (first at {first}); names must be unique",
                        fault.name
                    ),
                );
                continue;
            }
            if let Some(after) = after {
                probe_refs.push(after);
            }
            fault_spans.insert(fault.name.clone(), name_span);
            faults.push(fault);
        }
    }

    let mut expectations = Vec::new();
    for value in top.array_of_tables("expect") {
        if let Some((e, probe, fault)) = read_expectation(source, value) {
            probe_refs.push(probe);
            if let Some(fault) = fault {
                require(source, "fault", &fault, &fault_spans);
            }
            expectations.push(e);
        }
    }

    for r in &probe_refs {
        require(source, "probe", r, &probes);
    }

    Some(Scenario {
        name,
        description,
        source: file.to_path_buf(),
        seed,
        settings,
        services,
        links,
        probes,
        steady_state,
        faults,
        expectations,
    })
}

fn list<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let names: Vec<&str> = names.map(String::as_str).collect();
    if names.is_empty() {
        "(none)".to_string()
    } else {
        names.join(", ")
    }
}

/// Records an unknown `kind` and what it could have been.
fn unknown_kind<T>(
    source: &Source<'_>,
    kind: &Sp<String>,
    what: &str,
    found: &str,
    known: &[&str],
    place: &str,
) -> Option<T> {
    source.problem(
        kind.span.clone(),
        format!(
            "unknown {what} kind \"{found}\" in {place}; expected one of: {}",
            known.join(", ")
        ),
    );
    None
}

/// The keys a table has: used as the allowed keys when its `kind` is unknown, so the unknown
/// kind is reported once instead of every key after it.
fn present_keys<'v>(value: &'v toml::Spanned<DeValue<'_>>) -> Vec<&'v str> {
    value
        .get_ref()
        .as_table()
        .map(|t| t.keys().map(|k| k.get_ref().as_ref()).collect())
        .unwrap_or_default()
}

struct Refs<'a> {
    services: &'a BTreeMap<String, ServiceSpec>,
    links: &'a BTreeMap<String, LinkSpec>,
}

/// Whether `name` is one of `known` (things of kind `what`); records a problem naming the
/// ones there are if not.
fn require<V>(
    source: &Source<'_>,
    what: &str,
    name: &Sp<String>,
    known: &BTreeMap<String, V>,
) -> bool {
    if known.contains_key(&name.value) {
        return true;
    }
    source.problem(
        name.span.clone(),
        format!(
            "no {what} named \"{}\"; {what}s in this scenario: {}",
            name.value,
            list(known.keys())
        ),
    );
    false
}

fn require_service(
    source: &Source<'_>,
    name: &Sp<String>,
    services: &BTreeMap<String, ServiceSpec>,
) -> bool {
    require(source, "service", name, services)
}

fn require_link(source: &Source<'_>, name: &Sp<String>, links: &BTreeMap<String, LinkSpec>) {
    require(source, "link", name, links);
}

fn read_settings(top: &Table<'_, '_, '_>) -> Settings {
    let mut settings = Settings::default();
    if let Some(t) = top.table("settings", &["poll_interval", "timeout"]) {
        if let Some(d) = t.duration("poll_interval") {
            settings.poll_interval = d.value;
        }
        if let Some(d) = t.duration("timeout") {
            settings.timeout = d.value;
        }
    }
    settings
}

const SERVICE_KINDS: &[&str] = &["mock_llm", "openclaw", "process"];

const OPENCLAW_KEYS: &[&str] = &[
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
];

fn read_service(
    source: &Source<'_>,
    name: &Sp<String>,
    value: &toml::Spanned<DeValue<'_>>,
) -> Option<ServiceSpec> {
    let what = format!("[services.{}]", name.value);
    let raw = value.get_ref().as_table();
    let kind = raw
        .and_then(|t| t.get("kind"))
        .and_then(|v| v.get_ref().as_str())
        .unwrap_or("");
    let allowed: &[&str] = match kind {
        "mock_llm" => &["kind", "models", "reply"],
        "process" => &["kind", "command", "env", "ready", "ready_within"],
        "openclaw" => OPENCLAW_KEYS,
        _ => &present_keys(value),
    };
    let t = source.table(value, &what, allowed)?;
    let kind = t.req_string("kind", "one of: mock_llm, process")?;
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
                    .duration("ready_within")
                    .map_or(Duration::from_secs(30), |d| d.value),
            }
        }
        other => return unknown_kind(source, &kind, "service", other, SERVICE_KINDS, &what),
    };
    Some(ServiceSpec {
        name: name.value.clone(),
        kind,
    })
}

fn read_openclaw(t: &Table<'_, '_, '_>) -> OpenClawSpec {
    let defaults = OpenClawSpec::default();
    let strings = |key: &str| {
        t.strings(key)
            .map(|v| v.into_iter().map(|s| s.value).collect::<Vec<_>>())
    };
    let provider = t.table("provider", &["link", "service"]).and_then(|p| {
        match (p.string("link"), p.string("service")) {
            (Some(l), None) => Some(Target::Link(l.value)),
            (None, Some(s)) => Some(Target::Service(s.value)),
            _ => {
                t.source().problem(
                    p.span(),
                    "`provider` names the mock LLM as { link = \"NAME\" } or { service = \"NAME\" }",
                );
                None
            }
        }
    });
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
            .duration("ready_within")
            .map_or(defaults.ready_within, |d| d.value),
        wait_ready: t.boolean("wait_ready").unwrap_or(true),
        config,
    }
}

const PROBE_KINDS: &[&str] = &["http", "tcp", "log", "exited", "llm_journal", "cli"];

fn read_family(t: &Table<'_, '_, '_>) -> Family {
    match t.choice("family", &["ipv4", "ipv6"]) {
        Some(f) if f.value == "ipv6" => Family::Ipv6,
        _ => Family::Ipv4,
    }
}

fn read_target(t: &Table<'_, '_, '_>, refs: &Refs<'_>) -> Option<Target> {
    let source = t.source();
    match (t.string("service"), t.string("link")) {
        (Some(s), None) => {
            require_service(source, &s, refs.services).then_some(Target::Service(s.value))
        }
        (None, Some(l)) => {
            require_link(source, &l, refs.links);
            Some(Target::Link(l.value))
        }
        (Some(s), Some(_)) => {
            source.problem(
                s.span,
                format!("{} names both `service` and `link`; give one", t.what()),
            );
            None
        }
        (None, None) => {
            t.missing("service", "or `link`: where the probe sends its traffic");
            None
        }
    }
}

fn read_probe(
    source: &Source<'_>,
    name: &Sp<String>,
    value: &toml::Spanned<DeValue<'_>>,
    refs: &Refs<'_>,
) -> Option<ProbeSpec> {
    let what = format!("[probes.{}]", name.value);
    let kind = value
        .get_ref()
        .as_table()
        .and_then(|t| t.get("kind"))
        .and_then(|v| v.get_ref().as_str())
        .unwrap_or("");
    let allowed: &[&str] = match kind {
        "http" => &[
            "kind",
            "interval",
            "always",
            "family",
            "service",
            "link",
            "method",
            "path",
            "body",
            "headers",
            "timeout",
            "status",
            "error",
            "slower_than",
            "faster_than",
            "json",
            "body_contains",
        ],
        "tcp" => &[
            "kind", "service", "link", "timeout", "connects", "interval", "always", "family",
        ],
        "log" => &[
            "kind",
            "service",
            "regex",
            "min_count",
            "max_count",
            "interval",
            "always",
        ],
        "exited" => &["kind", "service", "code", "interval", "always"],
        "cli" => &[
            "kind",
            "service",
            "args",
            "timeout",
            "exit_code",
            "json",
            "output",
            "interval",
            "always",
        ],
        "llm_journal" => &[
            "kind",
            "service",
            "outcome",
            "interval",
            "always",
            "min_requests",
            "max_requests",
            "min_spacing",
            "model",
            "path",
            "since_last_event",
            "quiet_for",
            "active_within",
        ],
        _ => &present_keys(value),
    };
    let t = source.table(value, &what, allowed)?;
    let kind = t.req_string("kind", "the probe kind")?;
    let service = |t: &Table<'_, '_, '_>| -> Option<String> {
        let s = t.req_string("service", "the service it watches")?;
        require_service(source, &s, refs.services).then_some(s.value)
    };
    let kind = match kind.value.as_str() {
        "http" => {
            let target = read_target(&t, refs);
            let error = t
                .choice("error", &ErrorClass::NAMES)
                .and_then(|s| ErrorClass::from_name(&s.value));
            let json = read_json_check(&t);
            let check = HttpCheck {
                status: t.integer("status", 100..=599).map(|n| n as u16),
                error,
                slower_than: t.duration("slower_than").map(|d| d.value),
                faster_than: t.duration("faster_than").map(|d| d.value),
                json,
                body_contains: t.string("body_contains").map(|s| s.value),
            };
            if check.error.is_some() && (check.status.is_some() || check.json.is_some()) {
                source.problem(
                    t.span(),
                    format!("{what} expects both an error and a response; choose one"),
                );
            }
            ProbeKind::Http {
                target: target?,
                family: read_family(&t),
                method: t
                    .choice("method", &["GET", "POST", "PUT", "DELETE", "HEAD"])
                    .map_or_else(|| "GET".to_string(), |s| s.value),
                path: t
                    .string("path")
                    .map_or_else(|| "/".to_string(), |s| s.value),
                body: t.string("body").map(|s| s.value),
                headers: t.string_map("headers"),
                timeout: t
                    .duration("timeout")
                    .map_or(Duration::from_secs(2), |d| d.value),
                check,
            }
        }
        "tcp" => ProbeKind::Tcp {
            target: read_target(&t, refs)?,
            family: read_family(&t),
            timeout: t
                .duration("timeout")
                .map_or(Duration::from_secs(1), |d| d.value),
            connects: t.boolean("connects").unwrap_or(true),
        },
        "log" => {
            let service = service(&t);
            let pattern = t.req_string("regex", "a regular expression")?;
            let checked = crate::probe::vars::placeholders().replace_all(&pattern.value, "0");
            if let Err(e) = regex::Regex::new(&checked) {
                source.problem(pattern.span, format!("`regex` does not compile: {e}"));
                return None;
            }
            let regex = pattern.value;
            ProbeKind::Log {
                service: service?,
                regex,
                min_count: t
                    .integer("min_count", 0..=1_000_000)
                    .map_or(usize::from(!t.has("max_count")), |n| n as usize),
                max_count: t.integer("max_count", 0..=1_000_000).map(|n| n as usize),
            }
        }
        "exited" => ProbeKind::Exited {
            service: service(&t)?,
            code: t.integer("code", -255..=255).map(|c| c as i32),
        },
        "llm_journal" => {
            let s = t.req_string("service", "the mock LLM it reads")?;
            if require_service(source, &s, refs.services)
                && !matches!(
                    refs.services.get(&s.value).map(|x| &x.kind),
                    Some(ServiceKind::MockLlm { .. })
                )
            {
                source.problem(
                    s.span.clone(),
                    format!("service \"{}\" is not a mock_llm", s.value),
                );
            }
            ProbeKind::LlmJournal {
                service: s.value,
                check: JournalCheck {
                    path: t
                        .string("path")
                        .map_or_else(|| "/v1/chat/completions".to_string(), |s| s.value),
                    quiet_for: t.duration("quiet_for").map(|d| d.value),
                    active_within: t.duration("active_within").map(|d| d.value),
                    min_requests: t.integer("min_requests", 0..=1_000_000).map(|n| n as usize),
                    max_requests: t.integer("max_requests", 0..=1_000_000).map(|n| n as usize),
                    min_spacing: t.duration("min_spacing").map(|d| d.value),
                    model: t.string("model").map(|s| s.value),
                    outcome: t.string("outcome").map(|s| s.value),
                    since_last_event: t.boolean("since_last_event").unwrap_or(false),
                },
            }
        }
        "cli" => {
            let service = service(&t);
            let output = t
                .string("output")
                .and_then(|p| match regex::Regex::new(&p.value) {
                    Ok(r) => Some(r),
                    Err(e) => {
                        source.problem(p.span, format!("`output` does not compile: {e}"));
                        None
                    }
                });
            ProbeKind::Cli {
                service: service?,
                args: t
                    .strings("args")
                    .map(|v| v.into_iter().map(|s| s.value).collect())
                    .unwrap_or_default(),
                timeout: t
                    .duration("timeout")
                    .map_or(Duration::from_secs(20), |d| d.value),
                exit_code: t.integer("exit_code", -255..=255).map(|c| c as i32),
                json: read_json_check(&t),
                output,
            }
        }
        other => return unknown_kind(source, &kind, "probe", other, PROBE_KINDS, &what),
    };
    Some(ProbeSpec {
        name: name.value.clone(),
        kind,
        interval: t.duration("interval").map(|d| d.value),
        always: t.boolean("always").unwrap_or(false),
    })
}

/// `json = { pointer = "/a/b", equals = VALUE }`.
fn read_json_check(t: &Table<'_, '_, '_>) -> Option<(String, serde_json::Value)> {
    let source = t.source();
    let j = t.table("json", &["pointer", "equals"])?;
    let pointer = j.req_string("pointer", "a JSON pointer such as \"/data/0/id\"")?;
    if !pointer.value.is_empty() && !pointer.value.starts_with('/') {
        source.problem(
            pointer.span.clone(),
            "a JSON pointer starts with \"/\", e.g. \"/data/0/id\"",
        );
    }
    let Some(equals) = j.raw("equals") else {
        j.missing("equals", "the value required at the pointer");
        return None;
    };
    Some((pointer.value, to_json(source, equals)?))
}

fn to_json(source: &Source<'_>, value: &toml::Spanned<DeValue<'_>>) -> Option<serde_json::Value> {
    let v = match value.get_ref() {
        DeValue::String(s) => serde_json::Value::String(s.to_string()),
        DeValue::Boolean(b) => serde_json::Value::Bool(*b),
        DeValue::Integer(i) => i
            .as_str()
            .replace('_', "")
            .parse::<i64>()
            .ok()
            .map(serde_json::Value::from)?,
        DeValue::Float(f) => f
            .as_str()
            .replace('_', "")
            .parse::<f64>()
            .ok()
            .map(serde_json::Value::from)?,
        DeValue::Array(items) => serde_json::Value::Array(
            items
                .iter()
                .map(|item| to_json(source, item))
                .collect::<Option<Vec<_>>>()?,
        ),
        DeValue::Table(table) => serde_json::Value::Object(
            table
                .iter()
                .map(|(k, v)| Some((k.get_ref().to_string(), to_json(source, v)?)))
                .collect::<Option<serde_json::Map<_, _>>>()?,
        ),
        DeValue::Datetime(_) => {
            source.problem(
                value.span(),
                "dates and times have no JSON form; write a string",
            );
            return None;
        }
    };
    Some(v)
}

/// Keys every fault may carry, whatever its kind.
const FAULT_COMMON: &[&str] = &["name", "kind", "at", "after", "duration"];

fn fault_keys(kind: &str) -> &'static [&'static str] {
    match kind {
        "latency" => &["link", "stream", "toxicity", "latency", "jitter"],
        "bandwidth" => &["link", "stream", "toxicity", "rate"],
        "slicer" => &[
            "link",
            "stream",
            "toxicity",
            "average_size",
            "size_variation",
            "delay",
        ],
        "blackhole" => &["link", "stream", "toxicity"],
        "timeout" | "reset_peer" => &["link", "stream", "toxicity", "timeout"],
        "limit_data" => &["link", "stream", "toxicity", "bytes"],
        "slow_close" => &["link", "stream", "toxicity", "delay"],
        "link_down" => &["link"],
        "llm_error" => &["service", "model", "times", "status", "retry_after"],
        "llm_delay" => &["service", "model", "times", "delay"],
        "llm_stall" => &["service", "model", "times", "after_chunks"],
        "llm_slow_tokens" => &["service", "model", "times", "per_token"],
        "llm_drop" | "llm_malformed" | "llm_hang" => &["service", "model", "times"],
        "kill" | "pause" => &["service"],
        "squat_port" => &["service", "family", "port"],
        "privileged_port" => &["service"],
        _ => &[],
    }
}

fn read_fault(
    source: &Source<'_>,
    value: &toml::Spanned<DeValue<'_>>,
    refs: &Refs<'_>,
) -> Option<(FaultSpec, std::ops::Range<usize>, Option<Sp<String>>)> {
    let raw_kind = value
        .get_ref()
        .as_table()
        .and_then(|t| t.get("kind"))
        .and_then(|v| v.get_ref().as_str())
        .unwrap_or("");
    let mut allowed: Vec<&str> = FAULT_COMMON.to_vec();
    allowed.extend_from_slice(fault_keys(raw_kind));
    if !FAULT_KINDS.contains(&raw_kind) {
        // The kind itself is the problem; its other keys cannot be judged.
        allowed = present_keys(value);
    }
    let t = source.table(value, "[[faults]]", &allowed)?;
    let name = t.req_string("name", "a name the expectations refer to");
    let kind = t.req_string("kind", "the fault kind")?;
    if !FAULT_KINDS.contains(&kind.value.as_str()) {
        return unknown_kind(
            source,
            &kind,
            "fault",
            &kind.value,
            FAULT_KINDS,
            "[[faults]]",
        );
    }
    let start = FaultStart {
        at: t.duration("at").map_or(Duration::ZERO, |d| d.value),
        after: t.string("after").map(|s| s.value),
    };
    let after_ref = t.string("after");
    let duration = t.duration("duration").map(|d| d.value);
    let action = read_fault_action(&t, &kind.value, refs)?;
    let name = name?;
    Some((
        FaultSpec {
            name: name.value.clone(),
            kind: kind.value.clone(),
            action,
            start,
            duration,
        },
        name.span,
        after_ref,
    ))
}

fn read_fault_action(t: &Table<'_, '_, '_>, kind: &str, refs: &Refs<'_>) -> Option<FaultAction> {
    let source = t.source();
    if kind == "squat_port" || kind == "privileged_port" {
        let service = t.req_string("service", "the service whose port it is")?;
        if !require_service(source, &service, refs.services) {
            return None;
        }
        if t.has("at") || t.has("after") {
            source.problem(
                t.raw("at")
                    .or(t.raw("after"))
                    .map_or(t.span(), |v| v.span()),
                format!(
                    "`{kind}` is in place before the topology starts; it takes no `at` or `after`"
                ),
            );
        }
        if kind == "privileged_port" {
            let unprivileged = matches!(
                refs.services.get(&service.value).map(|s| &s.kind),
                Some(ServiceKind::OpenClaw(oc)) if oc.user.is_some()
            );
            if !unprivileged {
                source.problem(
                    service.span.clone(),
                    format!(
                        "`privileged_port` needs an openclaw service with a `user` to run as (root may bind any port); \"{}\" has none",
                        service.value
                    ),
                );
                return None;
            }
            return Some(FaultAction::PrivilegedPort {
                service: service.value,
            });
        }
        let family = read_family(t);
        let config_port = t
            .choice("port", &["listen", "config"])
            .is_some_and(|p| p.value == "config");
        return Some(FaultAction::SquatPort {
            service: service.value,
            family,
            config_port,
        });
    }
    if kind.starts_with("llm_") || kind == "kill" || kind == "pause" {
        let service = t.req_string("service", "the service the fault acts on")?;
        if !require_service(source, &service, refs.services) {
            return None;
        }
        let service_kind = refs.services.get(&service.value).map(|s| &s.kind);
        if kind.starts_with("llm_") {
            if !matches!(service_kind, Some(ServiceKind::MockLlm { .. })) {
                source.problem(
                    service.span.clone(),
                    format!(
                        "`{kind}` needs a mock_llm service; \"{}\" is not one",
                        service.value
                    ),
                );
                return None;
            }
            let fault = match kind {
                "llm_error" => {
                    let status = t.integer("status", 100..=599);
                    if status.is_none() && !t.has("status") {
                        t.missing("status", "one of 401, 403, 404, 429, 500, 503");
                    }
                    let status = status? as u16;
                    if ![401, 403, 404, 429, 500, 503].contains(&status) {
                        source.problem(
                            t.raw("status").map_or(t.span(), |v| v.span()),
                            format!(
                                "`status` {status} is not one the mock LLM knows; expected one of 401, 403, 404, 429, 500, 503"
                            ),
                        );
                        return None;
                    }
                    LlmFault::Error {
                        status,
                        retry_after_secs: t.integer("retry_after", 0..=86_400).map(|n| n as u64),
                    }
                }
                "llm_delay" => LlmFault::DelayFirstByte {
                    delay: t.req_duration("delay")?.value,
                },
                "llm_stall" => LlmFault::Stall {
                    after_chunks: t.integer("after_chunks", 0..=10_000).unwrap_or(1) as u32,
                },
                "llm_slow_tokens" => LlmFault::SlowTokens {
                    per_token: t.req_duration("per_token")?.value,
                },
                "llm_drop" => LlmFault::DropConnection,
                "llm_malformed" => LlmFault::Malformed,
                _ => LlmFault::Hang,
            };
            return Some(FaultAction::Llm {
                service: service.value,
                model: t.string("model").map(|s| s.value),
                times: t.integer("times", 1..=1_000_000).map(|n| n as u32),
                fault,
            });
        }
        if !matches!(
            service_kind,
            Some(ServiceKind::Process { .. } | ServiceKind::OpenClaw(_))
        ) {
            source.problem(
                service.span.clone(),
                format!(
                    "`{kind}` needs a process or openclaw service; \"{}\" is not one",
                    service.value
                ),
            );
            return None;
        }
        let fault = if kind == "kill" {
            ProcessFault::Kill
        } else {
            ProcessFault::Pause
        };
        return Some(FaultAction::Process {
            service: service.value,
            fault,
        });
    }

    let link = t.req_string("link", "the link whose proxy the fault acts on")?;
    require_link(source, &link, refs.links);
    let stream = match t.choice("stream", &["upstream", "downstream"]) {
        Some(s) if s.value == "upstream" => Stream::Upstream,
        _ => Stream::Downstream,
    };
    let toxicity = t.number("toxicity", 0.0..=1.0).unwrap_or(1.0);
    let ms = |key: &str| t.duration(key).map_or(Duration::ZERO, |d| d.value);
    let fault = match kind {
        "latency" => LinkFault::Latency {
            latency: t.req_duration("latency")?.value,
            jitter: ms("jitter"),
        },
        "bandwidth" => {
            let rate = t.integer("rate", 0..=i64::from(u32::MAX));
            if rate.is_none() && !t.has("rate") {
                t.missing("rate", "KB per second, an integer");
            }
            LinkFault::Bandwidth {
                rate_kbps: rate? as u64,
            }
        }
        "slicer" => LinkFault::Slicer {
            average_size: t.integer("average_size", 1..=1 << 30).unwrap_or(64) as u64,
            size_variation: t.integer("size_variation", 0..=1 << 30).unwrap_or(0) as u64,
            delay: ms("delay"),
        },
        "blackhole" => LinkFault::Blackhole,
        "timeout" => LinkFault::Timeout {
            timeout: t.req_duration("timeout")?.value,
        },
        "reset_peer" => LinkFault::ResetPeer {
            timeout: ms("timeout"),
        },
        "limit_data" => {
            let bytes = t.integer("bytes", 0..=i64::MAX);
            if bytes.is_none() && !t.has("bytes") {
                t.missing("bytes", "bytes allowed through before the close");
            }
            LinkFault::LimitData {
                bytes: bytes? as u64,
            }
        }
        "slow_close" => LinkFault::SlowClose {
            delay: t.req_duration("delay")?.value,
        },
        _ => LinkFault::Down,
    };
    Some(FaultAction::Link {
        link: link.value,
        stream,
        toxicity,
        fault,
    })
}

fn read_expectation(
    source: &Source<'_>,
    value: &toml::Spanned<DeValue<'_>>,
) -> Option<(Expectation, Sp<String>, Option<Sp<String>>)> {
    let raw_kind = value
        .get_ref()
        .as_table()
        .and_then(|t| t.get("kind"))
        .and_then(|v| v.get_ref().as_str())
        .unwrap_or("");
    let allowed: &[&str] = match raw_kind {
        "detect" => &["kind", "probe", "fault", "within", "not_before", "name"],
        "recover" => &["kind", "probe", "fault", "within", "name"],
        "invariant" => &["kind", "probe", "name"],
        _ => &present_keys(value),
    };
    let t = source.table(value, "[[expect]]", allowed)?;
    let kind = t.req_string("kind", "detect, recover or invariant")?;
    let probe = t.req_string("probe", "the probe that must hold");
    let (kind, fault) = match kind.value.as_str() {
        "detect" | "recover" => {
            let fault = t.req_string("fault", "the fault it is about");
            let within = t.req_duration("within");
            let (fault, within) = (fault?, within?);
            let k = if kind.value == "detect" {
                ExpectKind::Detect {
                    fault: fault.value.clone(),
                    within: within.value,
                    not_before: t.duration("not_before").map(|d| d.value),
                }
            } else {
                ExpectKind::Recover {
                    fault: fault.value.clone(),
                    within: within.value,
                }
            };
            (k, Some(fault))
        }
        "invariant" => (ExpectKind::Invariant, None),
        other => {
            let kinds = ["detect", "recover", "invariant"];
            return unknown_kind(source, &kind, "expectation", other, &kinds, "[[expect]]");
        }
    };
    let probe = probe?;
    let name = t
        .string("name")
        .map(|s| s.value)
        .unwrap_or_else(|| match &kind {
            ExpectKind::Detect {
                fault,
                within,
                not_before,
            } => format!(
                "detect {fault} by {} {}within {}",
                probe.value,
                not_before.map_or_else(String::new, |d| format!(
                    "not before {} and ",
                    humantime::format_duration(d)
                )),
                humantime::format_duration(*within)
            ),
            ExpectKind::Recover { fault, within } => format!(
                "recover from {fault} by {} within {}",
                probe.value,
                humantime::format_duration(*within)
            ),
            ExpectKind::Invariant => format!("invariant {}", probe.value),
        });
    Some((
        Expectation {
            name,
            probe: probe.value.clone(),
            kind,
        },
        probe,
        fault,
    ))
}
