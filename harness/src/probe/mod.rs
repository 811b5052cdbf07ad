//! Probes: named conditions the runner evaluates over and over.
//!
//! Readiness, detection, recovery and invariants all read the same probe values. Each probe
//! is polled by its own task ([`poller`]); every evaluation is kept as an [`Observation`] with
//! the time it started and finished, so the runner can tell an evaluation that began after a
//! fault from one that was already in flight.

mod cli;
mod gateway_connect;
mod http;
mod journal;
pub mod poller;
pub mod vars;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::backend::{ExitWatch, LogBuffer, Tool};
use crate::clients::controls::Controls;
use crate::scenario::{Family, ProbeKind, ProbeSpec, Target};

/// One evaluation of a probe.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// When the evaluation started.
    pub started: Instant,
    /// When it finished.
    pub finished: Instant,
    /// Whether the probe held.
    pub holds: bool,
    /// What was seen, for reports (e.g. "status 200 in 12ms").
    pub detail: String,
}

/// What a probe can see of a running service.
#[derive(Clone)]
pub struct ServiceView {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its output.
    pub logs: LogBuffer,
    /// How it ended, once it has.
    pub exit: ExitWatch,
    /// Its command-line tool, if it has one.
    pub tool: Option<std::sync::Arc<dyn Tool>>,
}

/// The running services as probes see them, shared by every poller.
#[derive(Clone, Default)]
pub struct Services(Arc<std::sync::RwLock<BTreeMap<String, ServiceView>>>);

impl Services {
    /// The view of `name`, if it runs.
    pub fn get(&self, name: &str) -> Option<ServiceView> {
        self.0.read().ok().and_then(|m| m.get(name).cloned())
    }

    /// Adds or replaces the view of `name`.
    pub fn insert(&self, name: String, view: ServiceView) {
        if let Ok(mut m) = self.0.write() {
            m.insert(name, view);
        }
    }
}

/// Everything probes need to reach the topology.
#[derive(Clone, Default)]
pub struct ProbeContext {
    /// Services by name (shared, so a service started again elsewhere is seen by every
    /// poller).
    pub services: Services,
    /// Link (proxy) listen addresses by name.
    pub links: BTreeMap<String, SocketAddr>,
    /// The services' control clients (the mock LLMs', the token services').
    pub controls: Controls,
    /// Values patterns can refer to (ports, pids).
    pub vars: vars::Vars,
    /// The task ledger, when the scenario has one.
    pub ledger: Option<crate::ledger::Ledger>,
    /// Wall-clock (unix ms) of the latest injection or heal, for `since_last_event`.
    pub last_event_unix_ms: Arc<std::sync::atomic::AtomicU64>,
}

impl ProbeContext {
    /// How long ago the latest injection or heal happened; `None` before the first.
    pub fn last_event_age(&self) -> Option<Duration> {
        let at = self
            .last_event_unix_ms
            .load(std::sync::atomic::Ordering::Relaxed);
        (at > 0).then(|| Duration::from_millis(now_unix_ms().saturating_sub(at)))
    }

    fn target_addr(&self, target: &Target, family: Family) -> Result<SocketAddr, String> {
        let addr = match target {
            Target::Service(name) => self
                .services
                .get(name)
                .map(|s| s.addr)
                .ok_or_else(|| format!("service {name} is not running")),
            Target::Link(name) => self
                .links
                .get(name)
                .copied()
                .ok_or_else(|| format!("link {name} has no proxy")),
        }?;
        Ok(match family {
            Family::Ipv4 => addr,
            Family::Ipv6 => SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, addr.port())),
        })
    }
}

