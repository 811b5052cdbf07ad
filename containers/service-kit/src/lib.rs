//! What every clawchaos service shares: logging set-up, a shutdown signal and the request
//! journal.
//!
//! The services in `containers/` are libraries first (the harness embeds them in-process) and
//! small binaries second. What they all need lives here so that no service copies it.

pub mod journal;

/// An error and its causes on one line, `outer: cause: root`, each cause written once even
/// where an error's message already ends with its source's (a common `thiserror` pattern
/// that chain printers such as anyhow's `{:#}` would write twice).
pub fn error_chain<'a>(
    chain: impl IntoIterator<Item = &'a (dyn std::error::Error + 'static)>,
) -> String {
    let mut text = String::new();
    for err in chain {
        let message = err.to_string();
        if text.ends_with(&message) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&message);
    }
    text
}

/// Prints `listening on ADDR` on stdout and flushes it: the one line a script reads to find
/// a standalone server (e.g. one started with `--port 0`).
pub fn announce_listening(addr: std::net::SocketAddr) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if writeln!(stdout, "listening on {addr}")
        .and_then(|()| stdout.flush())
        .is_err()
    {
        tracing::warn!("cannot write the listening address to stdout");
    }
}

/// [`error_chain`] of one error and its `source()`s.
pub fn describe(err: &(dyn std::error::Error + 'static)) -> String {
    error_chain(std::iter::successors(Some(err), |e| e.source()))
}

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
        // Colour codes only for a person at a terminal, not in files and pipes.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot listen on 127.0.0.1:1: {source}")]
    struct Outer {
        #[source]
        source: std::io::Error,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("set-up failed")]
    struct Quiet(#[source] std::io::Error);

    #[test]
    fn a_cause_already_in_the_message_is_written_once() {
        let err = Outer {
            source: std::io::Error::new(std::io::ErrorKind::AddrInUse, "Address already in use"),
        };
        assert_eq!(
            describe(&err),
            "cannot listen on 127.0.0.1:1: Address already in use"
        );
    }

    #[test]
    fn a_cause_not_in_the_message_is_appended() {
        let err = Quiet(std::io::Error::other("disk full"));
        assert_eq!(describe(&err), "set-up failed: disk full");
    }
}
