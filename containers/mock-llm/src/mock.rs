//! [`MockLlm`], the in-process handle: start, program, read the journal, stop.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use tokio::{net::TcpListener, task::JoinHandle};

use crate::{
    behavior::Behavior,
    config::MockLlmConfig,
    error::MockLlmError,
    journal::JournalEntry,
    server::{self, Shared},
};

/// How long [`MockLlm::shutdown`] waits for open connections before giving up on them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A running mock LLM; dropping it stops the server and closes open connections.
#[derive(Debug)]
pub struct MockLlm {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: Option<JoinHandle<Result<(), MockLlmError>>>,
}

impl MockLlm {
    /// Starts a mock on `config.addr`; returns once it is listening.
    pub async fn start(config: MockLlmConfig) -> Result<MockLlm, MockLlmError> {
        let wanted = config.addr;
        let listener = TcpListener::bind(wanted)
            .await
            .map_err(|source| MockLlmError::Bind {
                addr: wanted,
                source,
            })?;
        let addr = listener.local_addr().map_err(MockLlmError::LocalAddr)?;
        let shared = Arc::new(Shared::new(config));
        let task = tokio::spawn(server::run(
            listener,
            Arc::clone(&shared),
            std::future::pending(),
        ));
        tracing::info!(%addr, "mock LLM listening");
        Ok(MockLlm {
            addr,
            shared,
            task: Some(task),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The OpenAI base URL to configure a client with: `http://IP:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Programs how the next requests are answered (replacing any earlier behaviour).
    pub fn set_behavior(&self, behavior: Behavior) {
        if let Err(message) = behavior.validate() {
            tracing::warn!(%message, "behavior applied anyway");
        }
        self.shared.set_behavior(behavior);
    }

    /// The behaviour in force now, `times` showing what is left.
    pub fn behavior(&self) -> Behavior {
        self.shared.behavior()
    }

    /// Back to normal service; the journal is kept.
    pub fn reset(&self) {
        self.shared.set_behavior(Behavior::normal());
    }

    /// Every journaled request, oldest first.
    pub fn journal(&self) -> Vec<JournalEntry> {
        self.shared.journal.entries()
    }

    /// Forgets the journal (sequence numbers keep counting).
    pub fn clear_journal(&self) {
        self.shared.journal.clear();
    }

    /// Stops the server, drops waiting requests' connections, and waits until it is down.
    pub async fn shutdown(mut self) {
        self.shared.closing.close();
        let Some(mut task) = self.task.take() else {
            return;
        };
        match tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await {
            Ok(Ok(Ok(()))) => tracing::info!(addr = %self.addr, "mock LLM stopped"),
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "mock LLM stopped with an error"),
            Ok(Err(e)) => tracing::warn!(error = %e, "mock LLM task failed"),
            Err(_) => {
                tracing::warn!("mock LLM connections still open after the grace period");
                task.abort();
            }
        }
    }
}

impl Drop for MockLlm {
    /// Closes the latch; the server task then stops accepting and ends open connections.
    fn drop(&mut self) {
        self.shared.closing.close();
    }
}
