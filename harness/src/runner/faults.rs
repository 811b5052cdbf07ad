//! Injecting and healing faults: each fault kind mapped to the one call that causes it.

use std::collections::BTreeMap;

use serde_json::json;

use super::topology::Topology;
use crate::backend::{Backend, Signal};
use crate::clients::toxiproxy::Toxic;
use crate::scenario::{FaultAction, FaultSpec, LinkFault, LlmFault, ProcessFault, Scenario};

/// A fault that could not be injected or healed.
#[derive(Debug, thiserror::Error)]
#[error("fault {fault}: cannot {operation}: {message}")]
pub struct FaultError {
    /// The fault.
    pub fault: String,
    /// inject or heal.
    pub operation: &'static str,
    /// What went wrong.
    pub message: String,
}

fn failed(fault: &FaultSpec, operation: &'static str, message: impl ToString) -> FaultError {
    FaultError {
        fault: fault.name.clone(),
        operation,
        message: message.to_string(),
    }
}

fn ms(d: std::time::Duration) -> serde_json::Value {
    json!(d.as_millis() as u64)
}

/// The Toxiproxy toxic that causes a link fault (`None` for `link_down`).
pub fn toxic_for(fault: &FaultSpec) -> Option<Toxic> {
    let FaultAction::Link {
        stream,
        toxicity,
        fault: link_fault,
        ..
    } = &fault.action
    else {
        return None;
    };
    let (kind, attributes): (&str, BTreeMap<String, serde_json::Value>) = match link_fault {
        LinkFault::Latency { latency, jitter } => (
            "latency",
            BTreeMap::from([
                ("latency".into(), ms(*latency)),
                ("jitter".into(), ms(*jitter)),
            ]),
        ),
        LinkFault::Bandwidth { rate_kbps } => (
            "bandwidth",
            BTreeMap::from([("rate".into(), json!(rate_kbps))]),
        ),
        LinkFault::Slicer {
            average_size,
            size_variation,
            delay,
        } => (
            "slicer",
            BTreeMap::from([
                ("average_size".into(), json!(average_size)),
                ("size_variation".into(), json!(size_variation)),
                ("delay".into(), json!(delay.as_micros() as u64)),
            ]),
        ),
        LinkFault::Blackhole => ("timeout", BTreeMap::from([("timeout".into(), json!(0))])),
        LinkFault::Timeout { timeout } => (
            "timeout",
            BTreeMap::from([("timeout".into(), ms(*timeout))]),
        ),
        LinkFault::ResetPeer { timeout } => (
            "reset_peer",
            BTreeMap::from([("timeout".into(), ms(*timeout))]),
        ),
        LinkFault::LimitData { bytes } => (
            "limit_data",
            BTreeMap::from([("bytes".into(), json!(bytes))]),
        ),
        LinkFault::SlowClose { delay } => {
            ("slow_close", BTreeMap::from([("delay".into(), ms(*delay))]))
        }
        LinkFault::Down => return None,
    };
    Some(Toxic {
        name: fault.name.clone(),
        kind: kind.to_string(),
        stream: stream.name().to_string(),
        toxicity: *toxicity,
        attributes,
    })
}

/// The mock LLM behaviour (its JSON contract) that causes an LLM fault.
pub fn behavior_for(
    fault: &LlmFault,
    model: Option<&str>,
    times: Option<u32>,
) -> serde_json::Value {
    let fault = match fault {
        LlmFault::Error {
            status,
            retry_after_secs,
        } => json!({"kind": "error", "status": status, "retry_after_secs": retry_after_secs}),
        LlmFault::DelayFirstByte { delay } => {
            json!({"kind": "delay_first_byte", "ms": delay.as_millis() as u64})
        }
        LlmFault::Stall { after_chunks } => json!({"kind": "stall", "after_chunks": after_chunks}),
        LlmFault::SlowTokens { per_token } => {
            json!({"kind": "slow_tokens", "per_token_ms": per_token.as_millis() as u64})
        }
        LlmFault::DropConnection => json!({"kind": "drop_connection"}),
        LlmFault::Malformed => json!({"kind": "malformed"}),
        LlmFault::Hang => json!({"kind": "hang"}),
    };
    json!({"fault": fault, "times": times, "only_model": model})
}

