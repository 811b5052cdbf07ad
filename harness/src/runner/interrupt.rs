//! Ctrl-C and SIGTERM where no CLI stops the runs: the test binaries. Dropping a run stops
//! every service it started and removes its folder, so an interrupted run is dropped.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Runs `work` unless the process is interrupted first. On Ctrl-C or SIGTERM `work` is dropped,
/// which stops everything its runs started, and `None` comes back; once the process was
/// interrupted, later calls return `None` without starting (so a test binary winds down
/// instead of starting the next scenario).
pub async fn unless_interrupted<F: Future>(work: F) -> Option<F::Output> {
    if INTERRUPTED.load(Ordering::SeqCst) {
        return None;
    }
    tokio::select! {
        out = work => Some(out),
        _ = clawchaos_service_kit::shutdown_signal() => {
            INTERRUPTED.store(true, Ordering::SeqCst);
            tracing::warn!("interrupted: the run was stopped and its services with it");
            None
        }
    }
}
