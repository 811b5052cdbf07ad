//! TOML to [`Scenario`]: structure, values and cross references, every problem recorded.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use toml::de::{DeTable, DeValue};

use super::reader::{Source, Spanned, Table};
use super::*;

mod expectations;
pub(super) mod faults;
mod probes;
pub(super) mod services;

use expectations::read_expectation;
use faults::read_fault;
use probes::read_probe;
use services::read_service;

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
    "ledger",
    "tier",
    "known_defect",
    "unsupported",
    "smoke",
    "openclaw",
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
    let name = match top.string("name") {
        Some(n) => {
            check_scenario_name(source, &n);
            n.value
        }
        None => file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "scenario".to_string()),
    };
    let description = top
        .string("description")
        .map(|s| s.value)
        .unwrap_or_default();
    let seed = top.integer("seed", 0..=i64::MAX).unwrap_or(0) as u64;
    let tier = match top.choice("tier", &["ci", "release"]) {
        Some(t) if t.value == "ci" => Tier::Ci,
        _ => Tier::Release,
    };
    let settings = read_settings(&top);
    let unsupported = read_unsupported(&top);

    let mut services = BTreeMap::new();
    for (name, value) in top.entries("services") {
        check_name(source, &name, "service");
        if let Some(spec) = read_service(source, &name, value) {
            services.insert(name.value.clone(), spec);
        }
    }
    let openclaw = read_releases(&top, &services);
    let mut probe_refs_early = Vec::new();
    let known_defect = read_known_defect(&top, &services, &mut probe_refs_early);
    let defect_probes = probe_refs_early.clone();

    let mut links = BTreeMap::new();
    for (name, value) in top.entries("links") {
        check_name(source, &name, "link");
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

    // A Tansu broker advertises one address: the one link to it (see `crate::services::tansu`).
    for (name, value) in top.entries("links") {
        let to = links.get(&name.value).map(|l| l.to.as_str());
        let first = links.values().find(|l| Some(l.to.as_str()) == to);
        let tansu = to.and_then(|t| services.get(t)).map(|s| &s.kind);
        if let Some(ServiceKind::Tansu { scram: true }) = tansu {
            source.problem(
                value.span(),
                format!(
                    "tansu broker \"{}\" requires SCRAM, and a link to it cannot be offered: the harness reaches a linked broker through Tansu's relay, which does not carry SASL; connect the bridge to the service directly",
                    to.unwrap_or_default()
                ),
            );
        }
        if let Some(ServiceKind::Tansu { .. }) = tansu
            && first.is_some_and(|f| f.name != name.value)
        {
            source.problem(
                value.span(),
                format!(
                    "a tansu broker advertises a single address, so only one link may lead to \"{}\" (link {} already does)",
                    to.unwrap_or_default(),
                    first.map_or("", |f| f.name.as_str())
                ),
            );
        }
    }

    // Where a service reaches another (a gateway's provider, a bridge's broker, ...), the
    // other must exist and be of the right kind, reached directly or through a link to it.
    for (name, value) in top.entries("services") {
        let Some(table) = value.get_ref().as_table() else {
            continue;
        };
        for (key, kinds) in DEPENDENCY_KINDS {
            let Some(dependency) = table.get(*key) else {
                continue;
            };
            check_dependency(
                source,
                &name.value,
                key,
                kinds,
                dependency,
                &services,
                &links,
            );
        }
    }

    let refs = Refs {
        services: &services,
        links: &links,
    };
    let mut probes = BTreeMap::new();
    let mut probe_refs = probe_refs_early;
    for (name, value) in top.entries("probes") {
        check_name(source, &name, "probe");
        if let Some(p) = read_probe(source, &name, value, &refs) {
            probes.insert(name.value.clone(), p);
        }
    }

    // Readiness probes named by process services must exist.
    for (_, value) in top.entries("services") {
        if let Some(ready) = value.get_ref().as_table().and_then(|t| t.get("ready"))
            && let Some(name) = ready.get_ref().as_str()
        {
            probe_refs.push(Spanned::new(name.to_string(), ready.span()));
        }
    }

    let steady_state = match top.table("steady_state", &["probes", "within"]) {
        Some(t) => {
            let names = t.strings("probes").unwrap_or_default();
            probe_refs.extend(names.iter().cloned());
            SteadyState {
                probes: names.into_iter().map(|s| s.value).collect(),
                within: t
                    .positive_duration("within")
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
            check_name(
                source,
                &Spanned::new(fault.name.clone(), name_span.clone()),
                "fault",
            );
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
            if matches!(fault.action, FaultAction::Network { .. })
                && !unsupported.contains_key("process")
            {
                source.problem(
                    name_span.clone(),
                    format!(
                        "`{}` acts at the IP layer of a service's own host, which only the containers backend gives it; say so with `[unsupported]` `process = \"...\"`",
                        fault.kind
                    ),
                );
            }
            fault_spans.insert(fault.name.clone(), name_span);
            faults.push(fault);
        }
    }

    let mut expectations = Vec::new();
    for value in top.array_of_tables("expect") {
        if let Some((e, probe, fault)) = read_expectation(source, value) {
            probe_refs.push(probe);
            if let Some(fault) = fault
                && require(source, "fault", &fault, &fault_spans)
            {
                check_window_timing(source, &e, &fault, &faults, settings.timeout);
            }
            expectations.push(e);
        }
    }
    for fault in &faults {
        if let Some(span) = fault_spans.get(&fault.name) {
            check_fault_timing(source, fault, span, settings.timeout);
        }
    }
    let smoke = top.boolean("smoke").unwrap_or(false);
    check_can_fail(source, &top, &services, &expectations, &steady_state, smoke);

    for r in &probe_refs {
        require(source, "probe", r, &probes);
    }
    // A defect's probe no expectation watches could never fail: the mark would mean nothing.
    for p in &defect_probes {
        if probes.contains_key(&p.value) && !expectations.iter().any(|e| e.probe == p.value) {
            source.problem(
                p.span.clone(),
                format!(
                    "known_defect names probe \"{}\", which no [[expect]] watches; name the probes whose expectations fail while the defect lasts",
                    p.value
                ),
            );
        }
    }

    let ledger = read_ledger(&top, &services);
    if ledger.is_none() && !top.has("ledger") {
        for (name, _) in top.entries("probes") {
            if matches!(
                probes.get(&name.value).map(|p| &p.kind),
                Some(ProbeKind::Ledger { .. })
            ) {
                source.problem(
                    name.span.clone(),
                    format!(
                        "[probes.{}] reads the task ledger, but the scenario has no [ledger]",
                        name.value
                    ),
                );
            }
        }
    }

    // A bridge knows what its broker is (through its link, if it goes through one).
    let broker_kinds: BTreeMap<String, BrokerKind> = services
        .values()
        .filter_map(|spec| match &spec.kind {
            ServiceKind::Bridge(bridge) => {
                let broker = match &bridge.broker {
                    Target::Service(s) => s.clone(),
                    Target::Link(l) => links.get(l).map(|l| l.to.clone())?,
                };
                let kind = match services.get(&broker).map(|s| &s.kind) {
                    Some(ServiceKind::Tansu { scram }) => BrokerKind::Kafka {
                        service: broker,
                        scram: *scram,
                    },
                    // RabbitMQ: a broker of any other kind is reported by
                    // `check_dependency` (DEPENDENCY_KINDS).
                    _ => BrokerKind::RabbitMq,
                };
                Some((spec.name.clone(), kind))
            }
            _ => None,
        })
        .collect();
    for (name, kind) in broker_kinds {
        if let Some(ServiceKind::Bridge(bridge)) = services.get_mut(&name).map(|s| &mut s.kind) {
            bridge.broker_kind = kind;
        }
    }

    // A bridge whose clock a fault skews runs under libfaketime from the start.
    for fault in &faults {
        if let FaultAction::ClockSkew { service, .. } = &fault.action
            && let Some(ServiceKind::Bridge(bridge)) =
                services.get_mut(service).map(|s| &mut s.kind)
        {
            bridge.clock_skew = true;
        }
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
        ledger,
        tier,
        known_defect,
        unsupported,
        openclaw,
    })
}

