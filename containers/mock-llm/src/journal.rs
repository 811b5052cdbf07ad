//! The request journal: every `/v1/*` request, recorded before it is answered.

use std::{collections::BTreeMap, fmt, str::FromStr, time::Instant};

use axum::http::HeaderMap;
use clawchaos_service_kit::journal::{self as kit, Stamp};
use serde::{Deserialize, Serialize};

use crate::behavior::Fault;

/// What the mock did with a request; on the wire `"ok"`, `"error:429"`, `"stall"`, ...
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Outcome {
    /// Answered normally.
    Ok,
    /// Answered with this HTTP error status (a fault, an unknown model or a bad request).
    Error(u16),
    /// Answered after a delay before the first byte.
    DelayFirstByte,
    /// Sent part of the answer, then stalled.
    Stall,
    /// Streamed the answer slowly.
    SlowTokens,
    /// Closed the connection without an answer.
    DropConnection,
    /// Answered 200 with a broken body.
    Malformed,
    /// Never answered.
    Hang,
    /// Kept the answer alive without content, never finishing.
    Keepalive,
}

impl From<&Fault> for Outcome {
    fn from(fault: &Fault) -> Self {
        match fault {
            Fault::Error { status, .. } => Outcome::Error(*status),
            Fault::DelayFirstByte { .. } => Outcome::DelayFirstByte,
            Fault::Stall { .. } => Outcome::Stall,
            Fault::SlowTokens { .. } => Outcome::SlowTokens,
            Fault::DropConnection => Outcome::DropConnection,
            Fault::Malformed => Outcome::Malformed,
            Fault::Hang => Outcome::Hang,
            Fault::Keepalive { .. } => Outcome::Keepalive,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Ok => f.write_str("ok"),
            Outcome::Error(status) => f.write_str(&kit::error_outcome(*status)),
            Outcome::DelayFirstByte => f.write_str("delay_first_byte"),
            Outcome::Stall => f.write_str("stall"),
            Outcome::SlowTokens => f.write_str("slow_tokens"),
            Outcome::DropConnection => f.write_str("drop_connection"),
            Outcome::Malformed => f.write_str("malformed"),
            Outcome::Hang => f.write_str("hang"),
            Outcome::Keepalive => f.write_str("keepalive"),
        }
    }
}

impl FromStr for Outcome {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "ok" => Outcome::Ok,
            "delay_first_byte" => Outcome::DelayFirstByte,
            "stall" => Outcome::Stall,
            "slow_tokens" => Outcome::SlowTokens,
            "drop_connection" => Outcome::DropConnection,
            "malformed" => Outcome::Malformed,
            "hang" => Outcome::Hang,
            "keepalive" => Outcome::Keepalive,
            other => match kit::parse_error_outcome(other) {
                Some(status) => Outcome::Error(status),
                None => return Err(format!("unknown outcome `{other}`")),
            },
        })
    }
}

clawchaos_service_kit::outcome_as_string!(Outcome);

/// One request as the mock saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// Position since the mock started (not reset by clearing the journal).
    pub seq: u64,
    /// Milliseconds since the mock started, on the monotonic clock.
    pub at_ms: f64,
    /// Wall-clock arrival time, milliseconds since the Unix epoch.
    pub unix_ms: u64,
    /// HTTP method.
    pub method: String,
    /// Request path, without the query.
    pub path: String,
    /// The `model` of a chat completion body; `None` for other requests or no model.
    pub model: Option<String>,
    /// The `stream` flag of a chat completion body (`false` when absent).
    pub stream: bool,
    /// Size of the request body.
    pub body_bytes: u64,
    /// Request headers, names lower-case, repeated headers joined with `, `.
    pub headers: BTreeMap<String, String>,
    /// What the mock did with it.
    pub outcome: Outcome,
}

/// What is known about a request when it arrives; the journal adds sequence and times.
#[derive(Debug, Clone)]
pub(crate) struct Arrival {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) model: Option<String>,
    pub(crate) stream: bool,
    pub(crate) body_bytes: u64,
    pub(crate) headers: BTreeMap<String, String>,
}

