//! One delivery from receipt to acknowledgement: de-duplicate, run through the gateway with
//! retries, publish the result, acknowledge — in the order the ack mode says.

use crate::backoff::Backoff;
use crate::broker::BrokerError;
use crate::config::AckMode;
use crate::dedup::{Claim, Dedup};
use crate::gateway::GatewayClient;
use crate::health::{Health, Link};
use crate::task::{self, BadTask, Task, TaskResult};
use crate::text::truncate;
use std::future::Future;
use std::time::Duration;

/// The longest `Retry-After` honoured between gateway tries.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// Acknowledges one delivery (AMQP `basic.ack`, a Kafka offset commit).
pub trait Acknowledge: Send {
    /// Acknowledges; an error means the broker link failed.
    fn ack(&mut self) -> impl Future<Output = Result<(), BrokerError>> + Send;
}

/// Publishes results durably.
pub trait Publish: Send + Sync {
    /// Publishes `body` for task `id`; resolves once the broker confirmed it durable.
    fn publish(
        &self,
        id: &str,
        body: Vec<u8>,
    ) -> impl Future<Output = Result<(), BrokerError>> + Send;
}

/// What became of one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// A `done` result was confirmed.
    Done,
    /// A `failed` result was confirmed.
    Failed,
    /// Its task was already done: acknowledged without work.
    Duplicate,
    /// Not a task (no id): acknowledged and dropped.
    Rejected,
}

/// Everything a delivery needs, shared by all deliveries.
#[derive(Debug, Clone)]
pub struct Pipeline {
    gateway: GatewayClient,
    dedup: Dedup,
    health: Health,
    attempts: u32,
    ack_mode: AckMode,
}

impl Pipeline {
    /// A pipeline calling `gateway` up to `attempts` times per task.
    pub fn new(
        gateway: GatewayClient,
        dedup: Dedup,
        health: Health,
        attempts: u32,
        ack_mode: AckMode,
    ) -> Self {
        Self {
            gateway,
            dedup,
            health,
            attempts: attempts.max(1),
            ack_mode,
        }
    }

    /// The de-duplication set.
    pub fn dedup(&self) -> &Dedup {
        &self.dedup
    }

    /// Handles one delivery. With [`AckMode::AfterPublish`] the ack happens only after the
    /// result's publish is confirmed; an `Err` means the broker link failed and the delivery
    /// is left unacknowledged (the broker redelivers it).
    pub async fn handle<A: Acknowledge, P: Publish>(
        &self,
        payload: &[u8],
        mut ack: A,
        sink: &P,
    ) -> Result<Handled, BrokerError> {
        let (id, task) = match task::parse(payload) {
            Ok(task) => (task.id.clone(), Ok(task)),
            Err(BadTask::WithId { id, reason }) => (id, Err(reason)),
            Err(BadTask::NoId(reason)) => {
                tracing::warn!(
                    reason = %reason,
                    body = %self.health.redactor().scrub(&truncate(&String::from_utf8_lossy(payload), 120)),
                    "message is not a task; acknowledged and dropped"
                );
                ack.ack().await?;
                self.health.count_rejected();
                return Ok(Handled::Rejected);
            }
        };
        let guard = match self.dedup.claim(&id).await {
            Claim::Duplicate => {
                tracing::info!(id = %id, "duplicate task skipped; already done");
                ack.ack().await?;
                self.health.count_duplicate();
                return Ok(Handled::Duplicate);
            }
            Claim::Start(guard) => guard,
        };
        if self.ack_mode == AckMode::BeforePublish {
            ack.ack().await?;
        }
        // A result already published once, whose confirm was lost with the connection: send
        // the same bytes again rather than running the task a second time.
        if let Some(bytes) = self.dedup.in_doubt(&id) {
            sink.publish(&id, bytes).await?;
            guard.confirmed();
            tracing::info!(id = %id, "result republished; its first confirm was lost");
            self.health.count_duplicate();
            if self.ack_mode == AckMode::AfterPublish {
                ack.ack().await?;
            }
            return Ok(Handled::Duplicate);
        }
        let result = match task {
            Ok(task) => self.run_task(&task).await,
            Err(reason) => TaskResult::Failed {
                id: id.clone(),
                error_class: "bad_task".into(),
                error: reason,
                completion: crate::task::completion_id(),
            },
        };
        let bytes = result.to_bytes();
        self.dedup.publishing(&id, &bytes);
        sink.publish(&id, bytes).await?;
        guard.confirmed();
        let handled = match &result {
            TaskResult::Done { attempts, .. } => {
                self.health.count_processed();
                tracing::info!(id = %id, attempts, "task done; result published");
                Handled::Done
            }
            TaskResult::Failed {
                error_class, error, ..
            } => {
                self.health.count_failed();
                tracing::warn!(id = %id, class = %error_class, error = %error, "task failed; result published");
                Handled::Failed
            }
        };
        if self.ack_mode == AckMode::AfterPublish {
            ack.ack().await?;
        }
        Ok(handled)
    }

    /// Runs `task` through the gateway, up to `attempts` tries with backoff; never errors —
    /// after the last try the result is an explicit `failed`.
    pub async fn run_task(&self, task: &Task) -> TaskResult {
        let mut backoff = Backoff::default();
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.gateway.complete(&task.prompt).await {
                Ok(output) => {
                    self.health.up(Link::Gateway);
                    return TaskResult::Done {
                        id: task.id.clone(),
                        output,
                        attempts: attempt,
                        completion: crate::task::completion_id(),
                    };
                }
                Err(e) => {
                    self.health.down(Link::Gateway, e.class, &e.message);
                    if !e.retryable || attempt >= self.attempts {
                        return TaskResult::Failed {
                            id: task.id.clone(),
                            error_class: e.class.to_string(),
                            error: format!("after {attempt} attempt(s): {}", e.message),
                            completion: crate::task::completion_id(),
                        };
                    }
                    let wait = backoff
                        .next_delay()
                        .max(e.retry_after.unwrap_or_default().min(MAX_RETRY_AFTER));
                    tracing::debug!(id = %task.id, attempt, wait_ms = wait.as_millis() as u64, "gateway try failed; retrying");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
