//! Injecting and healing the messaging link's faults: the token service (through its control
//! API), a bridge's wall clock (libfaketime's offset file), a RabbitMQ node (`rabbitmqctl`).

use std::time::Duration;

use super::topology::Topology;
use crate::backend::CliCommand;
use crate::clients::token_service::{TokenMode, TokenServiceClient};
use crate::scenario::{BrokerFault, TokenFault};

/// Time allowed for one `rabbitmqctl` call (an Erlang VM starts for each).
const CTL_TIMEOUT: Duration = Duration::from_secs(60);

fn token_service<'a>(
    topology: &'a Topology,
    service: &str,
) -> Result<&'a TokenServiceClient, String> {
    topology
        .token_services
        .get(service)
        .ok_or_else(|| format!("no token service named {service} is running"))
}

/// Puts a token-service fault in place.
pub(super) async fn inject_tokens(
    topology: &Topology,
    service: &str,
    fault: TokenFault,
) -> Result<(), String> {
    let client = token_service(topology, service)?;
    let result = match fault {
        TokenFault::Down => client.set_mode(TokenMode::Down).await,
        TokenFault::Error { status } => client.set_mode(TokenMode::Error(status)).await,
        TokenFault::Ttl(ttl) => client.set_ttl(Some(ttl)).await,
        TokenFault::Clock(offset) => client.set_clock_offset(offset).await,
    };
    result.map_err(|e| e.to_string())
}

/// Back to tokens, the configured lifetime and clock.
pub(super) async fn heal_tokens(topology: &Topology, service: &str) -> Result<(), String> {
    token_service(topology, service)?
        .reset()
        .await
        .map_err(|e| e.to_string())
}

/// Sets a bridge's wall-clock offset (libfaketime re-reads the file every second).
pub(super) fn set_clock(
    topology: &Topology,
    service: &str,
    offset_secs: i64,
) -> Result<(), String> {
    let file = topology
        .run_dir
        .path()
        .join(service)
        .join(crate::services::bridge::CLOCK_FILE);
    if !file.is_file() {
        return Err(format!(
            "{service} does not run under libfaketime ({} is missing)",
            file.display()
        ));
    }
    let text = if offset_secs < 0 {
        format!("-{}\n", -offset_secs)
    } else {
        format!("+{offset_secs}\n")
    };
    std::fs::write(&file, text).map_err(|e| format!("{}: {e}", file.display()))
}

/// Puts a broker fault in place.
pub(super) async fn inject_broker(
    topology: &Topology,
    service: &str,
    fault: BrokerFault,
) -> Result<(), String> {
    let ctl = ctl_of(topology, service)?;
    match fault {
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
    }
}

/// Lifts a broker fault (a forced close needs nothing).
pub(super) async fn heal_broker(
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
