//! A service's wall clock shifted (libfaketime; bridges only).

use super::*;

pub(super) const KINDS: &[FaultKind] = &[FaultKind {
    name: "clock_skew",
    aliases: &[],
    targets: "bridge",
    target_keys: &["service"],
    params: &["offset"],
    before_start: false,
    read: |t, refs| {
        let service = fault_service(t, "clock_skew", "bridge", refs);
        let offset_secs = offset(t);
        Some(FaultAction::ClockSkew {
            service: service?,
            offset_secs: offset_secs?,
        })
    },
}];

/// The required `offset` of a clock fault, in seconds (negative: behind).
pub(super) fn offset(t: &Table<'_, '_, '_>) -> Option<i64> {
    let offset = super::super::services::read_signed_duration(t, "offset");
    if offset.is_none() && !t.has("offset") {
        t.missing(
            "offset",
            "how far the clock is off, e.g. \"+10m\" or \"-2h\"",
        );
    }
    offset
}
