//! Acknowledging deliveries and publishing results with publisher confirms.

use super::broker_error;
use crate::broker::BrokerError;
use crate::classify::ErrorClass;
use crate::pipeline::{Acknowledge, Publish};
use lapin::options::{BasicAckOptions, BasicPublishOptions};
use lapin::types::ShortString;
use lapin::{BasicProperties, Channel};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Acknowledges one AMQP delivery.
pub(super) struct RabbitAck(pub(super) lapin::Acker);

impl Acknowledge for RabbitAck {
    async fn ack(&mut self) -> Result<(), BrokerError> {
        self.0
            .ack(BasicAckOptions::default())
            .await
            .map(|_| ())
            .map_err(|e| broker_error(&e))
    }
}

/// Publishes results on the confirm-mode channel.
pub(super) struct RabbitSink {
    pub(super) channel: Channel,
    pub(super) queue: ShortString,
    pub(super) timeout: Duration,
    pub(super) blocked: Arc<AtomicBool>,
}

impl Publish for RabbitSink {
    async fn publish(&self, id: &str, body: Vec<u8>) -> Result<(), BrokerError> {
        let props = BasicProperties::default()
            .with_delivery_mode(2)
            .with_content_type("application/json".into())
            .with_message_id(id.into());
        let publish = async {
            let confirm = self
                .channel
                .basic_publish(
                    "".into(),
                    self.queue.clone(),
                    BasicPublishOptions {
                        mandatory: true,
                        ..BasicPublishOptions::default()
                    },
                    &body,
                    props,
                )
                .await?;
            confirm.await
        };
        tokio::pin!(publish);
        loop {
            match tokio::time::timeout(self.timeout, &mut publish).await {
                Ok(Ok(confirmation)) => {
                    if !confirmation.is_ack() {
                        return Err(BrokerError::new(
                            ErrorClass::Unreachable,
                            format!("the broker refused (nacked) the result of {id}"),
                        ));
                    }
                    if confirmation.take_message().is_some() {
                        return Err(BrokerError::new(
                            ErrorClass::Unreachable,
                            format!(
                                "the result of {id} was returned unroutable: queue {} is missing",
                                self.queue
                            ),
                        ));
                    }
                    return Ok(());
                }
                Ok(Err(e)) => return Err(broker_error(&e)),
                Err(_) if self.blocked.load(Ordering::SeqCst) => {
                    tracing::debug!(id, "result publish waiting: connection blocked");
                }
                Err(_) => {
                    return Err(BrokerError::new(
                        ErrorClass::Stalled,
                        format!(
                            "no publish confirm for the result of {id} within {}",
                            humantime::format_duration(self.timeout)
                        ),
                    ));
                }
            }
        }
    }
}
