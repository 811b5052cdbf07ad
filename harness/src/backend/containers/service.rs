//! A service as a container that joins its pod: the pod holds the address (and, for a squatter,
//! the processes it shares), the service's container is started, signalled, paused, stopped and
//! started again in it, keeping that address.
//!
//! Output comes from an attach opened before each start (a log stream opened after a restart
//! would replay the earlier lines); the exit from a wait opened after each start with the
//! condition `not-running` (it answers at once if the container has already exited).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::models::{
    ContainerCreateBody, EndpointIpamConfig, EndpointSettings, HostConfig, NetworkingConfig,
};
use bollard::query_parameters::{
    AttachContainerOptions, CreateContainerOptions, KillContainerOptions, StopContainerOptions,
    WaitContainerOptions,
};
use futures_util::StreamExt as _;

use super::super::logs::OutputSink;
use super::super::rundir::RUN_ID_ENV;
use super::super::{
    BackendError, BoxFuture, ExitInfo, ExitWatch, Facts, Handle, IpFault, Launch, Service, Signal,
};
use super::engine::{self, LABEL_ROLE, LABEL_SERVICE};
use super::ipfault::{self, PodNet};

/// How long a graceful stop waits before the engine kills the container.
const STOP_GRACE_SECS: i32 = 10;
/// How long a stream (an attach, a wait) may stay open: as long as the run.
const STREAM_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);

/// A pod: a container that only holds a network namespace (and a pid namespace a squatter
/// shares) on the run's network. Removed on drop.
#[derive(Debug)]
pub struct Pod {
    /// Its container id.
    pub id: String,
    /// Its address on the run's network: the address of every service in it.
    pub ip: IpAddr,
    /// The run's network.
    pub network: String,
}

impl Pod {
    /// Starts the pod of `service` on `network` at `ip`, from `image`.
    pub async fn start(
        docker: &Docker,
        run_id: &str,
        service: &str,
        (network, ip): (&str, Ipv4Addr),
        image: &str,
    ) -> Result<Self, BackendError> {
        let mut labels = engine::run_labels(run_id);
        labels.insert(LABEL_SERVICE.into(), service.into());
        labels.insert(LABEL_ROLE.into(), "pod".into());
        let body = ContainerCreateBody {
            image: Some(image.to_string()),
            cmd: Some(vec!["sleep".into(), "infinity".into()]),
            labels: Some(labels),
            host_config: Some(HostConfig {
                network_mode: Some(network.to_string()),
                // The faults at the IP layer (`ipfault`) set rules and queues in the pod;
                // the services that join it do not get the capability.
                cap_add: Some(vec!["NET_ADMIN".to_string()]),
                // As on a host: a user other than root cannot bind below 1024 (the engine sets
                // 0 in every namespace it makes). Sysctls belong to the pod, never a member.
                sysctls: Some(HashMap::from([(
                    "net.ipv4.ip_unprivileged_port_start".to_string(),
                    "1024".to_string(),
                )])),
                ..Default::default()
            }),
            // The address the host handed out before the service planned (a broker
            // advertises it).
            networking_config: Some(NetworkingConfig {
                endpoints_config: Some(HashMap::from([(
                    network.to_string(),
                    EndpointSettings {
                        ipam_config: Some(EndpointIpamConfig {
                            ipv4_address: Some(ip.to_string()),
                            ..Default::default()
                        }),
                        ..Default::default()
                    },
                )])),
            }),
            ..Default::default()
        };
        let name = format!("clawchaos-{run_id}-{service}-pod");
        let id = create(docker, &name, body).await?;
        // From here on, the pod is removed on any failure.
        let mut pod = Self {
            id,
            ip: IpAddr::from([0, 0, 0, 0]),
            network: network.to_string(),
        };
        docker
            .start_container(&pod.id, None)
            .await
            .map_err(|e| engine::engine_error(&e))?;
        let inspect = docker
            .inspect_container(&pod.id, None)
            .await
            .map_err(|e| engine::engine_error(&e))?;
        let ip = inspect
            .network_settings
            .and_then(|s| s.networks)
            .and_then(|n| n.get(network).cloned())
            .and_then(|n| n.ip_address)
            .and_then(|ip| ip.parse::<IpAddr>().ok())
            .ok_or_else(|| {
                BackendError::Engine(format!("pod {name} has no address on {network}"))
            })?;
        pod.ip = ip;
        tracing::debug!(%service, pod = %name, %ip, "pod started");
        Ok(pod)
    }
}