/// `[unsupported]`: the backends the scenario cannot run on, each with the reason.
fn read_unsupported(top: &Table<'_, '_, '_>) -> BTreeMap<String, String> {
    let Some(t) = top.table("unsupported", crate::backend::BACKEND_NAMES.as_slice()) else {
        return BTreeMap::new();
    };
    crate::backend::BACKEND_NAMES
        .iter()
        .filter_map(|backend| {
            let reason = t.string(backend)?;
            if reason.value.trim().is_empty() {
                t.missing(backend, "the reason it cannot run there, in one line");
                return None;
            }
            Some((backend.to_string(), reason.value))
        })
        .collect()
}

/// The longest name of a service, link, probe or fault (it becomes a folder name and a table
/// cell).
const LONGEST_NAME: usize = 64;

/// Whether `name` is safe as a folder name, in a URL path and in a table cell: letters,
/// digits, `_`, `-` and `.`, not starting with a dot, at most [`LONGEST_NAME`] long.
fn is_safe_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= LONGEST_NAME
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Records a problem if a service, link, probe or fault name is not [`is_safe_name`].
fn check_name(source: &Source<'_>, name: &Spanned<String>, what: &str) {
    if !is_safe_name(&name.value) {
        source.problem(
            name.span.clone(),
            format!(
                "{what} name {:?} is not usable: names become folder names and table cells, so they must be 1 to {LONGEST_NAME} letters, digits, `_`, `-` or `.`, not starting with a dot",
                name.value
            ),
        );
    }
}

