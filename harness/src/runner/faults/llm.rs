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
        LlmFault::Keepalive {
            every,
            empty_deltas,
        } => json!({
            "kind": "keepalive",
            "every_ms": (every.as_millis() as u64).max(1),
            "empty_deltas": empty_deltas,
        }),
    };
    json!({"fault": fault, "times": times, "only_model": model})
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use clawchaos_mock_llm::{Behavior, Fault};

    use super::*;

    /// Every LLM fault, as the mock LLM reads the JSON the harness sends it.
    #[test]
    fn every_llm_fault_is_a_behaviour_the_mock_accepts() {
        let cases = [
            (
                LlmFault::Error {
                    status: 429,
                    retry_after_secs: Some(2),
                },
                Fault::Error {
                    status: 429,
                    retry_after_secs: Some(2),
                },
            ),
            (
                LlmFault::DelayFirstByte {
                    delay: Duration::from_millis(1500),
                },
                Fault::DelayFirstByte { ms: 1500 },
            ),
            (
                LlmFault::Stall { after_chunks: 2 },
                Fault::Stall { after_chunks: 2 },
            ),
            (
                LlmFault::SlowTokens {
                    per_token: Duration::from_millis(80),
                },
                Fault::SlowTokens { per_token_ms: 80 },
            ),
            (LlmFault::DropConnection, Fault::DropConnection),
            (LlmFault::Malformed, Fault::Malformed),
            (LlmFault::Hang, Fault::Hang),
            (
                LlmFault::Keepalive {
                    every: Duration::from_secs(2),
                    empty_deltas: true,
                },
                Fault::Keepalive {
                    every_ms: 2000,
                    empty_deltas: true,
                },
            ),
        ];
        for (fault, expected) in cases {
            let json = behavior_for(&fault, Some("mock-model"), Some(3));
            let read: Behavior = serde_json::from_value(json.clone())
                .unwrap_or_else(|e| panic!("{fault:?} as {json}: {e}"));
            assert_eq!(
                read,
                Behavior::fault(expected).times(3).only_model("mock-model"),
                "{fault:?}"
            );
            assert_eq!(read.validate(), Ok(()), "{fault:?}");
        }
    }
}
