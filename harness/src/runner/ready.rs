//! Waiting until a started service is ready, by the strategy its recipe names ([`Ready`]):
//! at once, a port that accepts, `GET` answering 200, a first line of output, a probe of the
//! scenario, or a check its kind brings (an AMQP login, a Kafka metadata answer). Every wait
//! fails early, with the service's last output, if the service exits first.

use std::time::{Duration, Instant};

use super::topology::TopologyError;
use crate::backend::{Ready, Service};
use crate::probe::ProbeContext;
use crate::scenario::Scenario;

/// How much of an unhealthy answer a readiness failure quotes.
const BODY_SHOWN: usize = 300;

/// What readiness checks need of the run.
pub(super) struct Waiter<'a> {
    /// The scenario (a `Ready::Probe` names one of its probes).
    pub scenario: &'a Scenario,
    /// What probes see.
    pub probe_context: &'a ProbeContext,
}

impl Waiter<'_> {
    /// Waits until `service` is ready as its recipe says.
    pub(super) async fn ready(
        &self,
        name: &str,
        service: &dyn Service,
        ready: Ready,
    ) -> Result<(), TopologyError> {
        match ready {
            Ready::Started => Ok(()),
            Ready::Port { within } => self.wait_port(name, service, within).await,
            Ready::Probe { probe, within } => self.wait_probe(name, service, &probe, within).await,
            Ready::Http { path, within } => self.wait_http_ok(name, service, path, within).await,
            Ready::Output { within } => {
                let logs = service.logs();
                self.wait_until(name, service, within, "it printed its first line", || {
                    let seen = !logs.is_empty();
                    async move {
                        if seen {
                            Ok(())
                        } else {
                            Err("no output yet".to_string())
                        }
                    }
                })
                .await
            }
            Ready::Check {
                what,
                within,
                check,
            } => {
                self.wait_until(name, service, within, what, || check(service))
                    .await
            }
        }
    }

    /// Polls `check` until it holds; fails early, with the service's last output, if the
    /// service exits first.
    async fn wait_until<F, Fut>(
        &self,
        name: &str,
        service: &dyn Service,
        within: Duration,
        what: &str,
        mut check: F,
    ) -> Result<(), TopologyError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<(), String>>,
    {
        let deadline = super::clock::after(Instant::now(), within);
        loop {
            let last = match check().await {
                Ok(()) => return Ok(()),
                Err(seen) => seen,
            };
            if let Some(exit) = service.exit() {
                return Err(TopologyError::NotReady {
                    service: name.to_string(),
                    within,
                    reason: format!(
                        "it {} before {what}; last output: {}",
                        exit.describe(),
                        service.logs().tail(8).join(" | ")
                    ),
                });
            }
            if Instant::now() >= deadline {
                return Err(TopologyError::NotReady {
                    service: name.to_string(),
                    within,
                    // What it said last explains most waits that ran out (a link it reports
                    // down, a retry loop).
                    reason: format!(
                        "{what}: {last}; last output: {}",
                        service.logs().tail(8).join(" | ")
                    ),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn wait_port(
        &self,
        name: &str,
        service: &dyn Service,
        within: Duration,
    ) -> Result<(), TopologyError> {
        let addr = service.addr();
        self.wait_until(
            name,
            service,
            within,
            &format!("listening on {addr}"),
            || async move {
                tokio::net::TcpStream::connect(addr)
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("nothing listens on {addr} ({e})"))
            },
        )
        .await
    }

    async fn wait_http_ok(
        &self,
        name: &str,
        service: &dyn Service,
        path: &str,
        within: Duration,
    ) -> Result<(), TopologyError> {
        let url = format!("http://{}{path}", service.addr());
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        let (url, client) = (&url, &client);
        self.wait_until(
            name,
            service,
            within,
            &format!("answering 200 on {url}"),
            || async move {
                match client.get(url).send().await {
                    Ok(r) if r.status().as_u16() == 200 => Ok(()),
                    // The body of a health endpoint says what is wrong (the bridge names its
                    // links and their last errors).
                    Ok(r) => {
                        let status = r.status().as_u16();
                        let body = r.text().await.unwrap_or_default();
                        let body: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
                        let body: String = body.chars().take(BODY_SHOWN).collect();
                        Err(format!("status {status}: {body}"))
                    }
                    Err(e) => Err(e.to_string()),
                }
            },
        )
        .await
    }

    async fn wait_probe(
        &self,
        name: &str,
        service: &dyn Service,
        probe: &str,
        within: Duration,
    ) -> Result<(), TopologyError> {
        let Some(spec) = self.scenario.probes.get(probe) else {
            return Ok(());
        };
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap_or_default();
        let (context, client) = (self.probe_context, &client);
        self.wait_until(
            name,
            service,
            within,
            &format!("probe `{probe}` held"),
            || async move {
                let o = crate::probe::evaluate(spec, context, client).await;
                if o.holds { Ok(()) } else { Err(o.detail) }
            },
        )
        .await
    }
}