/// The wall clock in unix milliseconds (0 if it reads before 1970).
pub(crate) fn now_unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Evaluates `probe` once.
pub async fn evaluate(
    probe: &ProbeSpec,
    context: &ProbeContext,
    http: &reqwest::Client,
) -> Observation {
    let started = Instant::now();
    let (holds, detail) = match &probe.kind {
        ProbeKind::Http { .. } => http::evaluate(&probe.kind, context, http).await,
        ProbeKind::Tcp {
            target,
            family,
            timeout,
            connects,
        } => tcp(context, target, *family, *timeout, *connects).await,
        ProbeKind::Log {
            service,
            regex,
            min_count,
            max_count,
            since_last_event,
        } => match context.services.get(service) {
            Some(s) => {
                let pattern = match context.vars.expand(regex) {
                    Ok(p) => p,
                    Err(missing) => {
                        let detail = format!("this run has no value for {missing} in /{regex}/");
                        return observation(started, false, detail);
                    }
                };
                let regex = match regex::Regex::new(&pattern) {
                    Ok(r) => r,
                    Err(e) => {
                        return observation(started, false, format!("pattern /{pattern}/: {e}"));
                    }
                };
                let since = since_last_event.then(|| {
                    context
                        .last_event_unix_ms
                        .load(std::sync::atomic::Ordering::Relaxed)
                });
                let n = s.logs.count_matching(&regex, since);
                let when = if since.is_some() {
                    " since the latest injection or heal"
                } else {
                    ""
                };
                (
                    n >= *min_count && max_count.is_none_or(|max| n <= max),
                    format!("{n} line(s) of {service}{when} match /{regex}/"),
                )
            }
            None => (false, format!("service {service} is not running")),
        },
        ProbeKind::Exited {
            service,
            code,
            failed,
        } => match context.services.get(service) {
            Some(s) => match s.exit.lock().ok().and_then(|e| *e) {
                Some(exit) => {
                    let holds = code.is_none_or(|c| exit.code == Some(c))
                        && (!failed || exit.code != Some(0));
                    (holds, exit.describe())
                }
                None => (false, format!("{service} is still running")),
            },
            None => (false, format!("service {service} is not running")),
        },
        ProbeKind::LlmJournal { service, check } => match context.controls.mock_llms.get(service) {
            Some(client) => journal::evaluate(client, check, context).await,
            None => (false, format!("{service} is not a running mock LLM")),
        },
        ProbeKind::Ledger { check } => match &context.ledger {
            Some(ledger) => ledger.check(
                check,
                check
                    .since_last_event
                    .then(|| context.last_event_age())
                    .flatten(),
            ),
            None => (false, "the scenario has no [ledger]".to_string()),
        },
        ProbeKind::GatewayConnect { .. } => gateway_connect::evaluate(&probe.kind, context).await,
        ProbeKind::Cli { service, via, .. } => {
            let through = match via {
                Some(link) => match context.links.get(link) {
                    Some(addr) => Some(*addr),
                    None => {
                        return observation(started, false, format!("link {link} has no proxy"));
                    }
                },
                None => None,
            };
            match context.services.get(service).and_then(|s| s.tool.clone()) {
                Some(tool) => cli::evaluate(&probe.kind, tool.as_ref(), through).await,
                None => (false, format!("{service} has no command-line tool")),
            }
        }
    };
    observation(started, holds, detail)
}

/// Whether `text`, read as JSON, has `expected` at `pointer`; and ", POINTER = FOUND" for the
/// observation's detail (`(absent)` when the text is not JSON or has nothing there).
fn json_pointer_check(text: &str, pointer: &str, expected: &serde_json::Value) -> (bool, String) {
    let found = serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v.pointer(pointer).cloned());
    let seen = format!(
        ", {pointer} = {}",
        found
            .as_ref()
            .map_or_else(|| "(absent)".to_string(), |v| v.to_string())
    );
    (found.as_ref() == Some(expected), seen)
}

fn observation(started: Instant, holds: bool, detail: String) -> Observation {
    Observation {
        started,
        finished: Instant::now(),
        holds,
        detail,
    }
}

async fn tcp(
    context: &ProbeContext,
    target: &Target,
    family: Family,
    timeout: Duration,
    connects: bool,
) -> (bool, String) {
    let addr = match context.target_addr(target, family) {
        Ok(a) => a,
        Err(e) => return (!connects, e),
    };
    let start = Instant::now();
    match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await {
        Ok(Ok(_)) => (
            connects,
            format!("connected to {addr} in {}", ms(start.elapsed())),
        ),
        Ok(Err(e)) => (!connects, format!("connect to {addr} failed: {e}")),
        Err(_) => (
            !connects,
            format!("connect to {addr} timed out after {}", ms(timeout)),
        ),
    }
}

/// Formats a duration as milliseconds, e.g. "12ms" or "1530ms".
pub fn ms(d: Duration) -> String {
    format!("{}ms", d.as_millis())
}

#[cfg(test)]
mod tests {
    use super::json_pointer_check;
    use serde_json::json;

    #[test]
    fn a_json_pointer_check_holds_only_on_the_expected_value_and_says_what_it_saw() {
        let body = r#"{"choices":[{"message":{"content":"pong"}}]}"#;
        let pointer = "/choices/0/message/content";
        assert_eq!(
            json_pointer_check(body, pointer, &json!("pong")),
            (true, format!(", {pointer} = \"pong\""))
        );
        assert!(!json_pointer_check(body, pointer, &json!("ping")).0);
        assert_eq!(
            json_pointer_check("not json", pointer, &json!("pong")),
            (false, format!(", {pointer} = (absent)"))
        );
    }
}
