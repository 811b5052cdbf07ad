//! Backends start and stop the services of a topology.
//!
//! A service kind is a [`Recipe`] (in `crate::services`): it plans how the service runs and
//! says when it is ready. A [`Backend`] opens a [`RunScope`] per run (the run folder, the
//! [`Host`] its services live on, whatever else the backend holds for the run), and the scope
//! takes recipes and returns running [`Service`]s; neither knows a kind. The process backend
//! ([`process::ProcessBackend`]: local process groups, and servers inside the harness) is the
//! one that runs scenarios today; [`fake::FakeBackend`] runs no program, for tests of topology
//! start, faults and teardown.

mod choice;
pub mod containers;
pub mod fake;
pub mod host;
pub mod in_process;
pub mod logs;
mod members;
pub mod ports;
pub mod process;
pub mod reaper;
pub mod rundir;
pub mod tool;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::{Duration, Instant};

pub use choice::{BACKEND_ENV, BACKEND_NAMES, backend_named, default_backend};
pub use host::{Host, Installed, Loopback, Program, Want};
pub use logs::LogBuffer;
pub use rundir::RunDir;
pub use tool::{Tool, ToolError, ToolOutput};

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
    /// A service could not be set up or started (its program missing, its files not written,
    /// an in-process server that would not start).
    #[error("cannot start service {service}: {message}")]
    Setup {
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
        /// Why (an OS error on the process backend).
        source: std::io::Error,
    },
    /// The operation makes no sense for this kind of service.
    #[error("service {service} does not support {operation}")]
    Unsupported {
        /// The service.
        service: String,
        /// What was asked.
        operation: &'static str,
    },
    /// A file of a running service could not be read or written.
    #[error("service {service}: {}: {source}", path.display())]
    File {
        /// The service.
        service: String,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// No backend of the name asked for.
    #[error("{0}")]
    Unknown(String),
    /// The container engine refused or could not be reached.
    #[error("container engine: {0}")]
    Engine(String),
    /// A program a run is pinned to could not be installed.
    #[error(transparent)]
    Release(#[from] crate::services::openclaw::releases::ReleaseError),
    /// A running service could not be controlled (signalled, paused, started again).
    #[error("cannot control service {service}: {message}")]
    Control {
        /// The service.
        service: String,
        /// What the engine said.
        message: String,
    },
    /// A file or folder of the run could not be made.
    #[error("run folder: {0}")]
    RunDir(#[from] std::io::Error),
}

impl BackendError {
    /// A service could not be set up or started: `cannot start service SERVICE: MESSAGE`.
    pub fn setup(service: &str, message: impl ToString) -> Self {
        BackendError::Setup {
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
    /// "exited with code 1", "killed by signal 9".
    pub fn describe(&self) -> String {
        match (self.code, self.signal) {
            (Some(code), _) => format!("exited with code {code}"),
            (None, Some(signal)) => format!("killed by signal {signal}"),
            _ => "exited".to_string(),
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
    /// Where the run's services live: the address they bind and the ports they get.
    pub host: std::sync::Arc<dyn Host>,
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

/// What a running service is on the machine that runs it, for reports and probe patterns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handle {
    /// A process group led by this pid.
    Process {
        /// The pid (in the namespace it runs in).
        pid: u32,
    },
    /// A container; `pid` is its main process as its own pid namespace numbers it (what
    /// the services of its pod see, e.g. in OpenClaw's `lsof`).
    Container {
        /// The pid, in its namespace.
        pid: u32,
    },
    /// A server inside the harness (it has no pid of its own).
    InProcess,
}

impl Handle {
    /// Its pid, when it is a process.
    pub fn pid(self) -> Option<u32> {
        match self {
            Handle::Process { pid } | Handle::Container { pid } => Some(pid),
            Handle::InProcess => None,
        }
    }
}

/// What a started service is to the runner, whatever runs it: its name and addresses, its
/// output and exit, its folder, and what its plan said of it. Every backend's service keeps
/// one, and [`Service`]'s accessors read it.
#[derive(Clone)]
pub struct Facts {
    /// Its name in the scenario.
    pub name: String,
    /// Where clients reach it.
    pub addr: SocketAddr,
    /// Where its control API listens, when that is not `addr`.
    pub control: Option<SocketAddr>,
    /// Its captured output.
    pub logs: LogBuffer,
    /// How it ended, once it has (replaced by a restart).
    pub exit: ExitWatch,
    /// Its folder in the run folder, on this machine; none for a server inside the harness.
    pub dir: Option<PathBuf>,
    /// Its command-line tool, run against it.
    pub tool: Option<std::sync::Arc<dyn Tool>>,
    /// The version of the software it runs.
    pub version: Option<String>,
    /// The config file it reads at run time, relative to its folder.
    pub config_file: Option<PathBuf>,
    /// Its libfaketime offset file, relative to its folder.
    pub clock_file: Option<PathBuf>,
}

impl Facts {
    /// Service `name` at `addr`: fresh output and exit, nothing else known yet.
    pub fn new(name: &str, addr: SocketAddr) -> Self {
        Self {
            name: name.to_string(),
            addr,
            control: None,
            logs: LogBuffer::new(),
            exit: ExitWatch::default(),
            dir: None,
            tool: None,
            version: None,
            config_file: None,
            clock_file: None,
        }
    }

    /// Its folder, for reading and replacing files there.
    fn folder(&self) -> Result<ServiceFolder<'_>, BackendError> {
        match &self.dir {
            Some(dir) => Ok(ServiceFolder {
                service: &self.name,
                dir,
            }),
            None => Err(BackendError::Unsupported {
                service: self.name.clone(),
                operation: "files",
            }),
        }
    }
}

impl std::fmt::Debug for Facts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Facts")
            .field("name", &self.name)
            .field("addr", &self.addr)
            .field("control", &self.control)
            .field("dir", &self.dir)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// A running service.
pub trait Service: Send + Sync {
    /// What the runner knows of it; the accessors below read it.
    fn facts(&self) -> &Facts;
    /// Its name in the scenario.
    fn name(&self) -> &str {
        &self.facts().name
    }
    /// Where clients reach it.
    fn addr(&self) -> SocketAddr {
        self.facts().addr
    }
    /// Where its control API listens, when that is not `addr` (the token service's).
    fn control_addr(&self) -> Option<SocketAddr> {
        self.facts().control
    }
    /// Its captured output.
    fn logs(&self) -> LogBuffer {
        self.facts().logs.clone()
    }
    /// What it is on the machine that runs it (a process and its pid, or a server inside
    /// the harness).
    fn handle(&self) -> Handle;
    /// A shared view of how it ended, once it has (replaced by a restart).
    fn exit_watch(&self) -> ExitWatch {
        self.facts().exit.clone()
    }
    /// How it ended, once it has.
    fn exit(&self) -> Option<ExitInfo> {
        self.exit_watch().lock().ok().and_then(|e| *e)
    }
    /// Its command-line tool, run against it, if it has one.
    fn tool(&self) -> Option<std::sync::Arc<dyn Tool>> {
        self.facts().tool.clone()
    }
    /// The version of the software it runs, when the backend knows it.
    fn version(&self) -> Option<String> {
        self.facts().version.clone()
    }
    /// The config file it reads at run time (and reloads on change), relative to its folder,
    /// if it has one.
    fn config_file(&self) -> Option<PathBuf> {
        self.facts().config_file.clone()
    }
    /// Its libfaketime offset file, relative to its folder, if it runs under libfaketime.
    fn clock_file(&self) -> Option<PathBuf> {
        self.facts().clock_file.clone()
    }
    /// Reads a file of its folder (`rel` is relative to it).
    fn read_file(&self, rel: &std::path::Path) -> Result<Vec<u8>, BackendError> {
        self.facts().folder()?.read(rel)
    }
    /// Replaces a file of its folder at once (a watcher never reads half a file).
    fn write_file(&self, rel: &std::path::Path, content: &[u8]) -> Result<(), BackendError> {
        self.facts().folder()?.replace(rel, content)
    }
    /// Puts `fault` in place at the IP layer of the service's own host (only a backend that
    /// gives it one has such faults).
    fn ip_fault(&self, fault: IpFault) -> BoxFuture<'_, Result<(), BackendError>> {
        let _ = fault;
        Box::pin(async move {
            Err(BackendError::Unsupported {
                service: self.name().to_string(),
                operation: "faults at the IP layer (the containers backend has them)",
            })
        })
    }
    /// Undoes [`Service::ip_fault`].
    fn heal_ip_fault(&self, fault: IpFault) -> BoxFuture<'_, Result<(), BackendError>> {
        self.ip_fault(fault)
    }
    /// Delivers a signal to the service (its whole process group).
    fn signal(&self, signal: Signal) -> BoxFuture<'_, Result<(), BackendError>>;
    /// Starts it again on the same address, stopping it first if it still runs (the
    /// `restart` fault uses it on a running service, the `kill` fault's heal on a dead one).
    fn restart(&mut self) -> BoxFuture<'_, Result<(), BackendError>>;
    /// Stops it gracefully (then forcefully); idempotent.
    fn stop(&mut self) -> BoxFuture<'_, ()>;
}

/// A fault at the IP layer of a service's host, its addresses resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpFault {
    /// The service's kernel drops the packets it sends to `peer` (`outbound`) or receives
    /// from it; `port`: only those to or from that port of the peer (a link: the harness's
    /// address is every link's and the harness's own).
    Drop {
        /// The other end's address.
        peer: std::net::IpAddr,
        /// Its port, or every port.
        port: Option<u16>,
        /// What the service sends (else what it receives).
        outbound: bool,
    },
    /// The service's host leaves the run's network (and comes back on the same address).
    Disconnect,
    /// What the service sends is capped at its interface, in KB/s.
    Bandwidth {
        /// KB/s.
        rate_kbps: u64,
    },
}

/// A service's folder on this machine, where its files are read and replaced (on the
/// containers backend it is mounted at the same path, so the service sees the same files).
pub(crate) struct ServiceFolder<'a> {
    /// The service, for errors.
    pub service: &'a str,
    /// The folder.
    pub dir: &'a std::path::Path,
}

impl ServiceFolder<'_> {
    fn error(&self, path: &std::path::Path, source: std::io::Error) -> BackendError {
        BackendError::File {
            service: self.service.to_string(),
            path: path.to_path_buf(),
            source,
        }
    }

    /// Reads `rel`.
    pub fn read(&self, rel: &std::path::Path) -> Result<Vec<u8>, BackendError> {
        let path = self.dir.join(rel);
        std::fs::read(&path).map_err(|e| self.error(&path, e))
    }

    /// Replaces `rel` at once (written beside it, then renamed over it), so a watcher never
    /// reads half a file.
    pub fn replace(&self, rel: &std::path::Path, content: &[u8]) -> Result<(), BackendError> {
        let path = self.dir.join(rel);
        let mut staging = path.as_os_str().to_owned();
        staging.push(".clawchaos-new");
        std::fs::write(&staging, content)
            .and_then(|()| std::fs::rename(&staging, &path))
            .map_err(|e| self.error(&path, e))
    }
}

