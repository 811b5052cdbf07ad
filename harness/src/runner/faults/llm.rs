//! LLM faults: the mock LLM's behaviour set through its control API, and reset to heal.

use serde_json::json;

use super::{Topology, Undo};
use crate::clients::mock_llm::MockLlmClient;
use crate::scenario::LlmFault;

pub(super) async fn inject(
    service: &str,
    fault: &LlmFault,
    model: Option<&str>,
    times: Option<u32>,
    topology: &Topology,
) -> Result<Undo, String> {
    client(topology, service)?
        .set_behavior(&behavior_for(fault, model, times))
        .await
        .map(|()| Undo::Nothing)
        .map_err(|e| e.to_string())
}

pub(super) async fn heal(service: &str, topology: &Topology) -> Result<(), String> {
    client(topology, service)?
        .reset_behavior()
        .await
        .map_err(|e| e.to_string())
}

fn client<'t>(topology: &'t Topology, service: &str) -> Result<&'t MockLlmClient, String> {
    topology
        .probe_context
        .controls
        .mock_llms
        .get(service)
        .ok_or_else(|| format!("{service} is not a mock LLM"))
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
