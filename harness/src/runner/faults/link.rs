//! Link faults: a toxic on the link's proxy, or the proxy disabled (`link_down`).

use std::collections::BTreeMap;

use serde_json::json;

use super::{Topology, Undo};
use crate::clients::toxiproxy::Toxic;
use crate::scenario::{FaultAction, FaultSpec, LinkFault};

pub(super) async fn inject(
    fault: &FaultSpec,
    link: &str,
    kind: &LinkFault,
    topology: &Topology,
) -> Result<Undo, String> {
    let proxy = proxy_name(topology, link)?;
    let result = if *kind == LinkFault::Down {
        topology.proxy.set_enabled(&proxy, false).await.map(|_| ())
    } else {
        let toxic = toxic_for(fault).ok_or("no toxic for this fault")?;
        topology.proxy.add_toxic(&proxy, &toxic).await.map(|_| ())
    };
    result.map(|()| Undo::Nothing).map_err(|e| e.to_string())
}

pub(super) async fn heal(
    fault: &FaultSpec,
    link: &str,
    kind: &LinkFault,
    topology: &Topology,
) -> Result<(), String> {
    let proxy = proxy_name(topology, link)?;
    let result = if *kind == LinkFault::Down {
        topology.proxy.set_enabled(&proxy, true).await.map(|_| ())
    } else {
        topology.proxy.remove_toxic(&proxy, &fault.name).await
    };
    result.map_err(|e| e.to_string())
}

fn proxy_name(topology: &Topology, link: &str) -> Result<String, String> {
    topology
        .proxy_names
        .get(link)
        .cloned()
        .ok_or_else(|| format!("link {link} has no proxy"))
}

/// A duration as the number of milliseconds Toxiproxy's attributes take.
fn millis(d: std::time::Duration) -> serde_json::Value {
    json!(d.as_millis() as u64)
}

/// The Toxiproxy toxic that causes a link fault (`None` for `link_down`).
pub fn toxic_for(fault: &FaultSpec) -> Option<Toxic> {
    let FaultAction::Link {
        stream,
        toxicity,
        fault: link_fault,
        ..
    } = &fault.action
    else {
        return None;
    };
    let (kind, attributes): (&str, BTreeMap<String, serde_json::Value>) = match link_fault {
        LinkFault::Latency { latency, jitter } => (
            "latency",
            BTreeMap::from([
                ("latency".into(), millis(*latency)),
                ("jitter".into(), millis(*jitter)),
            ]),
        ),
        LinkFault::Bandwidth { rate_kbps } => (
            "bandwidth",
            BTreeMap::from([("rate".into(), json!(rate_kbps))]),
        ),
        LinkFault::Slicer {
            average_size,
            size_variation,
            delay,
        } => (
            "slicer",
            BTreeMap::from([
                ("average_size".into(), json!(average_size)),
                ("size_variation".into(), json!(size_variation)),
                ("delay".into(), json!(delay.as_micros() as u64)),
            ]),
        ),
        LinkFault::Blackhole => ("timeout", BTreeMap::from([("timeout".into(), json!(0))])),
        LinkFault::Timeout { timeout } => (
            "timeout",
            BTreeMap::from([("timeout".into(), millis(*timeout))]),
        ),
        LinkFault::ResetPeer { timeout } => (
            "reset_peer",
            BTreeMap::from([("timeout".into(), millis(*timeout))]),
        ),
        LinkFault::LimitData { bytes } => (
            "limit_data",
            BTreeMap::from([("bytes".into(), json!(bytes))]),
        ),
        LinkFault::SlowClose { delay } => (
            "slow_close",
            BTreeMap::from([("delay".into(), millis(*delay))]),
        ),
        LinkFault::Down => return None,
    };
    Some(Toxic {
        name: fault.name.clone(),
        kind: kind.to_string(),
        stream: stream.name().to_string(),
        toxicity: *toxicity,
        attributes,
    })
}
