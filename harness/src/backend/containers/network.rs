//! A run's own network: a Docker bridge network, labelled with the run, on a subnet the harness
//! chose (free of every other network and route of this machine), and `internal`: its
//! containers reach the harness (at the subnet's gateway address, on the bridge) and each
//! other, nothing beyond. Every address a run uses is therefore known to be its own.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use bollard::Docker;
use bollard::models::{Ipam, IpamConfig, NetworkCreateRequest};

use super::super::BackendError;
use super::engine;

/// The range run networks take their /24 from: 10.213.0.0/16.
const RANGE: [u8; 2] = [10, 213];
/// How many subnets of the range a run tries before giving up.
const TRIES: usize = 256;

/// An IPv4 network: its first address and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subnet {
    /// Its first address.
    pub base: Ipv4Addr,
    /// Its prefix length.
    pub prefix: u8,
}

impl Subnet {
    /// Parses `a.b.c.d/n` (an IPv6 network, or anything else, is `None`).
    pub fn parse(text: &str) -> Option<Self> {
        let (addr, prefix) = text.split_once('/')?;
        let prefix: u8 = prefix.parse().ok()?;
        (prefix <= 32).then_some(Self {
            base: addr.parse().ok()?,
            prefix,
        })
    }

    fn mask(prefix: u8) -> u32 {
        if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(prefix))
        }
    }

    /// Whether the two share an address.
    pub fn overlaps(&self, other: &Subnet) -> bool {
        let mask = Self::mask(self.prefix.min(other.prefix));
        u32::from(self.base) & mask == u32::from(other.base) & mask
    }

    /// Its `n`th address.
    pub fn host(&self, n: u32) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.base) + n)
    }
}

impl std::fmt::Display for Subnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.base, self.prefix)
    }
}

/// The /24s of 10.213.0.0/16 none of `taken` overlaps, in the order a run tries them: from
/// `seed`'s one on, so that runs side by side start apart.
pub fn free_subnets(taken: &[Subnet], seed: u64) -> Vec<Subnet> {
    (0..TRIES)
        .map(|i| ((seed as usize + i) % 256) as u8)
        .map(|third| Subnet {
            base: Ipv4Addr::new(RANGE[0], RANGE[1], third, 0),
            prefix: 24,
        })
        .filter(|candidate| !taken.iter().any(|t| t.overlaps(candidate)))
        .collect()
}

/// The routes of this machine (`/proc/net/route`), as subnets; default routes left out.
fn host_routes() -> Vec<Subnet> {
    std::fs::read_to_string("/proc/net/route")
        .map(|table| parse_routes(&table))
        .unwrap_or_default()
}

/// The routes of a `/proc/net/route` table (addresses in hex, in network byte order read as a
/// little-endian number), default routes left out.
fn parse_routes(table: &str) -> Vec<Subnet> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let dest = u32::from_str_radix(fields.get(1)?, 16).ok()?;
            let mask = u32::from_str_radix(fields.get(7)?, 16).ok()?;
            (mask != 0).then(|| Subnet {
                base: Ipv4Addr::from(dest.to_le_bytes()),
                prefix: mask.count_ones() as u8,
            })
        })
        .collect()
}

/// A run's network; removed on drop (after the run's containers, which the scope drops first).
#[derive(Debug)]
pub struct RunNetwork {
    /// Its name: `clawchaos-<run id>`.
    pub name: String,
    /// Its subnet.
    pub subnet: Subnet,
    /// The harness's address on it (the bridge's): where links and in-process servers listen.
    pub gateway: Ipv4Addr,
}

