//! The host of a run on the containers backend: every service in a pod of its own on the run's
//! network, listening on all of the pod's addresses; links and the harness's in-process servers
//! on the harness's address on that network.
//!
//! Programs: OpenClaw and RabbitMQ from images of their own; the harness's own programs (the
//! mock LLM, the token service, the bridge) and Tansu are this machine's files, mounted read-only into every
//! container of the run at [`TOOLS_IN_CONTAINER`] and run in the base image (which has what
//! they link against and libfaketime).

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Mutex;

use super::super::host::{Host, Installed, Program, Want};
use super::super::ports;
use super::network::Subnet;

/// Where the harness's own programs and Tansu are, inside a container: each file is mounted
/// there, read-only, under its own name.
pub const TOOLS_IN_CONTAINER: &str = "/opt/clawchaos/bin";

/// The programs that are this machine's files, run in the base image.
pub const MOUNTED_PROGRAMS: [Program; 4] = [
    Program::MockLlm,
    Program::TokenService,
    Program::Bridge,
    Program::Tansu,
];

/// A run's host on the containers backend.
#[derive(Debug)]
pub struct ContainersHost {
    /// The harness's address on the run's network.
    pub gateway: Ipv4Addr,
    /// The base image.
    pub image: String,
    /// Each of [`MOUNTED_PROGRAMS`] as this machine has it, or why it has not.
    pub mounted: Vec<(Program, Result<Installed, String>)>,
    /// OpenClaw in its image, or why there is none.
    pub openclaw: Result<Installed, String>,
    /// RabbitMQ's image.
    pub rabbitmq: String,
    /// The run's subnet, whose `.1` is the harness's address and the rest its pods'.
    pub subnet: Subnet,
    /// The services whose pods have addresses, in the order they were handed out: the n-th
    /// has `.(n + 2)`.
    pub addressed: Mutex<Vec<String>>,
}

impl ContainersHost {
    /// The address of `service`'s pod: handed out on the first ask, the same ever after.
    pub fn pod_address(&self, service: &str) -> Result<Ipv4Addr, String> {
        let mut addressed = self
            .addressed
            .lock()
            .map_err(|_| "the addresses' lock is poisoned".to_string())?;
        let index = match addressed.iter().position(|s| s == service) {
            Some(index) => index,
            None => {
                addressed.push(service.to_string());
                addressed.len() - 1
            }
        };
        let host = u32::try_from(index + 2).unwrap_or(u32::MAX);
        let size = 1u32 << (32 - u32::from(self.subnet.prefix.min(31)));
        if host >= size - 1 {
            return Err(format!(
                "the run's network ({}/{}) has no address left for {service}",
                self.subnet.base, self.subnet.prefix
            ));
        }
        Ok(Ipv4Addr::from(u32::from(self.subnet.base) + host))
    }

    /// The bind mounts (`host:container:ro`) that put the mounted programs in a container.
    pub fn binds(&self) -> Vec<String> {
        self.mounted
            .iter()
            .filter_map(|(_, installed)| installed.as_ref().ok())
            .filter_map(|installed| installed.command.first())
            .filter_map(|path| Some(format!("{path}:{}:ro", in_container(path)?)))
            .collect()
    }
}

/// Where this machine's program file `path` is inside a container.
fn in_container(path: &str) -> Option<String> {
    let file = std::path::Path::new(path).file_name()?.to_str()?;
    Some(format!("{TOOLS_IN_CONTAINER}/{file}"))
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

    fn address_of(&self, service: &str) -> IpAddr {
        // Out of addresses: the pod's start reports it.
        self.pod_address(service)
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), IpAddr::V4)
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
            Program::OpenClaw => self.openclaw.clone(),
            Program::RabbitMq => Ok(Installed {
                image: Some(self.rabbitmq.clone()),
                ..crate::services::rabbitmq::installed_at(crate::services::rabbitmq::server_path())
            }),
            Program::MockLlm | Program::TokenService | Program::Bridge | Program::Tansu => {
                let here = self
                    .mounted
                    .iter()
                    .find(|(p, _)| *p == program)
                    .map(|(_, installed)| installed.clone())
                    .ok_or_else(|| format!("{program:?} is not mounted"))??;
                let mut command = here.command;
                if let Some(first) = command.first_mut() {
                    *first = in_container(first)
                        .ok_or_else(|| format!("{program:?}: {first} names no file"))?;
                }
                Ok(Installed {
                    command,
                    image: Some(self.image.clone()),
                    ..here
                })
            }
        }
    }

    fn own_network_namespaces(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(prefix: u8) -> ContainersHost {
        ContainersHost {
            gateway: Ipv4Addr::new(10, 213, 7, 1),
            image: String::new(),
            mounted: Vec::new(),
            openclaw: Err(String::new()),
            rabbitmq: String::new(),
            subnet: Subnet {
                base: Ipv4Addr::new(10, 213, 7, 0),
                prefix,
            },
            addressed: Mutex::new(Vec::new()),
        }
    }

    #[test]
    fn each_service_keeps_the_address_it_was_first_given() {
        let host = host(24);
        assert_eq!(host.pod_address("broker"), Ok(Ipv4Addr::new(10, 213, 7, 2)));
        assert_eq!(host.pod_address("bridge"), Ok(Ipv4Addr::new(10, 213, 7, 3)));
        assert_eq!(host.pod_address("broker"), Ok(Ipv4Addr::new(10, 213, 7, 2)));
        assert_eq!(
            host.address_of("bridge"),
            IpAddr::V4(Ipv4Addr::new(10, 213, 7, 3))
        );
    }

    #[test]
    fn a_full_network_says_so() {
        let host = host(30);
        assert!(host.pod_address("a").is_ok(), ".2");
        let full = host.pod_address("b").err().unwrap_or_default();
        assert!(full.contains("no address left for b"), "{full}");
    }
}
