//! The process backend: each service a local process group, or a server inside the harness.
//!
//! Processes run in their own process group with a parent-death signal, so a killed harness
//! takes them along; the group is killed when the [`ProcessService`] is dropped, whatever the
//! reason (success, failure, panic, Ctrl-C).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::signal::{self, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;

use super::logs::OutputSink;
use super::reaper::Leftovers;
use super::rundir::{RUN_ID_ENV, RunDir, sweep_dead_runs};
use super::tool::{LocalTool, Tool};
use super::{
    Backend, BackendError, BoxFuture, ExitInfo, ExitWatch, Facts, Handle, Launch, LogBuffer,
    Loopback, Pins, Recipe, Run, RunBase, RunScope, Service, Signal, StartContext,
};

/// How long a graceful stop waits after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// The process backend: runs what a recipe plans as a local process group (or, for an
/// in-process plan, inside the harness), every service on this machine's loopback.
#[derive(Debug, Default, Clone)]
pub struct ProcessBackend;

impl Backend for ProcessBackend {
    fn name(&self) -> &'static str {
        "process"
    }

    fn open_run(&self, pins: Pins) -> BoxFuture<'_, Result<Box<dyn RunScope>, BackendError>> {
        Box::pin(async move {
            // The processes of a dead run carry its id in their environment; its folder names
            // its owner's pid.
            let root = RunDir::root();
            std::fs::create_dir_all(&root)?;
            sweep_dead_runs(&root);
            let dir = RunDir::create()?;
            Ok(Box::new(ProcessRun {
                base: RunBase::reaped(dir, Arc::new(Loopback { pins }), Leftovers::Processes),
            }) as Box<dyn RunScope>)
        })
    }
}

/// A run on the process backend: its folder, on this machine's loopback.
#[derive(Debug)]
pub struct ProcessRun {
    base: RunBase,
}

impl RunScope for ProcessRun {
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
            // Every service shares this machine: a placement beside another service, and a
            // clock file, need nothing more than the plan already wrote.
            let plan = recipe.plan(name, context)?;
            match plan.run {
                Run::InProcess(start) => start().await,
                Run::Process { launch, port } => {
                    let addr = SocketAddr::new(self.host().listen_ip(), port);
                    let facts = Facts {
                        control: plan.control,
                        tool: plan.cli.map(|c| Arc::new(LocalTool(c)) as Arc<dyn Tool>),
                        version: plan.version,
                        config_file: plan.config_file,
                        clock_file: plan.clock_file,
                        ..Facts::new(name, addr)
                    };
                    let service = ProcessService::spawn(launch, facts)?;
                    Ok(Box::new(service) as Box<dyn Service>)
                }
            }
        })
    }
}

/// A service running as a local process group.
pub struct ProcessService {
    launch: Launch,
    facts: Facts,
    pid: u32,
    stopped: bool,
}

impl ProcessService {
    /// Spawns `launch`; `facts` (its output and exit are this start's) get its folder.
    fn spawn(launch: Launch, mut facts: Facts) -> Result<Self, BackendError> {
        let pid = spawn_group(&launch, &facts.logs, &facts.exit)?;
        facts.dir = Some(launch.dir.clone());
        Ok(Self {
            launch,
            facts,
            pid,
            stopped: false,
        })
    }

    fn exited(&self) -> bool {
        self.facts.exit.lock().map(|e| e.is_some()).unwrap_or(true)
    }

    fn kill_group(&self, sig: signal::Signal) -> nix::Result<()> {
        killpg(Pid::from_raw(self.pid as i32), sig)
    }
}

