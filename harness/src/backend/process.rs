//! The embedded backend: services as local processes or in-process tasks.
//!
//! Processes run in their own process group with a parent-death signal, so a killed harness
//! takes them along; the group is killed when the [`ProcessService`] is dropped, whatever the
//! reason (success, failure, panic, Ctrl-C).

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::{self, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;

use super::rundir::RUN_ID_ENV;
use super::{
    Backend, BackendError, BoxFuture, ExitInfo, ExitWatch, LogBuffer, Service, Signal, StartContext,
};
use crate::scenario::{ServiceKind, ServiceSpec};

/// How long a graceful stop waits after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// The embedded default backend.
#[derive(Debug, Default, Clone)]
pub struct ProcessBackend;

impl Backend for ProcessBackend {
    fn name(&self) -> &'static str {
        "process"
    }

    fn start<'a>(
        &'a self,
        spec: &'a ServiceSpec,
        context: &'a StartContext,
    ) -> BoxFuture<'a, Result<Box<dyn Service>, BackendError>> {
        Box::pin(async move {
            match &spec.kind {
                ServiceKind::MockLlm { models, reply } => {
                    let service = EmbeddedMockLlm::start(&spec.name, models, reply).await?;
                    Ok(Box::new(service) as Box<dyn Service>)
                }
                ServiceKind::Process { command, env, .. } => {
                    let service_dir = context.run_dir.join(&spec.name);
                    std::fs::create_dir_all(&service_dir)?;
                    let port = free_port()?;
                    let launch = Launch {
                        service: spec.name.clone(),
                        command: substitute_all(command, port, &context.run_dir, &service_dir),
                        env: env
                            .iter()
                            .map(|(k, v)| {
                                (
                                    k.clone(),
                                    substitute(v, port, &context.run_dir, &service_dir),
                                )
                            })
                            .collect(),
                        run_id: context.run_id.clone(),
                        dir: service_dir,
                    };
                    let service = ProcessService::spawn(launch, port)?;
                    Ok(Box::new(service) as Box<dyn Service>)
                }
            }
        })
    }
}

/// Picks a free loopback port by binding port 0.
pub fn free_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

fn substitute(
    text: &str,
    port: u16,
    run_dir: &std::path::Path,
    service_dir: &std::path::Path,
) -> String {
    text.replace("{port}", &port.to_string())
        .replace("{run_dir}", &run_dir.display().to_string())
        .replace("{service_dir}", &service_dir.display().to_string())
}

fn substitute_all(
    items: &[String],
    port: u16,
    run_dir: &std::path::Path,
    service_dir: &std::path::Path,
) -> Vec<String> {
    items
        .iter()
        .map(|s| substitute(s, port, run_dir, service_dir))
        .collect()
}

/// Everything needed to (re)start a process.
#[derive(Debug, Clone)]
struct Launch {
    service: String,
    command: Vec<String>,
    env: Vec<(String, String)>,
    run_id: String,
    dir: PathBuf,
}

/// A service running as a local process group.
pub struct ProcessService {
    launch: Launch,
    addr: SocketAddr,
    logs: LogBuffer,
    pid: u32,
    exit: ExitWatch,
    stopped: bool,
}

impl ProcessService {
    fn spawn(launch: Launch, port: u16) -> Result<Self, BackendError> {
        let logs = LogBuffer::new();
        let exit = ExitWatch::default();
        let pid = spawn_group(&launch, &logs, &exit)?;
        Ok(Self {
            launch,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            logs,
            pid,
            exit,
            stopped: false,
        })
    }

    fn exited(&self) -> bool {
        self.exit.lock().map(|e| e.is_some()).unwrap_or(true)
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
    // SAFETY: the closure runs in the forked child before exec and only calls prctl(2), which is
    // async-signal-safe.
    unsafe {
        command.pre_exec(|| {
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
    use tokio::io::AsyncWriteExt;
    let mut out = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&file)
        .await
        .ok();
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(f) = out.as_mut() {
            let _ = f.write_all(format!("{line}\n").as_bytes()).await;
        }
        logs.push(line);
    }
}

impl Service for ProcessService {
    fn name(&self) -> &str {
        &self.launch.service
    }

    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn logs(&self) -> LogBuffer {
        self.logs.clone()
    }

    fn pid(&self) -> Option<u32> {
        Some(self.pid)
    }

    fn exit_watch(&self) -> ExitWatch {
        self.exit.clone()
    }

    fn signal(&self, sig: Signal) -> Result<(), BackendError> {
        let sig = match sig {
            Signal::Kill => signal::Signal::SIGKILL,
            Signal::Term => signal::Signal::SIGTERM,
            Signal::Stop => signal::Signal::SIGSTOP,
            Signal::Cont => signal::Signal::SIGCONT,
        };
        self.kill_group(sig).map_err(|source| BackendError::Signal {
            service: self.launch.service.clone(),
            source,
        })
    }

    fn restart(&mut self) -> BoxFuture<'_, Result<(), BackendError>> {
        Box::pin(async move {
            self.stop().await;
            self.pid = spawn_group(&self.launch, &self.logs, &self.exit)?;
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
            // A stopped process ignores SIGTERM until continued.
            let _ = self.kill_group(signal::Signal::SIGCONT);
            let _ = self.kill_group(signal::Signal::SIGTERM);
            let deadline = Instant::now() + STOP_GRACE;
            while !self.exited() && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            // The leader may be gone while others in its group live on: always finish the group.
            let _ = self.kill_group(signal::Signal::SIGKILL);
            let deadline = Instant::now() + Duration::from_secs(2);
            while !self.exited() && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    }
}

impl Drop for ProcessService {
    fn drop(&mut self) {
        // The guaranteed path (panic, Ctrl-C, early return): no waiting, just the group gone.
        let _ = self.kill_group(signal::Signal::SIGKILL);
    }
}

/// The mock LLM running as a task inside the harness.
struct EmbeddedMockLlm {
    name: String,
    server: Option<clawchaos_mock_llm::MockLlm>,
    addr: SocketAddr,
    logs: LogBuffer,
    exit: ExitWatch,
}

impl EmbeddedMockLlm {
    async fn start(name: &str, models: &[String], reply: &str) -> Result<Self, BackendError> {
        let config = clawchaos_mock_llm::MockLlmConfig {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            models: models.to_vec(),
            reply: reply.to_string(),
        };
        let server = clawchaos_mock_llm::MockLlm::start(config)
            .await
            .map_err(|e| BackendError::Embedded {
                service: name.to_string(),
                message: e.to_string(),
            })?;
        Ok(Self {
            name: name.to_string(),
            addr: server.addr(),
            server: Some(server),
            logs: LogBuffer::new(),
            exit: ExitWatch::default(),
        })
    }
}

impl Service for EmbeddedMockLlm {
    fn name(&self) -> &str {
        &self.name
    }

    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn logs(&self) -> LogBuffer {
        self.logs.clone()
    }

    fn pid(&self) -> Option<u32> {
        None
    }

    fn exit_watch(&self) -> ExitWatch {
        self.exit.clone()
    }

    fn signal(&self, _signal: Signal) -> Result<(), BackendError> {
        Err(BackendError::Unsupported {
            service: self.name.clone(),
            operation: "signals (it runs inside the harness)",
        })
    }

    fn restart(&mut self) -> BoxFuture<'_, Result<(), BackendError>> {
        Box::pin(async move {
            Err(BackendError::Unsupported {
                service: self.name.clone(),
                operation: "restart (it runs inside the harness)",
            })
        })
    }

    fn stop(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if let Some(server) = self.server.take() {
                server.shutdown().await;
            }
        })
    }
}
