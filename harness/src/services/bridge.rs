//! `claw-bridge`, the queue worker under test, as a service: its binary found, its config file
//! written from the scenario (`openclaw.config.yaml` style), its wall clock shiftable with
//! libfaketime.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::backend::{BackendError, Plan, Program, Ready, Recipe, Run, StartContext};
use crate::scenario::{BridgeSpec, BrokerKind, Target};
use crate::services::rabbitmq::{ADMIN_PASSWORD, ADMIN_USER};

/// Where Debian's libfaketime lives (the multithreaded variant: the bridge runs tokio).
pub const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1";

/// The name of the file in the bridge's folder that holds its clock offset (libfaketime's
/// `FAKETIME_TIMESTAMP_FILE`, re-read every second), e.g. `+0` or `+10m`.
pub const CLOCK_FILE: &str = "faketime.offset";

/// The bridge's config file, in its folder of the run.
const CONFIG_FILE: &str = "openclaw.config.yaml";

/// A bridge; with `clock_skew`, libfaketime is preloaded with a clock file the `clock_skew`
/// fault writes.
pub struct BridgeRecipe<'a> {
    /// What the scenario says of it.
    pub spec: &'a BridgeSpec,
}

impl Recipe for BridgeRecipe<'_> {
    fn plan(&self, name: &str, context: &StartContext) -> Result<Plan, BackendError> {
        prepare(name, self.spec, context)
    }

    fn ready(&self) -> Ready {
        Ready::Http {
            path: "/health",
            within: self.spec.ready_within,
        }
    }
}

/// The `claw-bridge` binary: `CLAWCHAOS_BRIDGE_BIN`, else next to the running executable (the
/// `clawchaos` CLI in `target/*/`, or a test in `target/*/deps/`).
pub fn locate_binary() -> Result<PathBuf, String> {
    crate::backend::ports::our_binary("claw-bridge", "CLAWCHAOS_BRIDGE_BIN", "clawchaos-bridge")
}

/// Writes the bridge's config (its `openclaw.config.yaml`, which a `bridge_config` fault
/// changes) and says how to start it.
fn prepare(
    service: &str,
    bridge: &BridgeSpec,
    context: &StartContext,
) -> Result<Plan, BackendError> {
    let bridge_program = context
        .host
        .program(Program::Bridge)
        .map_err(|e| BackendError::setup(service, e))?;
    let dir = context.service_dir(service)?;
    let port = context.port_for(service)?;
    let addr = |target: &Target, what: &str| {
        match target {
            Target::Service(s) => context.services.get(s),
            Target::Link(l) => context.links.get(l),
        }
        .copied()
        .ok_or_else(|| BackendError::setup(service, format!("its {what} is not running")))
    };
    let broker = addr(&bridge.broker, "broker")?;
    let gateway = addr(&bridge.gateway, "gateway")?;
    let mut messaging = match &bridge.broker_kind {
        BrokerKind::RabbitMq => {
            // With a token service the JWT is the password; without one, the internal user.
            let credentials = if bridge.tokens.is_some() {
                "claw-bridge".to_string()
            } else {
                format!("{ADMIN_USER}:{ADMIN_PASSWORD}")
            };
            json!({
                "broker": "rabbitmq",
                "url": format!("amqp://{credentials}@{broker}/%2f"),
                "tasks": "openclaw_tasks",
                "results": "openclaw_results",
                "heartbeat": humantime::format_duration(bridge.heartbeat).to_string(),
            })
        }
        BrokerKind::Kafka {
            service: tansu,
            scram,
        } => {
            let mut kafka = json!({
                "broker": "kafka",
                "url": broker.to_string(),
                "tasks": crate::services::tansu::TASKS,
                "results": crate::services::tansu::RESULTS,
            });
            if *scram {
                let users = crate::services::tansu::credentials(&context.run_dir, tansu)?;
                let Some((_, user)) = users else {
                    return Err(BackendError::setup(
                        service,
                        format!("broker {tansu} has no SCRAM users"),
                    ));
                };
                kafka["sasl"] = json!({
                    "mechanism": crate::services::tansu::MECHANISM,
                    "username": user.username,
                    "password": user.password,
                });
            }
            kafka
        }
    };
    if let Some(tokens) = &bridge.tokens {
        let tokens = addr(tokens, "token service")?;
        messaging["token"] = json!({
            "url": format!("http://{tokens}/token"),
            "refresh_before": humantime::format_duration(bridge.refresh_before).to_string(),
            "leeway": humantime::format_duration(bridge.leeway).to_string(),
        });
    }
    let config = json!({
        "messaging": messaging,
        "gateway": {
            "url": format!("http://{gateway}"),
            "token": crate::scenario::OpenClawSpec::default().token,
            "model": "openclaw",
            "timeout": humantime::format_duration(bridge.gateway_timeout).to_string(),
            "attempts": bridge.attempts,
        },
        "bridge": {
            "health_listen": SocketAddr::new(context.host.listen_ip(), port).to_string(),
            "ack": if bridge.ack_before_publish { "before_publish" } else { "after_publish" },
            // Alone in its host's namespace (a container): the run's addresses are not loopback.
            "own_network_namespace": context.host.own_network_namespaces(),
        },
    });
    // JSON is YAML: the bridge reads it as its `openclaw.config.yaml`.
    let config_file = dir.join(CONFIG_FILE);
    let text =
        serde_json::to_string_pretty(&config).map_err(|e| BackendError::setup(service, e))?;
    std::fs::write(&config_file, text)?;

    let mut env = vec![("RUST_LOG".to_string(), "info".to_string())];
    if bridge.clock_skew {
        // An image has it by its recipe (`images/base.recipe`); this machine by set-up.
        if bridge_program.image.is_none() && !Path::new(LIBFAKETIME).is_file() {
            return Err(BackendError::setup(
                service,
                format!(
                    "{LIBFAKETIME} is missing: install Debian's libfaketime (scripts/setup does)"
                ),
            ));
        }
        let clock = dir.join(CLOCK_FILE);
        std::fs::write(&clock, "+0\n")?;
        env.extend(
            [
                ("LD_PRELOAD", LIBFAKETIME.to_string()),
                ("FAKETIME_TIMESTAMP_FILE", clock.display().to_string()),
                ("FAKETIME_CACHE_DURATION", "1".to_string()),
                // tokio's timers run on the monotonic clock: only the wall clock is skewed.
                ("FAKETIME_DONT_FAKE_MONOTONIC", "1".to_string()),
            ]
            .map(|(k, v)| (k.to_string(), v)),
        );
    }
    let command = bridge_program
        .command
        .into_iter()
        .chain(["--config".to_string(), config_file.display().to_string()])
        .collect();
    let launch = context.launch(service, command, env, dir);
    Ok(Plan {
        config_file: Some(PathBuf::from(CONFIG_FILE)),
        clock_file: bridge.clock_skew.then(|| PathBuf::from(CLOCK_FILE)),
        image: bridge_program.image,
        ..Plan::new(Run::Process { launch, port })
    })
}
