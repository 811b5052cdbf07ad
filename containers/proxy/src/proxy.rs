//! One proxy: its configuration, its listener, and the connections the listener accepted.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{RngCore, SeedableRng};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

use crate::connection::Connection;
use crate::model::ProxyJson;
use crate::timer::Timer;
use crate::toxic_collection::ToxicCollection;

/// What every proxy of a server shares: the precise timer and the seeded random source.
pub(crate) struct Shared {
    pub(crate) timer: Timer,
    rng: Mutex<SmallRng>,
}

impl Shared {
    /// Shared state; a seed makes every connection's randomness reproducible.
    pub(crate) fn new(timer: Timer, seed: Option<u64>) -> Shared {
        let rng = match seed {
            Some(seed) => SmallRng::seed_from_u64(seed),
            None => SmallRng::from_os_rng(),
        };
        Shared {
            timer,
            rng: Mutex::new(rng),
        }
    }

    /// The seed for the next connection.
    fn next_seed(&self) -> u64 {
        self.rng
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .next_u64()
    }
}

/// A proxy as configured, and its listener while enabled.
pub(crate) struct Proxy {
    pub(crate) name: String,
    /// The listen address; once bound, the real address (so port 0 becomes a fixed port).
    pub(crate) listen: SocketAddr,
    pub(crate) upstream: String,
    pub(crate) toxics: Arc<ToxicCollection>,
    listener: Option<Listener>,
}

impl Proxy {
    /// A disabled proxy with no toxics.
    pub(crate) fn new(name: String, listen: SocketAddr, upstream: String) -> Proxy {
        Proxy {
            name,
            listen,
            upstream,
            toxics: Arc::new(ToxicCollection::default()),
            listener: None,
        }
    }

    /// Whether it is listening.
    pub(crate) fn enabled(&self) -> bool {
        self.listener.is_some()
    }

    /// The API view.
    pub(crate) fn to_json(&self) -> ProxyJson {
        ProxyJson {
            name: self.name.clone(),
            listen: self.listen.to_string(),
            upstream: self.upstream.clone(),
            enabled: self.enabled(),
            toxics: self.toxics.list(),
        }
    }

    /// Starts listening (a no-op if it already does).
    pub(crate) fn start(&mut self, shared: &Arc<Shared>) -> std::io::Result<()> {
        if self.listener.is_some() {
            return Ok(());
        }
        let std_listener = std::net::TcpListener::bind(self.listen)?;
        std_listener.set_nonblocking(true)?;
        let listener = TcpListener::from_std(std_listener)?;
        self.listen = listener.local_addr()?;
        let connections = Arc::new(Mutex::new(JoinSet::new()));
        let accept = tokio::spawn(accept_loop(
            listener,
            AcceptContext {
                proxy: self.name.as_str().into(),
                upstream: self.upstream.as_str().into(),
                toxics: Arc::clone(&self.toxics),
                shared: Arc::clone(shared),
                connections: Arc::clone(&connections),
            },
        ));
        self.listener = Some(Listener {
            accept,
            connections,
        });
        tracing::info!(proxy = %self.name, listen = %self.listen, upstream = %self.upstream, "started proxy");
        Ok(())
    }

    /// Stops listening and closes every connection; returns once all of them are gone.
    pub(crate) async fn stop(&mut self) {
        if let Some(listener) = self.listener.take() {
            listener.stop().await;
            tracing::info!(proxy = %self.name, "stopped proxy");
        }
    }

    /// Aborts the listener and every connection without waiting (for `Drop`).
    pub(crate) fn abort(&mut self) {
        self.listener = None;
    }
}

/// A running listener: the accept task and the connection tasks it spawned.
struct Listener {
    accept: JoinHandle<()>,
    connections: Arc<Mutex<JoinSet<()>>>,
}

fn lock_set(set: &Mutex<JoinSet<()>>) -> MutexGuard<'_, JoinSet<()>> {
    set.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Listener {
    /// Aborts everything and waits until the socket and connections are closed.
    async fn stop(mut self) {
        self.accept.abort();
        let _ = (&mut self.accept).await;
        let mut connections = std::mem::take(&mut *lock_set(&self.connections));
        connections.shutdown().await;
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.accept.abort();
        lock_set(&self.connections).abort_all();
    }
}

/// What the accept loop hands each connection.
struct AcceptContext {
    proxy: Arc<str>,
    upstream: Arc<str>,
    toxics: Arc<ToxicCollection>,
    shared: Arc<Shared>,
    connections: Arc<Mutex<JoinSet<()>>>,
}

/// Accepts clients and spawns a connection task for each.
async fn accept_loop(listener: TcpListener, cx: AcceptContext) {
    loop {
        match listener.accept().await {
            Ok((client, peer)) => {
                let connection = Connection {
                    client,
                    peer,
                    proxy: Arc::clone(&cx.proxy),
                    upstream: Arc::clone(&cx.upstream),
                    toxics: Arc::clone(&cx.toxics),
                    timer: cx.shared.timer.clone(),
                    seed: cx.shared.next_seed(),
                };
                let mut connections = lock_set(&cx.connections);
                while connections.try_join_next().is_some() {}
                connections.spawn(connection.run());
            }
            Err(err) => {
                // Typically out of file descriptors: back off instead of spinning.
                tracing::warn!(proxy = %cx.proxy, %err, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}
