//! One AMQP connection: open it (queues, QoS, confirms, consumer), then consume until it fails
//! or the bridge stops; apply refreshed tokens with `connection.update_secret`.

use super::sink::{RabbitAck, RabbitSink};
use super::{CONNECT_TIMEOUT, CONSUMER_TAG, JWT_USERNAME, broker_error};
use crate::broker::BrokerError;
use crate::broker::DRAIN_TIMEOUT;
use crate::classify::ErrorClass;
use crate::config::Messaging;
use crate::health::{Health, Link};
use crate::pipeline::Pipeline;
use crate::secret::Secret;
use crate::token::TokenManager;
use futures_util::StreamExt;
use lapin::options::{
    BasicCancelOptions, BasicConsumeOptions, BasicQosOptions, ConfirmSelectOptions,
    QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::uri::AMQPUri;
use lapin::{Channel, Connection, ConnectionProperties, Consumer, Event};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

/// Why a session ended.
pub(super) enum SessionEnd {
    /// Asked to stop.
    Shutdown,
    /// The link failed.
    Failed(BrokerError),
}

/// One connection with its two channels.
pub(super) struct Session {
    conn: Arc<Connection>,
    tasks: Channel,
    consumer: Consumer,
    sink: Arc<RabbitSink>,
    blocked: Arc<AtomicBool>,
}

impl Session {
    /// Connects, declares both queues, sets QoS and confirms, starts consuming.
    pub(super) async fn open(
        messaging: &Messaging,
        token: Option<Secret>,
        health: &Health,
    ) -> Result<Session, BrokerError> {
        let mut uri: AMQPUri = messaging
            .url
            .parse()
            .map_err(|e: String| BrokerError::new(ErrorClass::Unreachable, e))?;
        if let Some(token) = &token {
            if uri.authority.userinfo.username.is_empty()
                || uri.authority.userinfo.username == "guest"
            {
                uri.authority.userinfo.username = JWT_USERNAME.to_owned();
            }
            uri.authority.userinfo.password = token.expose().to_owned();
        }
        uri.query.heartbeat =
            Some(u16::try_from(messaging.heartbeat.as_secs().max(1)).unwrap_or(u16::MAX));
        uri.query.connection_timeout =
            Some(u64::try_from(CONNECT_TIMEOUT.as_millis()).unwrap_or(u64::MAX));
        let props = ConnectionProperties::default().with_connection_name("claw-bridge".into());
        let conn = tokio::time::timeout(CONNECT_TIMEOUT, Connection::connect_uri(uri, props))
            .await
            .map_err(|_| {
                BrokerError::new(
                    ErrorClass::Stalled,
                    format!(
                        "no AMQP handshake within {}",
                        humantime::format_duration(CONNECT_TIMEOUT)
                    ),
                )
            })?
            .map_err(|e| scrubbed(health, &e))?;
        let setup = async {
            let tasks = conn.create_channel().await?;
            let results = conn.create_channel().await?;
            let durable = QueueDeclareOptions {
                durable: true,
                ..QueueDeclareOptions::default()
            };
            tasks
                .queue_declare(
                    messaging.tasks.as_str().into(),
                    durable,
                    FieldTable::default(),
                )
                .await?;
            tasks
                .queue_declare(
                    messaging.results.as_str().into(),
                    durable,
                    FieldTable::default(),
                )
                .await?;
            tasks
                .basic_qos(messaging.prefetch, BasicQosOptions::default())
                .await?;
            results
                .confirm_select(ConfirmSelectOptions::default())
                .await?;
            let consumer = tasks
                .basic_consume(
                    messaging.tasks.as_str().into(),
                    CONSUMER_TAG.into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            Ok::<_, lapin::Error>((tasks, results, consumer))
        };
        let (tasks, results, consumer) = tokio::time::timeout(CONNECT_TIMEOUT, setup)
            .await
            .map_err(|_| BrokerError::new(ErrorClass::Stalled, "channel set-up timed out"))?
            .map_err(|e| scrubbed(health, &e))?;
        let blocked = Arc::new(AtomicBool::new(false));
        let sink = Arc::new(RabbitSink {
            channel: results,
            queue: messaging.results.as_str().into(),
            timeout: messaging.publish_timeout,
            blocked: Arc::clone(&blocked),
        });
        Ok(Session {
            conn: Arc::new(conn),
            tasks,
            consumer,
            sink,
            blocked,
        })
    }

    /// Consumes until the link fails or shutdown is asked.
    pub(super) async fn run(
        mut self,
        pipeline: &Arc<Pipeline>,
        tokens: &TokenManager,
        health: &Health,
        shutdown: &mut watch::Receiver<bool>,
    ) -> SessionEnd {
        let mut events = Box::pin(self.conn.events_listener());
        let mut token_rx = tokens.subscribe();
        token_rx.mark_unchanged();
        let (err_tx, mut err_rx) = mpsc::channel::<BrokerError>(16);
        let mut workers = JoinSet::new();
        let mut secret_updates = JoinSet::new();
        let end = loop {
            tokio::select! {
                _ = crate::stop::stopped(shutdown) => break SessionEnd::Shutdown,
                delivery = self.consumer.next() => match delivery {
                    Some(Ok(delivery)) => {
                        let pipeline = Arc::clone(pipeline);
                        let sink = Arc::clone(&self.sink);
                        let err_tx = err_tx.clone();
                        workers.spawn(async move {
                            let ack = RabbitAck(delivery.acker.clone());
                            if let Err(e) = pipeline.handle(&delivery.data, ack, &*sink).await {
                                let _ = err_tx.send(e).await;
                            }
                        });
                    }
                    Some(Err(e)) => break SessionEnd::Failed(scrubbed(health, &e)),
                    None => break SessionEnd::Failed(BrokerError::new(
                        ErrorClass::Unreachable,
                        "the broker cancelled our consumer",
                    )),
                },
                event = events.next() => match event {
                    Some(Event::ConnectionBlocked(reason)) => {
                        self.blocked.store(true, Ordering::SeqCst);
                        health.blocked(
                            Link::Broker,
                            ErrorClass::RateLimited,
                            &format!("connection blocked by the broker: {reason}"),
                        );
                    }
                    Some(Event::ConnectionUnblocked) => {
                        self.blocked.store(false, Ordering::SeqCst);
                        health.up(Link::Broker);
                    }
                    Some(Event::Error(e)) => break SessionEnd::Failed(scrubbed(health, &e)),
                    Some(_) => {}
                    None => break SessionEnd::Failed(BrokerError::new(
                        ErrorClass::Unreachable,
                        "connection event stream ended",
                    )),
                },
                Some(e) = err_rx.recv() => break SessionEnd::Failed(e),
                Some(joined) = workers.join_next(), if !workers.is_empty() => {
                    if let Err(e) = joined
                        && e.is_panic()
                    {
                        tracing::error!(error = %e, "task worker panicked");
                    }
                }
                changed = token_rx.changed() => {
                    if changed.is_err() {
                        continue;
                    }
                    let token = token_rx.borrow_and_update().clone();
                    if let Some(token) = token {
                        // In its own task: a blocked connection answers only once unblocked,
                        // and deliveries and events must keep flowing meanwhile.
                        secret_updates.spawn(update_secret(
                            Arc::clone(&self.conn),
                            token.secret.clone(),
                            self.sink.timeout,
                            Arc::clone(&self.blocked),
                        ));
                    }
                }
                Some(joined) = secret_updates.join_next(), if !secret_updates.is_empty() => {
                    match joined {
                        Ok(Ok(())) => tracing::info!(
                            "broker token updated on the open connection (connection.update_secret)"
                        ),
                        Ok(Err(e)) => {
                            let mut e = e;
                            e.message = health.redactor().scrub(&e.message);
                            tracing::warn!(error = %e, "update_secret failed; reconnecting with the new token");
                            break SessionEnd::Failed(e);
                        }
                        Err(e) => tracing::error!(error = %e, "update_secret task failed"),
                    }
                }
            }
        };
        if matches!(end, SessionEnd::Shutdown) {
            let _ = self
                .tasks
                .basic_cancel(CONSUMER_TAG.into(), BasicCancelOptions::default())
                .await;
            let drain = async { while workers.join_next().await.is_some() {} };
            if tokio::time::timeout(DRAIN_TIMEOUT, drain).await.is_err() {
                tracing::warn!("tasks still in flight at shutdown; the broker will redeliver them");
            }
        }
        workers.abort_all();
        secret_updates.abort_all();
        let _ = tokio::time::timeout(
            Duration::from_secs(1),
            self.conn.close(200, "claw-bridge closing".into()),
        )
        .await;
        end
    }
}

fn scrubbed(health: &Health, e: &lapin::Error) -> BrokerError {
    let mut err = broker_error(e);
    err.message = health.redactor().scrub(&err.message);
    err
}

/// Applies a new token to an open connection (`connection.update_secret`), waiting for the
/// answer up to `timeout` (longer while the connection is blocked).
async fn update_secret(
    conn: Arc<Connection>,
    token: Secret,
    timeout: Duration,
    blocked: Arc<AtomicBool>,
) -> Result<(), BrokerError> {
    let update = conn.update_secret(token.expose().into(), "token refresh".into());
    tokio::pin!(update);
    loop {
        match tokio::time::timeout(timeout, &mut update).await {
            Ok(result) => return result.map_err(|e| broker_error(&e)),
            Err(_) if blocked.load(Ordering::SeqCst) => {}
            Err(_) => {
                return Err(BrokerError::new(
                    ErrorClass::Stalled,
                    format!(
                        "no answer to update_secret within {}",
                        humantime::format_duration(timeout)
                    ),
                ));
            }
        }
    }
}
