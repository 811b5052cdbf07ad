//! What the mock does to the next requests ([`Behavior`], [`Fault`]) and the "next N" bookkeeping.

use serde::{Deserialize, Serialize};

/// One way of misbehaving, tagged by `kind` on the wire.
///
/// Faults act on `POST /v1/chat/completions` only; `GET /v1/models` is always answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", from = "StrictFault")]
pub enum Fault {
    /// Answer with an OpenAI-shaped error body of this HTTP status.
    Error {
        /// HTTP status, 400..=599 (401, 403, 404, 429, 500 and 503 carry OpenAI's own bodies).
        status: u16,
        /// Sends `Retry-After: N` with the error when set.
        #[serde(default)]
        retry_after_secs: Option<u64>,
    },
    /// Wait this long before sending anything, then answer normally.
    DelayFirstByte {
        /// Milliseconds before the response head.
        ms: u64,
    },
    /// Send this many SSE events, then hang with the connection open.
    ///
    /// The role chunk counts as the first event. A non-streaming request gets the response head
    /// and half of its JSON body, then the same hang.
    Stall {
        /// SSE events (`data:` lines) sent before the stall.
        after_chunks: u32,
    },
    /// Pause this long before every streamed content chunk.
    ///
    /// A non-streaming request waits the sum of the pauses before the whole answer.
    SlowTokens {
        /// Milliseconds before each content chunk.
        per_token_ms: u64,
    },
    /// Close the TCP connection without sending any HTTP response.
    DropConnection,
    /// Answer 200 with a body that is not valid JSON (broken SSE for a streaming request).
    Malformed,
    /// Accept the request and never answer (until the mock shuts down).
    Hang,
    /// Answer, then keep the answer alive without content and never finish (until the mock
    /// shuts down): a streaming request gets the role chunk, then an SSE comment
    /// (`: keepalive`) or, with `empty_deltas`, a chunk whose delta is empty, every `every_ms`;
    /// a non-streaming one gets the response head, then a space (JSON allows it) as often.
    Keepalive {
        /// Milliseconds between two keepalives.
        every_ms: u64,
        /// Empty content deltas instead of comments.
        #[serde(default)]
        empty_deltas: bool,
    },
}

/// [`Fault`] as read from JSON: every kind refuses fields it does not have.
///
/// Serde ignores extra fields on unit variants, so `{"kind":"hang","times":3}` would silently
/// lose `times`; empty struct variants make `deny_unknown_fields` apply to them too.
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum StrictFault {
    Error {
        status: u16,
        #[serde(default)]
        retry_after_secs: Option<u64>,
    },
    DelayFirstByte {
        ms: u64,
    },
    Stall {
        after_chunks: u32,
    },
    SlowTokens {
        per_token_ms: u64,
    },
    DropConnection {},
    Malformed {},
    Hang {},
    Keepalive {
        every_ms: u64,
        #[serde(default)]
        empty_deltas: bool,
    },
}

impl From<StrictFault> for Fault {
    fn from(strict: StrictFault) -> Self {
        match strict {
            StrictFault::Error {
                status,
                retry_after_secs,
            } => Fault::Error {
                status,
                retry_after_secs,
            },
            StrictFault::DelayFirstByte { ms } => Fault::DelayFirstByte { ms },
            StrictFault::Stall { after_chunks } => Fault::Stall { after_chunks },
            StrictFault::SlowTokens { per_token_ms } => Fault::SlowTokens { per_token_ms },
            StrictFault::DropConnection {} => Fault::DropConnection,
            StrictFault::Malformed {} => Fault::Malformed,
            StrictFault::Hang {} => Fault::Hang,
            StrictFault::Keepalive {
                every_ms,
                empty_deltas,
            } => Fault::Keepalive {
                every_ms,
                empty_deltas,
            },
        }
    }
}

/// What the mock does to the requests that come next: a fault, how many times, for which model.
///
/// `Behavior::default()` (JSON `{}` or all fields `null`) is normal service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Behavior {
    /// The fault, or `None` for normal service.
    pub fault: Option<Fault>,
    /// Apply to the next N matching requests only, then revert to normal; `None` is forever.
    pub times: Option<u32>,
    /// Apply only to requests for this model; other models are served normally.
    pub only_model: Option<String>,
}

impl Behavior {
    /// Normal service.
    pub fn normal() -> Self {
        Self::default()
    }

    /// This fault on every request, until changed.
    pub fn fault(fault: Fault) -> Self {
        Self {
            fault: Some(fault),
            ..Self::default()
        }
    }

    /// Limits the fault to the next `n` matching requests.
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }

    /// Limits the fault to requests for `model`.
    pub fn only_model(mut self, model: impl Into<String>) -> Self {
        self.only_model = Some(model.into());
        self
    }

    /// Checks the values a JSON body can get wrong; the message says which and why.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(Fault::Error { status, .. }) = &self.fault
            && !(400..=599).contains(status)
        {
            return Err(format!(
                "fault.status {status} is not an HTTP error status (400..=599)"
            ));
        }
        if let Some(Fault::Keepalive { every_ms: 0, .. }) = &self.fault {
            return Err("fault.every_ms must be at least 1".to_string());
        }
        Ok(())
    }
}

/// The programmed behaviour and how much of its `times` budget is left.
#[derive(Debug, Default)]
pub(crate) struct Schedule {
    current: Behavior,
}

impl Schedule {
    /// Replaces the behaviour; `times` starts counting afresh.
    pub(crate) fn set(&mut self, behavior: Behavior) {
        self.current = if behavior.times == Some(0) {
            Behavior::normal()
        } else {
            behavior
        };
    }

