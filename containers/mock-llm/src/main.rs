//! `clawchaos-mock-llm`: the mock LLM as its own process, programmed over `/_mock/*`.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    process::ExitCode,
};

use clap::Parser;
use clawchaos_mock_llm::{MockLlm, MockLlmConfig};
use clawchaos_service_kit::{announce_listening, describe, init_tracing, shutdown_signal};

/// An OpenAI-compatible mock LLM whose faults are programmed at run time.
///
/// Prints `listening on IP:PORT` on stdout once it accepts connections.
#[derive(Debug, Parser)]
#[command(name = "clawchaos-mock-llm", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    host: IpAddr,
    /// Port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// A model id to serve (repeat for more).
    #[arg(long = "model", default_value = "mock-model")]
    models: Vec<String>,
    /// The assistant's answer.
    #[arg(long, default_value = "pong")]
    reply: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    init_tracing();
    let args = Args::parse();
    let config = MockLlmConfig {
        addr: SocketAddr::new(args.host, args.port),
        models: args.models,
        reply: args.reply,
    };
    let mock = match MockLlm::start(config).await {
        Ok(mock) => mock,
        Err(e) => {
            tracing::error!("cannot start: {}", describe(&e));
            return ExitCode::FAILURE;
        }
    };
    announce_listening(mock.addr());
    shutdown_signal().await;
    mock.shutdown().await;
    ExitCode::SUCCESS
}
