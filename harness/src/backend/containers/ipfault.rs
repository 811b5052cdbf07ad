//! Faults at the IP layer of a pod, the service's own host: an nftables table that drops one
//! direction, the pod disconnected from the run's network, a token bucket on its interface.
//! Rules and queues are set by `nft` and `tc` (the base image has both) run in the pod, which
//! alone holds `CAP_NET_ADMIN` (the engine lets an exec have no capability its container
//! lacks; the services joining the pod have the engine's default set); they belong to the
//! pod's namespace, so they outlive a restart of the service and go with the pod.

use std::net::IpAddr;
use std::time::Duration;

use bollard::Docker;
use bollard::models::{
    EndpointIpamConfig, EndpointSettings, NetworkConnectRequest, NetworkDisconnectRequest,
};

use super::super::tool::Tool as _;
use super::super::{BackendError, CliCommand, IpFault};
use super::exec::ExecTool;

/// How long `nft` or `tc` may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);
/// The pod's interface on the run's network.
const INTERFACE: &str = "eth0";

/// What a service knows of its pod: enough to set a fault at its IP layer.
#[derive(Debug, Clone)]
pub struct PodNet {
    /// The pod's container id.
    pub id: String,
    /// Its address on the run's network.
    pub ip: IpAddr,
    /// The run's network.
    pub network: String,
}

/// Puts `fault` in place on `pod`, for `service`.
pub async fn inject(
    docker: &Docker,
    service: &str,
    pod: &PodNet,
    fault: IpFault,
) -> Result<(), BackendError> {
    match fault {
        IpFault::Drop { .. } => run(docker, service, pod, "nft", &[drop_rules(fault)]).await,
        IpFault::Bandwidth { rate_kbps } => {
            let args = bucket(rate_kbps);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run(docker, service, pod, "tc", &args).await
        }
        IpFault::Disconnect => {
            let request = NetworkDisconnectRequest {
                container: pod.id.clone(),
                force: Some(true),
            };
            docker
                .disconnect_network(&pod.network, request)
                .await
                .map_err(|e| control(service, &e))
        }
    }
}

