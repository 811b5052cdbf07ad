//! Bringing a scenario's topology up (services, proxy, links) and down again.
//!
//! [`Topology`] owns every resource of a run: the backend's run scope (the run folder and
//! what else the backend holds for the run), the services, the proxy server. Dropping it tears
//! everything down synchronously (the path taken on panic or Ctrl-C), the run scope last;
//! [`Topology::shutdown`] does the same gracefully on the normal path.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::ready::Waiter;
use crate::backend::{
    Backend, BackendError, Recipe, RunDir, RunScope, Service, StartContext, Want,
};
use crate::clients::toxiproxy::ToxiproxyClient;
use crate::observer::RunEvent;
use crate::probe::{ProbeContext, ServiceView};
use crate::scenario::{LinkSpec, Scenario, ServiceSpec, Target};
use crate::services::Queue;

/// Why the topology could not be brought up.
#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    /// A backend failed.
    #[error(transparent)]
    Backend(#[from] crate::backend::BackendError),
    /// The proxy could not be started or configured.
    #[error("proxy: {0}")]
    Proxy(String),
    /// Services that wait on each other (through their links) can never start.
    #[error("{0}")]
    Cycle(String),
    /// A service did not become ready.
    #[error("service {service} was not ready within {}ms: {reason}", within.as_millis())]
    NotReady {
        /// The service.
        service: String,
        /// The budget.
        within: Duration,
        /// What was seen.
        reason: String,
    },
}

/// The running topology of one scenario run.
pub struct Topology {
    /// Services by name.
    pub services: BTreeMap<String, Box<dyn Service>>,
    /// The proxy API client.
    pub proxy: ToxiproxyClient,
    /// Proxy names by link name.
    pub proxy_names: BTreeMap<String, String>,
    /// Link listen addresses.
    pub links: BTreeMap<String, SocketAddr>,
    embedded_proxy: Option<clawchaos_proxy::ProxyServer>,
    /// Set once the proxy API is connected: what proxy names start with.
    proxy_prefix: Option<String>,
    /// Service names in the order they started (teardown goes in reverse).
    start_order: Vec<String>,
    /// Port squatters by fault name, from the start until the timeline takes them (each is
    /// what its fault's heal stops).
    pub squatters: BTreeMap<String, Box<dyn Service>>,
    /// The ledger's publisher and collector, once the topology is up.
    pub ledger_client: Option<crate::ledger::LedgerClient>,
    /// When each before-start fault was put in place.
    pub injected_before_start: BTreeMap<String, Instant>,
    fixed_ports: BTreeMap<String, u16>,
    fixed_config_ports: BTreeMap<String, u16>,
    /// Listen ports of links decided before their service starts (a broker advertises them).
    link_ports: BTreeMap<String, u16>,
    /// What a broker advertises, by service name.
    advertised: BTreeMap<String, SocketAddr>,
    /// What probes see.
    pub probe_context: ProbeContext,
    /// The backend's scope of this run: the run folder, the host the services live on. The
    /// last field, so that it goes after everything that runs in it has stopped (fields drop
    /// in declaration order, after [`Drop::drop`]).
    scope: Box<dyn RunScope>,
}

/// How a topology starts.
#[derive(Debug, Clone)]
pub struct StartMode {
    /// The releases its programs are (the OpenClaw release of a version matrix).
    pub pins: crate::backend::Pins,
    /// The scenario's faults are prepared (false: a control run).
    pub faults_on: bool,
    /// The run folder stays after the run (`--keep`), a failed set-up's too.
    pub keep_run_dir: bool,
}

