//! The containers backend: every service of a run in a container of its own, on a network of
//! the run's own, through the local Docker engine.
//!
//! A run gets a labelled, `internal` bridge network on a subnet the harness chose
//! ([`network`]); each service a *pod* (a container holding its address) and a container that
//! joins it ([`service`]), so a kill and a restart keep the address and a port squatter can
//! share the namespaces of the service it squats. The run folder is mounted at its own path
//! (every path a recipe wrote stays valid inside), the harness's own programs and Tansu
//! read-only under [`host::TOOLS_IN_CONTAINER`]. Links (the proxy) and the servers the harness
//! runs itself listen on the harness's address on the network. Everything carries the run's
//! labels ([`engine::run_labels`]): the scope removes it on drop (success, failure, panic,
//! Ctrl-C), and the next run sweeps what a killed one left ([`sweep`]).
//!
//! Why bollard and not testcontainers-rs (which is built on it): testcontainers 0.28 keeps one
//! engine client per process, shared by every runtime, while the scenario suite runs each test
//! on a runtime of its own, side by side; its `Drop` needs the current runtime's handle; and of
//! what this backend needs it covers create, start, stop, pause and remove, while networks,
//! kill with a signal, attach, wait and the sweep are bollard calls anyway. Here each run has
//! its own client, and `Drop` removes through a thread of its own, inside a runtime or not.

pub mod engine;
pub mod exec;
pub mod host;
pub mod images;
pub mod ipfault;
pub mod network;
pub mod service;
pub mod sweep;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bollard::Docker;

use super::reaper::Leftovers;
use super::rundir::{RunDir, sweep_dead_runs};
use super::tool::Tool;
use super::{
    Backend, BackendError, BoxFuture, Pins, Placement, Program, Recipe, Run, RunBase, RunScope,
    Service, StartContext,
};
use exec::ExecTool;
use host::ContainersHost;
use network::RunNetwork;
use service::{ContainerService, Member, Pod};

/// The containers backend.
#[derive(Debug, Default, Clone)]
pub struct ContainersBackend;

impl Backend for ContainersBackend {
    fn name(&self) -> &'static str {
        "containers"
    }

    fn preflight<'a>(&'a self, programs: &'a [Program]) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async move {
            let docker = engine::connect().await?;
            engine::require_image(&docker, &engine::base_image()).await?;
            for program in programs {
                match program {
                    Program::OpenClaw => {
                        images::openclaw(&docker, "preflight", None)
                            .await
                            .map_err(BackendError::Engine)?;
                    }
                    Program::RabbitMq => {
                        engine::require_image(&docker, &images::rabbitmq_image()).await?;
                    }
                    Program::MockLlm | Program::TokenService | Program::Bridge | Program::Tansu => {
                        crate::services::on_this_machine(*program, &Pins::default())
                            .map_err(BackendError::Engine)?;
                    }
                }
            }
            Ok(())
        })
    }

    /// The release installed (as on the process backend), then its image built from it by
    /// `scripts/provision-containers` (about a minute), unless the engine has it.
    fn provision<'a>(&'a self, pins: &'a Pins) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async move {
            let Some(release) = super::install_release(pins).await? else {
                return Ok(());
            };
            let docker = engine::connect().await?;
            let image = images::our_openclaw_image(Some(&release));
            if docker.inspect_image(&image).await.is_ok() {
                return Ok(());
            }
            let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../scripts/provision-containers");
            let built = tokio::process::Command::new(&script)
                .env("CLAWCHAOS_OPENCLAW_VERSION", release.to_string())
                .env_remove("CLAWCHAOS_NODE_VERSION")
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .status()
                .await
                .map_err(|e| BackendError::Engine(format!("{}: {e}", script.display())))?;
            if !built.success() || docker.inspect_image(&image).await.is_err() {
                return Err(BackendError::Engine(format!(
                    "{} did not build {image} ({built})",
                    script.display()
                )));
            }
            Ok(())
        })
    }

    fn open_run(&self, pins: Pins) -> BoxFuture<'_, Result<Box<dyn RunScope>, BackendError>> {
        Box::pin(async move {
            let docker = engine::connect().await?;
            let image = engine::base_image();
            engine::require_image(&docker, &image).await?;
            sweep::sweep(&docker, None).await;
            let root = RunDir::root();
            std::fs::create_dir_all(&root)?;
            sweep_dead_runs(&root);
            let dir = RunDir::create()?;
            let network = RunNetwork::create(&docker, dir.id()).await?;
            let openclaw = images::openclaw(&docker, dir.id(), pins.openclaw.as_ref()).await;
            let host = Arc::new(ContainersHost {
                gateway: network.gateway,
                image: image.clone(),
                mounted: host::MOUNTED_PROGRAMS
                    .into_iter()
                    .map(|p| (p, crate::services::on_this_machine(p, &pins)))
                    .collect(),
                openclaw,
                rabbitmq: images::rabbitmq_image(),
                subnet: network.subnet,
                addressed: Mutex::new(Vec::new()),
            });
            let binds = host.binds();
            let run_dir = dir.path().to_path_buf();
            let run_id = dir.id().to_string();
            Ok(Box::new(ContainersRun {
                docker,
                run_id,
                image,
                run_dir,
                binds,
                pods: Mutex::new(BTreeMap::new()),
                network,
                host: Arc::clone(&host),
                base: RunBase::reaped(dir, host, Leftovers::Containers),
            }) as Box<dyn RunScope>)
        })
    }
}

