//! Injecting and healing faults. Each family's inject and heal sit side by side in a file of
//! its own; an injection returns what its heal needs ([`Undo`]), so nothing is parked on the
//! topology between the two.

mod clock;
mod config;
mod link;
mod llm;
mod network;
mod port;
mod process;
mod rabbitmq;
mod tokens;

use std::path::PathBuf;

pub use link::toxic_for;
pub use llm::behavior_for;

use super::topology::{Topology, TopologyError};
use crate::backend::Service;
use crate::scenario::{FaultAction, FaultSpec, Scenario};

/// Which half of a fault failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Putting it in place.
    Inject,
    /// Undoing it.
    Heal,
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Step::Inject => "inject",
            Step::Heal => "heal",
        })
    }
}

/// A fault that could not be injected or healed.
#[derive(Debug, thiserror::Error)]
#[error("fault {fault}: cannot {step}: {message}")]
pub struct FaultError {
    /// The fault.
    pub fault: String,
    /// Inject or heal.
    pub step: Step,
    /// What went wrong.
    pub message: String,
}

/// What a heal needs from its injection.
pub enum Undo {
    /// Nothing beyond the fault's own spec.
    Nothing,
    /// The config file as it was before the fault changed it.
    Config {
        /// The file.
        path: PathBuf,
        /// Its content before the change.
        original: Vec<u8>,
    },
    /// The process that holds the port (put in place as the topology started).
    Squatter(Box<dyn Service>),
    /// What was set at the IP layer of a service's host, addresses resolved.
    Network(crate::backend::IpFault),
}

impl Undo {
    /// Stops what the undo holds (a squatter), for a run that ends before the heal.
    pub async fn release(self) {
        if let Undo::Squatter(mut squatter) = self {
            squatter.stop().await;
        }
    }
}

/// What faults act on.
pub struct FaultCx<'a> {
    /// The running topology.
    pub topology: &'a mut Topology,
    /// The scenario (a heal may start a service again from its spec).
    pub scenario: &'a Scenario,
}

/// Puts a before-start fault in place as the topology starts, before any service: what its
/// family needs then (a port squatted, a port fixed).
pub async fn prepare(
    fault: &FaultSpec,
    scenario: &Scenario,
    topology: &mut Topology,
) -> Result<(), TopologyError> {
    match &fault.action {
        FaultAction::SquatPort {
            service,
            family,
            config_port,
            answers,
        } => {
            let squatter = port::Squat {
                family: *family,
                config_port: *config_port,
                answers: *answers,
            };
            port::squat(fault, service, squatter, scenario, topology).await
        }
        FaultAction::PrivilegedPort { service } => port::privileged(service, topology),
        FaultAction::Link { .. }
        | FaultAction::Llm { .. }
        | FaultAction::Process { .. }
        | FaultAction::Tokens { .. }
        | FaultAction::ClockSkew { .. }
        | FaultAction::Broker { .. }
        | FaultAction::Network { .. }
        | FaultAction::Config { .. } => Ok(()),
    }
}

/// Injects `fault` into the running topology.
pub async fn inject(fault: &FaultSpec, cx: &mut FaultCx<'_>) -> Result<Undo, FaultError> {
    let topology = &mut *cx.topology;
    let result = match &fault.action {
        FaultAction::Link { link, fault: f, .. } => link::inject(fault, link, f, topology).await,
        FaultAction::Llm {
            service,
            model,
            times,
            fault: f,
        } => llm::inject(service, f, model.as_deref(), *times, topology).await,
        FaultAction::Process { service, fault: f } => process::inject(service, *f, topology).await,
        FaultAction::SquatPort { .. } | FaultAction::PrivilegedPort { .. } => port::inject(fault),
        FaultAction::Tokens { service, fault: f } => tokens::inject(service, *f, topology).await,
        FaultAction::ClockSkew {
            service,
            offset_secs,
        } => clock::set(service, *offset_secs, topology).map(|()| Undo::Nothing),
        FaultAction::Broker { service, fault: f } => rabbitmq::inject(topology, service, *f).await,
        FaultAction::Network { service, fault: f } => network::inject(service, f, topology).await,
        FaultAction::Config {
            service,
            patch,
            restart,
        } => config::inject(service, patch, *restart, topology).await,
    };
    result.map_err(|message| FaultError {
        fault: fault.name.clone(),
        step: Step::Inject,
        message,
    })
}

/// Heals `fault` with what its injection returned.
pub async fn heal(fault: &FaultSpec, undo: Undo, cx: &mut FaultCx<'_>) -> Result<(), FaultError> {
    let result = match &fault.action {
        FaultAction::Link { link, fault: f, .. } => link::heal(fault, link, f, cx.topology).await,
        FaultAction::Llm { service, .. } => llm::heal(service, cx.topology).await,
        FaultAction::Process { service, fault: f } => process::heal(service, *f, cx.topology).await,
        FaultAction::SquatPort {
            service,
            config_port,
            ..
        } => port::heal_squat(service, *config_port, undo, cx.topology).await,
        FaultAction::PrivilegedPort { service } => port::heal_privileged(service, cx).await,
        FaultAction::Tokens { service, .. } => tokens::heal(service, cx.topology).await,
        FaultAction::ClockSkew { service, .. } => clock::set(service, 0, cx.topology),
        FaultAction::Broker { service, fault: f } => rabbitmq::heal(cx.topology, service, *f).await,
        FaultAction::Network { service, .. } => network::heal(service, undo, cx.topology).await,
        FaultAction::Config {
            service, restart, ..
        } => config::heal(service, *restart, undo, cx.topology).await,
    };
    result.map_err(|message| FaultError {
        fault: fault.name.clone(),
        step: Step::Heal,
        message,
    })
}

/// Starts `service` again (after a kill, or to read a changed config) and republishes its
/// port and pid for probes.
async fn restart(topology: &mut Topology, service: &str) -> Result<(), String> {
    topology
        .service_mut(service)?
        .restart()
        .await
        .map_err(|e| e.to_string())?;
    topology.publish_vars(service);
    Ok(())
}