/// What a run fixes beyond its scenario: the OpenClaw release it starts (`clawchaos run
/// --openclaw`, a scenario's `openclaw = [..]`, bisect); `None`, the one installed here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pins {
    /// The OpenClaw release every gateway and CLI of the run is.
    pub openclaw: Option<crate::scenario::version::Version>,
}

/// Runs scenarios' services: opens a scope per run.
pub trait Backend: Send + Sync {
    /// Its name (`process`, `containers`), as `--backend` and a scenario's `[unsupported]`
    /// say it.
    fn name(&self) -> &'static str;
    /// Opens a run: first removes what runs killed before their teardown left behind (found
    /// by the marks this backend puts on everything it starts), then makes the run folder and
    /// whatever else the backend holds for one run, its programs as `pins` fix them.
    fn open_run(&self, pins: Pins) -> BoxFuture<'_, Result<Box<dyn RunScope>, BackendError>>;
    /// Why it cannot run `program` at all (a kind it does not support yet), if it cannot: a
    /// scenario that needs it is reported as skipped, with this reason.
    fn cannot_run(&self, program: Program) -> Option<String> {
        let _ = program;
        None
    }
    /// Checks, before anything starts, that it can run `programs` at all (its engine
    /// answers, their images are there): the CLI's "missing prerequisite", exit code 2.
    fn preflight<'a>(&'a self, programs: &'a [Program]) -> BoxFuture<'a, Result<(), BackendError>> {
        let _ = programs;
        Box::pin(std::future::ready(Ok(())))
    }
    /// Gets what `pins` name ready before a run needs it: the OpenClaw release installed into
    /// the cache folder (`scripts/provision-openclaw`, its progress on stderr); idempotent, and
    /// quick once done.
    fn provision<'a>(&'a self, pins: &'a Pins) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async move { install_release(pins).await.map(drop) })
    }
}

