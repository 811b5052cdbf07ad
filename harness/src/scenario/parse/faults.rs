//! `[[faults]]`: what is injected, where, when and for how long.

use std::time::Duration;

use toml::de::DeValue;

use super::probes::read_family;
use super::*;

/// Keys every fault may carry, whatever its kind.
pub(super) const FAULT_COMMON: &[&str] = &["name", "kind", "at", "after", "duration"];

pub(super) fn fault_keys(kind: &str) -> &'static [&'static str] {
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
        "openclaw_config" | "bridge_config" => &["service", "set"],
        "tokens_down" | "broker_close_connections" | "broker_memory_alarm" => &["service"],
        "tokens_error" => &["service", "status"],
        "tokens_ttl" => &["service", "ttl"],
        "issuer_clock" | "clock_skew" => &["service", "offset"],
        "broker_connection_limit" => &["service", "max_connections"],
        _ => &[],
    }
}

pub(super) fn read_fault(
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

pub(super) fn read_fault_action(
    t: &Table<'_, '_, '_>,
    kind: &str,
    refs: &Refs<'_>,
) -> Option<FaultAction> {
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
    if let Some(action) = read_messaging_fault(t, kind, refs) {
        return action;
    }
    if kind == "openclaw_config" || kind == "bridge_config" {
        let (wanted, a_wanted, example) = if kind == "openclaw_config" {
            (
                "openclaw",
                "an openclaw",
                "{ gateway = { controlUi = { allowedOrigins = [\"https://other.test\"] } } }",
            )
        } else {
            (
                "bridge",
                "a bridge",
                "{ messaging = { sasl = { password = \"wrong\" } } }",
            )
        };
        let service = t.req_string(
            "service",
            &format!("the {wanted} service whose config changes"),
        )?;
        if !require_service(source, &service, refs.services) {
            return None;
        }
        if refs.services.get(&service.value).map(|s| s.kind.name()) != Some(wanted) {
            source.problem(
                service.span.clone(),
                format!(
                    "`{kind}` needs {a_wanted} service; \"{}\" is not one",
                    service.value
                ),
            );
            return None;
        }
        let Some(set) = t.raw("set") else {
            t.missing(
                "set",
                &format!("a table merged into the {wanted}'s config, e.g. {example}"),
            );
            return None;
        };
        let patch = to_json(source, set)?;
        if !patch.is_object() {
            source.problem(set.span(), "`set` must be a table of config keys");
            return None;
        }
        return Some(FaultAction::Config {
            service: service.value,
            patch,
            restart: kind == "bridge_config",
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
            Some(
                ServiceKind::Process { .. }
                    | ServiceKind::OpenClaw(_)
                    | ServiceKind::RabbitMq { .. }
                    | ServiceKind::Tansu { .. }
                    | ServiceKind::Bridge(_)
            )
        ) {
            source.problem(
                service.span.clone(),
                format!(
                    "`{kind}` needs a service that runs as a process (process, openclaw, rabbitmq, tansu, bridge); \"{}\" is not one",
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

/// The service a fault of `kind` acts on must be of `service_kind`.
fn fault_service(
    t: &Table<'_, '_, '_>,
    kind: &str,
    service_kind: &str,
    refs: &Refs<'_>,
) -> Option<String> {
    let source = t.source();
    let service = t.req_string("service", "the service the fault acts on")?;
    if !require_service(source, &service, refs.services) {
        return None;
    }
    let actual = refs.services.get(&service.value).map(|s| s.kind.name());
    if actual != Some(service_kind) {
        source.problem(
            service.span.clone(),
            format!(
                "`{kind}` needs a {service_kind} service; \"{}\" is not one",
                service.value
            ),
        );
        return None;
    }
    Some(service.value)
}

/// Faults on the messaging link: the token service, a bridge's clock, the broker. `None`
/// when `kind` is not one of them; `Some(None)` when it is but the table has a problem.
fn read_messaging_fault(
    t: &Table<'_, '_, '_>,
    kind: &str,
    refs: &Refs<'_>,
) -> Option<Option<FaultAction>> {
    let tokens = |fault: Option<TokenFault>| {
        let service = fault_service(t, kind, "token_service", refs);
        Some(FaultAction::Tokens {
            service: service?,
            fault: fault?,
        })
    };
    let broker = |fault: Option<BrokerFault>| {
        let service = fault_service(t, kind, "rabbitmq", refs);
        Some(FaultAction::Broker {
            service: service?,
            fault: fault?,
        })
    };
    let offset = || {
        let offset = super::services::read_signed_duration(t, "offset");
        if offset.is_none() && !t.has("offset") {
            t.missing(
                "offset",
                "how far the clock is off, e.g. \"+10m\" or \"-2h\"",
            );
        }
        offset
    };
    Some(match kind {
        "tokens_down" => tokens(Some(TokenFault::Down)),
        "tokens_error" => {
            let status = t.integer("status", 400..=599);
            if status.is_none() && !t.has("status") {
                t.missing("status", "an HTTP error status, 400 to 599");
            }
            tokens(status.map(|s| TokenFault::Error { status: s as u16 }))
        }
        "tokens_ttl" => tokens(t.req_duration("ttl").map(|d| TokenFault::Ttl(d.value))),
        "issuer_clock" => tokens(offset().map(TokenFault::Clock)),
        "clock_skew" => {
            let service = fault_service(t, kind, "bridge", refs);
            let offset_secs = offset();
            Some(FaultAction::ClockSkew {
                service: service?,
                offset_secs: offset_secs?,
            })
        }
        "broker_close_connections" => broker(Some(BrokerFault::CloseConnections)),
        "broker_memory_alarm" => broker(Some(BrokerFault::MemoryAlarm)),
        "broker_connection_limit" => {
            let max = t.integer("max_connections", 0..=1_000_000);
            if max.is_none() && !t.has("max_connections") {
                t.missing("max_connections", "connections the vhost allows");
            }
            broker(max.map(|n| BrokerFault::ConnectionLimit(n as u32)))
        }
        _ => return None,
    })
}
