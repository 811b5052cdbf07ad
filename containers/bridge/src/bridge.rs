//! The running bridge: health endpoint, token keeper and broker worker, started together and
//! stopped together.

use crate::broker;
use crate::config::{AckMode, BrokerKind, Config, TokenSource};
use crate::dedup::Dedup;
use crate::gateway::GatewayClient;
use crate::health::{self, Health};
use crate::pipeline::Pipeline;
use crate::secret::Redactor;
use crate::token::TokenManager;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Why the bridge could not start or keep running.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// The health address is taken or not ours.
    #[error("cannot listen for /health on {addr}: {source}")]
    HealthBind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The health server failed.
    #[error("health server failed: {0}")]
    HealthServe(std::io::Error),
    /// An HTTP client could not be built.
    #[error("cannot build an HTTP client: {0}")]
    HttpClient(#[from] reqwest::Error),
    /// Kafka was asked for but this build has no `kafka` feature.
    #[error("messaging.broker is kafka, but claw-bridge was built without the `kafka` feature")]
    KafkaDisabled,
    /// The Kafka client could not be created.
    #[error("kafka client: {0}")]
    Kafka(String),
    /// A task of the bridge died.
    #[error("bridge task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// A started bridge.
#[derive(Debug)]
pub struct Bridge {
    health_addr: SocketAddr,
    health: Health,
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<(), BridgeError>>,
}

impl Bridge {
    /// Binds the health endpoint, then starts the token keeper and the broker worker.
    pub async fn start(config: Config) -> Result<Bridge, BridgeError> {
        let redactor = Redactor::default();
        redactor.add(&config.gateway.token);
        if let TokenSource::Static(token) = &config.messaging.token.source {
            redactor.add(token);
        }
        if let Some(sasl) = &config.messaging.sasl {
            redactor.add(&sasl.password);
        }
        let health = Health::new(redactor.clone());
        let addr = config.bridge.health_listen;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| BridgeError::HealthBind { addr, source })?;
        let health_addr = listener
            .local_addr()
            .map_err(|source| BridgeError::HealthBind { addr, source })?;
        let (stop, stop_rx) = watch::channel(false);

        tracing::info!(
            broker = %config.messaging.broker,
            url = %without_password(&config.messaging.url),
            tasks = %config.messaging.tasks,
            results = %config.messaging.results,
            gateway = %config.gateway.url,
            health = %health_addr,
            ack = ?config.bridge.ack,
            "claw-bridge starting"
        );
        if config.bridge.ack == AckMode::BeforePublish {
            tracing::warn!(
                "ack mode before_publish: tasks are acknowledged BEFORE their results are \
                 published (deliberately wrong, for invariant tests)"
            );
        }

        let mut server_stop = stop_rx.clone();
        let server = tokio::spawn(health::serve(listener, health.clone(), async move {
            crate::stop::stopped(&mut server_stop).await;
        }));

        let mut token_settings = config.messaging.token.clone();
        if config.messaging.broker == BrokerKind::Kafka
            && token_settings.source != TokenSource::None
        {
            // Kafka authenticates with SASL here (Tansu offers no working OAUTHBEARER).
            tracing::warn!(
                "messaging.token is ignored for kafka: the JWT is a RabbitMQ credential"
            );
            token_settings.source = TokenSource::None;
        }
        let tokens = TokenManager::new(token_settings, health.clone(), redactor.clone())?;
        let token_task = tokio::spawn(Arc::clone(&tokens).run(stop_rx.clone()));
        let gateway = GatewayClient::new(&config.gateway, redactor)?;
        let pipeline = Arc::new(Pipeline::new(
            gateway,
            Dedup::default(),
            health.clone(),
            config.gateway.attempts,
            config.bridge.ack,
        ));

        let broker_health = health.clone();
        let messaging = config.messaging.clone();
        let broker_stop = stop_rx.clone();
        let task = tokio::spawn(async move {
            let result = match messaging.broker {
                BrokerKind::Rabbitmq => {
                    broker::rabbitmq::run(messaging, pipeline, tokens, broker_health, broker_stop)
                        .await;
                    Ok(())
                }
                BrokerKind::Kafka => {
                    run_kafka(messaging, pipeline, broker_health, broker_stop).await
                }
            };
            token_task.abort();
            let served = server.await?;
            result?;
            served.map_err(BridgeError::HealthServe)
        });
        Ok(Bridge {
            health_addr,
            health,
            stop,
            task,
        })
    }

    /// Where `GET /health` is served.
    pub fn health_addr(&self) -> SocketAddr {
        self.health_addr
    }

    /// The live health state.
    pub fn health(&self) -> &Health {
        &self.health
    }

    /// Stops consuming, lets tasks in flight finish (bounded), closes everything.
    pub async fn shutdown(self) -> Result<(), BridgeError> {
        let _ = self.stop.send(true);
        self.task.await?
    }

    /// Runs until `signal` resolves (then shuts down) or the bridge fails.
    pub async fn run_until(mut self, signal: impl Future<Output = ()>) -> Result<(), BridgeError> {
        tokio::select! {
            _ = signal => self.shutdown().await,
            result = &mut self.task => result?,
        }
    }
}

#[cfg(feature = "kafka")]
async fn run_kafka(
    messaging: crate::config::Messaging,
    pipeline: Arc<Pipeline>,
    health: Health,
    stop: watch::Receiver<bool>,
) -> Result<(), BridgeError> {
    broker::kafka::run(messaging, pipeline, health, stop)
        .await
        .map_err(|e| BridgeError::Kafka(e.to_string()))
}

#[cfg(not(feature = "kafka"))]
async fn run_kafka(
    _messaging: crate::config::Messaging,
    _pipeline: Arc<Pipeline>,
    _health: Health,
    _stop: watch::Receiver<bool>,
) -> Result<(), BridgeError> {
    Err(BridgeError::KafkaDisabled)
}

/// A broker URL for the logs: any password in it replaced.
pub fn without_password(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("[redacted]"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}