impl Drop for Pod {
    fn drop(&mut self) {
        let id = self.id.clone();
        engine::blocking(move |docker| async move { engine::force_remove(&docker, &id).await });
    }
}

/// `name` as the engine accepts it: letters, digits, `_`, `.` and `-` (a squatter's name has
/// spaces).
fn container_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// Creates a container named `name`.
async fn create(
    docker: &Docker,
    name: &str,
    body: ContainerCreateBody,
) -> Result<String, BackendError> {
    let options = CreateContainerOptions {
        name: Some(container_name(name)),
        ..Default::default()
    };
    docker
        .create_container(Some(options), body)
        .await
        .map(|r| r.id)
        .map_err(|e| engine::engine_error(&e))
}

/// How a container of a service is made.
pub struct Member<'a> {
    /// The program, its environment, folder and user.
    pub launch: &'a Launch,
    /// The image it runs from.
    pub image: &'a str,
    /// The pod it joins.
    pub pod: &'a Pod,
    /// Bind mounts, as `host:container[:ro]`.
    pub binds: Vec<String>,
    /// Its port, on the pod's address.
    pub port: u16,
}

/// A service running as a container in its pod.
pub struct ContainerService {
    /// What the runner knows of it (its folder is mounted at its own path: the host's file
    /// is the container's).
    pub(super) facts: Facts,
    docker: Docker,
    /// For attach and wait, which stay open as long as the container runs.
    streams: Docker,
    id: String,
    /// Its folder, where its output is written too.
    dir: PathBuf,
    /// Its pod, where faults at the IP layer are set.
    pod: PodNet,
    pid: u32,
    /// Which start the exit watch belongs to: a wait of an earlier start never records.
    generation: Arc<AtomicU64>,
    stopped: bool,
}

impl ContainerService {
    /// Creates the container of `member` in its pod and starts it.
    pub async fn start(
        docker: &Docker,
        run_id: &str,
        member: Member<'_>,
    ) -> Result<Self, BackendError> {
        let launch = member.launch;
        let mut labels: HashMap<String, String> = engine::run_labels(run_id);
        labels.insert(LABEL_SERVICE.into(), launch.service.clone());
        labels.insert(LABEL_ROLE.into(), "service".into());
        let mut env: Vec<String> = launch.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        env.push(format!("{RUN_ID_ENV}={}", launch.run_id));
        let joined = format!("container:{}", member.pod.id);
        let body = ContainerCreateBody {
            image: Some(member.image.to_string()),
            cmd: Some(launch.command.clone()),
            env: Some(env),
            working_dir: Some(launch.dir.display().to_string()),
            user: launch.user.map(|(uid, gid)| format!("{uid}:{gid}")),
            labels: Some(labels),
            host_config: Some(HostConfig {
                network_mode: Some(joined.clone()),
                pid_mode: Some(joined),
                binds: Some(member.binds),
                ..Default::default()
            }),
            ..Default::default()
        };
        let name = format!("clawchaos-{run_id}-{}", launch.service);
        let id = create(docker, &name, body).await?;
        let mut service = Self {
            facts: Facts {
                dir: Some(launch.dir.clone()),
                ..Facts::new(&launch.service, SocketAddr::new(member.pod.ip, member.port))
            },
            docker: docker.clone(),
            streams: docker.clone().with_timeout(STREAM_TIMEOUT),
            id,
            dir: launch.dir.clone(),
            pod: PodNet {
                id: member.pod.id.clone(),
                ip: member.pod.ip,
                network: member.pod.network.clone(),
            },
            pid: 0,
            generation: Arc::new(AtomicU64::new(0)),
            stopped: false,
        };
        // Dropping `service` on an error removes the container.
        service.boot().await?;
        tracing::info!(service = %service.facts.name, container = %name, addr = %service.facts.addr, command = %launch.command.join(" "), "started container");
        Ok(service)
    }