impl Topology {
    /// Starts services and links in dependency order: a link once its service is up, a
    /// gateway once the link to its provider exists. Each service is ready before the next.
    pub async fn start(
        scenario: &Scenario,
        backend: &dyn Backend,
        mode: StartMode,
        mut on_event: impl FnMut(RunEvent),
    ) -> Result<Self, TopologyError> {
        let mut scope = backend.open_run(mode.pins.clone()).await?;
        // Kept from the start: the logs of a set-up that fails are the ones most wanted.
        if mode.keep_run_dir {
            scope.keep();
        }
        on_event(RunEvent::RunFolder {
            path: scope.run_dir().path().to_path_buf(),
        });
        let mut topology = Topology {
            services: BTreeMap::new(),
            // Replaced by the real proxy's client when the first link is made.
            proxy: ToxiproxyClient::new("http://127.0.0.1:0"),
            proxy_names: BTreeMap::new(),
            links: BTreeMap::new(),
            embedded_proxy: None,
            proxy_prefix: None,
            start_order: Vec::new(),
            squatters: BTreeMap::new(),
            ledger_client: None,
            injected_before_start: BTreeMap::new(),
            fixed_ports: BTreeMap::new(),
            fixed_config_ports: BTreeMap::new(),
            link_ports: BTreeMap::new(),
            advertised: BTreeMap::new(),
            probe_context: ProbeContext::default(),
            scope,
        };
        topology.plan_advertised_links(scenario)?;
        if mode.faults_on {
            topology.prepare_faults(scenario).await?;
        }
        let mut pending_services: Vec<&ServiceSpec> = scenario.services.values().collect();
        let mut pending_links: Vec<&LinkSpec> = scenario.links.values().collect();
        while !pending_services.is_empty() || !pending_links.is_empty() {
            let before = pending_services.len() + pending_links.len();
            let mut i = 0;
            while i < pending_services.len() {
                let spec = pending_services[i];
                if topology.can_start(spec) {
                    pending_services.remove(i);
                    topology
                        .start_service(scenario, spec, &mut on_event)
                        .await?;
                } else {
                    i += 1;
                }
            }
            let mut i = 0;
            while i < pending_links.len() {
                let link = pending_links[i];
                if topology.services.contains_key(&link.to) {
                    pending_links.remove(i);
                    topology.start_link(scenario, link).await?;
                    if let Some(&addr) = topology.links.get(&link.name) {
                        on_event(RunEvent::LinkReady {
                            link: link.name.clone(),
                            addr,
                            to: link.to.clone(),
                        });
                    }
                } else {
                    i += 1;
                }
            }
            if pending_services.len() + pending_links.len() == before {
                let names: Vec<&str> = pending_services.iter().map(|s| s.name.as_str()).collect();
                return Err(TopologyError::Cycle(format!(
                    "services {names:?} wait on each other's links: the topology has a cycle"
                )));
            }
        }
        if let Some(spec) = &scenario.ledger
            && let Some(broker) = topology.services.get(&spec.broker)
        {
            let ledger = crate::ledger::Ledger::new(spec.budget).with_task_bytes(spec.task_bytes);
            let queue = scenario
                .services
                .get(&spec.broker)
                .and_then(|s| crate::services::kind(s).queue);
            let client = match queue {
                Some(Queue::Kafka) => {
                    let (access, admin) = crate::services::tansu::access(broker.as_ref())
                        .map_err(|e| BackendError::setup(&spec.broker, e))?;
                    crate::ledger::kafka::start(
                        ledger.clone(),
                        access,
                        admin,
                        spec.rate,
                        spec.prompt.clone(),
                    )
                }
                Some(Queue::Amqp) | None => crate::ledger::rabbitmq::start(
                    ledger.clone(),
                    broker.addr(),
                    spec.rate,
                    spec.prompt.clone(),
                ),
            };
            topology.ledger_client = Some(client);
            topology.probe_context.ledger = Some(ledger);
        }
        Ok(topology)
    }

    /// A Tansu broker advertises one address, and Kafka clients follow it: when a link leads
    /// to the broker, the broker must advertise the link's address, so that port is chosen
    /// now, before either exists.
    fn plan_advertised_links(&mut self, scenario: &Scenario) -> Result<(), TopologyError> {
        let host = self.scope.host();
        for link in scenario.links.values() {
            if let Some(Queue::Kafka) = scenario
                .services
                .get(&link.to)
                .and_then(|s| crate::services::kind(s).queue)
            {
                let port = host.port(Want::Any).map_err(BackendError::from)?;
                self.link_ports.insert(link.name.clone(), port);
                self.advertised
                    .insert(link.to.clone(), SocketAddr::new(host.link_ip(), port));
            }
        }
        Ok(())
    }

    /// Puts the before-start faults in place (each family's `prepare`, in `runner/faults/`).
    async fn prepare_faults(&mut self, scenario: &Scenario) -> Result<(), TopologyError> {
        for fault in scenario.faults.iter().filter(|f| f.before_start()) {
            super::faults::prepare(fault, scenario, self).await?;
            self.injected_before_start
                .insert(fault.name.clone(), Instant::now());
        }
        Ok(())
    }

    /// Where the run's services and links live.
    pub fn host(&self) -> std::sync::Arc<dyn crate::backend::Host> {
        self.scope.host()
    }

    /// Makes `service` listen on `port` when it starts (a squatted or privileged port).
    pub fn fix_port(&mut self, service: &str, port: u16) {
        self.fixed_ports.insert(service.to_string(), port);
    }

