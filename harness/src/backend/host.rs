//! Where a run's services and links live, as recipes and the topology see it: the address a
//! service binds, the address the run's links (the proxy) listen on, the ports they get, and
//! where the programs they run are.
//!
//! Recipes ask the [`Host`] instead of writing `127.0.0.1`, picking host ports or looking for
//! programs on this machine themselves, so a backend whose services live elsewhere (a
//! container on the run's network, binding `0.0.0.0` in a namespace of its own, its programs
//! in an image) plans them with the same code. The process backend's host is this machine's
//! loopback: [`Loopback`].

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use super::ports;

/// Which port a service needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// Any free port.
    Any,
    /// A port free on both loopback families, so that squatting one family is the only
    /// conflict.
    BothFamilies,
    /// A free port below 1024, for a service that must not be allowed to bind it.
    Privileged,
}

/// A program a service runs, which the host finds (on this machine, or in an image).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Program {
    /// The OpenClaw gateway (and its CLI).
    OpenClaw,
    /// RabbitMQ's server (and `rabbitmqctl`).
    RabbitMq,
    /// Tansu, the Kafka-protocol broker.
    Tansu,
    /// `claw-bridge`, the queue worker.
    Bridge,
    /// `clawchaos-mock-llm`, the mock LLM as a program of its own (where the harness does not
    /// serve it itself: [`Host::serves_in_process`]).
    MockLlm,
    /// `clawchaos-token-service`, the JWT issuer as a program of its own (as the mock LLM).
    TokenService,
}

/// A program as the host found it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Installed {
    /// The command that runs it: the program and leading arguments.
    pub command: Vec<String>,
    /// Its command-line tool against a running instance, when it has one (`openclaw`,
    /// `rabbitmqctl`).
    pub tool: Option<Vec<String>>,
    /// Environment it needs (its own runtime first on `PATH`).
    pub env: Vec<(String, String)>,
    /// The version it reports, when known.
    pub version: Option<String>,
    /// Static files it ships that its config may name (OpenClaw's Control UI).
    pub assets: Option<PathBuf>,
    /// A cache folder it may keep between runs (Node's compile cache).
    pub cache: Option<PathBuf>,
    /// The image it is in, on a host that runs images (`command` is then a path in it);
    /// `None`: a program of this machine.
    pub image: Option<String>,
}

impl Installed {
    /// A program that is one executable file, nothing more known of it.
    pub fn at(path: PathBuf) -> Self {
        Self {
            command: vec![path.display().to_string()],
            ..Self::default()
        }
    }
}

/// Where a run's services and links live; see the module's documentation.
pub trait Host: Send + Sync + std::fmt::Debug {
    /// The address a service binds its listeners to.
    fn listen_ip(&self) -> IpAddr;
    /// The address the run's links (the proxy's listeners and its API) bind, which every
    /// service and the harness reach.
    fn link_ip(&self) -> IpAddr;
    /// The address the harness and other services reach `service` at, known before it
    /// starts (what a broker advertises): [`Host::listen_ip`] where every service shares
    /// one address, its own host's where each has one.
    fn address_of(&self, service: &str) -> IpAddr {
        let _ = service;
        self.listen_ip()
    }
    /// A port for a service or a link to listen on, never handed out twice in a run.
    fn port(&self, want: Want) -> std::io::Result<u16>;
    /// Where `program` is, and its version; the error says how to install it.
    fn program(&self, program: Program) -> Result<Installed, String>;
    /// Whether each service has a network namespace of its own (a container on the run's
    /// network), where it may listen on and talk to any address: the run's are all it sees.
    fn own_network_namespaces(&self) -> bool {
        false
    }
    /// Whether the harness serves its own test servers (the mock LLM, the token service)
    /// inside itself, on [`Host::link_ip`], rather than as programs on the host: where the
    /// services share the harness's namespace.
    fn serves_in_process(&self) -> bool {
        !self.own_network_namespaces()
    }
}

/// This machine's loopback: services and links listen on 127.0.0.1 and share its ports; its
/// programs are this machine's, as the run's pins choose them.
#[derive(Debug, Clone, Default)]
pub struct Loopback {
    /// The releases the run's programs are.
    pub pins: super::Pins,
}

impl Host for Loopback {
    fn listen_ip(&self) -> IpAddr {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    }

    fn link_ip(&self) -> IpAddr {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    }

    fn port(&self, want: Want) -> std::io::Result<u16> {
        match want {
            Want::Any => ports::free_port(),
            Want::BothFamilies => ports::free_port_both_families(),
            Want::Privileged => ports::free_privileged_port(),
        }
    }

    fn program(&self, program: Program) -> Result<Installed, String> {
        crate::services::on_this_machine(program, &self.pins)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hands_out_ports_of_each_kind_on_127_0_0_1() {
        let host = Loopback::default();
        assert_eq!(host.listen_ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(host.link_ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));
        let any = host.port(Want::Any).expect("a port");
        let both = host.port(Want::BothFamilies).expect("a port");
        assert_ne!(any, both, "a port handed out twice");
        assert!(any >= 1024 && both >= 1024);
    }
}
