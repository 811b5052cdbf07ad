//! Kafka (and Kafka-protocol brokers such as Tansu): consume `openclaw.tasks` in group
//! `claw-bridge`, produce results to `openclaw.results`, commit a task's offset only after its
//! result's delivery is confirmed.
//!
//! Each partition has a worker that handles its messages one at a time, so offsets are
//! committed in order, while partitions are handled side by side (`prefetch` messages wait
//! per partition).
//!
//! librdkafka reconnects on its own (250 ms doubling to 5 s); its errors feed the broker
//! link's health, and a metadata probe every few seconds notices when the broker is back.
//!
//! A link that answers, but too slowly to keep up, is rate limited: Kafka brokers throttle
//! with quotas (`throttle_time_ms`), and a link's bandwidth shows as requests whose round trip
//! takes seconds. The consumer's statistics (every second) are judged for both; the broker
//! link is then `blocked` with class `rate_limited`, until the round trips are short again.

mod partitions;
mod rejoin;
mod throughput;

pub use throughput::{BrokerSample, Throughput, judge};

use super::{BrokerError, DRAIN_TIMEOUT};
use crate::backoff::Backoff;
use crate::classify::{ErrorClass, classify_broker};
use crate::config::Messaging;
use crate::health::{Health, Link, LinkState};
use crate::pipeline::{Pipeline, Publish};
use partitions::{Delivery, PartitionWorkers};
use rdkafka::TopicPartitionList;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{Consumer, ConsumerContext, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use rejoin::{RejoinWatchdog, Seen};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The consumer group.
pub const GROUP_ID: &str = "claw-bridge";
/// Partitions for topics the bridge creates (when they do not exist yet).
const DEFAULT_PARTITIONS: i32 = 3;
/// How often the broker is probed for metadata.
const PROBE_EVERY: Duration = Duration::from_secs(2);
/// Intervals judged limited since the last clear one before the limit is reported (one slow
/// interval is what a broker that was paused and resumed leaves behind).
const RATE_LIMITED_AFTER: u32 = 2;
/// How often the consumer's partition assignment is checked.
const WATCHDOG_EVERY: Duration = Duration::from_secs(1);
/// The consumer's group session: a member silent this long is expired by the coordinator.
const SESSION_TIMEOUT: Duration = Duration::from_secs(6);
/// A consumer without partitions this long first rejoins its group: by then a crashed
/// predecessor has been expired (see [`rejoin`]).
const REJOIN_FIRST: Duration = Duration::from_secs(SESSION_TIMEOUT.as_secs() + 4);
/// The longest wait between rejoins of a consumer that stays without partitions.
const REJOIN_CAP: Duration = Duration::from_secs(300);
/// How long a fetch waits at the broker for data (it counts in the round trip).
const FETCH_WAIT: &str = "100";

/// Classifies a Kafka client error.
pub fn kafka_error(e: &KafkaError) -> BrokerError {
    use RDKafkaErrorCode as C;
    let text = e.to_string();
    let class = match e.rdkafka_error_code() {
        Some(
            C::BrokerTransportFailure | C::AllBrokersDown | C::Resolve | C::BrokerNotAvailable,
        ) => ErrorClass::Unreachable,
        Some(
            C::Authentication
            | C::SaslAuthenticationFailed
            | C::TopicAuthorizationFailed
            | C::GroupAuthorizationFailed
            | C::ClusterAuthorizationFailed,
        ) => ErrorClass::AuthFailed,
        Some(C::MessageTimedOut | C::RequestTimedOut | C::OperationTimedOut) => ErrorClass::Stalled,
        Some(C::PolicyViolation | C::ThrottlingQuotaExceeded) => ErrorClass::RateLimited,
        _ => classify_broker(None, &text),
    };
    BrokerError::new(class, text)
}

/// Whether `error` is a summary (librdkafka's `AllBrokersDown`, or the metadata probe's
/// failure) arriving while the broker link is down for an authentication failure. Summaries
/// follow every failed login (measured with a wrong SCRAM password: `AllBrokersDown` 11 µs
/// later, the probe's `BrokerTransportFailure` within seconds), and recording them would turn
/// the link's `auth_failed` into `unreachable`, hiding the cause. A transport failure that
/// librdkafka reports for a connection still reads `unreachable`.
fn summary_hides_auth_failure(
    error: &KafkaError,
    state: LinkState,
    last: Option<ErrorClass>,
) -> bool {
    let summary = matches!(error, KafkaError::MetadataFetch(_))
        || error.rdkafka_error_code() == Some(RDKafkaErrorCode::AllBrokersDown);
    summary && state == LinkState::Down && last == Some(ErrorClass::AuthFailed)
}

/// Marks the broker link down for `error` (classified as `class`), unless it is the
/// summary that would hide an authentication failure (see [`summary_hides_auth_failure`]).
fn report_broker_error(health: &Health, error: &KafkaError, class: ErrorClass, detail: &str) {
    if summary_hides_auth_failure(
        error,
        health.state(Link::Broker),
        health.last_error_class(Link::Broker),
    ) {
        tracing::debug!(
            detail,
            "summary error ignored: the link is down for an auth failure"
        );
        return;
    }
    health.down(Link::Broker, class, detail);
}

/// Routes librdkafka's errors and logs into the bridge's health and tracing.
struct BridgeContext {
    health: Health,
    /// Intervals judged [`Throughput::Limited`] since the last clear one, when this client's
    /// statistics are watched (the consumer's); `None` otherwise.
    limited_streak: Option<std::sync::Mutex<u32>>,
}

impl BridgeContext {
    fn new(health: &Health, watch_throughput: bool) -> Self {
        Self {
            health: health.clone(),
            limited_streak: watch_throughput.then(|| std::sync::Mutex::new(0)),
        }
    }
}

impl ClientContext for BridgeContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        let message = self.health.redactor().scrub(message);
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error
            | RDKafkaLogLevel::Warning => {
                tracing::warn!(target: "librdkafka", facility = fac, "{message}");
            }
            _ => tracing::debug!(target: "librdkafka", facility = fac, "{message}"),
        }
    }

    fn stats(&self, statistics: rdkafka::Statistics) {
        let Some(streak) = &self.limited_streak else {
            return;
        };
        let mut streak = streak.lock().unwrap_or_else(|e| e.into_inner());
        match judge(&BrokerSample::all(&statistics)) {
            Throughput::Limited(why) => {
                *streak += 1;
                // Slow answers are still answers: a link judged stalled (a probe that timed out
                // behind a slow response) is limited, not silent.
                if *streak >= RATE_LIMITED_AFTER
                    && self.health.state(Link::Broker) != LinkState::Blocked
                {
                    self.health
                        .blocked(Link::Broker, ErrorClass::RateLimited, &why);
                }
            }
            Throughput::Clear => {
                *streak = 0;
                if self.health.state(Link::Broker) == LinkState::Blocked {
                    self.health.up(Link::Broker);
                }
            }
            Throughput::NoEvidence => {}
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        let e = kafka_error(&error);
        if e.class == ErrorClass::Unreachable {
            self.health.count_reconnect();
        }
        let detail = format!("{}: {}", e.message, self.health.redactor().scrub(reason));
        report_broker_error(&self.health, &error, e.class, &detail);
    }
}

