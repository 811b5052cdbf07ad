//! Services that run as tasks inside the harness: the mock LLM and the token service. They
//! share one [`Service`] implementation, [`Embedded`]; each only says how it starts and stops.

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use super::{BackendError, BoxFuture, ExitWatch, LogBuffer, Service, Signal};

/// A server the harness runs in-process.
pub(super) trait EmbeddedServer: Send + Sync + 'static {
    /// Where clients reach it.
    fn addr(&self) -> SocketAddr;
    /// Where its control API listens, when not on `addr`.
    fn control_addr(&self) -> Option<SocketAddr> {
        None
    }
    /// Stops it.
    fn shutdown(self) -> impl Future<Output = ()> + Send;
}

impl EmbeddedServer for clawchaos_mock_llm::MockLlm {
    fn addr(&self) -> SocketAddr {
        clawchaos_mock_llm::MockLlm::addr(self)
    }

    fn shutdown(self) -> impl Future<Output = ()> + Send {
        clawchaos_mock_llm::MockLlm::shutdown(self)
    }
}

impl EmbeddedServer for clawchaos_token_service::TokenService {
    fn addr(&self) -> SocketAddr {
        clawchaos_token_service::TokenService::addr(self)
    }

    fn control_addr(&self) -> Option<SocketAddr> {
        clawchaos_token_service::TokenService::control_addr(self)
    }

    fn shutdown(self) -> impl Future<Output = ()> + Send {
        clawchaos_token_service::TokenService::shutdown(self)
    }
}

/// An in-process server as a [`Service`]: no pid, no signals, no restart.
pub(super) struct Embedded<S: EmbeddedServer> {
    name: String,
    server: Option<S>,
    addr: SocketAddr,
    control: Option<SocketAddr>,
    logs: LogBuffer,
    exit: ExitWatch,
}

impl<S: EmbeddedServer> Embedded<S> {
    fn new(name: &str, server: S) -> Self {
        Self {
            name: name.to_string(),
            addr: server.addr(),
            control: server.control_addr(),
            server: Some(server),
            logs: LogBuffer::new(),
            exit: ExitWatch::default(),
        }
    }

    fn unsupported(&self, operation: &'static str) -> BackendError {
        BackendError::Unsupported {
            service: self.name.clone(),
            operation,
        }
    }
}

/// Starts the mock LLM.
pub(super) async fn mock_llm(
    name: &str,
    models: &[String],
    reply: &str,
) -> Result<Embedded<clawchaos_mock_llm::MockLlm>, BackendError> {
    let config = clawchaos_mock_llm::MockLlmConfig {
        addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        models: models.to_vec(),
        reply: reply.to_string(),
    };
    let server = clawchaos_mock_llm::MockLlm::start(config)
        .await
        .map_err(|e| BackendError::setup(name, e))?;
    Ok(Embedded::new(name, server))
}

/// Starts the token service. Its verification key is written to `dir` (its folder of the
/// run) for the broker's config; its control API listens on a port of its own, since its
/// main port goes away when the scenario takes it down.
pub(super) async fn token_service(
    name: &str,
    algorithm: &str,
    ttl: std::time::Duration,
    clock_offset_secs: i64,
    dir: PathBuf,
) -> Result<Embedded<clawchaos_token_service::TokenService>, BackendError> {
    let alg = algorithm
        .parse::<clawchaos_token_service::SigningAlg>()
        .map_err(|e| BackendError::setup(name, e))?;
    let config = clawchaos_token_service::TokenServiceConfig {
        addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        control_addr: Some(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))),
        alg,
        ttl,
        clock_offset_secs,
        ..Default::default()
    };
    let server = clawchaos_token_service::TokenService::start(config)
        .await
        .map_err(|e| BackendError::setup(name, e))?;
    std::fs::create_dir_all(&dir)?;
    server
        .write_key(&dir)
        .map_err(|e| BackendError::setup(name, e))?;
    Ok(Embedded::new(name, server))
}

impl<S: EmbeddedServer> Service for Embedded<S> {
    fn name(&self) -> &str {
        &self.name
    }

    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn control_addr(&self) -> Option<SocketAddr> {
        self.control
    }

    fn logs(&self) -> LogBuffer {
        self.logs.clone()
    }

    fn pid(&self) -> Option<u32> {
        None
    }

    fn exit_watch(&self) -> ExitWatch {
        self.exit.clone()
    }

    fn signal(&self, _signal: Signal) -> Result<(), BackendError> {
        Err(self.unsupported("signals (it runs inside the harness)"))
    }

    fn restart(&mut self) -> BoxFuture<'_, Result<(), BackendError>> {
        Box::pin(async move { Err(self.unsupported("restart (it runs inside the harness)")) })
    }

    fn stop(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if let Some(server) = self.server.take() {
                server.shutdown().await;
            }
        })
    }
}
