//! The server's proxies by name: create, update, remove, populate and reset them.
//!
//! Operations hold an async lock while they stop and start listeners, so that a proxy moved
//! or restarted on the same address never races its old listener for the port.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::{Mutex, MutexGuard};

use crate::error::ApiError;
use crate::model::ProxyJson;
use crate::proxy::{Proxy, Shared};
use crate::toxic_collection::ToxicCollection;

/// A proxy to create, its fields validated and its listen address resolved.
#[derive(Debug, Clone)]
pub(crate) struct ProxySpec {
    pub(crate) name: String,
    pub(crate) listen: SocketAddr,
    pub(crate) upstream: String,
    pub(crate) enabled: bool,
}

/// Changes to an existing proxy; `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub(crate) struct ProxyChange {
    pub(crate) listen: Option<SocketAddr>,
    pub(crate) upstream: Option<String>,
    pub(crate) enabled: Option<bool>,
}

/// Every proxy of one server.
pub(crate) struct ProxyCollection {
    proxies: Mutex<BTreeMap<String, Proxy>>,
    shared: Arc<Shared>,
    closed: AtomicBool,
}

/// A locked view of the proxies; on release it aborts them all if the server went away.
struct Locked<'a> {
    proxies: MutexGuard<'a, BTreeMap<String, Proxy>>,
    closed: &'a AtomicBool,
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        if self.closed.load(Ordering::SeqCst) {
            self.proxies.values_mut().for_each(Proxy::abort);
            self.proxies.clear();
        }
    }
}

impl ProxyCollection {
    /// An empty collection.
    pub(crate) fn new(shared: Arc<Shared>) -> ProxyCollection {
        ProxyCollection {
            proxies: Mutex::new(BTreeMap::new()),
            shared,
            closed: AtomicBool::new(false),
        }
    }

    async fn lock(&self) -> Result<Locked<'_>, ApiError> {
        let proxies = self.proxies.lock().await;
        if self.closed.load(Ordering::SeqCst) {
            return Err(ApiError::shutting_down());
        }
        Ok(Locked {
            proxies,
            closed: &self.closed,
        })
    }

    fn start(&self, proxy: &mut Proxy) -> Result<(), ApiError> {
        proxy
            .start(&self.shared)
            .map_err(|err| ApiError::listen(&proxy.listen.to_string(), &err))
    }

    /// Every proxy by name.
    pub(crate) async fn list(&self) -> Result<BTreeMap<String, ProxyJson>, ApiError> {
        let locked = self.lock().await?;
        Ok(locked
            .proxies
            .iter()
            .map(|(name, proxy)| (name.clone(), proxy.to_json()))
            .collect())
    }

    /// One proxy.
    pub(crate) async fn get(&self, name: &str) -> Result<ProxyJson, ApiError> {
        let locked = self.lock().await?;
        locked
            .proxies
            .get(name)
            .map(Proxy::to_json)
            .ok_or_else(ApiError::proxy_not_found)
    }

    /// A proxy's toxics, shared so toxic operations do not hold the proxies lock.
    pub(crate) async fn toxics(&self, name: &str) -> Result<Arc<ToxicCollection>, ApiError> {
        let locked = self.lock().await?;
        locked
            .proxies
            .get(name)
            .map(|proxy| Arc::clone(&proxy.toxics))
            .ok_or_else(ApiError::proxy_not_found)
    }

    /// Creates a proxy; 409 if the name or the address is taken.
    pub(crate) async fn create(&self, spec: ProxySpec) -> Result<ProxyJson, ApiError> {
        let mut locked = self.lock().await?;
        if locked.proxies.contains_key(&spec.name) {
            return Err(ApiError::proxy_exists());
        }
        let mut proxy = Proxy::new(spec.name.clone(), spec.listen, spec.upstream);
        if spec.enabled {
            self.start(&mut proxy)?;
        }
        let json = proxy.to_json();
        locked.proxies.insert(spec.name, proxy);
        Ok(json)
    }

    /// Changes a proxy as Toxiproxy does: a new listen address or upstream restarts it, and
    /// `enabled` starts or stops it (stopping closes every open connection).
    pub(crate) async fn update(
        &self,
        name: &str,
        change: ProxyChange,
    ) -> Result<ProxyJson, ApiError> {
        let mut locked = self.lock().await?;
        let proxy = locked
            .proxies
            .get_mut(name)
            .ok_or_else(ApiError::proxy_not_found)?;
        let enabled = change.enabled.unwrap_or(proxy.enabled());
        let listen = change.listen.unwrap_or(proxy.listen);
        let upstream = change.upstream.unwrap_or_else(|| proxy.upstream.clone());
        if listen != proxy.listen || upstream != proxy.upstream {
            proxy.stop().await;
            proxy.listen = listen;
            proxy.upstream = upstream;
        }
        if enabled {
            self.start(proxy)?;
        } else {
            proxy.stop().await;
        }
        Ok(proxy.to_json())
    }

    /// Removes a proxy, closing its listener and connections.
    pub(crate) async fn remove(&self, name: &str) -> Result<(), ApiError> {
        let mut locked = self.lock().await?;
        let mut proxy = locked
            .proxies
            .remove(name)
            .ok_or_else(ApiError::proxy_not_found)?;
        proxy.stop().await;
        Ok(())
    }

    /// Creates or replaces each proxy in order; an unchanged proxy is left as it is.
    /// On failure, returns the proxies handled so far with the error.
    pub(crate) async fn populate(
        &self,
        specs: Vec<ProxySpec>,
    ) -> (Vec<ProxyJson>, Option<ApiError>) {
        let mut locked = match self.lock().await {
            Ok(locked) => locked,
            Err(err) => return (Vec::new(), Some(err)),
        };
        let mut done = Vec::with_capacity(specs.len());
        for spec in specs {
            if let Some(existing) = locked.proxies.get_mut(&spec.name) {
                if existing.listen == spec.listen && existing.upstream == spec.upstream {
                    done.push(existing.to_json());
                    continue;
                }
                existing.stop().await;
            }
            let mut proxy = Proxy::new(spec.name.clone(), spec.listen, spec.upstream);
            locked.proxies.remove(&spec.name);
            let started = if spec.enabled {
                self.start(&mut proxy)
            } else {
                Ok(())
            };
            if let Err(err) = started {
                return (done, Some(err));
            }
            done.push(proxy.to_json());
            locked.proxies.insert(spec.name, proxy);
        }
        (done, None)
    }

    /// Re-enables every proxy and removes every toxic.
    pub(crate) async fn reset(&self) -> Result<(), ApiError> {
        let mut locked = self.lock().await?;
        for proxy in locked.proxies.values_mut() {
            self.start(proxy)?;
            proxy.toxics.reset();
        }
        Ok(())
    }

    /// Stops every proxy and refuses further operations (graceful shutdown).
    pub(crate) async fn shutdown(&self) {
        let mut proxies = self.proxies.lock().await;
        self.closed.store(true, Ordering::SeqCst);
        for proxy in proxies.values_mut() {
            proxy.stop().await;
        }
        proxies.clear();
    }

    /// Aborts every proxy without waiting (for `Drop`); an operation holding the lock right
    /// now aborts them when it releases it.
    pub(crate) fn abort(&self) {
        self.closed.store(true, Ordering::SeqCst);
        if let Ok(mut proxies) = self.proxies.try_lock() {
            proxies.values_mut().for_each(Proxy::abort);
            proxies.clear();
        }
    }
}
