//! The brokers: RabbitMQ and (with the `kafka` feature) Kafka.

#[cfg(feature = "kafka")]
pub mod kafka;
pub mod rabbitmq;

use crate::classify::ErrorClass;

/// A broker link failure: its class and text (secrets scrubbed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct BrokerError {
    /// The class reported on the broker link.
    pub class: ErrorClass,
    /// What happened.
    pub message: String,
}

impl BrokerError {
    /// An error of `class` saying `message`.
    pub fn new(class: ErrorClass, message: impl Into<String>) -> Self {
        Self {
            class,
            message: message.into(),
        }
    }
}
