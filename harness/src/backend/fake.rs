//! A backend that runs no program, for tests of what lies above the backends: topology
//! start, faults and teardown, without real services.
//!
//! Each planned process becomes a loopback listener on its planned port that answers every
//! connection with `HTTP/1.1 200 OK`; a kill or term signal closes it (the service exits "by
//! signal"), stop and cont hold and resume answers, a restart listens again. In-process
//! servers (the mock LLM, the token service) are real: they cost nothing. Every start,
//! signal, restart, stop and drop is written to a [`Journal`], with whether the run folder
//! still existed at that moment, so a test can check the order of a teardown.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::{
    Backend, BackendError, BoxFuture, ExitInfo, Facts, Handle, Host, Loopback, Pins, Recipe, Run,
    RunBase, RunDir, RunScope, Service, Signal, StartContext,
};

/// What happened to a fake service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// It was started.
    Started,
    /// It was sent a signal.
    Signalled(Signal),
    /// It was restarted.
    Restarted,
    /// It was stopped gracefully.
    Stopped,
    /// It was dropped (the guaranteed teardown path).
    Dropped,
}

/// One entry of the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The service.
    pub service: String,
    /// What happened.
    pub action: Action,
    /// Whether the run folder existed at that moment.
    pub run_dir_existed: bool,
}

/// Everything that happened to the services of a [`FakeBackend`], in order.
#[derive(Debug, Clone, Default)]
pub struct Journal(Arc<Mutex<Vec<Entry>>>);

impl Journal {
    fn record(&self, service: &str, action: Action, run_dir: &Path) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Entry {
                service: service.to_string(),
                action,
                run_dir_existed: run_dir.exists(),
            });
    }

    /// The entries so far.
    pub fn entries(&self) -> Vec<Entry> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// The fake backend; see the module's documentation.
#[derive(Debug, Clone, Default)]
pub struct FakeBackend {
    journal: Journal,
    host: Option<Arc<dyn Host>>,
}

impl FakeBackend {
    /// A fake backend writing to a fresh journal, its services on this machine's loopback.
    pub fn new() -> Self {
        Self::default()
    }

    /// A fake backend whose runs place services and links on `host` (a test that no address
    /// is assumed shows through it).
    pub fn on_host(host: Arc<dyn Host>) -> Self {
        Self {
            host: Some(host),
            ..Self::default()
        }
    }

    /// Its journal.
    pub fn journal(&self) -> Journal {
        self.journal.clone()
    }
}

impl Backend for FakeBackend {
    fn name(&self) -> &'static str {
        "fake"
    }

    fn open_run(&self, pins: Pins) -> BoxFuture<'_, Result<Box<dyn RunScope>, BackendError>> {
        Box::pin(async move {
            // Nothing to sweep: a fake run starts no process.
            let dir = RunDir::create()?;
            let host = self
                .host
                .clone()
                .unwrap_or_else(|| Arc::new(Loopback { pins }) as Arc<dyn Host>);
            Ok(Box::new(FakeRun {
                base: RunBase::new(dir, host),
                journal: self.journal.clone(),
            }) as Box<dyn RunScope>)
        })
    }
}

/// A run on the [`FakeBackend`]: its folder, on loopback.
#[derive(Debug)]
pub struct FakeRun {
    journal: Journal,
    base: RunBase,
}

impl RunScope for FakeRun {
    fn base(&self) -> &RunBase {
        &self.base
    }

    fn base_mut(&mut self) -> &mut RunBase {
        &mut self.base
    }

    fn start<'a>(
        &'a self,
        name: &'a str,
        recipe: &'a dyn Recipe,
        context: &'a StartContext,
    ) -> BoxFuture<'a, Result<Box<dyn Service>, BackendError>> {
        Box::pin(async move {
            let plan = recipe.plan(name, context)?;
            let inner = match plan.run {
                Run::InProcess(start) => Inner::Real(start().await?),
                Run::Process { port, .. } => {
                    let addr = SocketAddr::new(self.host().listen_ip(), port);
                    let listener = Listener::open(addr)
                        .await
                        .map_err(|e| BackendError::setup(name, e))?;
                    Inner::Fake {
                        facts: Box::new(Facts::new(name, addr)),
                        listener: Some(listener),
                    }
                }
            };
            self.journal.record(name, Action::Started, &context.run_dir);
            Ok(Box::new(FakeService {
                name: name.to_string(),
                run_dir: context.run_dir.clone(),
                journal: self.journal.clone(),
                inner,
                stopped: false,
            }) as Box<dyn Service>)
        })
    }
}