/// A scenario's `name`: safe names joined by `/` (`llm/rate-limited`).
fn check_scenario_name(source: &Source<'_>, name: &Spanned<String>) {
    if name.value.len() > 2 * LONGEST_NAME || !name.value.split('/').all(is_safe_name) {
        source.problem(
            name.span.clone(),
            format!(
                "scenario name {:?} is not usable: it becomes a folder name and a table cell, so it must be names of letters, digits, `_`, `-` or `.` (not starting with a dot) joined by `/`, like \"llm/rate-limited\"",
                name.value
            ),
        );
    }
}

/// A fault that would start or heal after the scenario's timeout, even if set-up and the
/// steady state took no time at all, can never happen as written.
fn check_fault_timing(
    source: &Source<'_>,
    fault: &FaultSpec,
    span: &std::ops::Range<usize>,
    timeout: Duration,
) {
    let at = &fault.start.at;
    let heal = fault.duration.map(|d| at.saturating_add(d));
    let (when, what) = match heal {
        _ if *at >= timeout => (*at, "is injected"),
        Some(heal) if heal >= timeout => (heal, "is healed"),
        _ => return,
    };
    past_timeout(
        source,
        span.clone(),
        &format!("fault \"{}\" {what}", fault.name),
        when,
        timeout,
        "it could never happen",
    );
}

/// Records that `what` happens `when` after steady state, past the scenario's `timeout`.
fn past_timeout(
    source: &Source<'_>,
    span: std::ops::Range<usize>,
    what: &str,
    when: Duration,
    timeout: Duration,
    advice: &str,
) {
    source.problem(
        span,
        format!(
            "{what} {} after steady state, past the scenario's timeout of {} (settings.timeout): {advice}",
            humantime::format_duration(when),
            humantime::format_duration(timeout)
        ),
    );
}

/// A detect or recover window that would close after the scenario's timeout, counted from
/// steady state: its expectation could never be judged as written.
fn check_window_timing(
    source: &Source<'_>,
    expectation: &Expectation,
    fault_ref: &Spanned<String>,
    faults: &[FaultSpec],
    timeout: Duration,
) {
    let Some(fault) = faults.iter().find(|f| f.name == fault_ref.value) else {
        return;
    };
    let at = fault.start.at;
    let closes = match &expectation.kind {
        ExpectKind::Detect { within, .. } => at.saturating_add(*within),
        ExpectKind::Recover { within, .. } => match fault.duration {
            Some(d) => at.saturating_add(d).saturating_add(*within),
            None => return,
        },
        ExpectKind::Invariant => return,
    };
    if closes > timeout {
        past_timeout(
            source,
            fault_ref.span.clone(),
            &format!("`{}` closes", expectation.name),
            closes,
            timeout,
            "raise the timeout or shorten the window",
        );
    }
}

