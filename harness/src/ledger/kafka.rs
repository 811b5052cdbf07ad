//! The ledger's Kafka side: produces tasks to `openclaw.tasks` (keyed by id, `acks=all`) at
//! the set rate and reads every partition of `openclaw.results` (assigned by hand, no group). It reaches the broker
//! through the broker's relay (see [`crate::services::tansu`]), never through a faulted link; librdkafka
//! reconnects by itself when the broker restarts.

use std::net::SocketAddr;
use std::time::Duration;

use rdkafka::consumer::{Consumer as _, StreamConsumer};
use rdkafka::message::Message as _;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};

use super::{Ledger, LedgerClient, TaskResult};
use crate::services::tansu::{
    Credentials, HarnessContext, PARTITIONS, RESULTS, TASKS, client_config,
};

/// Time allowed for one task's delivery report.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause before building new clients when they could not be built.
const RETRY_PAUSE: Duration = Duration::from_millis(500);

/// Starts producing `rate` tasks per second through `access`, and collecting results.
pub fn start(
    ledger: Ledger,
    access: SocketAddr,
    user: Option<Credentials>,
    rate: f64,
    prompt: String,
) -> LedgerClient {
    LedgerClient::spawn(async move {
        loop {
            let error = match session(&ledger, access, user.as_ref(), rate, &prompt).await {
                Ok(()) => return,
                Err(e) => e,
            };
            tracing::debug!(error = %error, "ledger: Kafka clients failed; building new ones");
            ledger.set_error(Some(error));
            tokio::time::sleep(RETRY_PAUSE).await;
        }
    })
}

async fn session(
    ledger: &Ledger,
    access: SocketAddr,
    user: Option<&Credentials>,
    rate: f64,
    prompt: &str,
) -> Result<(), String> {
    let producer: FutureProducer<HarnessContext> = client_config(access, user)
        .set("acks", "all")
        .set(
            "message.timeout.ms",
            PUBLISH_TIMEOUT.as_millis().to_string(),
        )
        .set("linger.ms", "0")
        .create_with_context(HarnessContext)
        .map_err(|e| format!("producer: {e}"))?;
    // Every partition assigned by hand, read from the start, with no consumer group: no
    // rebalance to wait for, and closing needs no coordinator (a group consumer's close
    // hangs once the broker is gone, which is how an interrupted run ends).
    let consumer: StreamConsumer<HarnessContext> = client_config(access, user)
        // librdkafka's consumer wants a group id even when it never joins the group.
        .set("group.id", "clawchaos-ledger")
        .set("enable.auto.commit", "false")
        .create_with_context(HarnessContext)
        .map_err(|e| format!("consumer: {e}"))?;
    let mut partitions = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        partitions
            .add_partition_offset(RESULTS, p, Offset::Beginning)
            .map_err(|e| format!("assign {RESULTS}/{p}: {e}"))?;
    }
    consumer
        .assign(&partitions)
        .map_err(|e| format!("assign {RESULTS}: {e}"))?;

    let mut tick = super::publish_ticker(rate);
    loop {
        tokio::select! {
            message = consumer.recv() => match message {
                Ok(message) => {
                    match serde_json::from_slice::<TaskResult>(message.payload().unwrap_or_default()) {
                        Ok(result) => ledger.result(&result),
                        Err(e) => tracing::warn!(error = %e, "ledger: a result that is not JSON"),
                    }
                }
                // librdkafka retries by itself; the error is only recorded for the report.
                Err(e) => ledger.set_error(Some(format!("results: {e}"))),
            },
            _ = tick.tick() => {
                if ledger.publishing() {
                    match publish(ledger, &producer, prompt).await {
                        Ok(()) => ledger.set_error(None),
                        Err(e) => ledger.set_error(Some(e)),
                    }
                }
            }
        }
    }
}

/// Produces the next task; it counts as published once its delivery is confirmed (otherwise
/// the same id goes again next time).
async fn publish(
    ledger: &Ledger,
    producer: &FutureProducer<HarnessContext>,
    prompt: &str,
) -> Result<(), String> {
    let task = ledger.next_task(prompt);
    let body = serde_json::to_vec(&task).map_err(|e| e.to_string())?;
    let record = FutureRecord::to(TASKS).key(&task.id).payload(&body);
    match producer.send(record, PUBLISH_TIMEOUT).await {
        Ok(_) => {
            ledger.published(&task);
            Ok(())
        }
        Err((e, _)) => Err(format!("publish {}: {e}", task.id)),
    }
}