impl RunNetwork {
    /// Makes the network of `run_id`, on the first free subnet the engine accepts.
    pub async fn create(docker: &Docker, run_id: &str) -> Result<Self, BackendError> {
        let networks = docker
            .list_networks(None::<bollard::query_parameters::ListNetworksOptions>)
            .await
            .map_err(|e| engine::engine_error(&e))?;
        let mut taken: Vec<Subnet> = networks
            .iter()
            .filter_map(|n| n.ipam.as_ref()?.config.as_ref())
            .flatten()
            .filter_map(|c| Subnet::parse(c.subnet.as_deref()?))
            .collect();
        taken.extend(host_routes());
        let seed = run_id
            .bytes()
            .fold(0u64, |h, b| h.wrapping_mul(31) + u64::from(b));
        let name = format!("clawchaos-{run_id}");
        let mut last = String::from("no free /24 in 10.213.0.0/16");
        for subnet in free_subnets(&taken, seed) {
            let gateway = subnet.host(1);
            let request = NetworkCreateRequest {
                name: name.clone(),
                driver: Some("bridge".into()),
                internal: Some(true),
                ipam: Some(Ipam {
                    config: Some(vec![IpamConfig {
                        subnet: Some(subnet.to_string()),
                        gateway: Some(gateway.to_string()),
                        ..Default::default()
                    }]),
                    ..Default::default()
                }),
                options: Some(HashMap::from([(
                    "com.docker.network.bridge.enable_ip_masquerade".to_string(),
                    "false".to_string(),
                )])),
                labels: Some(engine::run_labels(run_id)),
                ..Default::default()
            };
            match docker.create_network(request).await {
                Ok(_) => {
                    tracing::info!(network = %name, %subnet, "created the run's network");
                    return Ok(Self {
                        name,
                        subnet,
                        gateway,
                    });
                }
                // Another run (or anything else) took the subnet meanwhile: the next one.
                Err(e) if e.to_string().contains("overlap") => last = e.to_string(),
                Err(e) => return Err(engine::engine_error(&e)),
            }
        }
        Err(BackendError::Engine(format!(
            "cannot make the run's network: {last}"
        )))
    }
}

impl Drop for RunNetwork {
    fn drop(&mut self) {
        let name = self.name.clone();
        engine::blocking(move |docker| async move {
            if let Err(e) = docker.remove_network(&name).await {
                tracing::warn!(network = %name, error = %e, "cannot remove the run's network");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(text: &str) -> Subnet {
        Subnet::parse(text).expect(text)
    }

    #[test]
    fn subnets_parse_and_overlap_by_their_shorter_prefix() {
        assert_eq!(net("10.213.4.0/24").to_string(), "10.213.4.0/24");
        assert!(Subnet::parse("fd00::/64").is_none());
        assert!(Subnet::parse("10.0.0.0/33").is_none());
        assert!(net("10.0.0.0/8").overlaps(&net("10.213.4.0/24")));
        assert!(net("10.213.4.0/24").overlaps(&net("10.0.0.0/8")));
        assert!(!net("10.213.4.0/24").overlaps(&net("10.213.5.0/24")));
        assert!(net("0.0.0.0/0").overlaps(&net("10.213.5.0/24")));
    }

    #[test]
    fn a_run_never_gets_a_subnet_something_else_uses() {
        let taken = [
            net("10.213.0.0/23"),
            net("10.213.7.128/25"),
            net("172.17.0.0/16"),
        ];
        let free = free_subnets(&taken, 0);
        assert_eq!(free.first(), Some(&net("10.213.2.0/24")));
        assert!(!free.contains(&net("10.213.7.0/24")));
        assert_eq!(free.len(), 256 - 3);
        assert!(free_subnets(&[net("10.0.0.0/8")], 9).is_empty());
        // Another seed starts elsewhere, and wraps around.
        assert_eq!(
            free_subnets(&taken, 255).first(),
            Some(&net("10.213.255.0/24"))
        );
        assert_eq!(
            free_subnets(&taken, 255).get(1),
            Some(&net("10.213.2.0/24"))
        );
    }

    #[test]
    fn the_kernel_s_route_table_is_read_without_the_default_route() {
        let table = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                     eth0\t00000000\t0100A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
                     br-1\t0007D50A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
        assert_eq!(parse_routes(table), vec![net("10.213.7.0/24")]);
    }
}
