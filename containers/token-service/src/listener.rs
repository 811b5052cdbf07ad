//! A listener that really stops: the accept loop and every connection it spawned.
//!
//! `axum::serve` detaches its connection tasks, so "down" would leave open connections
//! answering. Here each connection lives in the accept loop's `JoinSet`; stopping drops the
//! listening socket and aborts them all.

use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::{rt::TokioIo, service::TowerToHyperService};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::oneshot,
    task::{JoinHandle, JoinSet},
};

/// Pause after a failed `accept` (e.g. out of file descriptors) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// A router being served on one listener; dropping it stops it too (without waiting).
#[derive(Debug)]
pub(crate) struct Serving {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Serving {
    /// Serves `router` on `listener` (HTTP/1.1) until stopped; `name` is for the logs.
    pub(crate) fn start(listener: TcpListener, router: Router, name: &'static str) -> Self {
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(accept_loop(listener, router, stopped, name));
        Self { stop, task }
    }

    /// Closes the listening socket and every open connection; returns once they are closed.
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(());
        if let Err(e) = self.task.await {
            tracing::warn!(error = %e, "accept loop failed");
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    router: Router,
    mut stopped: oneshot::Receiver<()>,
    name: &'static str,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            // A stop, or the `Serving` dropped.
            _ = &mut stopped => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    connections.spawn(serve_connection(stream, router.clone()));
                }
                Err(e) => {
                    tracing::warn!(listener = name, error = %e, "accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
            // Reap finished connections so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let open = connections.len();
    connections.shutdown().await;
    tracing::debug!(
        listener = name,
        open,
        "stopped listening; connections closed"
    );
}

async fn serve_connection(stream: TcpStream, router: Router) {
    let service = TowerToHyperService::new(router);
    if let Err(e) = http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await
    {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}