/// Installs the OpenClaw release `pins` names into the cache folder, if it names one and it is
/// not there yet; returns it.
pub async fn install_release(
    pins: &Pins,
) -> Result<Option<crate::scenario::version::Version>, BackendError> {
    let Some(release) = pins.openclaw.clone() else {
        return Ok(None);
    };
    let installing = release.clone();
    tokio::task::spawn_blocking(move || {
        crate::services::openclaw::releases::provision(&installing)
    })
    .await
    .map_err(|e| BackendError::Unknown(format!("installing openclaw@{release}: {e}")))??;
    Ok(Some(release))
}

/// What every run scope holds: the run folder, the host its services live on, and the run's
/// reaper (which removes what is left if the harness is killed).
#[derive(Debug)]
pub struct RunBase {
    host: std::sync::Arc<dyn Host>,
    dir: RunDir,
    /// After the folder: its pipe closes once the teardown is done.
    reaper: Option<reaper::Reaper>,
}

impl RunBase {
    /// A run in `dir`, its services on `host`, with no reaper (nothing of it outlives the
    /// harness).
    pub fn new(dir: RunDir, host: std::sync::Arc<dyn Host>) -> Self {
        Self {
            host,
            dir,
            reaper: None,
        }
    }

    /// A run in `dir`, its services on `host`, guarded by a reaper that removes `leftovers`
    /// should the harness die without its teardown.
    pub fn reaped(
        dir: RunDir,
        host: std::sync::Arc<dyn Host>,
        leftovers: reaper::Leftovers,
    ) -> Self {
        let reaper = reaper::Reaper::start(dir.id(), dir.path(), leftovers);
        Self { host, dir, reaper }
    }

