//! `[probes.NAME]`: the kinds of probe and their conditions.

use std::time::Duration;

use toml::de::DeValue;

use super::*;

pub(super) const PROBE_KINDS: &[&str] = &[
    "http",
    "tcp",
    "log",
    "exited",
    "llm_journal",
    "cli",
    "gateway_connect",
    "ledger",
];

pub(super) fn read_family(t: &Table<'_, '_, '_>) -> Family {
    match t.choice("family", &["ipv4", "ipv6"]) {
        Some(f) if f.value == "ipv6" => Family::Ipv6,
        _ => Family::Ipv4,
    }
}

pub(super) fn read_target(t: &Table<'_, '_, '_>, refs: &Refs<'_>) -> Option<Target> {
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

pub(super) fn read_probe(
    source: &Source<'_>,
    name: &Spanned<String>,
    value: &toml::Spanned<DeValue<'_>>,
    refs: &Refs<'_>,
) -> Option<ProbeSpec> {
    let what = format!("[probes.{}]", name.value);
    let kind = raw_kind(value);
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
            "since_last_event",
            "interval",
            "always",
        ],
        "exited" => &["kind", "service", "code", "failed", "interval", "always"],
        "ledger" => &[
            "kind",
            "min_overdue",
            "max_overdue",
            "max_duplicates",
            "max_outstanding",
            "min_results",
            "results_within",
            "no_results_for",
            "min_failed",
            "since_last_event",
            "interval",
            "always",
        ],
        "gateway_connect" => &[
            "kind",
            "service",
            "link",
            "family",
            "path",
            "origin",
            "token",
            "client_id",
            "client_mode",
            "outcome",
            "error",
            "timeout",
            "clock_offset",
            "interval",
            "always",
        ],
        "cli" => &[
            "kind",
            "service",
            "link",
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
                    .positive_duration("timeout")
                    .map_or(Duration::from_secs(2), |d| d.value),
                check,
            }
        }
        "tcp" => ProbeKind::Tcp {
            target: read_target(&t, refs)?,
            family: read_family(&t),
            timeout: t
                .positive_duration("timeout")
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
                since_last_event: t.boolean("since_last_event").unwrap_or(false),
            }
        }
        "exited" => {
            let code = t.integer("code", -255..=255).map(|c| c as i32);
            let failed = t.boolean("failed").unwrap_or(false);
            if failed
                && code.is_some()
                && let Some(raw) = t.raw("failed")
            {
                source.problem(
                    raw.span(),
                    "give `code` (that exit code) or `failed = true` (any code but 0, or a signal), not both",
                );
            }
            ProbeKind::Exited {
                service: service(&t)?,
                code,
                failed,
            }
        }
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
            let via = t.string("link").and_then(|link| {
                let leads_to = refs.links.get(&link.value).map(|l| l.to.clone());
                match (&service, leads_to) {
                    (Some(s), Some(to)) if *s == to => Some(link.value),
                    (_, None) => {
                        require_link(source, &link, refs.links);
                        None
                    }
                    (Some(s), Some(to)) => {
                        source.problem(
                            link.span.clone(),
                            format!(
                                "link \"{}\" leads to {to}, not to {s}: a cli probe reaches its own service's gateway through it",
                                link.value
                            ),
                        );
                        None
                    }
                    (None, Some(_)) => None,
                }
            });
            ProbeKind::Cli {
                service: service?,
                via,
                args: t
                    .strings("args")
                    .map(|v| v.into_iter().map(|s| s.value).collect())
                    .unwrap_or_default(),
                timeout: t
                    .positive_duration("timeout")
                    .map_or(Duration::from_secs(20), |d| d.value),
                exit_code: t.integer("exit_code", -255..=255).map(|c| c as i32),
                json: read_json_check(&t),
                output,
            }
        }
        "gateway_connect" => read_gateway_connect(&t, refs)?,
        "ledger" => {
            let count = |key: &str| t.integer(key, 0..=1_000_000).map(|n| n as usize);
            ProbeKind::Ledger {
                check: LedgerCheck {
                    min_overdue: count("min_overdue"),
                    max_overdue: count("max_overdue"),
                    max_duplicates: count("max_duplicates"),
                    max_outstanding: count("max_outstanding"),
                    min_results: count("min_results"),
                    results_within: t.duration("results_within").map(|d| d.value),
                    no_results_for: t.duration("no_results_for").map(|d| d.value),
                    min_failed: count("min_failed"),
                    since_last_event: t.boolean("since_last_event").unwrap_or(false),
                },
            }
        }
        other => return unknown_kind(source, &kind, "probe", other, PROBE_KINDS, &what),
    };
    Some(ProbeSpec {
        name: name.value.clone(),
        kind,
        interval: t.positive_duration("interval").map(|d| d.value),
        always: t.boolean("always").unwrap_or(false),
    })
}

/// `json = { pointer = "/a/b", equals = VALUE }`.
pub(super) fn read_json_check(t: &Table<'_, '_, '_>) -> Option<(String, serde_json::Value)> {
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

/// `kind = "gateway_connect"`: the token defaults to the one the gateway behind the target
/// is configured with.
fn read_gateway_connect(t: &Table<'_, '_, '_>, refs: &Refs<'_>) -> Option<ProbeKind> {
    let source = t.source();
    let target = read_target(t, refs);
    let service = match &target {
        Some(Target::Service(s)) => refs.services.get(s),
        Some(Target::Link(l)) => refs.links.get(l).and_then(|l| refs.services.get(&l.to)),
        None => None,
    };
    let configured_token = match service.map(|s| &s.kind) {
        Some(ServiceKind::OpenClaw(oc)) => Some(oc.token.clone()),
        _ => None,
    };
    let token = match (t.string("token"), configured_token) {
        (Some(token), _) => Some(token.value),
        (None, Some(token)) => Some(token),
        (None, None) if target.is_some() => {
            t.missing(
                "token",
                "the gateway token (it defaults to the openclaw service's own)",
            );
            None
        }
        (None, None) => None,
    };
    let outcome = t.choice("outcome", &["accepted", "refused"]);
    if outcome.is_none() && !t.has("outcome") {
        t.missing("outcome", "\"accepted\" or \"refused\"");
    }
    let error = t
        .string("error")
        .and_then(|p| match regex::Regex::new(&p.value) {
            Ok(r) => Some(r),
            Err(e) => {
                source.problem(p.span, format!("`error` does not compile: {e}"));
                None
            }
        });
    let outcome = match outcome?.value.as_str() {
        "accepted" => ConnectOutcome::Accepted,
        _ => ConnectOutcome::Refused,
    };
    if outcome == ConnectOutcome::Accepted
        && let Some(raw) = t.raw("error")
    {
        source.problem(
            raw.span(),
            "`error` describes a refusal; it makes no sense with outcome = \"accepted\"",
        );
    }
    Some(ProbeKind::GatewayConnect {
        target: target?,
        family: read_family(t),
        path: t
            .string("path")
            .map_or_else(|| "/".to_string(), |s| s.value),
        origin: t.string("origin").map(|s| s.value),
        token: token?,
        client: (
            t.string("client_id")
                .map_or_else(|| "openclaw-control-ui".to_string(), |s| s.value),
            t.string("client_mode")
                .map_or_else(|| "ui".to_string(), |s| s.value),
        ),
        outcome,
        error,
        timeout: t
            .positive_duration("timeout")
            .map_or(Duration::from_secs(5), |d| d.value),
        clock_offset_secs: super::services::read_signed_duration(t, "clock_offset").unwrap_or(0),
    })
}
