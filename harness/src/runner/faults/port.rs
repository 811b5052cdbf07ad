//! Port faults, in place before the topology starts: `prepare` puts a squatter on the
//! service's port (on its host, beside it), or gives the service a privileged port, before the
//! service starts; their heal frees the port and starts the service again, or moves it to a
//! port it may bind.

use super::{FaultCx, Topology, TopologyError, Undo};
use crate::backend::{BackendError, Want};
use crate::scenario::{Family, FaultSpec, Scenario, SquatterAnswer};
use crate::services::squatter::SquatterRecipe;

/// How a port is squatted.
pub(super) struct Squat {
    /// The loopback address held.
    pub family: Family,
    /// The port the config file names rather than the listen port.
    pub config_port: bool,
    /// What the squatter answers a connection with.
    pub answers: SquatterAnswer,
}

/// Holds a port on `family`'s loopback beside `service`, and makes `service` listen on it
/// (or, with `config_port`, name it in its config file only). The squatter waits for the heal
/// in the topology's squatters, under the fault's name.
pub(super) async fn squat(
    fault: &FaultSpec,
    service: &str,
    how: Squat,
    scenario: &Scenario,
    topology: &mut Topology,
) -> Result<(), TopologyError> {
    let Squat {
        family,
        config_port,
        answers,
    } = how;
    let port = topology
        .host()
        .port(Want::BothFamilies)
        .map_err(BackendError::from)?;
    let recipe = SquatterRecipe {
        port,
        family,
        answers,
        beside: service.to_string(),
    };
    let squatter = topology
        .start_helper(scenario, &recipe.name(), &recipe)
        .await?;
    topology.probe_context.vars.set(
        "squatter_pid",
        squatter
            .handle()
            .pid()
            .map_or_else(String::new, |p| p.to_string()),
    );
    if config_port {
        topology.fix_config_port(service, port);
    } else {
        topology.fix_port(service, port);
    }
    topology.squatters.insert(fault.name.clone(), squatter);
    Ok(())
}

/// Makes `service` listen on a port below 1024 (it runs as an unprivileged user).
pub(super) fn privileged(service: &str, topology: &mut Topology) -> Result<(), TopologyError> {
    let port = topology
        .host()
        .port(Want::Privileged)
        .map_err(BackendError::from)?;
    topology.fix_port(service, port);
    Ok(())
}

/// Nothing to do on the timeline: `prepare` put it in place as the topology started.
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