/// A scenario must be able to fail: it needs a service, and expectations, or `smoke = true`
/// with a steady state to reach.
fn check_can_fail(
    source: &Source<'_>,
    top: &Table<'_, '_, '_>,
    services: &BTreeMap<String, ServiceSpec>,
    expectations: &[Expectation],
    steady_state: &SteadyState,
    smoke: bool,
) {
    let start = top.span().start..top.span().start;
    if services.is_empty() && !top.has("services") {
        source.problem(
            start.clone(),
            "the scenario starts nothing: it needs at least one [services.NAME]",
        );
        return;
    }
    if smoke {
        if steady_state.probes.is_empty() {
            source.problem(
                top.raw("smoke").map_or(start, |v| v.span()),
                "`smoke = true` needs [steady_state] probes: reaching the steady state is all a smoke file checks",
            );
        }
    } else if expectations.is_empty() && !top.has("expect") {
        source.problem(
            start,
            "the scenario has no [[expect]], so it cannot fail; add expectations, or `smoke = true` (with [steady_state] probes) for a file that only checks the topology reaches its steady state",
        );
    }
}

/// `openclaw = ["2026.7.1", "2026.9.6"]`: the OpenClaw releases the scenario runs on, each (an
/// incident's reported release beside the current one); needs an openclaw service.
fn read_releases(
    top: &Table<'_, '_, '_>,
    services: &BTreeMap<String, ServiceSpec>,
) -> Vec<crate::scenario::version::Version> {
    let Some(listed) = top.strings("openclaw") else {
        return Vec::new();
    };
    let source = top.source();
    let mut releases = Vec::new();
    for text in listed {
        if !services.values().any(|s| s.kind.name() == "openclaw") {
            source.problem(
                text.span.clone(),
                "`openclaw` lists the OpenClaw releases to run on, and this scenario has no openclaw service",
            );
            return Vec::new();
        }
        match crate::scenario::version::Version::parse(&text.value) {
            Some(v) if releases.contains(&v) => {
                source.problem(text.span.clone(), format!("{v} is listed twice"));
            }
            Some(v) => releases.push(v),
            None => source.problem(
                text.span.clone(),
                format!(
                    "`{}` is not an OpenClaw release; expected a calendar version such as \"2026.9.6\"",
                    text.value
                ),
            ),
        }
    }
    releases
}

/// `[known_defect]`: the upstream defect the scenario reproduces; the probes it names are
/// added to `probe_refs`, to be checked once the probes are read.
fn read_known_defect(
    top: &Table<'_, '_, '_>,
    services: &BTreeMap<String, ServiceSpec>,
    probe_refs: &mut Vec<Spanned<String>>,
) -> Option<KnownDefect> {
    let t = top.table("known_defect", &["summary", "report", "probes", "versions"])?;
    let summary = t.req_string("summary", "one line: what the component does wrong");
    let report = t.req_string(
        "report",
        "where it is written up: a file of docs/ or an upstream issue's address",
    );
    let probes = t.strings("probes");
    if probes.as_ref().is_none_or(Vec::is_empty) {
        t.missing(
            "probes",
            "the probes whose expectations fail while the defect lasts, e.g. [\"fallback_served\"]",
        );
    }
    let versions = match t.string("versions") {
        // The releases of the scenario's OpenClaw: without one there is no version to judge.
        Some(text) if !services.values().any(|s| s.kind.name() == "openclaw") => {
            t.source().problem(
                text.span.clone(),
                "`versions` are OpenClaw releases, and this scenario has no openclaw service",
            );
            return None;
        }
        Some(text) => match crate::scenario::version::VersionRange::parse(&text.value) {
            Ok(range) => Some(range),
            Err(e) => {
                t.source().problem(text.span.clone(), e);
                return None;
            }
        },
        None => None,
    };
    let probes = probes?;
    probe_refs.extend(probes.iter().cloned());
    Some(KnownDefect {
        summary: summary?.value,
        report: report?.value,
        probes: probes.into_iter().map(|p| p.value).collect(),
        versions,
    })
}