    /// The behaviour now in force, with `times` showing what is left.
    pub(crate) fn current(&self) -> Behavior {
        self.current.clone()
    }

    /// The fault for a request for `model`, if any; spends one of `times` when it matches.
    pub(crate) fn take_fault(&mut self, model: &str) -> Option<Fault> {
        let fault = self.current.fault.clone()?;
        if let Some(only) = &self.current.only_model
            && only != model
        {
            return None;
        }
        match &mut self.current.times {
            None => {}
            Some(left) => {
                *left = left.saturating_sub(1);
                if *left == 0 {
                    self.current = Behavior::normal();
                }
            }
        }
        Some(fault)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e429() -> Fault {
        Fault::Error {
            status: 429,
            retry_after_secs: Some(2),
        }
    }

    #[test]
    fn normal_never_faults() {
        let mut s = Schedule::default();
        for _ in 0..5 {
            assert_eq!(s.take_fault("mock-model"), None);
        }
    }

    #[test]
    fn no_times_faults_forever() {
        let mut s = Schedule::default();
        s.set(Behavior::fault(Fault::Hang));
        for _ in 0..100 {
            assert_eq!(s.take_fault("m"), Some(Fault::Hang));
        }
    }

    #[test]
    fn times_n_reverts_after_n() {
        let mut s = Schedule::default();
        s.set(Behavior::fault(e429()).times(3));
        assert_eq!(s.current().times, Some(3));
        assert_eq!(s.take_fault("m"), Some(e429()));
        assert_eq!(s.current().times, Some(2));
        assert_eq!(s.take_fault("m"), Some(e429()));
        assert_eq!(s.take_fault("m"), Some(e429()));
        assert_eq!(s.take_fault("m"), None);
        assert_eq!(s.current(), Behavior::normal());
    }

    #[test]
    fn times_zero_is_normal() {
        let mut s = Schedule::default();
        s.set(Behavior::fault(Fault::Malformed).times(0));
        assert_eq!(s.take_fault("m"), None);
    }

    #[test]
    fn only_model_filters_and_does_not_spend_times() {
        let mut s = Schedule::default();
        s.set(
            Behavior::fault(Fault::Error {
                status: 404,
                retry_after_secs: None,
            })
            .times(1)
            .only_model("primary"),
        );
        assert_eq!(s.take_fault("fallback"), None);
        assert_eq!(s.take_fault("fallback"), None);
        assert!(s.take_fault("primary").is_some());
        assert_eq!(s.take_fault("primary"), None);
    }

    #[test]
    fn set_restarts_the_count() {
        let mut s = Schedule::default();
        s.set(Behavior::fault(Fault::Hang).times(1));
        s.set(Behavior::fault(Fault::Malformed).times(2));
        assert_eq!(s.take_fault("m"), Some(Fault::Malformed));
        assert_eq!(s.take_fault("m"), Some(Fault::Malformed));
        assert_eq!(s.take_fault("m"), None);
    }

    #[test]
    fn json_shapes_match_the_contract() -> Result<(), serde_json::Error> {
        let b: Behavior = serde_json::from_str(
            r#"{"fault":{"kind":"error","status":429,"retry_after_secs":2},"times":3,"only_model":"mock-model"}"#,
        )?;
        assert_eq!(b, Behavior::fault(e429()).times(3).only_model("mock-model"));
        let round: serde_json::Value = serde_json::to_value(&b)?;
        assert_eq!(round["fault"]["kind"], "error");
        assert_eq!(round["times"], 3);

        let normal = serde_json::to_value(Behavior::normal())?;
        assert_eq!(
            normal,
            serde_json::json!({"fault": null, "times": null, "only_model": null})
        );
        assert_eq!(serde_json::from_str::<Behavior>("{}")?, Behavior::normal());

        let cases = [
            (
                r#"{"kind":"delay_first_byte","ms":1500}"#,
                Fault::DelayFirstByte { ms: 1500 },
            ),
            (
                r#"{"kind":"stall","after_chunks":2}"#,
                Fault::Stall { after_chunks: 2 },
            ),
            (
                r#"{"kind":"slow_tokens","per_token_ms":200}"#,
                Fault::SlowTokens { per_token_ms: 200 },
            ),
            (r#"{"kind":"drop_connection"}"#, Fault::DropConnection),
            (r#"{"kind":"malformed"}"#, Fault::Malformed),
            (r#"{"kind":"hang"}"#, Fault::Hang),
            (
                r#"{"kind":"error","status":500}"#,
                Fault::Error {
                    status: 500,
                    retry_after_secs: None,
                },
            ),
        ];
        for (json, fault) in cases {
            assert_eq!(serde_json::from_str::<Fault>(json)?, fault, "{json}");
        }
        Ok(())
    }

    #[test]
    fn bad_json_is_refused() {
        for bad in [
            r#"{"fault":{"kind":"explode"}}"#,
            r#"{"fault":{"kind":"stall"}}"#,
            r#"{"fault":{"kind":"hang"},"time":3}"#,
            r#"{"fault":{"kind":"delay_first_byte","ms":10,"extra":1}}"#,
            r#"{"times":-1}"#,
            r#"{"fault":{"kind":"hang","times":3}}"#,
            r#"{"fault":{"kind":"malformed","x":null}}"#,
            r#"{"fault":{"kind":"error"}}"#,
        ] {
            assert!(serde_json::from_str::<Behavior>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn validate_wants_an_error_status() {
        let ok = Behavior::fault(e429());
        assert!(ok.validate().is_ok());
        let bad = Behavior::fault(Fault::Error {
            status: 200,
            retry_after_secs: None,
        });
        assert!(bad.validate().is_err_and(|m| m.contains("200")));
    }
}
