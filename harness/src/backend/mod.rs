//! Backends start and stop the services of a topology.
//!
//! The runner only sees the [`Backend`] and [`Service`] traits: the embedded
//! [`process::ProcessBackend`] (local processes and in-process tasks) implements them today, and
//! a containers backend will implement them without the runner or the scenario files changing.

mod embedded;
pub mod logs;
pub mod process;
pub mod rundir;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Instant;

pub use logs::LogBuffer;
pub use rundir::RunDir;

use crate::scenario::ServiceSpec;

/// A boxed future, so the traits stay object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a backend could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// A process could not be spawned.
    #[error("cannot start service {service} ({command}): {source}")]
    Spawn {
        /// The service.
        service: String,
        /// The command line.
        command: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// An in-process service failed to start.
    #[error("cannot start service {service}: {message}")]
    Embedded {
        /// The service.
        service: String,
        /// What went wrong.
        message: String,
    },
    /// A signal could not be delivered.
    #[error("cannot signal service {service}: {source}")]
    Signal {
        /// The service.
        service: String,
        /// The OS error.
        source: nix::Error,
    },
    /// The operation makes no sense for this kind of service.
    #[error("service {service} does not support {operation}")]
    Unsupported {
        /// The service.
        service: String,
        /// What was asked.
        operation: &'static str,
    },
    /// A file or folder of the run could not be made.
    #[error("run folder: {0}")]
    RunDir(#[from] std::io::Error),
}

impl BackendError {
    /// A service could not be set up or started: `cannot start service SERVICE: MESSAGE`.
    pub fn setup(service: &str, message: impl ToString) -> Self {
        BackendError::Embedded {
            service: service.to_string(),
            message: message.to_string(),
        }
    }
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitInfo {
    /// The exit code, if it exited normally.
    pub code: Option<i32>,
    /// The signal that ended it, if any.
    pub signal: Option<i32>,
    /// When the harness saw it end.
    pub at: Instant,
}

impl ExitInfo {
    /// "code 1", "signal 9".
    pub fn describe(&self) -> String {
        match (self.code, self.signal) {
            (Some(code), _) => format!("code {code}"),
            (None, Some(signal)) => format!("signal {signal}"),
            _ => "unknown status".to_string(),
        }
    }
}

/// Where a service's exit is recorded when it happens.
pub type ExitWatch = std::sync::Arc<std::sync::Mutex<Option<ExitInfo>>>;

/// Signals the harness sends to services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGKILL.
    Kill,
    /// SIGTERM.
    Term,
    /// SIGSTOP.
    Stop,
    /// SIGCONT.
    Cont,
}

/// What a backend needs to know about the run it starts services for.
#[derive(Debug, Clone)]
pub struct StartContext {
    /// The run's private folder (removed at teardown).
    pub run_dir: PathBuf,
    /// The run's id, set as `CLAWCHAOS_RUN_ID` in every child's environment.
    pub run_id: String,
    /// Listen addresses of the links created so far, by link name.
    pub links: std::collections::BTreeMap<String, SocketAddr>,
    /// Addresses of the services started so far, by name.
    pub services: std::collections::BTreeMap<String, SocketAddr>,
    /// Ports decided before a service starts (a squatted port), by service name.
    pub fixed_ports: std::collections::BTreeMap<String, u16>,
    /// Ports a service's config file must name when it differs from the listen port.
    pub fixed_config_ports: std::collections::BTreeMap<String, u16>,
    /// The address a broker advertises to its clients (the link that leads to it), by
    /// service name.
    pub advertised: std::collections::BTreeMap<String, SocketAddr>,
}

/// How to run a service's own command-line tool against it (e.g. `openclaw models status`):
/// the program and the environment that points it at this instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliCommand {
    /// Program and leading arguments.
    pub command: Vec<String>,
    /// Environment (on top of the harness's own).
    pub env: Vec<(String, String)>,
}

/// A running service.
pub trait Service: Send + Sync {
    /// Its name in the scenario.
    fn name(&self) -> &str;
    /// Where clients reach it (always loopback for this backend).
    fn addr(&self) -> SocketAddr;
    /// Where its control API listens, when that is not `addr` (the token service's).
    fn control_addr(&self) -> Option<SocketAddr> {
        None
    }
    /// Its captured output.
    fn logs(&self) -> LogBuffer;
    /// Its pid, when it is a process.
    fn pid(&self) -> Option<u32>;
    /// A shared view of how it ended, once it has (replaced by a restart).
    fn exit_watch(&self) -> ExitWatch;
    /// How it ended, once it has.
    fn exit(&self) -> Option<ExitInfo> {
        self.exit_watch().lock().ok().and_then(|e| *e)
    }
    /// Its command-line tool, if it has one.
    fn cli(&self) -> Option<CliCommand> {
        None
    }
    /// The version of the software it runs, when the backend knows it.
    fn version(&self) -> Option<String> {
        None
    }
    /// The config file it reads at run time and reloads on change, if it has one.
    fn config_file(&self) -> Option<PathBuf> {
        None
    }
    /// Delivers a signal to the service (its whole process group).
    fn signal(&self, signal: Signal) -> Result<(), BackendError>;
    /// Starts it again after it ended, on the same address.
    fn restart(&mut self) -> BoxFuture<'_, Result<(), BackendError>>;
    /// Stops it gracefully (then forcefully); idempotent.
    fn stop(&mut self) -> BoxFuture<'_, ()>;
}

/// Starts services.
pub trait Backend: Send + Sync {
    /// The backend's name, for reports.
    fn name(&self) -> &'static str;
    /// Starts `spec`; the service is torn down when stopped or dropped.
    fn start<'a>(
        &'a self,
        spec: &'a ServiceSpec,
        context: &'a StartContext,
    ) -> BoxFuture<'a, Result<Box<dyn Service>, BackendError>>;
}
