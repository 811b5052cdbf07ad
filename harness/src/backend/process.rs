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
    Backend, BackendError, BoxFuture, CliCommand, ExitInfo, ExitWatch, LogBuffer, Service, Signal,
    StartContext,
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
                    let service = super::embedded::mock_llm(&spec.name, models, reply).await?;
                    Ok(Box::new(service) as Box<dyn Service>)
                }
                ServiceKind::TokenService {
                    algorithm,
                    ttl,
                    clock_offset_secs,
                } => {
                    let service = super::embedded::token_service(
                        &spec.name,
                        algorithm,
                        *ttl,
                        *clock_offset_secs,
                        context.run_dir.join(&spec.name),
                    )
                    .await?;
                    Ok(Box::new(service) as Box<dyn Service>)
                }
                ServiceKind::RabbitMq { tokens } => {
                    let node = crate::rabbitmq::prepare(&spec.name, tokens.as_deref(), context)?;
                    let mut service =
                        ProcessService::spawn(node.launch, node.port, Some(node.ctl))?;
                    service.version = Some("RabbitMQ".to_string());
                    Ok(Box::new(service) as Box<dyn Service>)
                }
                ServiceKind::Tansu { scram } => {
                    let broker = crate::tansu::prepare(
                        &spec.name,
                        *scram,
                        context.advertised.get(&spec.name).copied(),
                        context,
                    )?;
                    let mut service = ProcessService::spawn(broker.launch, broker.port, None)?;
                    service.version = Some(format!("Tansu {}", crate::tansu::PINNED_TANSU));
                    service.control = Some(broker.access);
                    Ok(Box::new(service) as Box<dyn Service>)
                }
                ServiceKind::Bridge(bridge) => {
                    let prepared =
                        crate::bridge::prepare(spec, bridge, bridge.clock_skew, context)?;
                    let mut service = ProcessService::spawn(prepared.launch, prepared.port, None)?;
                    service.config_file = Some(prepared.config_file);
                    Ok(Box::new(service) as Box<dyn Service>)
                }
                ServiceKind::Process { command, env, .. } => {
                    let service_dir = context.run_dir.join(&spec.name);
                    std::fs::create_dir_all(&service_dir)?;
                    let port = match context.fixed_ports.get(&spec.name) {
                        Some(p) => *p,
                        None => free_port()?,
                    };
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
                        user: None,
                    };
                    let service = ProcessService::spawn(launch, port, None)?;
                    Ok(Box::new(service) as Box<dyn Service>)
                }
                ServiceKind::OpenClaw(oc) => {
                    let gateway = crate::openclaw::prepare(&spec.name, oc, context)?;
                    let mut service =
                        ProcessService::spawn(gateway.launch, gateway.port, Some(gateway.cli))?;
                    service.config_file = Some(gateway.config_path);
                    service.version = Some(format!("OpenClaw {}", gateway.version));
                    Ok(Box::new(service) as Box<dyn Service>)
                }
            }
        })
    }
}

/// Starts a process that holds `port` on one loopback family (a port squatter), and waits
/// until it does. Its pid is what the squatted service should name as the holder.
pub(crate) async fn squat(
    port: u16,
    family: crate::scenario::Family,
    context: &StartContext,
) -> Result<ProcessService, BackendError> {
    let (af, host) = match family {
        crate::scenario::Family::Ipv4 => ("AF_INET", "127.0.0.1"),
        crate::scenario::Family::Ipv6 => ("AF_INET6", "::1"),
    };
    let script = format!(
        "import socket, time\n\
         s = socket.socket(socket.{af}, socket.SOCK_STREAM)\n\
         if socket.{af} == socket.AF_INET6: s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)\n\
         s.bind(('{host}', {port}))\n\
         s.listen(16)\n\
         print('squatting {host} port {port}', flush=True)\n\
         time.sleep(86400)\n"
    );
    let dir = context.run_dir.join(format!("squatter-{port}"));
    std::fs::create_dir_all(&dir)?;
    let launch = Launch {
        service: format!("squatter of port {port}"),
        command: vec!["python3".to_string(), "-c".to_string(), script],
        env: Vec::new(),
        run_id: context.run_id.clone(),
        dir,
        user: None,
    };
    let squatter = ProcessService::spawn(launch, port, None)?;
    let deadline = Instant::now() + Duration::from_secs(15);
    while squatter.logs.is_empty() {
        if squatter.exited() || Instant::now() >= deadline {
            return Err(BackendError::Embedded {
                service: squatter.launch.service.clone(),
                message: format!(
                    "the squatter did not take the port: {}",
                    squatter.logs.tail(5).join(" | ")
                ),
            });
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(squatter)
}

/// A port free on both 127.0.0.1 and ::1 (so that squatting one family is the only conflict).
pub fn free_port_both_families() -> std::io::Result<u16> {
    for _ in 0..50 {
        let port = free_port()?;
        if TcpListener::bind((std::net::Ipv6Addr::LOCALHOST, port)).is_ok() {
            return Ok(port);
        }
    }
    Err(std::io::Error::other(
        "no port free on both 127.0.0.1 and ::1",
    ))
}

/// A program named by environment variable `var`, if it is set: its path, or why it cannot
/// be used.
pub fn binary_from_env(var: &str) -> Option<Result<PathBuf, String>> {
    let path = PathBuf::from(std::env::var_os(var)?);
    Some(if path.is_file() {
        Ok(path)
    } else {
        Err(format!("{var}={} is not a file", path.display()))
    })
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
pub(crate) struct Launch {
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

/// A service running as a local process group.
pub struct ProcessService {
    launch: Launch,
    cli: Option<CliCommand>,
    config_file: Option<PathBuf>,
    version: Option<String>,
    addr: SocketAddr,
    /// Where the harness's own clients reach it, when not at `addr`.
    control: Option<SocketAddr>,
    logs: LogBuffer,
    pid: u32,
    exit: ExitWatch,
    stopped: bool,
}

impl ProcessService {
    fn spawn(launch: Launch, port: u16, cli: Option<CliCommand>) -> Result<Self, BackendError> {
        let logs = LogBuffer::new();
        let exit = ExitWatch::default();
        let pid = spawn_group(&launch, &logs, &exit)?;
        Ok(Self {
            launch,
            cli,
            config_file: None,
            version: None,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            control: None,
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
    use tokio::io::AsyncWriteExt;
    let mut out = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&file)
        .await
        .ok();
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let line = strip_ansi(&line);
        if let Some(f) = out.as_mut() {
            let _ = f.write_all(format!("{line}\n").as_bytes()).await;
        }
        logs.push(line);
    }
}

/// Removes ANSI escape sequences (colours), so log probes match the text a person reads.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

impl Service for ProcessService {
    fn name(&self) -> &str {
        &self.launch.service
    }

    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn control_addr(&self) -> Option<SocketAddr> {
        self.control
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

    fn cli(&self) -> Option<CliCommand> {
        self.cli.clone()
    }

    fn config_file(&self) -> Option<PathBuf> {
        self.config_file.clone()
    }

    fn version(&self) -> Option<String> {
        self.version.clone()
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

#[cfg(test)]
mod tests {
    use super::strip_ansi;

    #[test]
    fn colours_are_stripped() {
        assert_eq!(
            strip_ansi("\u{1b}[90m2026\u{1b}[39m [gateway] ready"),
            "2026 [gateway] ready"
        );
        assert_eq!(strip_ansi("plain"), "plain");
    }
}
