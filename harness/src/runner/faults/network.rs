//! Faults at the IP layer of a service's host: the scenario's names resolved to addresses,
//! put in place and undone by the backend (only the containers backend has them).

use super::{Topology, Undo};
use crate::backend::IpFault;
use crate::scenario::{NetworkFault, Stream, Target};

/// `fault` on `service`'s host, its peer resolved: a link is its proxy's address and port
/// (the harness's address is every link's), a service its host's address, every port.
fn resolve(fault: &NetworkFault, topology: &Topology) -> Result<IpFault, String> {
    Ok(match fault {
        NetworkFault::Drop { peer, stream } => {
            let (peer, port) = match peer {
                Target::Link(link) => {
                    let addr = topology
                        .links
                        .get(link)
                        .ok_or_else(|| format!("link {link} is not up"))?;
                    (addr.ip(), Some(addr.port()))
                }
                Target::Service(other) => (topology.service(other)?.addr().ip(), None),
            };
            IpFault::Drop {
                peer,
                port,
                outbound: *stream == Stream::Upstream,
            }
        }
        NetworkFault::Disconnect => IpFault::Disconnect,
        NetworkFault::Bandwidth { rate_kbps } => IpFault::Bandwidth {
            rate_kbps: *rate_kbps,
        },
    })
}

pub(super) async fn inject(
    service: &str,
    fault: &NetworkFault,
    topology: &Topology,
) -> Result<Undo, String> {
    let resolved = resolve(fault, topology)?;
    topology
        .service(service)?
        .ip_fault(resolved)
        .await
        .map(|()| Undo::Network(resolved))
        .map_err(|e| e.to_string())
}

pub(super) async fn heal(service: &str, undo: Undo, topology: &Topology) -> Result<(), String> {
    // What the injection set, addresses as they were then.
    let Undo::Network(resolved) = undo else {
        return Err(format!("{service}: nothing was set at the IP layer"));
    };
    topology
        .service(service)?
        .heal_ip_fault(resolved)
        .await
        .map_err(|e| e.to_string())
}
