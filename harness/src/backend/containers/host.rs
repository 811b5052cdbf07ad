//! The host of a run on the containers backend: every service in a pod of its own on the run's
//! network, listening on all of the pod's addresses; links and the harness's in-process servers
//! on the harness's address on that network.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use super::super::host::{Host, Installed, Program, Want};
use super::super::ports;

/// Where the harness's own programs are, inside a container: the folder they were built into
/// is mounted there, read-only.
pub const TOOLS_IN_CONTAINER: &str = "/opt/clawchaos/bin";

/// A run's host on the containers backend.
#[derive(Debug)]
pub struct ContainersHost {
    /// The harness's address on the run's network.
    pub gateway: Ipv4Addr,
    /// The base image.
    pub image: String,
    /// The folder holding the harness's own programs (the mock LLM), when built.
    pub tools: Result<PathBuf, String>,
    /// OpenClaw in its image, or why there is none.
    pub openclaw: Result<Installed, String>,
}

/// The port a service that must not be allowed to bind gets: every pod's own 80 is free, and
/// below the pod's `ip_unprivileged_port_start` (1024, as on a host).
pub const PRIVILEGED_PORT: u16 = 80;

impl Host for ContainersHost {
    fn listen_ip(&self) -> IpAddr {
        // A pod's own namespace: every address of it is the service's.
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    }

    fn link_ip(&self) -> IpAddr {
        IpAddr::V4(self.gateway)
    }

    fn port(&self, want: Want) -> std::io::Result<u16> {
        // Links bind on this machine (the run network's bridge), so ports come from the same
        // allocator as on loopback; a pod's own namespace has them all free.
        match want {
            Want::Any => ports::free_port(),
            Want::BothFamilies => ports::free_port_both_families(),
            Want::Privileged => Ok(PRIVILEGED_PORT),
        }
    }

    fn program(&self, program: Program) -> Result<Installed, String> {
        match program {
            Program::MockLlm => {
                self.tools.as_ref().map_err(Clone::clone)?;
                Ok(Installed {
                    command: vec![format!(
                        "{TOOLS_IN_CONTAINER}/{}",
                        crate::services::mock_llm::BINARY
                    )],
                    image: Some(self.image.clone()),
                    ..Installed::default()
                })
            }
            Program::OpenClaw => self.openclaw.clone(),
            Program::RabbitMq | Program::Tansu | Program::Bridge => Err(not_yet(program)),
        }
    }

    fn serves_in_process(&self) -> bool {
        false
    }
}

/// Why `program` cannot run on the containers backend yet.
pub fn not_yet(program: Program) -> String {
    format!(
        "it does not run {program:?} yet (the brokers' and the bridge's images come next); the process backend does"
    )
}
