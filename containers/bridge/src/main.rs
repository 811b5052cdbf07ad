//! `claw-bridge --config FILE [--check]`: validate the config (exit 2 on error), then run.

use anyhow::Context;
use clap::Parser;
use clawchaos_bridge::Bridge;
use clawchaos_bridge::config::Config;
use std::path::PathBuf;
use std::process::ExitCode;

/// Feeds tasks from RabbitMQ or Kafka through the OpenClaw gateway and publishes the results.
#[derive(Debug, Parser)]
#[command(name = "claw-bridge", version)]
struct Cli {
    /// The config file (openclaw.config.yaml style); the environment overrides it.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Only validate the config: exit 0 if good, 2 with FILE:LINE:COL if not.
    #[arg(long)]
    check: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(&cli.config, &|name| std::env::var(name).ok()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if cli.check {
        println!("{}: ok", cli.config.display());
        return ExitCode::SUCCESS;
    }
    clawchaos_service_kit::init_tracing();
    match run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let why = clawchaos_service_kit::error_chain(e.chain());
            tracing::error!("claw-bridge failed: {why}");
            eprintln!("claw-bridge: {why}");
            ExitCode::FAILURE
        }
    }
}

fn run(config: Config) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let bridge = Bridge::start(config).await?;
        bridge
            .run_until(clawchaos_service_kit::shutdown_signal())
            .await?;
        anyhow::Ok(())
    })
}
