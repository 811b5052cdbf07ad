//! Services that run as tasks inside the harness: the mock LLM and the token service.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use super::{BackendError, BoxFuture, ExitWatch, LogBuffer, Service, Signal};

/// The mock LLM running as a task inside the harness.
pub(super) struct EmbeddedMockLlm {
    name: String,
    server: Option<clawchaos_mock_llm::MockLlm>,
    addr: SocketAddr,
    logs: LogBuffer,
    exit: ExitWatch,
}

impl EmbeddedMockLlm {
    pub(super) async fn start(
        name: &str,
        models: &[String],
        reply: &str,
    ) -> Result<Self, BackendError> {
        let config = clawchaos_mock_llm::MockLlmConfig {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            models: models.to_vec(),
            reply: reply.to_string(),
        };
        let server = clawchaos_mock_llm::MockLlm::start(config)
            .await
            .map_err(|e| BackendError::Embedded {
                service: name.to_string(),
                message: e.to_string(),
            })?;
        Ok(Self {
            name: name.to_string(),
            addr: server.addr(),
            server: Some(server),
            logs: LogBuffer::new(),
            exit: ExitWatch::default(),
        })
    }
}

impl Service for EmbeddedMockLlm {
    fn name(&self) -> &str {
        &self.name
    }

    fn addr(&self) -> SocketAddr {
        self.addr
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
        Err(BackendError::Unsupported {
            service: self.name.clone(),
            operation: "signals (it runs inside the harness)",
        })
    }

    fn restart(&mut self) -> BoxFuture<'_, Result<(), BackendError>> {
        Box::pin(async move {
            Err(BackendError::Unsupported {
                service: self.name.clone(),
                operation: "restart (it runs inside the harness)",
            })
        })
    }

    fn stop(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if let Some(server) = self.server.take() {
                server.shutdown().await;
            }
        })
    }
}

/// The token service running as a task inside the harness. Its verification key is written
/// to `<run folder>/<name>/` for the broker's config; its control API listens on a port of
/// its own, since its main port goes away when the scenario takes it down.
pub(super) struct EmbeddedTokenService {
    name: String,
    server: Option<clawchaos_token_service::TokenService>,
    addr: SocketAddr,
    control: Option<SocketAddr>,
    logs: LogBuffer,
    exit: ExitWatch,
}

impl EmbeddedTokenService {
    pub(super) async fn start(
        name: &str,
        algorithm: &str,
        ttl: std::time::Duration,
        clock_offset_secs: i64,
        dir: PathBuf,
    ) -> Result<Self, BackendError> {
        let failed = |message: String| BackendError::Embedded {
            service: name.to_string(),
            message,
        };
        let alg = algorithm
            .parse::<clawchaos_token_service::SigningAlg>()
            .map_err(|e| failed(e.to_string()))?;
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
            .map_err(|e| failed(e.to_string()))?;
        std::fs::create_dir_all(&dir)?;
        server.write_key(&dir).map_err(|e| failed(e.to_string()))?;
        Ok(Self {
            name: name.to_string(),
            addr: server.addr(),
            control: server.control_addr(),
            server: Some(server),
            logs: LogBuffer::new(),
            exit: ExitWatch::default(),
        })
    }
}

impl Service for EmbeddedTokenService {
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
        Err(BackendError::Unsupported {
            service: self.name.clone(),
            operation: "signals (it runs inside the harness)",
        })
    }

    fn restart(&mut self) -> BoxFuture<'_, Result<(), BackendError>> {
        Box::pin(async move {
            Err(BackendError::Unsupported {
                service: self.name.clone(),
                operation: "restart (it runs inside the harness)",
            })
        })
    }

    fn stop(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if let Some(server) = self.server.take() {
                server.shutdown().await;
            }
        })
    }
}
