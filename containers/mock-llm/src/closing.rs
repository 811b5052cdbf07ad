//! The "mock is shutting down" signal every waiting request listens to.

use std::sync::Arc;

use tokio::sync::watch;

/// A one-way latch: once closed, every current and future waiter wakes up.
#[derive(Debug, Clone)]
pub(crate) struct Closing {
    tx: Arc<watch::Sender<bool>>,
}

impl Closing {
    /// An open latch.
    pub(crate) fn new() -> Self {
        Self {
            tx: Arc::new(watch::Sender::new(false)),
        }
    }

    /// Closes the latch; idempotent.
    pub(crate) fn close(&self) {
        self.tx.send_replace(true);
    }

    /// Resolves once the latch is closed (at once if it already is).
    pub(crate) async fn closed(&self) {
        let mut rx = self.tx.subscribe();
        // The sender lives in `self`, so `wait_for` cannot fail with "sender dropped".
        let _ = rx.wait_for(|closed| *closed).await;
    }
}