/// Injects `fault` into the running topology.
pub async fn inject(fault: &FaultSpec, topology: &mut Topology) -> Result<(), FaultError> {
    match &fault.action {
        FaultAction::Link {
            link, fault: kind, ..
        } => {
            let proxy = proxy_name(fault, topology, link)?;
            match (kind, toxic_for(fault)) {
                (LinkFault::Down, _) => topology
                    .proxy
                    .set_enabled(&proxy, false)
                    .await
                    .map(|_| ())
                    .map_err(|e| failed(fault, "inject", e)),
                (_, Some(toxic)) => topology
                    .proxy
                    .add_toxic(&proxy, &toxic)
                    .await
                    .map(|_| ())
                    .map_err(|e| failed(fault, "inject", e)),
                (_, None) => Err(failed(fault, "inject", "no toxic for this fault")),
            }
        }
        FaultAction::Llm {
            service,
            model,
            times,
            fault: kind,
        } => mock_llm(fault, "inject", topology, service)?
            .set_behavior(&behavior_for(kind, model.as_deref(), *times))
            .await
            .map_err(|e| failed(fault, "inject", e)),
        FaultAction::Process {
            service,
            fault: kind,
        } => {
            let target = topology
                .services
                .get(service)
                .ok_or_else(|| failed(fault, "inject", format!("no service {service}")))?;
            let signal = match kind {
                ProcessFault::Kill => Signal::Kill,
                ProcessFault::Pause => Signal::Stop,
            };
            target
                .signal(signal)
                .map_err(|e| failed(fault, "inject", e))
        }
        FaultAction::Tokens {
            service,
            fault: kind,
        } => super::messaging::inject_tokens(topology, service, *kind)
            .await
            .map_err(|e| failed(fault, "inject", e)),
        FaultAction::ClockSkew {
            service,
            offset_secs,
        } => super::messaging::set_clock(topology, service, *offset_secs)
            .map_err(|e| failed(fault, "inject", e)),
        FaultAction::Broker {
            service,
            fault: kind,
        } => super::messaging::inject_broker(topology, service, *kind)
            .await
            .map_err(|e| failed(fault, "inject", e)),
        FaultAction::Config {
            service,
            patch,
            restart,
        } => {
            let path = topology
                .services
                .get(service)
                .and_then(|s| s.config_file())
                .ok_or_else(|| failed(fault, "inject", format!("{service} has no config file")))?;
            let original = std::fs::read(&path).map_err(|e| failed(fault, "inject", e))?;
            let mut config: serde_json::Value =
                serde_json::from_slice(&original).map_err(|e| failed(fault, "inject", e))?;
            crate::services::openclaw::config::merge(&mut config, patch);
            let text =
                serde_json::to_vec_pretty(&config).map_err(|e| failed(fault, "inject", e))?;
            topology
                .saved_configs
                .insert(fault.name.clone(), (path.clone(), original));
            replace_file(&path, &text).map_err(|e| failed(fault, "inject", e))?;
            if *restart {
                restart_service(fault, "inject", topology, service).await?;
            }
            Ok(())
        }
        // In place before the topology started (see `Topology::start`).
        FaultAction::SquatPort { .. } | FaultAction::PrivilegedPort { .. } => Ok(()),
    }
}

/// Stops `service` and starts it again (to read a changed config).
async fn restart_service(
    fault: &FaultSpec,
    step: &'static str,
    topology: &mut Topology,
    service: &str,
) -> Result<(), FaultError> {
    let target = topology
        .services
        .get_mut(service)
        .ok_or_else(|| failed(fault, step, format!("no service {service}")))?;
    target.restart().await.map_err(|e| failed(fault, step, e))?;
    topology.publish_vars(service);
    Ok(())
}

