//! Faults on a service's processes: signals to its process group.

use super::*;

/// A fault on a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessFault {
    /// SIGKILL; the heal starts the service again.
    Kill,
    /// SIGSTOP; the heal sends SIGCONT.
    Pause,
    /// A graceful restart, as a deploy does it: SIGTERM (SIGKILL after the grace), then
    /// started again on the same address, all at injection; the heal has nothing to undo.
    Restart,
}

/// The service kinds that run as processes, as the docs and the error say them.
const PROCESS_KINDS: &str = "process, openclaw, rabbitmq, tansu, bridge";

pub(super) const KINDS: &[FaultKind] = &[
    FaultKind {
        name: "kill",
        aliases: &[],
        targets: PROCESS_KINDS,
        target_keys: &["service"],
        params: &[],
        before_start: false,
        read: |t, refs| read_process(t, "kill", refs, ProcessFault::Kill),
    },
    FaultKind {
        name: "pause",
        aliases: &[],
        targets: PROCESS_KINDS,
        target_keys: &["service"],
        params: &[],
        before_start: false,
        read: |t, refs| read_process(t, "pause", refs, ProcessFault::Pause),
    },
    FaultKind {
        name: "restart",
        aliases: &[],
        targets: PROCESS_KINDS,
        target_keys: &["service"],
        params: &[],
        before_start: false,
        read: |t, refs| read_process(t, "restart", refs, ProcessFault::Restart),
    },
];

fn read_process(
    t: &Table<'_, '_, '_>,
    kind: &str,
    refs: &Refs<'_>,
    fault: ProcessFault,
) -> Option<FaultAction> {
    let service = fault_service_among(t, kind, PROCESS_KINDS, "that runs as a process", refs)?;
    Some(FaultAction::Process { service, fault })
}
