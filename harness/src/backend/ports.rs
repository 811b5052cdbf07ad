//! Loopback ports and programs named by environment: the small helpers every service kind's
//! plan uses, whatever backend runs it.

use std::net::{Ipv4Addr, Ipv6Addr, TcpListener};
use std::path::PathBuf;

/// Picks a free loopback port by binding port 0.
pub fn free_port() -> std::io::Result<u16> {
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
