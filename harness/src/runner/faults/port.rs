//! Port faults, in place before the topology starts (`Topology::start` puts the squatter in
//! place or gives the service a privileged port): their heal frees the port and starts the
//! service again, or moves it to a port it may bind.

use super::{FaultCx, Topology, Undo};
use crate::scenario::FaultSpec;

/// Nothing to do on the timeline: the topology put it in place as it started.
pub(super) fn inject(fault: &FaultSpec) -> Result<Undo, String> {
    Err(format!(
        "`{}` is put in place as the topology starts, not on the timeline",
        fault.kind
    ))
}

pub(super) async fn heal_squat(
    service: &str,
    config_port: bool,
    undo: Undo,
    topology: &mut Topology,
) -> Result<(), String> {
    undo.release().await;
    // The service never needed the port its config file names: freeing it is the heal.
    if config_port {
        return Ok(());
    }
    super::restart(topology, service).await
}

pub(super) async fn heal_privileged(service: &str, cx: &mut FaultCx<'_>) -> Result<(), String> {
    cx.topology
        .restart_on_new_port(cx.scenario, service)
        .await
        .map_err(|e| e.to_string())
}