    /// Attaches to its output, starts it, and watches for its exit.
    async fn boot(&mut self) -> Result<(), BackendError> {
        let attach = AttachContainerOptions {
            stream: true,
            stdout: true,
            stderr: true,
            ..Default::default()
        };
        let output = self
            .streams
            .attach_container(&self.id, Some(attach))
            .await
            .map_err(|e| self.control_error(&e))?
            .output;
        let sink = OutputSink::open(self.facts.logs.clone(), &self.dir.join("output.log")).await;
        tokio::spawn(pump(output, sink));

        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        if let Ok(mut slot) = self.facts.exit.lock() {
            *slot = None;
        }
        self.docker
            .start_container(&self.id, None)
            .await
            .map_err(|e| self.control_error(&e))?;
        tokio::spawn(watch_exit(
            self.streams.clone(),
            self.id.clone(),
            self.facts.name.clone(),
            self.facts.exit.clone(),
            Arc::clone(&self.generation),
            generation,
        ));
        let inspect = self
            .docker
            .inspect_container(&self.id, None)
            .await
            .map_err(|e| self.control_error(&e))?;
        let host_pid = inspect
            .state
            .and_then(|s| s.pid)
            .and_then(|p| u32::try_from(p).ok())
            .unwrap_or(0);
        self.pid = pid_in_its_namespace(host_pid).unwrap_or(host_pid);
        self.stopped = false;
        Ok(())
    }

    fn control_error(&self, e: &bollard::errors::Error) -> BackendError {
        BackendError::Control {
            service: self.facts.name.clone(),
            message: e.to_string(),
        }
    }

    fn exited(&self) -> bool {
        self.facts.exit.lock().map(|e| e.is_some()).unwrap_or(true)
    }

    /// Its container's id.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// The pid this machine's process `host_pid` has in its own pid namespace (the last field of
/// `NSpid` in `/proc/PID/status`): what the services sharing its pod (OpenClaw's `lsof`) see.
fn pid_in_its_namespace(host_pid: u32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{host_pid}/status")).ok()?;
    nspid(&status)
}

fn nspid(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("NSpid:"))?
        .split_whitespace()
        .last()?
        .parse()
        .ok()
}

/// Feeds a container's output to its sink until the stream ends (the container stopped).
async fn pump(
    mut output: std::pin::Pin<
        Box<
            dyn futures_util::Stream<
                    Item = Result<bollard::container::LogOutput, bollard::errors::Error>,
                > + Send,
        >,
    >,
    mut sink: OutputSink,
) {
    while let Some(Ok(chunk)) = output.next().await {
        sink.chunk(&chunk.into_bytes()).await;
    }
    sink.finish().await;
}

/// Records how the container's current start ends, unless it has been started again since.
async fn watch_exit(
    docker: Docker,
    id: String,
    service: String,
    exit: ExitWatch,
    generation: Arc<AtomicU64>,
    mine: u64,
) {
    let options = WaitContainerOptions {
        condition: "not-running".into(),
    };
    let mut waiting = docker.wait_container(&id, Some(options));
    let code = match waiting.next().await {
        Some(Ok(response)) => Some(response.status_code),
        // bollard reports a non-zero exit as an error carrying the code.
        Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Some(code),
        Some(Err(e)) => {
            tracing::warn!(%service, error = %e, "cannot wait for the container");
            None
        }
        None => None,
    };
    let info = exit_info(code);
    if generation.load(Ordering::SeqCst) != mine {
        return;
    }
    tracing::debug!(%service, ?info, "container exited");
    if let Ok(mut slot) = exit.lock() {
        *slot = Some(info);
    }
}

