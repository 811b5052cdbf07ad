//! Process faults: SIGKILL (healed by starting the service again), SIGSTOP (healed by
//! SIGCONT), to the service's whole process group, or a graceful restart (nothing to heal).

use super::{Topology, Undo};
use crate::backend::Signal;
use crate::scenario::ProcessFault;

pub(super) async fn inject(
    service: &str,
    fault: ProcessFault,
    topology: &mut Topology,
) -> Result<Undo, String> {
    let signal = match fault {
        ProcessFault::Kill => Signal::Kill,
        ProcessFault::Pause => Signal::Stop,
        ProcessFault::Restart => {
            return super::restart(topology, service)
                .await
                .map(|()| Undo::Nothing);
        }
    };
    topology
        .service(service)?
        .signal(signal)
        .await
        .map(|()| Undo::Nothing)
        .map_err(|e| e.to_string())
}

pub(super) async fn heal(
    service: &str,
    fault: ProcessFault,
    topology: &mut Topology,
) -> Result<(), String> {
    match fault {
        ProcessFault::Restart => Ok(()),
        ProcessFault::Kill => super::restart(topology, service).await,
        ProcessFault::Pause => {
            topology
                .service(service)?
                .signal(Signal::Cont)
                .await
                .map_err(|e| e.to_string())?;
            topology.publish_vars(service);
            Ok(())
        }
    }
}
