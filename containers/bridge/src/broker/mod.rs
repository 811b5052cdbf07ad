//! The brokers: RabbitMQ and (with the `kafka` feature) Kafka.

#[cfg(feature = "kafka")]
pub mod kafka;
pub mod rabbitmq;

use crate::classify::ErrorClass;
use std::time::Duration;

/// How long a stopping bridge waits for the tasks in hand before leaving them to redelivery.
pub(crate) const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

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
