//! RabbitMQ faults, through `rabbitmqctl` against the run's node: a forced close of every
//! connection, a connection limit, a memory alarm; the heal lifts the limit or the alarm.

use std::time::Duration;

use super::{Topology, Undo};
use crate::backend::CliCommand;
use crate::scenario::BrokerFault;

/// Time allowed for one `rabbitmqctl` call (an Erlang VM starts for each).
const CTL_TIMEOUT: Duration = Duration::from_secs(60);

/// Puts a broker fault in place.
pub(super) async fn inject(
    topology: &Topology,
    service: &str,
    fault: BrokerFault,
) -> Result<Undo, String> {
    let ctl = ctl_of(topology, service)?;
    let result = match fault {
        BrokerFault::CloseConnections => {
            run_ctl(&ctl, &["close_all_connections", "clawchaos: forced close"]).await
        }
        BrokerFault::ConnectionLimit(max) => {
            let limit = format!("{{\"max-connections\": {max}}}");
            run_ctl(&ctl, &["set_vhost_limits", "-p", "/", &limit]).await
        }
        BrokerFault::MemoryAlarm => {
            run_ctl(&ctl, &["set_vm_memory_high_watermark", "0.000001"]).await
        }
    };
    result.map(|()| Undo::Nothing)
}

/// Lifts a broker fault (a forced close needs nothing).
pub(super) async fn heal(
    topology: &Topology,
    service: &str,
    fault: BrokerFault,
) -> Result<(), String> {
    let ctl = ctl_of(topology, service)?;
    match fault {
        BrokerFault::CloseConnections => Ok(()),
        BrokerFault::ConnectionLimit(_) => run_ctl(&ctl, &["clear_vhost_limits", "-p", "/"]).await,
        BrokerFault::MemoryAlarm => run_ctl(&ctl, &["set_vm_memory_high_watermark", "0.4"]).await,
    }
}

fn ctl_of(topology: &Topology, service: &str) -> Result<CliCommand, String> {
    topology
        .services
        .get(service)
        .and_then(|s| s.cli())
        .ok_or_else(|| format!("{service} has no rabbitmqctl"))
}

async fn run_ctl(ctl: &CliCommand, args: &[&str]) -> Result<(), String> {
    let (program, leading) = ctl
        .command
        .split_first()
        .ok_or_else(|| "empty rabbitmqctl command".to_string())?;
    let mut command = tokio::process::Command::new(program);
    command
        .args(leading)
        .args(args)
        .envs(ctl.env.iter().cloned())
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let shown = args.join(" ");
    match tokio::time::timeout(CTL_TIMEOUT, command.output()).await {
        Ok(Ok(output)) if output.status.success() => Ok(()),
        Ok(Ok(output)) => Err(format!(
            "rabbitmqctl {shown}: {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )),
        Ok(Err(e)) => Err(format!("rabbitmqctl {shown}: {e}")),
        Err(_) => Err(format!(
            "rabbitmqctl {shown}: no answer within {CTL_TIMEOUT:?}"
        )),
    }
}
