//! Service kinds as recipes: for each kind, in one module, how it is planned (program,
//! arguments, environment, the files it writes, its port, its CLI tool), when it counts as
//! ready, and what it needs on this machine. [`kind`] is the one place that matches on the
//! service kind; backends receive a [`Recipe`] and know no kind.

pub mod bridge;
pub mod mock_llm;
pub mod openclaw;
pub mod process;
pub mod rabbitmq;
pub mod squatter;
pub mod tansu;
pub mod token_service;

use crate::backend::{Installed, Pins, Program, Recipe};
use crate::clients::controls::ControlApi;
use crate::prereq::need::Prerequisite;
use crate::scenario::{ServiceKind, ServiceSpec};

/// What the harness knows of one service's kind.
pub struct Kind<'a> {
    /// How it runs and when it is ready.
    pub recipe: Box<dyn Recipe + 'a>,
    /// What it needs on this machine.
    pub needs: Vec<Prerequisite>,
    /// The control API the harness drives it through, if it has one.
    pub control: Option<ControlApi>,
    /// The queue protocol it serves, for a broker (the ledger speaks it).
    pub queue: Option<Queue>,
    /// The programs it runs (a backend may not run every one: `Backend::cannot_run`).
    pub programs: Vec<Program>,
}

/// The protocol of a broker's task and result queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queue {
    /// AMQP 0-9-1 (RabbitMQ).
    Amqp,
    /// The Kafka protocol (Tansu). A Kafka broker advertises one address and clients follow it,
    /// so a link that leads to one gets its port before either starts, for the broker to
    /// advertise.
    Kafka,
}

/// Where `program` is on this machine (the process backend's host): the pinned installs
/// `scripts/setup` makes (OpenClaw: the release `pins` names, provisioned in the cache folder),
/// Debian's packages, or what the user's environment names instead.
pub fn on_this_machine(program: Program, pins: &Pins) -> Result<Installed, String> {
    match program {
        Program::OpenClaw => openclaw::installed_here(pins.openclaw.as_ref()),
        Program::RabbitMq => rabbitmq::installed_here(),
        Program::Tansu => tansu::locate_binary().map(|path| Installed {
            version: Some(format!("Tansu {}", tansu::PINNED_TANSU)),
            ..Installed::at(path)
        }),
        Program::Bridge => bridge::locate_binary().map(Installed::at),
        Program::MockLlm => mock_llm::locate_binary().map(Installed::at),
        Program::TokenService => token_service::locate_binary().map(Installed::at),
    }
}

/// The programs `spec`'s kind runs (for a backend to check it has them before anything starts).
pub fn programs_of(spec: &ServiceSpec) -> Vec<Program> {
    kind(spec).programs
}

/// Deep-merges `overrides` into `base`, as every service's JSON config is patched (the
/// scenario's `config` for OpenClaw, a `config` fault for any service): objects merge key by
/// key, anything else replaces.
pub fn merge_json(base: &mut serde_json::Value, overrides: &serde_json::Value) {
    use serde_json::Value;
    match (base, overrides) {
        (Value::Object(base), Value::Object(overrides)) => {
            for (key, value) in overrides {
                match base.get_mut(key) {
                    Some(existing) => merge_json(existing, value),
                    None => {
                        base.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (base, overrides) => *base = overrides.clone(),
    }
}

/// `words` as one `sh` command line, each word single-quoted.
pub(crate) fn shell_command(words: &[String]) -> String {
    words
        .iter()
        .map(|word| format!("'{}'", word.replace('\'', r"'\''")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The kind of `spec`: its recipe and what it needs.
pub fn kind(spec: &ServiceSpec) -> Kind<'_> {
    match &spec.kind {
        ServiceKind::MockLlm { models, reply } => Kind {
            recipe: Box::new(mock_llm::MockLlmRecipe { models, reply }),
            needs: Vec::new(),
            control: Some(ControlApi::MockLlm),
            queue: None,
            programs: vec![Program::MockLlm],
        },
        ServiceKind::TokenService {
            algorithm,
            ttl,
            clock_offset_secs,
        } => Kind {
            recipe: Box::new(token_service::TokenServiceRecipe {
                algorithm,
                ttl: *ttl,
                clock_offset_secs: *clock_offset_secs,
            }),
            needs: Vec::new(),
            control: Some(ControlApi::TokenService),
            queue: None,
            programs: vec![Program::TokenService],
        },
        ServiceKind::OpenClaw(spec) => Kind {
            recipe: Box::new(openclaw::GatewayRecipe { spec }),
            needs: vec![Prerequisite::OpenClaw, Prerequisite::Program("lsof".into())],
            control: None,
            queue: None,
            programs: vec![Program::OpenClaw],
        },
        ServiceKind::RabbitMq { tokens } => Kind {
            recipe: Box::new(rabbitmq::NodeRecipe {
                tokens: tokens.as_deref(),
            }),
            needs: vec![Prerequisite::RabbitMq],
            control: None,
            queue: Some(Queue::Amqp),
            programs: vec![Program::RabbitMq],
        },
        ServiceKind::Tansu { scram } => Kind {
            recipe: Box::new(tansu::BrokerRecipe { scram: *scram }),
            needs: vec![Prerequisite::Tansu],
            control: None,
            queue: Some(Queue::Kafka),
            programs: vec![Program::Tansu],
        },
        ServiceKind::Bridge(bridge) => Kind {
            recipe: Box::new(bridge::BridgeRecipe { spec: bridge }),
            needs: if bridge.clock_skew {
                vec![Prerequisite::Bridge, Prerequisite::Faketime]
            } else {
                vec![Prerequisite::Bridge]
            },
            control: None,
            queue: None,
            programs: vec![Program::Bridge],
        },
        ServiceKind::Process {
            command,
            env,
            ready,
            ready_within,
        } => Kind {
            recipe: Box::new(process::ProcessRecipe {
                command,
                env,
                ready: ready.as_deref(),
                ready_within: *ready_within,
            }),
            needs: command
                .first()
                .map(|program| Prerequisite::Program(program.clone()))
                .into_iter()
                .collect(),
            control: None,
            queue: None,
            programs: Vec::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::shell_command;

    #[test]
    fn shell_quoting_survives_spaces_and_quotes() {
        let words = ["/a b/it's".to_string(), "--x".to_string()];
        assert_eq!(shell_command(&words), r"'/a b/it'\''s' '--x'");
    }
}