/// `[ledger]`.
fn read_ledger(
    top: &Table<'_, '_, '_>,
    services: &BTreeMap<String, ServiceSpec>,
) -> Option<LedgerSpec> {
    let t = top.table(
        "ledger",
        &["broker", "rate", "budget", "prompt", "settle", "task_bytes"],
    )?;
    let source = t.source();
    let broker = t.req_string(
        "broker",
        "the rabbitmq or tansu service the ledger talks to",
    )?;
    if require_service(source, &broker, services)
        && !matches!(
            services.get(&broker.value).map(|s| s.kind.name()),
            Some("rabbitmq" | "tansu")
        )
    {
        source.problem(
            broker.span.clone(),
            format!(
                "the ledger's broker \"{}\" is not a rabbitmq or tansu service",
                broker.value
            ),
        );
    }
    let budget = t
        .positive_duration("budget")
        .map_or(Duration::from_secs(30), |d| d.value);
    Some(LedgerSpec {
        broker: broker.value,
        rate: t.number("rate", 0.01..=1000.0).unwrap_or(2.0),
        budget,
        prompt: t
            .string("prompt")
            .map_or_else(|| "ping".to_string(), |s| s.value),
        task_bytes: t
            .integer("task_bytes", 0..=1_000_000)
            .map_or(0, |n| n as usize),
        settle: t.positive_duration("settle").map_or(budget, |d| d.value),
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
    kind: &Spanned<String>,
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
/// The `kind` a table gives, as written (empty when it gives none), to choose its keys before
/// the table is read.
fn raw_kind<'v>(value: &'v toml::Spanned<DeValue<'_>>) -> &'v str {
    value
        .get_ref()
        .as_table()
        .and_then(|t| t.get("kind"))
        .and_then(|v| v.get_ref().as_str())
        .unwrap_or("")
}

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
    name: &Spanned<String>,
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
    name: &Spanned<String>,
    services: &BTreeMap<String, ServiceSpec>,
) -> bool {
    require(source, "service", name, services)
}

fn require_link(source: &Source<'_>, name: &Spanned<String>, links: &BTreeMap<String, LinkSpec>) {
    require(source, "link", name, links);
}

fn read_settings(top: &Table<'_, '_, '_>) -> Settings {
    let mut settings = Settings::default();
    if let Some(t) = top.table("settings", &["poll_interval", "timeout"]) {
        if let Some(d) = t.positive_duration("poll_interval") {
            settings.poll_interval = d.value;
        }
        if let Some(d) = t.positive_duration("timeout") {
            settings.timeout = d.value;
        }
    }
    settings
}

/// A TOML value as JSON (config overrides, JSON checks).
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

/// Settings that name another service, and the kind that service must be.
const DEPENDENCY_KINDS: &[(&str, &[&str])] = &[
    ("provider", &["mock_llm"]),
    ("broker", &["rabbitmq", "tansu"]),
    // A mock_llm serving the model `openclaw` tests the messaging link without a gateway.
    ("gateway", &["openclaw", "mock_llm"]),
    ("tokens", &["token_service"]),
];

/// `key` of service `name` (`{ link = .. }`, `{ service = .. }` or, for `tokens` of a broker, a
/// plain name) must reach an existing service of one of `kinds`.
fn check_dependency(
    source: &Source<'_>,
    name: &str,
    key: &str,
    kinds: &[&str],
    value: &toml::Spanned<DeValue<'_>>,
    services: &BTreeMap<String, ServiceSpec>,
    links: &BTreeMap<String, LinkSpec>,
) {
    let named = |v: &toml::Spanned<DeValue<'_>>| {
        v.get_ref()
            .as_str()
            .map(|s| Spanned::new(s.to_string(), v.span()))
    };
    let target = match value.get_ref() {
        DeValue::String(_) => named(value).map(|s| (s, false)),
        DeValue::Table(t) => match (t.get("link"), t.get("service")) {
            (Some(l), _) => named(l).map(|s| (s, true)),
            (None, Some(s)) => named(s).map(|s| (s, false)),
            _ => None,
        },
        _ => None,
    };
    let Some((target, is_link)) = target else {
        return;
    };
    let service = if is_link {
        require_link(source, &target, links);
        links.get(&target.value).map(|l| l.to.clone())
    } else if require_service(source, &target, services) {
        Some(target.value.clone())
    } else {
        None
    };
    if let Some(service) = service
        && !services
            .get(&service)
            .is_some_and(|s| kinds.contains(&s.kind.name()))
    {
        source.problem(
            target.span.clone(),
            format!(
                "the {key} of {name} must be a {} service (or a link to one)",
                kinds.join(" or ")
            ),
        );
    }
}