    /// The pid of the run's reaper, if it has one.
    pub fn reaper_pid(&self) -> Option<u32> {
        self.reaper.as_ref().map(reaper::Reaper::pid)
    }
}

/// One run's place on a backend: it owns the run folder and everything the backend made for
/// the run, and is dropped after the run's services (the topology holds it as its last
/// field), the run folder last.
pub trait RunScope: Send + Sync {
    /// The run folder and the host.
    fn base(&self) -> &RunBase;
    /// The same, to keep the folder.
    fn base_mut(&mut self) -> &mut RunBase;
    /// The run folder.
    fn run_dir(&self) -> &RunDir {
        &self.base().dir
    }
    /// Keeps the run folder after the run (`--keep`).
    fn keep(&mut self) {
        self.base_mut().dir.keep();
    }
    /// Where the run's services and links live.
    fn host(&self) -> std::sync::Arc<dyn Host> {
        std::sync::Arc::clone(&self.base().host)
    }
    /// Starts the service `name` as `recipe` plans it; it is torn down when stopped or dropped.
    fn start<'a>(
        &'a self,
        name: &'a str,
        recipe: &'a dyn Recipe,
        context: &'a StartContext,
    ) -> BoxFuture<'a, Result<Box<dyn Service>, BackendError>>;
}

/// A service kind, as a backend sees it: how to run it and when it is ready. Each kind has one
/// (in `crate::services`); a backend calls [`Recipe::plan`] and runs what comes back.
pub trait Recipe: Send + Sync {
    /// Writes the service's files into its folder of the run and says how to start it.
    fn plan(&self, name: &str, context: &StartContext) -> Result<Plan, BackendError>;
    /// When it counts as ready.
    fn ready(&self) -> Ready;
}

/// Where a service runs, relative to the run's other services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// A host of its own (on the process backend, every service shares this machine).
    Own,
    /// On the host of the service of this name, sharing its addresses and processes (a port
    /// squatter beside the service whose port it takes, which must see the squatter as the
    /// holder of its port).
    With(String),
}

/// How a service runs, and what the harness knows of it besides its address.
pub struct Plan {
    /// What to start.
    pub run: Run,
    /// Where it runs.
    pub placement: Placement,
    /// Its libfaketime offset file, relative to its folder, when it runs under libfaketime
    /// (the `clock_skew` fault writes it).
    pub clock_file: Option<PathBuf>,
    /// The image to run it from, on a backend that runs images (the host's
    /// [`Installed::image`]); `None`: a program of this machine, or the backend's choice.
    pub image: Option<String>,
    /// Its command-line tool, if it has one.
    pub cli: Option<CliCommand>,
    /// The config file it reads at run time (and reloads on change), relative to its folder.
    pub config_file: Option<PathBuf>,
    /// The version of the software it runs.
    pub version: Option<String>,
    /// Where the harness's own clients reach it, when not at its address (Tansu's relay).
    pub control: Option<SocketAddr>,
}

impl Plan {
    /// A plan with nothing but what to start.
    pub fn new(run: Run) -> Self {
        Self {
            run,
            placement: Placement::Own,
            clock_file: None,
            image: None,
            cli: None,
            config_file: None,
            version: None,
            control: None,
        }
    }
}

/// Starts a server inside the harness.
pub type StartInProcess =
    Box<dyn FnOnce() -> BoxFuture<'static, Result<Box<dyn Service>, BackendError>> + Send>;

