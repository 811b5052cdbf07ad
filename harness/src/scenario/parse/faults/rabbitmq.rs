//! Faults on a RabbitMQ node, through `rabbitmqctl`.

use super::*;

/// What a fault does to a RabbitMQ node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokerFault {
    /// `rabbitmqctl close_all_connections`: every client gets 320 CONNECTION_FORCED.
    CloseConnections,
    /// `set_vhost_limits '{"max-connections": N}'`: new connections past N get 530; the heal
    /// clears the limit.
    ConnectionLimit(u32),
    /// A memory high watermark so low that publishers get `connection.blocked`; the heal sets
    /// it back to 0.4.
    MemoryAlarm,
}

/// A RabbitMQ fault kind: its name, its name before the `rabbitmq_` prefix (kept as an alias
/// for one release), parameters and reader.
macro_rules! rabbitmq {
    ($name:literal, $alias:literal, $params:expr, $read:expr) => {
        FaultKind {
            name: $name,
            aliases: &[$alias],
            targets: "rabbitmq",
            target_keys: &["service"],
            params: $params,
            before_start: false,
            read: |t, refs| {
                let service = fault_service(t, $name, "rabbitmq", refs);
                let read: fn(&Table<'_, '_, '_>) -> Option<BrokerFault> = $read;
                let fault = read(t);
                Some(FaultAction::Broker {
                    service: service?,
                    fault: fault?,
                })
            },
        }
    };
}

pub(super) const KINDS: &[FaultKind] = &[
    rabbitmq!(
        "rabbitmq_close_connections",
        "broker_close_connections",
        &[],
        |_| { Some(BrokerFault::CloseConnections) }
    ),
    rabbitmq!(
        "rabbitmq_connection_limit",
        "broker_connection_limit",
        &["max_connections"],
        |t| {
            let max = t.req_integer(
                "max_connections",
                0..=1_000_000,
                "connections the vhost allows",
            );
            Some(BrokerFault::ConnectionLimit(max? as u32))
        }
    ),
    rabbitmq!("rabbitmq_memory_alarm", "broker_memory_alarm", &[], |_| {
        Some(BrokerFault::MemoryAlarm)
    }),
];
