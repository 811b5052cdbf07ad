//! The request journal: every `/token` and `/refresh` request and what came of it. It never
//! holds a token or key material.

use std::{fmt, str::FromStr};

use clawchaos_service_kit::journal::{self as kit, Stamp};
use serde::{Deserialize, Serialize};

/// Which minting route a request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Route {
    /// `POST /token`: a first mint.
    #[serde(rename = "/token")]
    Token,
    /// `POST /refresh`: a refresh.
    #[serde(rename = "/refresh")]
    Refresh,
}

impl Route {
    /// The route's path.
    pub fn path(self) -> &'static str {
        match self {
            Route::Token => "/token",
            Route::Refresh => "/refresh",
        }
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.path())
    }
}

/// What the service did with a request; on the wire `"issued"` or `"error:503"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Outcome {
    /// A token was issued.
    Issued,
    /// Answered with this HTTP error status (error mode, a bad body, or a signing failure).
    Error(u16),
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Issued => f.write_str("issued"),
            Outcome::Error(status) => f.write_str(&kit::error_outcome(*status)),
        }
    }
}

impl FromStr for Outcome {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "issued" {
            return Ok(Outcome::Issued);
        }
        kit::parse_error_outcome(s)
            .map(Outcome::Error)
            .ok_or_else(|| format!("unknown outcome `{s}`"))
    }
}

clawchaos_service_kit::outcome_as_string!(Outcome);

/// One `/token` or `/refresh` request as the service saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// Position since the service started (not reset by clearing the journal).
    pub seq: u64,
    /// Real wall-clock time of the request, milliseconds since the Unix epoch (no offset).
    pub unix_ms: u64,
    /// Which route.
    pub route: Route,
    /// What came of it.
    pub outcome: Outcome,
    /// The issued token's `iat` (service clock); `None` unless issued.
    pub iat: Option<i64>,
    /// The issued token's `exp` (service clock); `None` unless issued.
    pub exp: Option<i64>,
    /// The issued token's `jti`; `None` unless issued.
    pub jti: Option<String>,
}

/// What a request came to, before the journal numbers and timestamps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    pub(crate) route: Route,
    pub(crate) outcome: Outcome,
    pub(crate) issued: Option<(i64, i64, String)>,
}

/// The journal of one service, ordered by arrival.
#[derive(Debug, Default)]
pub(crate) struct Journal(kit::Journal<JournalEntry>);

impl Journal {
    /// Records one request and returns the entry.
    pub(crate) fn record(&self, record: Record) -> JournalEntry {
        let (iat, exp, jti) = match record.issued {
            Some((iat, exp, jti)) => (Some(iat), Some(exp), Some(jti)),
            None => (None, None, None),
        };
        self.0.record(|Stamp { seq, unix_ms }| JournalEntry {
            seq,
            unix_ms,
            route: record.route,
            outcome: record.outcome,
            iat,
            exp,
            jti,
        })
    }

    /// A copy of every entry, oldest first.
    pub(crate) fn entries(&self) -> Vec<JournalEntry> {
        self.0.entries()
    }

    /// Forgets every entry; sequence numbers keep counting.
    pub(crate) fn clear(&self) {
        self.0.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_strings_round_trip() {
        for o in [Outcome::Issued, Outcome::Error(503), Outcome::Error(401)] {
            assert_eq!(o.to_string().parse::<Outcome>(), Ok(o));
        }
        assert_eq!(Outcome::Error(503).to_string(), "error:503");
        assert!("error:x".parse::<Outcome>().is_err());
        assert!("ok".parse::<Outcome>().is_err());
    }

    #[test]
    fn record_numbers_entries_and_clear_keeps_counting() {
        let journal = Journal::default();
        let error = |route| Record {
            route,
            outcome: Outcome::Error(503),
            issued: None,
        };
        let a = journal.record(error(Route::Token));
        let b = journal.record(Record {
            route: Route::Refresh,
            outcome: Outcome::Issued,
            issued: Some((10, 70, "id".to_string())),
        });
        assert_eq!((a.seq, b.seq), (0, 1));
        assert_eq!(
            (b.iat, b.exp, b.jti.as_deref()),
            (Some(10), Some(70), Some("id"))
        );
        assert_eq!(a.jti, None);
        journal.clear();
        assert!(journal.entries().is_empty());
        assert_eq!(journal.record(error(Route::Token)).seq, 2);
    }

    #[test]
    fn entries_serialise_with_paths_and_outcome_strings() -> serde_json::Result<()> {
        let journal = Journal::default();
        let entry = journal.record(Record {
            route: Route::Refresh,
            outcome: Outcome::Error(401),
            issued: None,
        });
        let json = serde_json::to_value(&entry)?;
        assert_eq!(json["route"], "/refresh");
        assert_eq!(json["outcome"], "error:401");
        Ok(())
    }
}