/// A listener answering `200 OK` until closed; `hold` pauses the answers.
struct Listener {
    hold: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Listener {
    async fn open(addr: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let (hold, held) = watch::channel(false);
        let task = tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut held = held.clone();
                tokio::spawn(async move {
                    // A paused service accepts (the kernel does) but never answers.
                    let _ = held.wait_for(|h| !*h).await;
                    let _ = socket
                        .write_all(
                            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                        )
                        .await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        Ok(Self { hold, task })
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

enum Inner {
    /// An in-process server, run for real.
    Real(Box<dyn Service>),
    /// A stand-in for a process.
    Fake {
        facts: Box<Facts>,
        listener: Option<Listener>,
    },
}

/// A service of the [`FakeBackend`].
pub struct FakeService {
    name: String,
    run_dir: PathBuf,
    journal: Journal,
    inner: Inner,
    stopped: bool,
}

impl FakeService {
    fn record(&self, action: Action) {
        self.journal.record(&self.name, action, &self.run_dir);
    }
}

impl Service for FakeService {
    fn facts(&self) -> &Facts {
        match &self.inner {
            Inner::Real(service) => service.facts(),
            Inner::Fake { facts, .. } => facts,
        }
    }

    fn handle(&self) -> Handle {
        match &self.inner {
            Inner::Real(service) => service.handle(),
            Inner::Fake { .. } => Handle::InProcess,
        }
    }

    fn signal(&self, signal: Signal) -> BoxFuture<'_, Result<(), BackendError>> {
        self.record(Action::Signalled(signal));
        Box::pin(async move {
            match &self.inner {
                Inner::Real(service) => service.signal(signal).await,
                Inner::Fake { listener, facts } => {
                    let exit = &facts.exit;
                    let Some(listener) = listener else {
                        return Ok(());
                    };
                    match signal {
                        Signal::Kill | Signal::Term => {
                            // The process "dies": its port goes dark and its exit is seen.
                            listener.task.abort();
                            let number = if signal == Signal::Kill { 9 } else { 15 };
                            if let Ok(mut slot) = exit.lock() {
                                *slot = Some(ExitInfo {
                                    code: None,
                                    signal: Some(number),
                                    at: Instant::now(),
                                });
                            }
                        }
                        Signal::Stop => {
                            listener.hold.send_replace(true);
                        }
                        Signal::Cont => {
                            listener.hold.send_replace(false);
                        }
                    }
                    Ok(())
                }
            }
        })
    }

    fn restart(&mut self) -> BoxFuture<'_, Result<(), BackendError>> {
        self.record(Action::Restarted);
        Box::pin(async move {
            match &mut self.inner {
                Inner::Real(service) => service.restart().await,
                Inner::Fake { facts, listener } => {
                    // Closed first, so the port is free to listen on again.
                    listener.take();
                    let opened = Listener::open(facts.addr)
                        .await
                        .map_err(|e| BackendError::setup(&self.name, e))?;
                    *listener = Some(opened);
                    if let Ok(mut slot) = facts.exit.lock() {
                        *slot = None;
                    }
                    self.stopped = false;
                    Ok(())
                }
            }
        })
    }

    fn stop(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if self.stopped {
                return;
            }
            self.stopped = true;
            self.record(Action::Stopped);
            match &mut self.inner {
                Inner::Real(service) => service.stop().await,
                Inner::Fake { listener, .. } => {
                    listener.take();
                }
            }
        })
    }
}

impl Drop for FakeService {
    fn drop(&mut self) {
        self.record(Action::Dropped);
    }
}
