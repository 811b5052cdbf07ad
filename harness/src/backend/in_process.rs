//! Servers that run as tasks inside the harness (the mock LLM, the token service) as a
//! [`Service`]: one implementation (`InProcess`, made by [`serve`]); each server only says
//! where it listens and how it stops.

use std::future::Future;
use std::net::SocketAddr;

use super::{BackendError, BoxFuture, Facts, Handle, Service, Signal};

/// A server the harness runs in-process.
pub trait InProcessServer: Send + Sync + 'static {
    /// Where clients reach it.
    fn addr(&self) -> SocketAddr;
    /// Where its control API listens, when not on `addr`.
    fn control_addr(&self) -> Option<SocketAddr> {
        None
    }
    /// Stops it.
    fn shutdown(self) -> impl Future<Output = ()> + Send;
}

/// An in-process server as a [`Service`]: no pid, no signals, no restart.
struct InProcess<S: InProcessServer> {
    facts: Facts,
    server: Option<S>,
}

impl<S: InProcessServer> InProcess<S> {
    fn new(name: &str, server: S) -> Self {
        Self {
            facts: Facts {
                control: server.control_addr(),
                ..Facts::new(name, server.addr())
            },
            server: Some(server),
        }
    }

    fn unsupported(&self, operation: &'static str) -> BackendError {
        BackendError::Unsupported {
            service: self.facts.name.clone(),
            operation,
        }
    }
}

/// `server`, already listening, as the service `name`.
pub fn serve<S: InProcessServer>(name: &str, server: S) -> Box<dyn Service> {
    Box::new(InProcess::new(name, server))
}

impl<S: InProcessServer> Service for InProcess<S> {
    fn facts(&self) -> &Facts {
        &self.facts
    }

    fn handle(&self) -> Handle {
        Handle::InProcess
    }

    fn signal(&self, _signal: Signal) -> BoxFuture<'_, Result<(), BackendError>> {
        Box::pin(std::future::ready(Err(
            self.unsupported("signals (it runs inside the harness)")
        )))
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