/// Undoes `fault` on `pod`.
pub async fn heal(
    docker: &Docker,
    service: &str,
    pod: &PodNet,
    fault: IpFault,
) -> Result<(), BackendError> {
    match fault {
        IpFault::Drop { .. } => {
            let table = format!("delete table inet {}", table_name(fault));
            run(docker, service, pod, "nft", &[table]).await
        }
        IpFault::Bandwidth { .. } => {
            run(
                docker,
                service,
                pod,
                "tc",
                &["qdisc", "del", "dev", INTERFACE, "root"],
            )
            .await
        }
        IpFault::Disconnect => {
            let request = NetworkConnectRequest {
                container: pod.id.clone(),
                endpoint_config: Some(EndpointSettings {
                    // Back on the address every other service knows it by.
                    ipam_config: Some(EndpointIpamConfig {
                        ipv4_address: Some(pod.ip.to_string()),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
            };
            docker
                .connect_network(&pod.network, request)
                .await
                .map_err(|e| control(service, &e))
        }
    }
}

/// The nftables table of a drop: one per peer and direction, so two drops never share one
/// and a heal deletes only its own.
fn table_name(fault: IpFault) -> String {
    match fault {
        IpFault::Drop {
            peer,
            port,
            outbound,
        } => {
            let peer: String = peer
                .to_string()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            let way = if outbound { "out" } else { "in" };
            format!("clawchaos_drop_{way}_{peer}_{}", port.unwrap_or(0))
        }
        IpFault::Disconnect | IpFault::Bandwidth { .. } => String::new(),
    }
}

/// One `nft` command line that makes the drop's table: a chain on the output hook matching
/// what goes to the peer, or on the input hook matching what comes from it.
fn drop_rules(fault: IpFault) -> String {
    let IpFault::Drop {
        peer,
        port,
        outbound,
    } = fault
    else {
        return String::new();
    };
    let family = if peer.is_ipv4() { "ip" } else { "ip6" };
    let (hook, addr, port_key) = if outbound {
        ("output", "daddr", "dport")
    } else {
        ("input", "saddr", "sport")
    };
    let port = port.map_or(String::new(), |p| format!(" tcp {port_key} {p}"));
    let table = table_name(fault);
    format!(
        "add table inet {table}; \
         add chain inet {table} cut {{ type filter hook {hook} priority 0; }}; \
         add rule inet {table} cut {family} {addr} {peer}{port} drop"
    )
}

/// `tc` arguments for a token bucket of `rate_kbps` KB/s on the pod's interface: a burst of
/// a tenth of a second's worth (at least a few packets), a queue of a second's worth.
fn bucket(rate_kbps: u64) -> Vec<String> {
    let burst = (rate_kbps / 10).max(8);
    [
        "qdisc",
        "replace",
        "dev",
        INTERFACE,
        "root",
        "tbf",
        "rate",
        &format!("{rate_kbps}kbps"),
        "burst",
        &format!("{burst}kb"),
        "latency",
        "1s",
    ]
    .map(str::to_string)
    .to_vec()
}

/// Runs `program args` in `pod` (which has `CAP_NET_ADMIN`); its failure (with its stderr) is the
/// fault's.
async fn run(
    docker: &Docker,
    service: &str,
    pod: &PodNet,
    program: &str,
    args: &[impl AsRef<str>],
) -> Result<(), BackendError> {
    let tool = ExecTool {
        docker: docker.clone(),
        container: pod.id.clone(),
        command: CliCommand {
            command: vec![program.to_string()],
            env: Vec::new(),
        },
        user: None,
    };
    let args: Vec<String> = args.iter().map(|a| a.as_ref().to_string()).collect();
    let output = tool
        .run(&args, COMMAND_TIMEOUT)
        .await
        .map_err(|e| BackendError::Control {
            service: service.to_string(),
            message: e.to_string(),
        })?;
    if output.code == Some(0) {
        tracing::debug!(%service, %program, args = %args.join(" "), "set at the IP layer");
        Ok(())
    } else {
        Err(BackendError::Control {
            service: service.to_string(),
            message: format!(
                "`{program} {}` in its pod: exit {:?}: {}",
                args.join(" "),
                output.code,
                output.stderr.trim()
            ),
        })
    }
}

fn control(service: &str, e: &bollard::errors::Error) -> BackendError {
    BackendError::Control {
        service: service.to_string(),
        message: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drop_of_what_a_service_sends_to_a_link_matches_its_address_and_port() {
        let fault = IpFault::Drop {
            peer: IpAddr::from([10, 213, 7, 1]),
            port: Some(40123),
            outbound: true,
        };
        let rules = drop_rules(fault);
        assert!(rules.contains("hook output"), "{rules}");
        assert!(
            rules.ends_with("ip daddr 10.213.7.1 tcp dport 40123 drop"),
            "{rules}"
        );
        assert!(rules.contains("table inet clawchaos_drop_out_10_213_7_1_40123"));
    }

    #[test]
    fn a_drop_of_what_a_service_receives_from_a_host_matches_every_port() {
        let fault = IpFault::Drop {
            peer: IpAddr::from([10, 213, 7, 3]),
            port: None,
            outbound: false,
        };
        let rules = drop_rules(fault);
        assert!(rules.contains("hook input"), "{rules}");
        assert!(rules.ends_with("ip saddr 10.213.7.3 drop"), "{rules}");
        assert_ne!(
            table_name(fault),
            table_name(IpFault::Drop {
                peer: IpAddr::from([10, 213, 7, 3]),
                port: None,
                outbound: true,
            }),
            "each direction has a table of its own"
        );
    }

    #[test]
    fn a_bucket_is_in_kilobytes_per_second_with_a_burst_of_a_tenth() {
        let args = bucket(200);
        assert!(
            args.windows(2).any(|w| w == ["rate", "200kbps"]),
            "{args:?}"
        );
        assert!(args.windows(2).any(|w| w == ["burst", "20kb"]), "{args:?}");
        assert!(bucket(10).windows(2).any(|w| w == ["burst", "8kb"]));
    }
}
