//! Loopback ports and programs named by environment: the small helpers every service kind's
//! plan uses, whatever backend runs it.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr, TcpListener};
use std::path::PathBuf;
use std::sync::Mutex;

use rand::rngs::SmallRng;
use rand::{Rng as _, SeedableRng as _};

/// The lowest port [`free_port`] hands out.
const LOWEST: u16 = 10_000;

/// Ports handed out by [`free_port`] in this process, never handed out again.
static ISSUED: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// Picks a free loopback port for a service to bind later (a port planned before its program
/// starts).
///
/// It comes from below the kernel's ephemeral range (`net.ipv4.ip_local_port_range`), never
/// from port 0: a port the kernel picks for a listener is one it also gives outgoing
/// connections as their source port, so another run's client could take it between the choice
/// and the service's bind (seen at `-j 2`: RabbitMQ's distribution port, "dist_port_already_used
/// ... not_erlang"). A port is handed out once per process, so parallel runs never plan the
/// same one.
pub fn free_port() -> std::io::Result<u16> {
    let ephemeral = ephemeral_range_start();
    if ephemeral < LOWEST + 1_000 {
        return kernel_port();
    }
    let span = ephemeral - LOWEST;
    let offset = SmallRng::from_os_rng().random_range(0..span);
    let mut issued = ISSUED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if issued.len() >= usize::from(span) {
        issued.clear();
    }
    for step in 0..span {
        let port = LOWEST + (offset + step) % span;
        if !issued.contains(&port) && TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            issued.insert(port);
            return Ok(port);
        }
    }
    Err(std::io::Error::other(format!(
        "no free port on 127.0.0.1 between {LOWEST} and {ephemeral}"
    )))
}

/// The first port of the kernel's ephemeral range (32768 when it cannot be read).
fn ephemeral_range_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}

/// A port the kernel picks (when there is no room below its ephemeral range).
fn kernel_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

/// A port free on both 127.0.0.1 and ::1 (so that squatting one family is the only conflict).
pub fn free_port_both_families() -> std::io::Result<u16> {
    for _ in 0..50 {
        let port = free_port()?;
        if TcpListener::bind((Ipv6Addr::LOCALHOST, port)).is_ok() {
            return Ok(port);
        }
    }
    Err(std::io::Error::other(
        "no port free on both 127.0.0.1 and ::1",
    ))
}

/// A program named by environment variable `var`, if it is set: its path, or why it cannot
/// be used.
pub fn binary_from_env(var: &str) -> Option<Result<PathBuf, String>> {
    let path = PathBuf::from(std::env::var_os(var)?);
    Some(if path.is_file() {
        Ok(path)
    } else {
        Err(format!("{var}={} is not a file", path.display()))
    })
}

/// A program of this workspace (`claw-bridge`, `clawchaos-mock-llm`): the file `var` names, else
/// the one cargo built beside the running executable (or one folder up, from a test binary in
/// `deps/`); the error says how to build it.
pub fn our_binary(name: &str, var: &str, package: &str) -> Result<PathBuf, String> {
    if let Some(chosen) = binary_from_env(var) {
        return chosen;
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let dir = exe.parent().unwrap_or(std::path::Path::new("."));
    let candidates = [dir.join(name), dir.parent().unwrap_or(dir).join(name)];
    candidates.iter().find(|p| p.is_file()).cloned().ok_or_else(|| {
        format!(
            "{name} is not built (looked in {} and {}): run `cargo build -p {package}` (scripts/setup does), or set {var}",
            candidates[0].display(),
            candidates[1].display()
        )
    })
}

/// A free port below 1024 on 127.0.0.1 (80 first), for a service that must not be allowed to
/// bind it.
pub fn free_privileged_port() -> std::io::Result<u16> {
    for port in std::iter::once(80).chain(1000..1024).chain(900..1000) {
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return Ok(port);
        }
    }
    Err(std::io::Error::other("no free port below 1024"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planned_ports_are_below_the_ephemeral_range_and_never_handed_out_twice() {
        let ephemeral = ephemeral_range_start();
        let ports: Vec<u16> = (0..200)
            .map(|_| free_port().expect("a free port"))
            .collect();
        let distinct: BTreeSet<u16> = ports.iter().copied().collect();
        assert_eq!(distinct.len(), ports.len(), "a port was handed out twice");
        if ephemeral >= LOWEST + 1_000 {
            assert!(
                ports.iter().all(|p| (LOWEST..ephemeral).contains(p)),
                "{ports:?} not all in {LOWEST}..{ephemeral}"
            );
        }
    }
}
