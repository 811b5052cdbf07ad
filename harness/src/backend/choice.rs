//! Which backend a run uses unless told otherwise: the one place that names a backend, so the
//! runner knows none (a containers backend will be chosen here too).

use std::sync::Arc;

use super::Backend;
use super::process::ProcessBackend;

/// The default backend: local processes (and servers inside the harness).
pub fn default_backend() -> Arc<dyn Backend> {
    Arc::new(ProcessBackend)
}
