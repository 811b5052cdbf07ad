//! One worker per partition. A partition's tasks are handled one at a time, in offset order,
//! so its offsets are committed in order; partitions are handled side by side, so the bridge
//! keeps up with as many slow gateway calls at once as the task topic has partitions.

use super::{BridgeContext, KafkaSink, kafka_error};
use crate::backoff::Backoff;
use crate::broker::BrokerError;
use crate::health::{Health, Link, LinkState};
use crate::pipeline::{Acknowledge, Pipeline};
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

/// The bridge's consumer; replaced when the group rejoin is forced.
pub(super) type SharedConsumer = Arc<StreamConsumer<BridgeContext>>;

/// One message taken off the task topic.
#[derive(Debug)]
pub(super) struct Delivery {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub payload: Vec<u8>,
}

/// What every worker shares.
struct Shared {
    pipeline: Arc<Pipeline>,
    sink: KafkaSink,
    health: Health,
    /// The current consumer: offsets are committed through it.
    consumer: watch::Receiver<SharedConsumer>,
    stop: watch::Receiver<bool>,
}

/// The partition workers, started as their partitions first deliver.
pub(super) struct PartitionWorkers {
    shared: Arc<Shared>,
    queues: HashMap<i32, mpsc::Sender<Delivery>>,
    workers: JoinSet<()>,
    /// Deliveries waiting per partition behind the one in hand.
    depth: usize,
}

impl PartitionWorkers {
    /// Workers handling deliveries with `pipeline`, publishing to `sink`, committing through
    /// the consumer `consumer` holds; up to `depth` deliveries wait per partition.
    pub fn new(
        pipeline: Arc<Pipeline>,
        sink: KafkaSink,
        health: Health,
        consumer: watch::Receiver<SharedConsumer>,
        stop: watch::Receiver<bool>,
        depth: usize,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                pipeline,
                sink,
                health,
                consumer,
                stop,
            }),
            queues: HashMap::new(),
            workers: JoinSet::new(),
            depth: depth.max(1),
        }
    }

    /// Hands `delivery` to its partition's worker, waiting while that worker's queue is full.
    pub async fn dispatch(&mut self, delivery: Delivery) {
        self.reap();
        let partition = delivery.partition;
        let queue = match self.queues.get(&partition) {
            Some(q) if !q.is_closed() => q.clone(),
            _ => {
                let (tx, rx) = mpsc::channel(self.depth);
                self.workers
                    .spawn(work(partition, rx, Arc::clone(&self.shared)));
                self.queues.insert(partition, tx.clone());
                tx
            }
        };
        if queue.send(delivery).await.is_err() {
            // The worker stopped (shutdown): the offset is not committed, so the broker hands
            // this delivery out again.
            tracing::debug!(
                partition,
                "partition worker gone; delivery left for redelivery"
            );
        }
    }

    /// Logs workers that ended by panicking (their partition gets a fresh worker).
    fn reap(&mut self) {
        while let Some(joined) = self.workers.try_join_next() {
            if let Err(e) = joined
                && e.is_panic()
            {
                tracing::error!(error = %e, "partition worker panicked");
            }
        }
    }

    /// Lets each worker finish the task in hand (up to `drain`), then stops them all; queued
    /// deliveries are left for redelivery.
    pub async fn shutdown(mut self, drain: Duration) {
        self.queues.clear();
        let joined = async { while self.workers.join_next().await.is_some() {} };
        if tokio::time::timeout(drain, joined).await.is_err() {
            tracing::warn!("tasks still in flight at shutdown; the broker will redeliver them");
        }
        self.workers.abort_all();
    }
}

/// Handles one partition's deliveries in order until the queue closes or the bridge stops.
async fn work(partition: i32, mut queue: mpsc::Receiver<Delivery>, shared: Arc<Shared>) {
    let mut stop = shared.stop.clone();
    // The next offset this worker committed: a redelivery behind it is not committed again,
    // so the group's offset never moves back.
    let mut committed = Offset::Invalid;
    let mut backoff = Backoff::default();
    tracing::debug!(partition, "partition worker started");
    loop {
        let delivery = tokio::select! {
            _ = crate::stop::stopped(&mut stop) => return,
            d = queue.recv() => match d {
                Some(d) => d,
                None => return,
            },
        };
        // Hold the delivery until its result is confirmed; retry (with backoff) on broker errors.
        loop {
            let consumer = shared.consumer.borrow().clone();
            let ack = KafkaAck {
                consumer: &consumer,
                delivery: &delivery,
                committed: &mut committed,
            };
            match shared
                .pipeline
                .handle(&delivery.payload, ack, &shared.sink)
                .await
            {
                Ok(_) => {
                    backoff.reset();
                    // A rate limit is lifted by the statistics, not by one task getting through.
                    if shared.health.state(Link::Broker) == LinkState::Down {
                        shared.health.up(Link::Broker);
                    }
                    break;
                }
                Err(e) => {
                    shared.health.down(Link::Broker, e.class, &e.message);
                    let delay = backoff.next_delay();
                    tokio::select! {
                        _ = crate::stop::stopped(&mut stop) => return,
                        _ = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
    }
}

/// Commits one delivery's offset (the next offset to read), unless the worker already
/// committed past it.
struct KafkaAck<'a> {
    consumer: &'a StreamConsumer<BridgeContext>,
    delivery: &'a Delivery,
    committed: &'a mut Offset,
}

impl Acknowledge for KafkaAck<'_> {
    async fn ack(&mut self) -> Result<(), BrokerError> {
        let Some(next) = commit_target(*self.committed, self.delivery.offset) else {
            return Ok(());
        };
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(
            &self.delivery.topic,
            self.delivery.partition,
            Offset::Offset(next),
        )
        .map_err(|e| kafka_error(&e))?;
        self.consumer
            .commit(&tpl, CommitMode::Async)
            .map_err(|e| kafka_error(&e))?;
        *self.committed = Offset::Offset(next);
        Ok(())
    }
}

/// The offset to commit once the delivery at `offset` is handled (the next one to read), or
/// `None` when the worker already committed past it (a redelivery after a rebalance).
fn commit_target(committed: Offset, offset: i64) -> Option<i64> {
    let next = offset + 1;
    match committed {
        Offset::Offset(done) if next <= done => None,
        _ => Some(next),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_committed_forward_only() {
        assert_eq!(commit_target(Offset::Invalid, 0), Some(1));
        assert_eq!(commit_target(Offset::Offset(1), 1), Some(2));
        assert_eq!(
            commit_target(Offset::Offset(8), 3),
            None,
            "a redelivery behind the mark"
        );
        assert_eq!(
            commit_target(Offset::Offset(8), 7),
            None,
            "the last one committed"
        );
        assert_eq!(commit_target(Offset::Offset(8), 8), Some(9));
    }
}
