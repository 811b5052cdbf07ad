//! The server: the HTTP API, the proxies it manages and the timer they share, as one value.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::api;
use crate::collection::ProxyCollection;
use crate::error::ProxyError;
use crate::proxy::Shared;
use crate::timer::TimerThread;

/// How long [`ProxyServer::shutdown`] lets API requests in flight finish.
const API_GRACE: Duration = Duration::from_secs(5);

/// Options for a proxy server; `seed` makes toxicity/jitter/slicer randomness reproducible.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyServerConfig {
    /// Where the HTTP API listens (port 0 picks a free port).
    pub api_addr: SocketAddr,
    /// Seed for every random choice; `None` seeds from the OS.
    pub seed: Option<u64>,
}

impl Default for ProxyServerConfig {
    /// The API on `127.0.0.1` at a free port, unseeded.
    fn default() -> Self {
        ProxyServerConfig {
            api_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            seed: None,
        }
    }
}

/// A running Toxiproxy-compatible server; dropping it stops everything it started.
pub struct ProxyServer {
    api_addr: SocketAddr,
    proxies: Arc<ProxyCollection>,
    api_task: Option<JoinHandle<std::io::Result<()>>>,
    api_stop: Option<oneshot::Sender<()>>,
    // Declared last: dropped after the proxies that use it.
    _timer: TimerThread,
}

impl ProxyServer {
    /// Binds the HTTP API and returns once it is listening.
    pub async fn start(config: ProxyServerConfig) -> Result<ProxyServer, ProxyError> {
        let bind_error = |source| ProxyError::BindApi {
            addr: config.api_addr,
            source,
        };
        let listener = TcpListener::bind(config.api_addr)
            .await
            .map_err(bind_error)?;
        let api_addr = listener.local_addr().map_err(bind_error)?;
        let timer = TimerThread::spawn().map_err(ProxyError::Timer)?;
        let shared = Arc::new(Shared::new(timer.handle(), config.seed));
        let proxies = Arc::new(ProxyCollection::new(shared));
        let router = api::router(Arc::clone(&proxies));
        let (api_stop, stopped) = oneshot::channel::<()>();
        let api_task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    // A dropped sender counts as the signal too.
                    let _ = stopped.await;
                })
                .await
        });
        tracing::info!(%api_addr, version = api::VERSION, "proxy API listening");
        Ok(ProxyServer {
            api_addr,
            proxies,
            api_task: Some(api_task),
            api_stop: Some(api_stop),
            _timer: timer,
        })
    }

    /// The address the HTTP API listens on.
    pub fn api_addr(&self) -> SocketAddr {
        self.api_addr
    }

    /// The API's base URL, `http://IP:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.api_addr)
    }

    /// Stops the API, every proxy listener and every open connection, and waits for them.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.api_stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.api_task.take() {
            match tokio::time::timeout(API_GRACE, &mut task).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(err))) => tracing::warn!(%err, "proxy API failed"),
                Ok(Err(err)) => tracing::warn!(%err, "proxy API task failed"),
                Err(_) => {
                    tracing::warn!("proxy API did not stop in time; aborting it");
                    task.abort();
                }
            }
        }
        self.proxies.shutdown().await;
        tracing::info!(api_addr = %self.api_addr, "proxy server stopped");
    }

    /// Resolves if the API task ends on its own (it only does on an error).
    async fn api_failed(&mut self) -> Result<(), ProxyError> {
        let Some(task) = self.api_task.as_mut() else {
            return std::future::pending().await;
        };
        let result = task.await;
        self.api_task = None;
        match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => Err(ProxyError::Serve(err)),
            Err(err) => Err(ProxyError::Serve(std::io::Error::other(err))),
        }
    }
}

impl std::fmt::Debug for ProxyServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyServer")
            .field("api_addr", &self.api_addr)
            .finish_non_exhaustive()
    }
}

impl Drop for ProxyServer {
    fn drop(&mut self) {
        // Dropping the sender starts axum's graceful shutdown of open API connections.
        self.api_stop.take();
        if let Some(task) = self.api_task.take() {
            task.abort();
        }
        self.proxies.abort();
    }
}

/// Runs a server until `shutdown` resolves, then stops it (what the binary does).
pub async fn serve(
    config: ProxyServerConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ProxyError> {
    ProxyServer::start(config).await?.run_until(shutdown).await
}

impl ProxyServer {
    /// Serves until `shutdown` resolves or the API fails, then stops everything.
    pub async fn run_until(mut self, shutdown: impl Future<Output = ()>) -> Result<(), ProxyError> {
        let outcome = tokio::select! {
            () = shutdown => Ok(()),
            failed = self.api_failed() => failed,
        };
        self.shutdown().await;
        outcome
    }
}
