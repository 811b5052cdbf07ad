//! `clawchaos-proxy`: the Toxiproxy-compatible proxy server as a standalone binary.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use clawchaos_proxy::{ProxyServer, ProxyServerConfig};
use clawchaos_service_kit::{announce_listening, describe, init_tracing, shutdown_signal};

/// A Toxiproxy-compatible TCP fault-injection proxy.
///
/// Prints `listening on IP:PORT` (the HTTP API) on stdout once it accepts connections.
#[derive(Debug, Parser)]
#[command(name = "clawchaos-proxy", version)]
struct Args {
    /// Host or IP for the HTTP API.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port for the HTTP API; 0 picks a free one (printed at start).
    #[arg(long, default_value_t = 8474)]
    port: u16,
    /// Seed for toxicity, jitter and slicer randomness (reproducible runs).
    #[arg(long)]
    seed: Option<u64>,
}

/// Resolves `host:port`, preferring IPv4 as Toxiproxy does.
async fn resolve(host: &str, port: u16) -> std::io::Result<SocketAddr> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port)).await?.collect();
    addrs
        .iter()
        .find(|addr| addr.is_ipv4())
        .or_else(|| addrs.first())
        .copied()
        .ok_or_else(|| std::io::Error::other(format!("no address for {host}")))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    init_tracing();
    let api_addr = match resolve(&args.host, args.port).await {
        Ok(addr) => addr,
        Err(err) => {
            tracing::error!(host = %args.host, %err, "cannot resolve the API host");
            return ExitCode::FAILURE;
        }
    };
    let config = ProxyServerConfig {
        api_addr,
        seed: args.seed,
    };
    let server = match ProxyServer::start(config).await {
        Ok(server) => server,
        Err(err) => {
            tracing::error!("{}", describe(&err));
            return ExitCode::FAILURE;
        }
    };
    announce_listening(server.api_addr());
    match server.run_until(shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("proxy server failed: {}", describe(&err));
            ExitCode::FAILURE
        }
    }
}