/// A run on the containers backend. Dropped in field order: pods, then the network, then the
/// run folder (the services, which the topology holds, are gone by then).
pub struct ContainersRun {
    docker: Docker,
    run_id: String,
    image: String,
    run_dir: PathBuf,
    /// The mounts of the programs that are this machine's files, in every container.
    binds: Vec<String>,
    /// Each service's pod, by service name.
    pods: Mutex<BTreeMap<String, Arc<Pod>>>,
    /// The run's host (its pods' addresses).
    host: Arc<ContainersHost>,
    network: RunNetwork,
    base: RunBase,
}

impl ContainersRun {
    /// The pod `placement` puts `service` in: its own (made on its first start, kept across
    /// restarts), or the one of the service it joins (made first if that service has not
    /// started yet: a squatter comes before the service whose port it takes).
    async fn pod_for(
        &self,
        service: &str,
        placement: &Placement,
    ) -> Result<Arc<Pod>, BackendError> {
        let owner = match placement {
            Placement::Own => service,
            Placement::With(other) => other.as_str(),
        };
        let existing = self
            .pods
            .lock()
            .map_err(|_| BackendError::setup(service, "the pods' lock is poisoned"))?
            .get(owner)
            .cloned();
        if let Some(pod) = existing {
            return Ok(pod);
        }
        let ip = self
            .host
            .pod_address(owner)
            .map_err(|e| BackendError::setup(service, e))?;
        let pod = Arc::new(
            Pod::start(
                &self.docker,
                &self.run_id,
                owner,
                (&self.network.name, ip),
                &self.image,
            )
            .await?,
        );
        if let Ok(mut pods) = self.pods.lock() {
            pods.insert(owner.to_string(), Arc::clone(&pod));
        }
        Ok(pod)
    }
}

impl RunScope for ContainersRun {
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
            let (launch, port) = match plan.run {
                // A server the harness runs itself, on its address on the run's network.
                Run::InProcess(start) => return start().await,
                Run::Process { launch, port } => (launch, port),
            };
            let image = plan.image.unwrap_or_else(|| self.image.clone());
            engine::require_image(&self.docker, &image).await?;
            let pod = self.pod_for(name, &plan.placement).await?;
            let run_dir = self.run_dir.display().to_string();
            let mut binds = vec![format!("{run_dir}:{run_dir}")];
            binds.extend(self.binds.iter().cloned());
            // Node's compile cache, kept between runs (a gateway starts in about half the time).
            if let Some(cache) = compile_cache(&launch.env) {
                binds.push(format!("{cache}:{cache}"));
            }
            let member = Member {
                launch: &launch,
                image: &image,
                pod: &pod,
                binds,
                port,
            };
            let mut service = ContainerService::start(&self.docker, &self.run_id, member).await?;
            let container = service.id().to_string();
            let facts = &mut service.facts;
            facts.config_file = plan.config_file;
            facts.clock_file = plan.clock_file;
            facts.version = plan.version;
            facts.control = plan.control.map(|c| SocketAddr::new(pod.ip, c.port()));
            facts.tool = plan.cli.map(|command| {
                Arc::new(ExecTool {
                    docker: self.docker.clone(),
                    container,
                    command,
                    user: launch.user.map(|(uid, gid)| format!("{uid}:{gid}")),
                }) as Arc<dyn Tool>
            });
            Ok(Box::new(service) as Box<dyn Service>)
        })
    }
}

/// The folder `NODE_COMPILE_CACHE` names in `env`, made if missing, to mount at its own path.
fn compile_cache(env: &[(String, String)]) -> Option<String> {
    let (_, cache) = env.iter().find(|(k, _)| k == "NODE_COMPILE_CACHE")?;
    std::fs::create_dir_all(cache).ok()?;
    Some(cache.clone())
}