/// What a plan starts.
pub enum Run {
    /// A program, listening on `port` of its host's listen address.
    Process {
        /// The program, its environment and folder.
        launch: Launch,
        /// The port it listens on.
        port: u16,
    },
    /// A server inside the harness (the mock LLM, the token service).
    InProcess(StartInProcess),
}

/// Everything needed to (re)start a process.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The service's name.
    pub service: String,
    /// Program and arguments.
    pub command: Vec<String>,
    /// Environment on top of the harness's own.
    pub env: Vec<(String, String)>,
    /// The run id (`CLAWCHAOS_RUN_ID`).
    pub run_id: String,
    /// Working directory: the service's folder.
    pub dir: PathBuf,
    /// Run as this user and group instead of the harness's.
    pub user: Option<(nix::unistd::Uid, nix::unistd::Gid)>,
}

/// One try of a readiness check only its service kind knows (a protocol handshake), which its
/// recipe brings along; `Err` says what was seen.
pub type ReadyCheck = std::sync::Arc<
    dyn for<'a> Fn(&'a dyn Service) -> BoxFuture<'a, Result<(), String>> + Send + Sync,
>;

/// When a started service counts as ready: the strategies, like testcontainers' `WaitFor`.
#[derive(Clone)]
pub enum Ready {
    /// As soon as it is started (an in-process server is listening when it returns).
    Started,
    /// When its port accepts a TCP connection.
    Port {
        /// How long to wait.
        within: Duration,
    },
    /// When a probe of the scenario holds.
    Probe {
        /// The probe's name.
        probe: String,
        /// How long to wait.
        within: Duration,
    },
    /// When `GET path` on its port answers 200.
    Http {
        /// The path, e.g. `/readyz`.
        path: &'static str,
        /// How long to wait.
        within: Duration,
    },
    /// When it prints its first line of output.
    Output {
        /// How long to wait.
        within: Duration,
    },
    /// When its kind's own check passes (RabbitMQ's AMQP login, Tansu's metadata answer).
    Check {
        /// What it waits for, for messages ("an AMQP handshake").
        what: &'static str,
        /// How long to wait.
        within: Duration,
        /// One try.
        check: ReadyCheck,
    },
}

impl std::fmt::Debug for Ready {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ready::Started => f.write_str("Started"),
            Ready::Port { within } => f.debug_struct("Port").field("within", within).finish(),
            Ready::Probe { probe, within } => f
                .debug_struct("Probe")
                .field("probe", probe)
                .field("within", within)
                .finish(),
            Ready::Http { path, within } => f
                .debug_struct("Http")
                .field("path", path)
                .field("within", within)
                .finish(),
            Ready::Output { within } => f.debug_struct("Output").field("within", within).finish(),
            Ready::Check { what, within, .. } => f
                .debug_struct("Check")
                .field("what", what)
                .field("within", within)
                .finish(),
        }
    }
}

impl StartContext {
    /// The port `service` must listen on: the one decided before it started (a squatted
    /// port), else a free one.
    pub fn port_for(&self, service: &str) -> std::io::Result<u16> {
        match self.fixed_ports.get(service) {
            Some(&port) => Ok(port),
            None => self.host.port(Want::Any),
        }
    }

    /// A free port on the run's host (for a second listener, a relay, a node's internals).
    pub fn free_port(&self) -> std::io::Result<u16> {
        self.host.port(Want::Any)
    }

    /// The folder of `service` in the run folder, made if it is not there yet.
    pub fn service_dir(&self, service: &str) -> std::io::Result<PathBuf> {
        let dir = self.run_dir.join(service);
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    }

    /// How `service` is launched: `command` with `env` on top of the harness's, in `dir` (its
    /// folder), as the harness's user.
    pub fn launch(
        &self,
        service: &str,
        command: Vec<String>,
        env: Vec<(String, String)>,
        dir: PathBuf,
    ) -> Launch {
        Launch {
            service: service.to_string(),
            command,
            env,
            run_id: self.run_id.clone(),
            dir,
            user: None,
        }
    }

    /// A plan that runs one of our programs, as the host installed it, with `args` after its
    /// command, listening on `port`, in the service's folder `dir`.
    pub fn our_program(
        &self,
        service: &str,
        program: Program,
        args: impl IntoIterator<Item = String>,
        port: u16,
        dir: PathBuf,
    ) -> Result<Plan, BackendError> {
        let installed = self
            .host
            .program(program)
            .map_err(|e| BackendError::setup(service, e))?;
        let mut command = installed.command;
        command.extend(args);
        let launch = self.launch(service, command, installed.env, dir);
        Ok(Plan {
            image: installed.image,
            ..Plan::new(Run::Process { launch, port })
        })
    }
}
