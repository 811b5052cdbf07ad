//! Faults on the mock LLM: its behaviour for the next requests (or all of them).

use super::*;

/// A fault on the mock LLM.
#[derive(Debug, Clone, PartialEq)]
pub enum LlmFault {
    /// Answer with an error status and an OpenAI-shaped body.
    Error {
        /// HTTP status: 401, 403, 404, 429, 500 or 503.
        status: u16,
        /// Retry-After seconds for 429.
        retry_after_secs: Option<u64>,
    },
    /// Wait before the first byte.
    DelayFirstByte {
        /// How long.
        delay: Duration,
    },
    /// Send some SSE chunks, then stall with the connection open.
    Stall {
        /// Chunks sent before the stall.
        after_chunks: u32,
    },
    /// Pace each streamed token.
    SlowTokens {
        /// Pause per token.
        per_token: Duration,
    },
    /// Close the connection without answering.
    DropConnection,
    /// Answer 200 with a broken body.
    Malformed,
    /// Accept and never answer.
    Hang,
    /// Answer, then keep the stream alive without content and never finish.
    Keepalive {
        /// Time between two keepalives.
        every: Duration,
        /// Empty content deltas instead of SSE comments.
        empty_deltas: bool,
    },
}

/// The keys of an LLM fault's target: the mock, and which of its requests.
const LLM_TARGET: &[&str] = &["service", "model", "times"];

/// An LLM fault kind: its name, parameters and reader of the behaviour.
macro_rules! llm {
    ($name:literal, $params:expr, $read:expr) => {
        FaultKind {
            name: $name,
            aliases: &[],
            targets: "mock_llm",
            target_keys: LLM_TARGET,
            params: $params,
            before_start: false,
            read: |t, refs| read_llm(t, $name, refs, $read),
        }
    };
}

/// The statuses the mock LLM answers with an OpenAI-shaped body.
const STATUSES: [u16; 6] = [401, 403, 404, 429, 500, 503];

pub(super) const KINDS: &[FaultKind] = &[
    llm!("llm_error", &["status", "retry_after"], |t| {
        let status =
            t.req_integer("status", 100..=599, "one of 401, 403, 404, 429, 500, 503")? as u16;
        if !STATUSES.contains(&status) {
            t.source().problem(
                t.raw("status").map_or(t.span(), |v| v.span()),
                format!(
                    "`status` {status} is not one the mock LLM knows; expected one of 401, 403, 404, 429, 500, 503"
                ),
            );
            return None;
        }
        Some(LlmFault::Error {
            status,
            retry_after_secs: t.integer("retry_after", 0..=86_400).map(|n| n as u64),
        })
    }),
    llm!("llm_delay", &["delay"], |t| {
        Some(LlmFault::DelayFirstByte {
            delay: t.req_duration("delay")?.value,
        })
    }),
    llm!("llm_stall", &["after_chunks"], |t| {
        Some(LlmFault::Stall {
            after_chunks: t.integer("after_chunks", 0..=10_000).unwrap_or(1) as u32,
        })
    }),
    llm!("llm_slow_tokens", &["per_token"], |t| {
        Some(LlmFault::SlowTokens {
            per_token: t.req_duration("per_token")?.value,
        })
    }),
    llm!("llm_drop", &[], |_| Some(LlmFault::DropConnection)),
    llm!("llm_malformed", &[], |_| Some(LlmFault::Malformed)),
    llm!("llm_hang", &[], |_| Some(LlmFault::Hang)),
    llm!("llm_keepalive", &["every", "empty_deltas"], |t| {
        Some(LlmFault::Keepalive {
            every: t
                .positive_duration("every")
                .map_or(Duration::from_secs(1), |d| d.value),
            empty_deltas: t.boolean("empty_deltas").unwrap_or(false),
        })
    }),
];

/// The mock LLM and the requests every LLM fault has, around the behaviour `read` reads.
fn read_llm(
    t: &Table<'_, '_, '_>,
    kind: &str,
    refs: &Refs<'_>,
    read: fn(&Table<'_, '_, '_>) -> Option<LlmFault>,
) -> Option<FaultAction> {
    let service = fault_service(t, kind, "mock_llm", refs)?;
    let fault = read(t)?;
    Some(FaultAction::Llm {
        service,
        model: t.string("model").map(|s| s.value),
        times: t.integer("times", 1..=1_000_000).map(|n| n as u32),
        fault,
    })
}