    /// Makes `service`'s config file name `port` when it differs from the listen port.
    pub fn fix_config_port(&mut self, service: &str, port: u16) {
        self.fixed_config_ports.insert(service.to_string(), port);
    }

    /// Starts a helper that is not one of the scenario's services (a port squatter) as
    /// `recipe` plans it, and waits until it is ready.
    pub async fn start_helper(
        &self,
        scenario: &Scenario,
        name: &str,
        recipe: &dyn Recipe,
    ) -> Result<Box<dyn Service>, TopologyError> {
        let helper = self
            .scope
            .start(name, recipe, &self.start_context())
            .await?;
        self.waiter(scenario)
            .ready(name, helper.as_ref(), recipe.ready())
            .await?;
        Ok(helper)
    }

    /// Stops `name` and starts it again on a fresh unprivileged port (the fix for a port it
    /// may not bind).
    pub async fn restart_on_new_port(
        &mut self,
        scenario: &Scenario,
        name: &str,
    ) -> Result<(), TopologyError> {
        let Some(spec) = scenario.services.get(name) else {
            return Ok(());
        };
        if let Some(mut old) = self.services.remove(name) {
            old.stop().await;
        }
        self.start_order.retain(|n| n != name);
        let port = self
            .scope
            .host()
            .port(Want::BothFamilies)
            .map_err(BackendError::from)?;
        self.fixed_ports.insert(name.to_string(), port);
        let context = self.start_context();
        let kind = crate::services::kind(spec);
        let service = self
            .scope
            .start(name, kind.recipe.as_ref(), &context)
            .await?;
        self.probe_context
            .services
            .insert(name.to_string(), view_of(service.as_ref()));
        self.services.insert(name.to_string(), service);
        self.start_order.push(name.to_string());
        self.publish_vars(name);
        Ok(())
    }

    /// Publishes a service's port, pid and listen address for probe patterns (`{port:NAME}`,
    /// `{pid:NAME}`, `{host:NAME}`).
    pub fn publish_vars(&self, name: &str) {
        if let Some(service) = self.services.get(name) {
            let vars = &self.probe_context.vars;
            vars.set(format!("port:{name}"), service.addr().port());
            vars.set(format!("host:{name}"), self.scope.host().listen_ip());
            if let Some(pid) = service.handle().pid() {
                vars.set(format!("pid:{name}"), pid);
            }
        }
    }

    /// Whether everything `spec` needs (its provider, broker, gateway, token service, or the
    /// links to them) is up.
    fn can_start(&self, spec: &ServiceSpec) -> bool {
        spec.kind.needs().iter().all(|target| match target {
            Target::Link(link) => self.links.contains_key(link),
            Target::Service(service) => self.services.contains_key(service),
        })
    }

    /// The running service `name`, or why there is none (for faults, which act on services by
    /// name).
    pub fn service(&self, name: &str) -> Result<&dyn Service, String> {
        self.services
            .get(name)
            .map(|s| s.as_ref())
            .ok_or_else(|| format!("no service {name}"))
    }

    /// The running service `name`, to restart it; or why there is none.
    pub fn service_mut(&mut self, name: &str) -> Result<&mut Box<dyn Service>, String> {
        self.services
            .get_mut(name)
            .ok_or_else(|| format!("no service {name}"))
    }

    /// The run folder.
    pub fn run_dir(&self) -> &RunDir {
        self.scope.run_dir()
    }

    fn waiter<'a>(&'a self, scenario: &'a Scenario) -> Waiter<'a> {
        Waiter {
            scenario,
            probe_context: &self.probe_context,
        }
    }

    fn start_context(&self) -> StartContext {
        StartContext {
            host: self.scope.host(),
            run_dir: self.run_dir().path().to_path_buf(),
            run_id: self.run_dir().id().to_string(),
            links: self.links.clone(),
            services: self
                .services
                .iter()
                .map(|(name, s)| (name.clone(), s.addr()))
                .collect(),
            fixed_ports: self.fixed_ports.clone(),
            fixed_config_ports: self.fixed_config_ports.clone(),
            advertised: self.advertised.clone(),
        }
    }

