//! Faults on the token service, through its control API.

use super::*;

/// What a fault does to the token service (healed by resetting it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenFault {
    /// Its port refuses connections.
    Down,
    /// It answers this status with an OAuth error.
    Error {
        /// The status.
        status: u16,
    },
    /// Tokens minted from now on live this long.
    Ttl(Duration),
    /// Its clock is this many seconds off (negative: behind).
    Clock(i64),
}

/// A token-service fault kind: its name, parameters and reader.
macro_rules! tokens {
    ($name:literal, $params:expr, $read:expr) => {
        FaultKind {
            name: $name,
            aliases: &[],
            targets: "token_service",
            target_keys: &["service"],
            params: $params,
            before_start: false,
            read: |t, refs| {
                let service = fault_service(t, $name, "token_service", refs);
                let read: fn(&Table<'_, '_, '_>) -> Option<TokenFault> = $read;
                let fault = read(t);
                Some(FaultAction::Tokens {
                    service: service?,
                    fault: fault?,
                })
            },
        }
    };
}

pub(super) const KINDS: &[FaultKind] = &[
    tokens!("tokens_down", &[], |_| Some(TokenFault::Down)),
    tokens!("tokens_error", &["status"], |t| {
        let status = t.req_integer("status", 400..=599, "an HTTP error status, 400 to 599");
        Some(TokenFault::Error {
            status: status? as u16,
        })
    }),
    tokens!("tokens_ttl", &["ttl"], |t| {
        Some(TokenFault::Ttl(t.req_positive_duration("ttl")?.value))
    }),
    tokens!("issuer_clock", &["offset"], |t| {
        super::clock::offset(t).map(TokenFault::Clock)
    }),
];
