//! Bringing a scenario's topology up (services, proxy, links) and down again.
//!
//! [`Topology`] owns every resource of a run: the run folder, the services, the proxy server.
//! Dropping it tears everything down synchronously (the path taken on panic or Ctrl-C);
//! [`Topology::shutdown`] does the same gracefully on the normal path.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::backend::{Backend, RunDir, Service, StartContext};
use crate::clients::mock_llm::MockLlmClient;
use crate::clients::toxiproxy::ToxiproxyClient;
use crate::observer::RunEvent;
use crate::probe::{ProbeContext, ServiceView};
use crate::scenario::{Scenario, ServiceKind};

/// Why the topology could not be brought up.
#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    /// A backend failed.
    #[error(transparent)]
    Backend(#[from] crate::backend::BackendError),
    /// The proxy could not be started or configured.
    #[error("proxy: {0}")]
    Proxy(String),
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
    /// The run folder (dropped last).
    pub run_dir: RunDir,
    /// Services by name.
    pub services: BTreeMap<String, Box<dyn Service>>,
    /// The proxy API client.
    pub proxy: ToxiproxyClient,
    /// Proxy names by link name.
    pub proxy_names: BTreeMap<String, String>,
    /// Link listen addresses.
    pub links: BTreeMap<String, SocketAddr>,
    embedded_proxy: Option<clawchaos_proxy::ProxyServer>,
    /// What probes see.
    pub probe_context: ProbeContext,
}

impl Topology {
    /// Starts the services (each ready before the next), then the proxy and one proxy per link.
    pub async fn start(
        scenario: &Scenario,
        backend: &dyn Backend,
        mut on_event: impl FnMut(RunEvent),
    ) -> Result<Self, TopologyError> {
        let run_dir = RunDir::create().map_err(crate::backend::BackendError::from)?;
        let context = StartContext {
            run_dir: run_dir.path().to_path_buf(),
            run_id: run_dir.id().to_string(),
        };
        on_event(RunEvent::RunFolder {
            path: run_dir.path().to_path_buf(),
        });
        let mut topology = Topology {
            run_dir,
            services: BTreeMap::new(),
            proxy: ToxiproxyClient::new("http://127.0.0.1:0"),
            proxy_names: BTreeMap::new(),
            links: BTreeMap::new(),
            embedded_proxy: None,
            probe_context: ProbeContext::default(),
        };
        for spec in scenario.services.values() {
            let service = backend.start(spec, &context).await?;
            let view = view_of(service.as_ref());
            topology
                .probe_context
                .services
                .insert(spec.name.clone(), view);
            if let ServiceKind::MockLlm { .. } = spec.kind {
                topology.probe_context.mock_llms.insert(
                    spec.name.clone(),
                    MockLlmClient::new(format!("http://{}", service.addr())),
                );
            }
            topology.services.insert(spec.name.clone(), service);
            if let ServiceKind::Process {
                ready: None,
                ready_within,
                ..
            } = &spec.kind
            {
                topology.wait_port(&spec.name, *ready_within).await?;
            }
            if let Some(service) = topology.services.get(&spec.name) {
                on_event(RunEvent::ServiceReady {
                    service: spec.name.clone(),
                    addr: service.addr(),
                    pid: service.pid(),
                    after: Duration::ZERO,
                });
            }
        }
        topology.start_links(scenario).await?;
        Ok(topology)
    }

    async fn wait_port(&self, name: &str, within: Duration) -> Result<(), TopologyError> {
        let Some(service) = self.services.get(name) else {
            return Ok(());
        };
        let deadline = Instant::now() + within;
        let addr = service.addr();
        loop {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return Ok(());
            }
            if let Some(exit) = service.exit() {
                return Err(TopologyError::NotReady {
                    service: name.to_string(),
                    within,
                    reason: format!(
                        "it exited ({:?}) before listening on {addr}; last output: {}",
                        exit.code,
                        service.logs().tail(5).join(" | ")
                    ),
                });
            }
            if Instant::now() >= deadline {
                return Err(TopologyError::NotReady {
                    service: name.to_string(),
                    within,
                    reason: format!("nothing listens on {addr}"),
                });
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    async fn start_links(&mut self, scenario: &Scenario) -> Result<(), TopologyError> {
        if scenario.links.is_empty() {
            return Ok(());
        }
        let (client, prefix) = match ToxiproxyClient::from_env() {
            Some(client) => (client, format!("{}-", self.run_dir.id())),
            None => {
                let server =
                    clawchaos_proxy::ProxyServer::start(clawchaos_proxy::ProxyServerConfig {
                        api_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
                        seed: Some(scenario.seed),
                    })
                    .await
                    .map_err(|e| TopologyError::Proxy(e.to_string()))?;
                let client = ToxiproxyClient::new(server.url());
                self.embedded_proxy = Some(server);
                (client, String::new())
            }
        };
        for link in scenario.links.values() {
            let upstream = self
                .services
                .get(&link.to)
                .map(|s| s.addr())
                .ok_or_else(|| {
                    TopologyError::Proxy(format!("link {} has no service {}", link.name, link.to))
                })?;
            let name = format!("{prefix}{}", link.name);
            let proxy = client
                .create_proxy(&name, "127.0.0.1:0", &upstream.to_string())
                .await
                .map_err(|e| TopologyError::Proxy(e.to_string()))?;
            let listen: SocketAddr = proxy.listen.parse().map_err(|e| {
                TopologyError::Proxy(format!("proxy {name} listens on {:?}: {e}", proxy.listen))
            })?;
            self.proxy_names.insert(link.name.clone(), name);
            self.links.insert(link.name.clone(), listen);
            self.probe_context.links.insert(link.name.clone(), listen);
        }
        self.proxy = client;
        Ok(())
    }

    /// Stops everything gracefully: proxies first, then services in reverse order.
    pub async fn shutdown(mut self) {
        if self.embedded_proxy.is_none() {
            for name in self.proxy_names.values() {
                let _ = self.proxy.delete_proxy(name).await;
            }
        }
        if let Some(server) = self.embedded_proxy.take() {
            server.shutdown().await;
        }
        let names: Vec<String> = self.services.keys().rev().cloned().collect();
        for name in names {
            if let Some(service) = self.services.get_mut(&name) {
                service.stop().await;
            }
        }
    }
}

fn view_of(service: &dyn Service) -> ServiceView {
    ServiceView {
        addr: service.addr(),
        logs: service.logs(),
        exit: service.exit_watch(),
    }
}