    async fn start_service(
        &mut self,
        scenario: &Scenario,
        spec: &ServiceSpec,
        on_event: &mut impl FnMut(RunEvent),
    ) -> Result<(), TopologyError> {
        let context = self.start_context();
        let kind = crate::services::kind(spec);
        let recipe = kind.recipe;
        let service = self
            .scope
            .start(&spec.name, recipe.as_ref(), &context)
            .await?;
        self.probe_context
            .services
            .insert(spec.name.clone(), view_of(service.as_ref()));
        if let Some(api) = kind.control {
            let addr = service.control_addr().unwrap_or(service.addr());
            self.probe_context.controls.add(&spec.name, api, addr);
        }
        self.services.insert(spec.name.clone(), service);
        self.start_order.push(spec.name.clone());
        self.publish_vars(&spec.name);
        if let Some(service) = self.services.get(&spec.name) {
            self.waiter(scenario)
                .ready(&spec.name, service.as_ref(), recipe.ready())
                .await?;
        }
        if let Some(service) = self.services.get(&spec.name) {
            on_event(RunEvent::ServiceReady {
                service: spec.name.clone(),
                addr: service.addr(),
                pid: service.handle().pid(),
                version: service.version(),
                after: Duration::ZERO,
            });
        }
        Ok(())
    }

    /// Connects to the proxy API on first use: `TOXIPROXY_URL` if set (proxy names then carry
    /// the run id, since the server may be shared), else an embedded proxy server.
    async fn ensure_proxy(&mut self, seed: u64) -> Result<(), TopologyError> {
        if self.proxy_prefix.is_some() {
            return Ok(());
        }
        if let Some(client) = ToxiproxyClient::from_env() {
            self.proxy = client;
            self.proxy_prefix = Some(format!("{}-", self.run_dir().id()));
            return Ok(());
        }
        let server = clawchaos_proxy::ProxyServer::start(clawchaos_proxy::ProxyServerConfig {
            api_addr: SocketAddr::new(self.scope.host().link_ip(), 0),
            seed: Some(seed),
        })
        .await
        .map_err(|e| TopologyError::Proxy(e.to_string()))?;
        self.proxy = ToxiproxyClient::new(server.url());
        self.embedded_proxy = Some(server);
        self.proxy_prefix = Some(String::new());
        Ok(())
    }

    async fn start_link(
        &mut self,
        scenario: &Scenario,
        link: &LinkSpec,
    ) -> Result<(), TopologyError> {
        self.ensure_proxy(scenario.seed).await?;
        let prefix = self.proxy_prefix.clone().unwrap_or_default();
        let upstream = self
            .services
            .get(&link.to)
            .map(|s| s.addr())
            .ok_or_else(|| {
                TopologyError::Proxy(format!("link {} has no service {}", link.name, link.to))
            })?;
        let name = format!("{prefix}{}", link.name);
        let port = self.link_ports.get(&link.name).copied().unwrap_or(0);
        let listen = SocketAddr::new(self.scope.host().link_ip(), port).to_string();
        let proxy = self
            .proxy
            .create_proxy(&name, &listen, &upstream.to_string())
            .await
            .map_err(|e| TopologyError::Proxy(e.to_string()))?;
        let listen: SocketAddr = proxy.listen.parse().map_err(|e| {
            TopologyError::Proxy(format!("proxy {name} listens on {:?}: {e}", proxy.listen))
        })?;
        self.proxy_names.insert(link.name.clone(), name);
        self.links.insert(link.name.clone(), listen);
        self.probe_context.links.insert(link.name.clone(), listen);
        Ok(())
    }

    /// Stops everything gracefully: the ledger's clients (while their broker still answers),
    /// proxies, then services in reverse order.
    pub async fn shutdown(mut self) {
        if let Some(ledger) = self.ledger_client.take() {
            ledger.stop().await;
        }
        if self.embedded_proxy.is_none() {
            for name in self.proxy_names.values() {
                let _ = self.proxy.delete_proxy(name).await;
            }
        }
        if let Some(server) = self.embedded_proxy.take() {
            server.shutdown().await;
        }
        for squatter in self.squatters.values_mut() {
            squatter.stop().await;
        }
        let names: Vec<String> = self.start_order.iter().rev().cloned().collect();
        for name in names {
            if let Some(service) = self.services.get_mut(&name) {
                service.stop().await;
            }
        }
    }
}

/// The guaranteed teardown (panic, Ctrl-C, an early return), in the order of
/// [`Topology::shutdown`] but without waiting: the ledger's clients, the proxy, the squatters,
/// the services in reverse start order (each kills what it started when dropped); then the
/// fields, the run folder last.
impl Drop for Topology {
    fn drop(&mut self) {
        drop(self.ledger_client.take());
        drop(self.embedded_proxy.take());
        drop(std::mem::take(&mut self.squatters));
        for name in self.start_order.iter().rev() {
            drop(self.services.remove(name));
        }
        self.services.clear();
    }
}

fn view_of(service: &dyn Service) -> ServiceView {
    ServiceView {
        addr: service.addr(),
        logs: service.logs(),
        exit: service.exit_watch(),
        tool: service.tool(),
    }
}
