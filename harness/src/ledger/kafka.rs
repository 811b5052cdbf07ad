//! The ledger's Kafka side: produces tasks to `openclaw.tasks` (keyed by id, `acks=all`) at
//! the set rate and consumes `openclaw.results` in a group of its own. It reaches the broker
//! through the broker's relay (see [`crate::tansu`]), never through a faulted link; librdkafka
//! reconnects by itself when the broker restarts.

use std::net::SocketAddr;
use std::time::Duration;

use rdkafka::consumer::{Consumer as _, StreamConsumer};
use rdkafka::message::Message as _;
use rdkafka::producer::{FutureProducer, FutureRecord};

use super::{Ledger, LedgerClient, TaskResult};
use crate::tansu::{Credentials, HarnessContext, RESULTS, TASKS, client_config};

/// The ledger's consumer group.
const GROUP: &str = "clawchaos-ledger";
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
    let consumer: StreamConsumer<HarnessContext> = client_config(access, user)
        .set("group.id", GROUP)
        .set("session.timeout.ms", "6000")
        .set("auto.offset.reset", "earliest")
        // Offsets are stored as results are recorded and committed every second: after a
        // reconnect a result may come again, which the book counts as redelivered.
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "1000")
        .create_with_context(HarnessContext)
        .map_err(|e| format!("consumer: {e}"))?;
    consumer
        .subscribe(&[RESULTS])
        .map_err(|e| format!("subscribe to {RESULTS}: {e}"))?;

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