/// Spawns the process in a new group; its exit is recorded in `exit` (cleared first).
fn spawn_group(launch: &Launch, logs: &LogBuffer, exit: &ExitWatch) -> Result<u32, BackendError> {
    let spawn_error = |source| BackendError::Spawn {
        service: launch.service.clone(),
        command: launch.command.join(" "),
        source,
    };
    let (program, args) = launch
        .command
        .split_first()
        .ok_or_else(|| spawn_error(std::io::Error::other("empty command")))?;
    let mut command = Command::new(program);
    command
        .args(args)
        .envs(launch.env.iter().cloned())
        .env(RUN_ID_ENV, &launch.run_id)
        .current_dir(&launch.dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let user = launch.user;
    // SAFETY: the closure runs in the forked child before exec and only calls prctl(2),
    // setgroups(2), setgid(2) and setuid(2), which are async-signal-safe.
    unsafe {
        command.pre_exec(move || {
            if let Some((uid, gid)) = user {
                nix::unistd::setgroups(&[gid]).map_err(std::io::Error::from)?;
                nix::unistd::setgid(gid).map_err(std::io::Error::from)?;
                nix::unistd::setuid(uid).map_err(std::io::Error::from)?;
            }
            // After setuid: changing credentials clears the parent-death signal.
            nix::sys::prctl::set_pdeathsig(signal::Signal::SIGKILL).map_err(std::io::Error::from)
        });
    }
    let mut child = command.spawn().map_err(spawn_error)?;
    let pid = child
        .id()
        .ok_or_else(|| spawn_error(std::io::Error::other("child has no pid")))?;
    let log_file = launch.dir.join("output.log");
    if let Some(out) = child.stdout.take() {
        tokio::spawn(capture(out, logs.clone(), log_file.clone()));
    }
    if let Some(err) = child.stderr.take() {
        tokio::spawn(capture(err, logs.clone(), log_file));
    }
    if let Ok(mut slot) = exit.lock() {
        *slot = None;
    }
    let exit_slot = exit.clone();
    let service = launch.service.clone();
    tokio::spawn(async move {
        let status = child.wait().await;
        let info = match status {
            Ok(status) => {
                use std::os::unix::process::ExitStatusExt;
                ExitInfo {
                    code: status.code(),
                    signal: status.signal(),
                    at: Instant::now(),
                }
            }
            Err(e) => {
                tracing::warn!(%service, error = %e, "cannot wait for process");
                ExitInfo {
                    code: None,
                    signal: None,
                    at: Instant::now(),
                }
            }
        };
        tracing::debug!(%service, ?info, "process exited");
        if let Ok(mut slot) = exit_slot.lock() {
            *slot = Some(info);
        }
    });
    tracing::info!(service = %launch.service, pid, command = %launch.command.join(" "), "started process");
    Ok(pid)
}

async fn capture(stream: impl AsyncRead + Unpin, logs: LogBuffer, file: PathBuf) {
    let mut sink = OutputSink::open(logs, &file).await;
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        sink.line(&line).await;
    }
    sink.finish().await;
}

impl Service for ProcessService {
    fn facts(&self) -> &Facts {
        &self.facts
    }

    fn handle(&self) -> Handle {
        Handle::Process { pid: self.pid }
    }

    fn signal(&self, sig: Signal) -> BoxFuture<'_, Result<(), BackendError>> {
        let sig = match sig {
            Signal::Kill => signal::Signal::SIGKILL,
            Signal::Term => signal::Signal::SIGTERM,
            Signal::Stop => signal::Signal::SIGSTOP,
            Signal::Cont => signal::Signal::SIGCONT,
        };
        let result = self.kill_group(sig).map_err(|e| BackendError::Signal {
            service: self.launch.service.clone(),
            source: e.into(),
        });
        Box::pin(std::future::ready(result))
    }

    fn restart(&mut self) -> BoxFuture<'_, Result<(), BackendError>> {
        Box::pin(async move {
            self.stop().await;
            self.pid = spawn_group(&self.launch, &self.facts.logs, &self.facts.exit)?;
            self.stopped = false;
            Ok(())
        })
    }

    fn stop(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if self.stopped {
                return;
            }
            self.stopped = true;
            // Read before any signal: once the leader is gone, what left its group cannot be
            // found through it any more.
            let members = super::members::of_group(self.pid as i32);
            // A stopped process ignores SIGTERM until continued.
            let _ = self.kill_group(signal::Signal::SIGCONT);
            let _ = self.kill_group(signal::Signal::SIGTERM);
            let deadline = Instant::now() + STOP_GRACE;
            while !self.exited() && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            // The leader may be gone while others in its group live on: always finish the group,
            // and what left it.
            let _ = self.kill_group(signal::Signal::SIGKILL);
            super::members::kill_strays(&members, self.pid as i32);
            let deadline = Instant::now() + Duration::from_secs(2);
            while (!self.exited() || members.iter().any(super::members::alive))
                && Instant::now() < deadline
            {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    }
}

impl Drop for ProcessService {
    fn drop(&mut self) {
        // The guaranteed path (panic, Ctrl-C, early return): the group and what left it killed,
        // and a short wait until they are gone, so that "stopped" is true when the harness says it.
        let members = super::members::of_group(self.pid as i32);
        let _ = self.kill_group(signal::Signal::SIGKILL);
        super::members::kill_strays(&members, self.pid as i32);
        let deadline = Instant::now() + Duration::from_millis(500);
        while members.iter().any(super::members::alive) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