impl ConsumerContext for BridgeContext {
    fn commit_callback(
        &self,
        result: rdkafka::error::KafkaResult<()>,
        _offsets: &TopicPartitionList,
    ) {
        if let Err(e) = result {
            tracing::warn!(error = %e, "offset commit failed; the task may be redelivered (and skipped as a duplicate)");
        }
    }
}

fn base_config(messaging: &Messaging) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &messaging.url)
        .set("client.id", "claw-bridge")
        .set("reconnect.backoff.ms", "250")
        .set("reconnect.backoff.max.ms", "5000")
        .set("socket.connection.setup.timeout.ms", "10000");
    if let Some(sasl) = &messaging.sasl {
        c.set("security.protocol", "SASL_PLAINTEXT")
            .set("sasl.mechanisms", &sasl.mechanism)
            .set("sasl.username", &sasl.username)
            .set("sasl.password", sasl.password.expose());
    }
    c
}

/// Runs the Kafka side until `stop` turns true.
pub async fn run(
    messaging: Messaging,
    pipeline: Arc<Pipeline>,
    health: Health,
    mut stop: watch::Receiver<bool>,
) -> Result<(), KafkaError> {
    let timeout_ms = messaging.publish_timeout.as_millis().to_string();
    let producer: FutureProducer<BridgeContext> = base_config(&messaging)
        .set("acks", "all")
        .set("message.timeout.ms", &timeout_ms)
        .create_with_context(BridgeContext::new(&health, false))?;
    create_topics(&messaging).await;
    let mut consumer = subscribe(&messaging, &health)?;
    tracing::info!(tasks = %messaging.tasks, results = %messaging.results, group = GROUP_ID, "consuming from Kafka");

    let probe_stop = stop.clone();
    let start_probe = |consumer: &Arc<StreamConsumer<BridgeContext>>| {
        tokio::spawn(probe_loop(
            Arc::clone(consumer),
            messaging.tasks.clone(),
            health.clone(),
            probe_stop.clone(),
        ))
    };
    let mut probe = start_probe(&consumer);
    let (current_consumer, consumer_rx) = watch::channel(Arc::clone(&consumer));
    let sink = KafkaSink {
        producer,
        topic: messaging.results.clone(),
        timeout: messaging.publish_timeout,
    };
    let mut workers = PartitionWorkers::new(
        pipeline,
        sink,
        health.clone(),
        consumer_rx,
        stop.clone(),
        usize::from(messaging.prefetch),
    );
    let mut backoff = Backoff::default();
    let mut watchdog = tokio::time::interval(WATCHDOG_EVERY);
    let mut rejoin = RejoinWatchdog::new(REJOIN_FIRST, REJOIN_CAP);
    loop {
        let message = tokio::select! {
            _ = crate::stop::stopped(&mut stop) => break,
            _ = watchdog.tick() => None,
            m = consumer.recv() => Some(m),
        };
        let Some(message) = message else {
            let seen = if consumer.assignment().is_ok_and(|a| a.count() > 0) {
                Seen::Partitions
            } else if health.state(Link::Broker) == LinkState::Down {
                Seen::LinkDown
            } else {
                Seen::NoPartitions
            };
            if let Some(without) = rejoin.check(seen, Instant::now()) {
                let why = format!(
                    "no partitions assigned for {}s: leaving the consumer group and joining again",
                    without.as_secs()
                );
                tracing::warn!(group = GROUP_ID, "{why}");
                health.down(Link::Broker, ErrorClass::Stalled, &why);
                probe.abort();
                consumer.unsubscribe();
                consumer = subscribe(&messaging, &health)?;
                current_consumer.send_replace(Arc::clone(&consumer));
                probe = start_probe(&consumer);
            }
            continue;
        };
        let delivery = match message {
            Ok(m) => {
                backoff.reset();
                Delivery {
                    topic: m.topic().to_owned(),
                    partition: m.partition(),
                    offset: m.offset(),
                    payload: m.payload().unwrap_or_default().to_vec(),
                }
            }
            Err(error) => {
                let e = kafka_error(&error);
                report_broker_error(&health, &error, e.class, &e.message);
                let delay = backoff.next_delay();
                tokio::select! {
                    _ = crate::stop::stopped(&mut stop) => break,
                    _ = tokio::time::sleep(delay) => continue,
                }
            }
        };
        tokio::select! {
            _ = crate::stop::stopped(&mut stop) => break,
            _ = workers.dispatch(delivery) => {}
        }
    }
    probe.abort();
    workers.shutdown(DRAIN_TIMEOUT).await;
    consumer.unsubscribe();
    Ok(())
}