impl Arrival {
    /// An arrival with no chat body parsed yet.
    pub(crate) fn new(method: &str, path: &str, headers: &HeaderMap, body_bytes: usize) -> Self {
        Self {
            method: method.to_string(),
            path: path.to_string(),
            model: None,
            stream: false,
            body_bytes: u64::try_from(body_bytes).unwrap_or(u64::MAX),
            headers: header_map(headers),
        }
    }
}

/// The journal of one mock, ordered by arrival.
#[derive(Debug)]
pub(crate) struct Journal {
    started: Instant,
    entries: kit::Journal<JournalEntry>,
}

impl Journal {
    /// An empty journal whose clock starts now.
    pub(crate) fn new() -> Self {
        Self {
            started: Instant::now(),
            entries: kit::Journal::default(),
        }
    }

    /// Records a request; sequence and clocks are taken under one lock so they agree.
    pub(crate) fn record(&self, arrival: Arrival, outcome: Outcome) -> JournalEntry {
        self.entries.record(|Stamp { seq, unix_ms }| JournalEntry {
            seq,
            at_ms: self.started.elapsed().as_secs_f64() * 1000.0,
            unix_ms,
            method: arrival.method,
            path: arrival.path,
            model: arrival.model,
            stream: arrival.stream,
            body_bytes: arrival.body_bytes,
            headers: arrival.headers,
            outcome,
        })
    }

    /// A copy of every entry, oldest first.
    pub(crate) fn entries(&self) -> Vec<JournalEntry> {
        self.entries.entries()
    }

    /// Forgets every entry; sequence numbers keep counting.
    pub(crate) fn clear(&self) {
        self.entries.clear();
    }
}

fn header_map(headers: &HeaderMap) -> BTreeMap<String, String> {
    let mut map: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes());
        map.entry(name.as_str().to_string())
            .and_modify(|joined| {
                joined.push_str(", ");
                joined.push_str(&value);
            })
            .or_insert_with(|| value.into_owned());
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn outcome_strings_round_trip() {
        for o in [
            Outcome::Ok,
            Outcome::Error(429),
            Outcome::DelayFirstByte,
            Outcome::Stall,
            Outcome::SlowTokens,
            Outcome::DropConnection,
            Outcome::Malformed,
            Outcome::Hang,
            Outcome::Keepalive,
        ] {
            assert_eq!(o.to_string().parse::<Outcome>(), Ok(o));
        }
        assert_eq!(Outcome::Error(503).to_string(), "error:503");
        assert!("error:x".parse::<Outcome>().is_err());
        assert!("fine".parse::<Outcome>().is_err());
    }

    #[test]
    fn record_orders_and_clear_keeps_counting() {
        let j = Journal::new();
        let headers = HeaderMap::new();
        let a = j.record(Arrival::new("GET", "/v1/models", &headers, 0), Outcome::Ok);
        let b = j.record(Arrival::new("GET", "/v1/models", &headers, 0), Outcome::Ok);
        assert_eq!((a.seq, b.seq), (0, 1));
        assert!(b.at_ms >= a.at_ms);
        j.clear();
        assert!(j.entries().is_empty());
        let c = j.record(Arrival::new("GET", "/v1/models", &headers, 0), Outcome::Ok);
        assert_eq!(c.seq, 2);
        assert_eq!(j.entries().len(), 1);
    }

    #[test]
    fn repeated_headers_are_joined() {
        let mut headers = HeaderMap::new();
        headers.append("x-a", HeaderValue::from_static("1"));
        headers.append("x-a", HeaderValue::from_static("2"));
        headers.insert("user-agent", HeaderValue::from_static("OpenAI/JS 7.15.0"));
        let map = header_map(&headers);
        assert_eq!(map["x-a"], "1, 2");
        assert_eq!(map["user-agent"], "OpenAI/JS 7.15.0");
    }
}
