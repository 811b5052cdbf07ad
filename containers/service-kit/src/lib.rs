//! What every clawchaos service shares: logging set-up, a shutdown signal and the request
//! journal.
//!
//! The services in `containers/` are libraries first (the harness embeds them in-process) and
//! small binaries second. What they all need lives here so that no service copies it.

pub mod journal;

/// Installs a `tracing` subscriber writing to stderr, filtered by `RUST_LOG` (default `info`).
///
/// Calling it twice is harmless: the second call leaves the first subscriber in place.
pub fn init_tracing() {
    init_tracing_with_default("info");
}

/// Like [`init_tracing`], with `default` as the filter when `RUST_LOG` is unset.
pub fn init_tracing_with_default(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Resolves when the process receives Ctrl-C (SIGINT) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
    tracing::info!("shutdown signal received");
}