/// The engine's exit status as an [`ExitInfo`]: 128 + N is "killed by signal N", as a shell
/// reports it (the engine keeps no other trace of the signal).
fn exit_info(code: Option<i64>) -> ExitInfo {
    let (code, signal) = match code {
        Some(c) if (129..=159).contains(&c) => (None, Some((c - 128) as i32)),
        Some(c) => (i32::try_from(c).ok(), None),
        None => (None, None),
    };
    ExitInfo {
        code,
        signal,
        at: Instant::now(),
    }
}

impl Service for ContainerService {
    fn facts(&self) -> &Facts {
        &self.facts
    }

    fn handle(&self) -> Handle {
        Handle::Container { pid: self.pid }
    }

    fn ip_fault(&self, fault: IpFault) -> BoxFuture<'_, Result<(), BackendError>> {
        Box::pin(ipfault::inject(
            &self.docker,
            &self.facts.name,
            &self.pod,
            fault,
        ))
    }

    fn heal_ip_fault(&self, fault: IpFault) -> BoxFuture<'_, Result<(), BackendError>> {
        Box::pin(ipfault::heal(
            &self.docker,
            &self.facts.name,
            &self.pod,
            fault,
        ))
    }

    fn signal(&self, signal: Signal) -> BoxFuture<'_, Result<(), BackendError>> {
        Box::pin(async move {
            let result = match signal {
                // The engine's freezer stops every process of the container at once, as SIGSTOP
                // to a process group does.
                Signal::Stop => self.docker.pause_container(&self.id).await,
                Signal::Cont => self.docker.unpause_container(&self.id).await,
                Signal::Kill | Signal::Term => {
                    let name = if signal == Signal::Kill {
                        "KILL"
                    } else {
                        "TERM"
                    };
                    let options = KillContainerOptions {
                        signal: name.into(),
                    };
                    self.docker.kill_container(&self.id, Some(options)).await
                }
            };
            result.map_err(|e| self.control_error(&e))
        })
    }

    fn restart(&mut self) -> BoxFuture<'_, Result<(), BackendError>> {
        Box::pin(async move {
            self.stop().await;
            self.boot().await
        })
    }

    fn stop(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if self.stopped {
                return;
            }
            self.stopped = true;
            // A paused container ignores everything until it is unpaused.
            let _ = self.docker.unpause_container(&self.id).await;
            let options = StopContainerOptions {
                t: Some(STOP_GRACE_SECS),
                ..Default::default()
            };
            if let Err(e) = self.docker.stop_container(&self.id, Some(options)).await {
                tracing::debug!(service = %self.facts.name, error = %e, "stop");
            }
            let deadline = Instant::now() + Duration::from_secs(2);
            while !self.exited() && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    }
}

impl Drop for ContainerService {
    fn drop(&mut self) {
        // The guaranteed path (panic, Ctrl-C, early return): the container and everything in
        // it removed, and gone when this returns.
        let id = self.id.clone();
        engine::blocking(move |docker| async move { engine::force_remove(&docker, &id).await });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pid_is_the_one_its_own_namespace_gives_it() {
        assert_eq!(
            nspid("Name:\tsleep\nNSpid:\t8586\t6\nNStgid:\t8586\t6\n"),
            Some(6)
        );
        assert_eq!(nspid("Name:\tsleep\nNSpid:\t8586\n"), Some(8586));
        assert_eq!(nspid("Name:\tsleep\n"), None);
    }

    #[test]
    fn a_name_with_spaces_becomes_one_the_engine_takes() {
        assert_eq!(
            container_name("clawchaos-run-1-squatter of port 80"),
            "clawchaos-run-1-squatter-of-port-80"
        );
    }

    #[test]
    fn an_exit_status_past_128_is_a_signal() {
        let killed = exit_info(Some(137));
        assert_eq!((killed.code, killed.signal), (None, Some(9)));
        let failed = exit_info(Some(1));
        assert_eq!((failed.code, failed.signal), (Some(1), None));
        let clean = exit_info(Some(0));
        assert_eq!((clean.code, clean.signal), (Some(0), None));
        let unknown = exit_info(None);
        assert_eq!((unknown.code, unknown.signal), (None, None));
    }
}
