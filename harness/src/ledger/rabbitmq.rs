//! The ledger's RabbitMQ side: publishes tasks to `openclaw_tasks` (persistent, confirmed) at
//! the set rate and consumes `openclaw_results`. It connects straight to the node as the
//! internal admin user (never through a faulted link), and reconnects when the node goes away
//! (a broker restart is a fault the ledger must outlive).

use std::net::SocketAddr;
use std::time::Duration;

use super::{Ledger, LedgerClient, TaskResult};
use futures_util::StreamExt as _;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions,
    QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};

/// The queue the bridge consumes.
pub const TASKS: &str = "openclaw_tasks";
/// The queue the bridge publishes results to.
pub const RESULTS: &str = "openclaw_results";

/// Pause before reconnecting after the node went away.
const RECONNECT_PAUSE: Duration = Duration::from_millis(500);
/// Time allowed for one confirmed publish.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(10);

/// Starts publishing `rate` tasks per second to the node at `addr`, and collecting results.
pub fn start(ledger: Ledger, addr: SocketAddr, rate: f64, prompt: String) -> LedgerClient {
    LedgerClient::spawn(async move {
        loop {
            match session(&ledger, addr, rate, &prompt).await {
                Ok(()) => return,
                Err(e) => {
                    tracing::debug!(error = %e, "ledger: broker connection lost; reconnecting");
                    ledger.set_error(Some(e));
                }
            }
            tokio::time::sleep(RECONNECT_PAUSE).await;
        }
    })
}

async fn declare(channel: &Channel) -> Result<(), lapin::Error> {
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    for queue in [TASKS, RESULTS] {
        channel
            .queue_declare(queue.into(), durable, FieldTable::default())
            .await?;
    }
    Ok(())
}

/// One connection's life: publish and collect until it fails.
async fn session(ledger: &Ledger, addr: SocketAddr, rate: f64, prompt: &str) -> Result<(), String> {
    let url = crate::services::rabbitmq::admin_url(addr);
    let connection = Connection::connect(&url, ConnectionProperties::default())
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let publisher = connection
        .create_channel()
        .await
        .map_err(|e| e.to_string())?;
    declare(&publisher).await.map_err(|e| e.to_string())?;
    publisher
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    let collector = connection
        .create_channel()
        .await
        .map_err(|e| e.to_string())?;
    let mut consumer = collector
        // Acknowledged one by one after they are recorded: a result delivered just before this
        // connection breaks is delivered again on the next, never lost on the way.
        .basic_consume(
            RESULTS.into(),
            "clawchaos-ledger".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(|e| e.to_string())?;
    ledger.set_error(None);

    let mut tick = super::publish_ticker(rate);
    loop {
        tokio::select! {
            delivery = consumer.next() => match delivery {
                Some(Ok(delivery)) => {
                    match serde_json::from_slice::<TaskResult>(&delivery.data) {
                        Ok(result) => ledger.result(&result),
                        Err(e) => tracing::warn!(error = %e, "ledger: a result that is not JSON"),
                    }
                    delivery
                        .ack(BasicAckOptions::default())
                        .await
                        .map_err(|e| format!("results: ack: {e}"))?;
                }
                Some(Err(e)) => return Err(format!("results: {e}")),
                None => return Err("results: the consumer was cancelled".into()),
            },
            _ = tick.tick() => {
                if ledger.publishing() {
                    publish(ledger, &publisher, prompt).await?;
                }
            }
        }
    }
}

async fn publish(ledger: &Ledger, channel: &Channel, prompt: &str) -> Result<(), String> {
    let task = ledger.next_task(prompt);
    let body = serde_json::to_vec(&task).map_err(|e| e.to_string())?;
    let properties = BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type("application/json".into())
        .with_message_id(task.id.as_str().into());
    let confirmed = async {
        channel
            .basic_publish(
                "".into(),
                TASKS.into(),
                BasicPublishOptions::default(),
                &body,
                properties,
            )
            .await?
            .await
    };
    match tokio::time::timeout(PUBLISH_TIMEOUT, confirmed).await {
        Ok(Ok(confirmation)) if confirmation.is_ack() => {
            ledger.published(&task);
            Ok(())
        }
        // Not confirmed: the same id is published again next time.
        Ok(Ok(_)) => Err(format!("publish {}: the broker refused it", task.id)),
        Ok(Err(e)) => Err(format!("publish {}: {e}", task.id)),
        Err(_) => Err(format!(
            "publish {}: no confirm within {PUBLISH_TIMEOUT:?}",
            task.id
        )),
    }
}