/// A consumer in the bridge's group, subscribed to the task topic.
fn subscribe(
    messaging: &Messaging,
    health: &Health,
) -> Result<Arc<StreamConsumer<BridgeContext>>, KafkaError> {
    let consumer: StreamConsumer<BridgeContext> = base_config(messaging)
        .set("group.id", GROUP_ID)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set(
            "session.timeout.ms",
            SESSION_TIMEOUT.as_millis().to_string(),
        )
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", FETCH_WAIT)
        .set("statistics.interval.ms", "1000")
        .create_with_context(BridgeContext::new(health, true))?;
    consumer.subscribe(&[messaging.tasks.as_str()])?;
    Ok(Arc::new(consumer))
}

/// Creates the task and result topics if missing (Tansu does not auto-create); best effort.
async fn create_topics(messaging: &Messaging) {
    let admin: AdminClient<DefaultClientContext> = match base_config(messaging).create() {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(error = %e, "cannot create a Kafka admin client; topics must exist");
            return;
        }
    };
    let topics = [
        NewTopic::new(
            &messaging.tasks,
            DEFAULT_PARTITIONS,
            TopicReplication::Fixed(1),
        ),
        NewTopic::new(
            &messaging.results,
            DEFAULT_PARTITIONS,
            TopicReplication::Fixed(1),
        ),
    ];
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(5)));
    match tokio::time::timeout(Duration::from_secs(10), admin.create_topics(&topics, &opts)).await {
        Ok(Ok(results)) => {
            for r in results {
                match r {
                    Ok(name) => tracing::info!(topic = %name, "topic created"),
                    Err((name, RDKafkaErrorCode::TopicAlreadyExists)) => {
                        tracing::debug!(topic = %name, "topic exists");
                    }
                    Err((name, code)) => {
                        tracing::warn!(topic = %name, error = %code, "cannot create topic")
                    }
                }
            }
        }
        Ok(Err(e)) => tracing::warn!(error = %e, "cannot create topics; they must exist"),
        Err(_) => tracing::warn!("topic creation timed out; topics must exist"),
    }
}