/// Replaces `path`'s content at once (a watcher never reads half a file).
fn replace_file(path: &std::path::Path, content: &[u8]) -> std::io::Result<()> {
    let mut staging = path.as_os_str().to_owned();
    staging.push(".clawchaos-new");
    std::fs::write(&staging, content)?;
    std::fs::rename(&staging, path)
}

/// Heals `fault`: removes the toxic, re-enables the link, resets the mock, or resumes or
/// restarts the process.
pub async fn heal(
    fault: &FaultSpec,
    topology: &mut Topology,
    scenario: &Scenario,
    backend: &dyn Backend,
) -> Result<(), FaultError> {
    match &fault.action {
        FaultAction::Tokens { service, .. } => super::messaging::heal_tokens(topology, service)
            .await
            .map_err(|e| failed(fault, "heal", e)),
        FaultAction::ClockSkew { service, .. } => {
            super::messaging::set_clock(topology, service, 0).map_err(|e| failed(fault, "heal", e))
        }
        FaultAction::Broker {
            service,
            fault: kind,
        } => super::messaging::heal_broker(topology, service, *kind)
            .await
            .map_err(|e| failed(fault, "heal", e)),
        FaultAction::Config {
            service, restart, ..
        } => match topology.saved_configs.remove(&fault.name) {
            Some((path, original)) => {
                replace_file(&path, &original).map_err(|e| failed(fault, "heal", e))?;
                if *restart {
                    restart_service(fault, "heal", topology, service).await?;
                }
                Ok(())
            }
            None => Ok(()),
        },
        FaultAction::PrivilegedPort { service } => topology
            .restart_on_new_port(scenario, backend, service)
            .await
            .map_err(|e| failed(fault, "heal", e)),
        FaultAction::Link {
            link, fault: kind, ..
        } => {
            let proxy = proxy_name(fault, topology, link)?;
            let result = if *kind == LinkFault::Down {
                topology.proxy.set_enabled(&proxy, true).await.map(|_| ())
            } else {
                topology.proxy.remove_toxic(&proxy, &fault.name).await
            };
            result.map_err(|e| failed(fault, "heal", e))
        }
        FaultAction::Llm { service, .. } => mock_llm(fault, "heal", topology, service)?
            .reset_behavior()
            .await
            .map_err(|e| failed(fault, "heal", e)),
        FaultAction::Process {
            service,
            fault: kind,
        } => {
            let target = topology
                .services
                .get_mut(service)
                .ok_or_else(|| failed(fault, "heal", format!("no service {service}")))?;
            match kind {
                ProcessFault::Pause => target
                    .signal(Signal::Cont)
                    .map_err(|e| failed(fault, "heal", e)),
                ProcessFault::Kill => target.restart().await.map_err(|e| failed(fault, "heal", e)),
            }
            .map(|()| topology.publish_vars(service))
        }
        FaultAction::SquatPort {
            service,
            config_port,
            ..
        } => {
            if let Some(mut squatter) = topology.squatters.remove(&fault.name) {
                squatter.stop().await;
            }
            if *config_port {
                return Ok(());
            }
            let target = topology
                .services
                .get_mut(service)
                .ok_or_else(|| failed(fault, "heal", format!("no service {service}")))?;
            target
                .restart()
                .await
                .map_err(|e| failed(fault, "heal", e))?;
            topology.publish_vars(service);
            Ok(())
        }
    }
}

fn mock_llm<'t>(
    fault: &FaultSpec,
    operation: &'static str,
    topology: &'t Topology,
    service: &str,
) -> Result<&'t crate::clients::mock_llm::MockLlmClient, FaultError> {
    topology
        .probe_context
        .mock_llms
        .get(service)
        .ok_or_else(|| failed(fault, operation, format!("{service} is not a mock LLM")))
}

fn proxy_name(fault: &FaultSpec, topology: &Topology, link: &str) -> Result<String, FaultError> {
    topology
        .proxy_names
        .get(link)
        .cloned()
        .ok_or_else(|| failed(fault, "apply", format!("link {link} has no proxy")))
}
