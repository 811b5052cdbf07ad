//! Faults at the IP layer, in a service's own network namespace: only a backend that gives
//! each service one (containers) has them, so a scenario with one declares
//! `[unsupported] process`.

use super::*;

/// A fault at the IP layer of a service's host.
#[derive(Debug, Clone, PartialEq)]
pub enum NetworkFault {
    /// Packets of one direction between the service and `peer` are dropped by the service's
    /// kernel (an nftables rule in its namespace): a one-way partition both ends' kernels
    /// see, retransmissions and all, where the proxy's `blackhole` still acknowledges.
    Drop {
        /// The other end: a service, or the link the service dials.
        peer: Target,
        /// `upstream`: what the service sends to `peer`; `downstream`: what it receives.
        stream: Stream,
    },
    /// The service's host leaves the run's network; the heal connects it again, on the same
    /// address.
    Disconnect,
    /// What the service sends is capped at its interface (`tc`'s token bucket), in KB/s.
    Bandwidth {
        /// KB/s.
        rate_kbps: u64,
    },
}

/// The service kinds that run in a host of their own on the containers backend.
const POD_KINDS: &str = "process, openclaw, mock_llm, rabbitmq, tansu, bridge";
/// What the kinds act on, as the docs' fault table says it.
const TARGETS: &str = "process, openclaw, mock_llm, rabbitmq, tansu, bridge (containers backend)";

pub(super) const KINDS: &[FaultKind] = &[
    FaultKind {
        name: "ip_drop",
        aliases: &[],
        targets: TARGETS,
        target_keys: &["service", "peer", "stream"],
        params: &[],
        before_start: false,
        read: |t, refs| {
            let service = pod_service(t, "ip_drop", refs);
            let peer = super::super::services::read_target_table(t, "peer", "the other end");
            if peer.is_none() && !t.has("peer") {
                t.missing(
                    "peer",
                    "the other end, as { link = \"NAME\" } or { service = \"NAME\" }",
                );
            }
            let peer = peer?;
            let known = match &peer {
                Target::Link(l) => refs.links.contains_key(l),
                Target::Service(s) => refs.services.contains_key(s),
            };
            if !known {
                t.source().problem(
                    t.raw("peer").map_or(t.span(), |v| v.span()),
                    format!("`peer` names {peer:?}, which the scenario does not declare"),
                );
                return None;
            }
            let stream = t.choice("stream", &["upstream", "downstream"]);
            if stream.is_none() && !t.has("stream") {
                t.missing(
                    "stream",
                    "\"upstream\" (what the service sends to the peer) or \"downstream\" (what it receives)",
                );
            }
            let stream = match stream?.value.as_str() {
                "upstream" => Stream::Upstream,
                _ => Stream::Downstream,
            };
            Some(FaultAction::Network {
                service: service?,
                fault: NetworkFault::Drop { peer, stream },
            })
        },
    },
    FaultKind {
        name: "disconnect",
        aliases: &[],
        targets: TARGETS,
        target_keys: &["service"],
        params: &[],
        before_start: false,
        read: |t, refs| {
            Some(FaultAction::Network {
                service: pod_service(t, "disconnect", refs)?,
                fault: NetworkFault::Disconnect,
            })
        },
    },
    FaultKind {
        name: "ip_bandwidth",
        aliases: &[],
        targets: TARGETS,
        target_keys: &["service"],
        params: &["rate"],
        before_start: false,
        read: |t, refs| {
            let service = pod_service(t, "ip_bandwidth", refs);
            let rate = t.req_integer(
                "rate",
                1..=i64::from(u32::MAX),
                "KB per second the service may send, an integer of at least 1",
            );
            Some(FaultAction::Network {
                service: service?,
                fault: NetworkFault::Bandwidth {
                    rate_kbps: rate? as u64,
                },
            })
        },
    },
];

/// The service a network fault acts on: one that has a host of its own.
fn pod_service(t: &Table<'_, '_, '_>, kind: &str, refs: &Refs<'_>) -> Option<String> {
    fault_service_among(t, kind, POD_KINDS, "with a host of its own", refs)
}
