//! Faults on a link's proxy: the Toxiproxy toxics, and the link taken down.

use super::*;

/// Which direction of a proxied connection a toxic acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Client to server.
    Upstream,
    /// Server to client.
    Downstream,
}

impl Stream {
    /// The name as Toxiproxy writes it.
    pub fn name(self) -> &'static str {
        match self {
            Stream::Upstream => "upstream",
            Stream::Downstream => "downstream",
        }
    }
}

/// A fault on a link's proxy.
#[derive(Debug, Clone, PartialEq)]
pub enum LinkFault {
    /// Delay each chunk.
    Latency {
        /// Base delay.
        latency: Duration,
        /// Random extra delay, up to this.
        jitter: Duration,
    },
    /// Cap the rate, in KB/s.
    Bandwidth {
        /// KB/s.
        rate_kbps: u64,
    },
    /// Cut data into small pieces.
    Slicer {
        /// Mean piece size in bytes.
        average_size: u64,
        /// Variation of the piece size.
        size_variation: u64,
        /// Pause between pieces.
        delay: Duration,
    },
    /// Swallow the stream: nothing passes in that direction (a one-way partition).
    Blackhole,
    /// Swallow the stream, then close the connection after `timeout`.
    Timeout {
        /// When to close.
        timeout: Duration,
    },
    /// Reset the connection (TCP RST) after `timeout`.
    ResetPeer {
        /// When to reset.
        timeout: Duration,
    },
    /// Close the connection after `bytes`.
    LimitData {
        /// Bytes allowed through.
        bytes: u64,
    },
    /// Delay the close.
    SlowClose {
        /// How long.
        delay: Duration,
    },
    /// Take the link down: the proxy stops listening (connection refused).
    Down,
}

/// The keys of a toxic's target: its link, the direction, the share of connections.
const TOXIC_TARGET: &[&str] = &["link", "stream", "toxicity"];

/// A toxic kind: its name, parameters and reader of the toxic itself.
macro_rules! toxic {
    ($name:literal, $params:expr, $read:expr) => {
        FaultKind {
            name: $name,
            aliases: &[],
            targets: "link",
            target_keys: TOXIC_TARGET,
            params: $params,
            before_start: false,
            read: |t, refs| read_toxic(t, refs, $read),
        }
    };
}

pub(super) const KINDS: &[FaultKind] = &[
    toxic!("latency", &["latency", "jitter"], |t| {
        Some(LinkFault::Latency {
            latency: t.req_duration("latency")?.value,
            jitter: or_zero(t, "jitter"),
        })
    }),
    toxic!("bandwidth", &["rate"], |t| {
        let rate = t.req_integer(
            "rate",
            1..=i64::from(u32::MAX),
            "KB per second, an integer of at least 1 (a timeout fault stalls a link)",
        );
        Some(LinkFault::Bandwidth {
            rate_kbps: rate? as u64,
        })
    }),
    toxic!(
        "slicer",
        &["average_size", "size_variation", "delay"],
        |t| {
            Some(LinkFault::Slicer {
                average_size: t.integer("average_size", 1..=1 << 30).unwrap_or(64) as u64,
                size_variation: t.integer("size_variation", 0..=1 << 30).unwrap_or(0) as u64,
                delay: or_zero(t, "delay"),
            })
        }
    ),
    toxic!("blackhole", &[], |_| Some(LinkFault::Blackhole)),
    toxic!("timeout", &["timeout"], |t| {
        Some(LinkFault::Timeout {
            timeout: t.req_duration("timeout")?.value,
        })
    }),
    toxic!("reset_peer", &["timeout"], |t| {
        Some(LinkFault::ResetPeer {
            timeout: or_zero(t, "timeout"),
        })
    }),
    toxic!("limit_data", &["bytes"], |t| {
        let bytes = t.req_integer(
            "bytes",
            0..=i64::MAX,
            "bytes allowed through before the close",
        );
        Some(LinkFault::LimitData {
            bytes: bytes? as u64,
        })
    }),
    toxic!("slow_close", &["delay"], |t| {
        Some(LinkFault::SlowClose {
            delay: t.req_duration("delay")?.value,
        })
    }),
    FaultKind {
        name: "link_down",
        aliases: &[],
        targets: "link",
        target_keys: &["link"],
        params: &[],
        before_start: false,
        read: |t, refs| read_toxic(t, refs, |_| Some(LinkFault::Down)),
    },
];

/// A duration parameter that defaults to zero.
fn or_zero(t: &Table<'_, '_, '_>, key: &str) -> Duration {
    t.duration(key).map_or(Duration::ZERO, |d| d.value)
}

/// The link, direction and toxicity every link fault has, around the toxic `read` reads.
fn read_toxic(
    t: &Table<'_, '_, '_>,
    refs: &Refs<'_>,
    read: fn(&Table<'_, '_, '_>) -> Option<LinkFault>,
) -> Option<FaultAction> {
    let link = t.req_string("link", "the link whose proxy the fault acts on")?;
    require_link(t.source(), &link, refs.links);
    let stream = match t.choice("stream", &["upstream", "downstream"]) {
        Some(s) if s.value == "upstream" => Stream::Upstream,
        _ => Stream::Downstream,
    };
    let toxicity = t.number("toxicity", 0.0..=1.0).unwrap_or(1.0);
    Some(FaultAction::Link {
        link: link.value,
        stream,
        toxicity,
        fault: read(t)?,
    })
}