/// Asks the broker for the task topic's metadata every few seconds: up when it answers.
async fn probe_loop(
    consumer: Arc<StreamConsumer<BridgeContext>>,
    topic: String,
    health: Health,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let c = Arc::clone(&consumer);
        let t = topic.clone();
        let probe = tokio::task::spawn_blocking(move || {
            c.client()
                .fetch_metadata(Some(&t), Timeout::After(PROBE_EVERY))
                .map(|_| ())
        })
        .await;
        match probe {
            Ok(Ok(())) => {
                if health.state(Link::Broker) == LinkState::Down {
                    health.up(Link::Broker);
                }
            }
            Ok(Err(error)) => {
                let e = kafka_error(&error);
                // On a rate-limited link the probe times out behind slow responses: that is
                // the limit already reported, not a silent broker.
                let limited = health.state(Link::Broker) == LinkState::Blocked;
                if !(limited && e.class == ErrorClass::Stalled) {
                    report_broker_error(&health, &error, e.class, &e.message);
                }
            }
            Err(_) => return,
        }
        tokio::select! {
            _ = crate::stop::stopped(&mut stop) => return,
            _ = tokio::time::sleep(PROBE_EVERY) => {}
        }
    }
}

/// Produces results and waits for their delivery reports.
struct KafkaSink {
    producer: FutureProducer<BridgeContext>,
    topic: String,
    timeout: Duration,
}

impl Publish for KafkaSink {
    async fn publish(&self, id: &str, body: Vec<u8>) -> Result<(), BrokerError> {
        let record = FutureRecord::to(&self.topic).key(id).payload(&body);
        self.producer
            .send(record, Timeout::After(self.timeout))
            .await
            .map(|_| ())
            .map_err(|(e, _)| kafka_error(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn kafka_errors_map_to_classes() {
        let e = kafka_error(&KafkaError::Global(RDKafkaErrorCode::AllBrokersDown));
        assert_eq!(e.class, ErrorClass::Unreachable);
        let e = kafka_error(&KafkaError::MessageProduction(
            RDKafkaErrorCode::MessageTimedOut,
        ));
        assert_eq!(e.class, ErrorClass::Stalled);
        let e = kafka_error(&KafkaError::Global(
            RDKafkaErrorCode::SaslAuthenticationFailed,
        ));
        assert_eq!(e.class, ErrorClass::AuthFailed);
        let e = kafka_error(&KafkaError::MetadataFetch(
            RDKafkaErrorCode::OperationTimedOut,
        ));
        assert_eq!(e.class, ErrorClass::Stalled);
    }

    #[test]
    fn all_brokers_down_does_not_hide_an_auth_failure() {
        let summary = KafkaError::Global(RDKafkaErrorCode::AllBrokersDown);
        let transport = KafkaError::Global(RDKafkaErrorCode::BrokerTransportFailure);
        let down = LinkState::Down;
        let auth = Some(ErrorClass::AuthFailed);
        let probe = KafkaError::MetadataFetch(RDKafkaErrorCode::BrokerTransportFailure);
        assert!(summary_hides_auth_failure(&summary, down, auth));
        assert!(summary_hides_auth_failure(&probe, down, auth));
        // A connection's transport failure is news, and so is the summary of any other cause.
        assert!(!summary_hides_auth_failure(&transport, down, auth));
        assert!(!summary_hides_auth_failure(
            &summary,
            down,
            Some(ErrorClass::Unreachable)
        ));
        // Up again since the auth failure: the summary is a new outage.
        assert!(!summary_hides_auth_failure(&summary, LinkState::Up, auth));
    }
}
