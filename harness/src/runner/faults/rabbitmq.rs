//! RabbitMQ faults, through `rabbitmqctl` against the run's node: a forced close of every
//! connection, a connection limit, a memory alarm; the heal lifts the limit or the alarm.

use std::time::Duration;

use super::{Topology, Undo};
use std::sync::Arc;

use crate::backend::Tool;
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

fn ctl_of(topology: &Topology, service: &str) -> Result<Arc<dyn Tool>, String> {
    topology
        .service(service)?
        .tool()
        .ok_or_else(|| format!("{service} has no rabbitmqctl"))
}

async fn run_ctl(ctl: &Arc<dyn Tool>, args: &[&str]) -> Result<(), String> {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let shown = args.join(" ");
    match ctl.run(&args, CTL_TIMEOUT).await {
        Ok(out) if out.code == Some(0) => Ok(()),
        Ok(out) => Err(format!(
            "rabbitmqctl {shown}: exit {}: {}",
            out.code
                .map_or_else(|| "by a signal".to_string(), |c| c.to_string()),
            out.stderr.trim()
        )),
        Err(e) => Err(format!("rabbitmqctl {shown}: {e}")),
    }
}
