//! Token-service faults, through its control API; the heal resets it (tokens again, the
//! configured lifetime and clock).

use super::{Topology, Undo};
use crate::clients::token_service::{TokenMode, TokenServiceClient};
use crate::scenario::TokenFault;

pub(super) async fn inject(
    service: &str,
    fault: TokenFault,
    topology: &Topology,
) -> Result<Undo, String> {
    let client = client(topology, service)?;
    let result = match fault {
        TokenFault::Down => client.set_mode(TokenMode::Down).await,
        TokenFault::Error { status } => client.set_mode(TokenMode::Error(status)).await,
        TokenFault::Ttl(ttl) => client.set_ttl(Some(ttl)).await,
        TokenFault::Clock(offset) => client.set_clock_offset(offset).await,
    };
    result.map(|()| Undo::Nothing).map_err(|e| e.to_string())
}

pub(super) async fn heal(service: &str, topology: &Topology) -> Result<(), String> {
    client(topology, service)?
        .reset()
        .await
        .map_err(|e| e.to_string())
}

fn client<'a>(topology: &'a Topology, service: &str) -> Result<&'a TokenServiceClient, String> {
    topology
        .probe_context
        .controls
        .token_services
        .get(service)
        .ok_or_else(|| format!("no token service named {service} is running"))
}
