//! Which backend a run uses: the one place that names the backends, so the runner knows none.
//! `CLAWCHAOS_BACKEND` (`process`, the default, or `containers`) chooses for every run of a
//! process, `clawchaos run --backend` for one command.

use std::sync::Arc;

use super::containers::ContainersBackend;
use super::process::ProcessBackend;
use super::{Backend, BackendError, BoxFuture, Pins, Program, RunScope};

/// The environment variable that chooses the backend.
pub const BACKEND_ENV: &str = "CLAWCHAOS_BACKEND";
/// The backends, by name.
pub const BACKEND_NAMES: [&str; 2] = ["process", "containers"];

/// The backend called `name`; the error lists the known ones.
pub fn backend_named(name: &str) -> Result<Arc<dyn Backend>, String> {
    match name {
        "process" => Ok(Arc::new(ProcessBackend)),
        "containers" => Ok(Arc::new(ContainersBackend)),
        other => Err(format!(
            "unknown backend `{other}`; known: {}",
            BACKEND_NAMES.join(", ")
        )),
    }
}

/// The backend `CLAWCHAOS_BACKEND` names, else the process backend (local processes, and
/// servers inside the harness). A name it does not know makes every run fail with that error.
pub fn default_backend() -> Arc<dyn Backend> {
    match std::env::var(BACKEND_ENV) {
        Err(_) => Arc::new(ProcessBackend),
        Ok(name) => backend_named(&name).unwrap_or_else(|message| {
            Arc::new(Refused(format!("{BACKEND_ENV}={name}: {message}")))
        }),
    }
}

/// A backend that was asked for and does not exist: every run fails, saying so.
struct Refused(String);

impl Backend for Refused {
    fn name(&self) -> &'static str {
        "refused"
    }

    fn open_run(&self, _: Pins) -> BoxFuture<'_, Result<Box<dyn RunScope>, BackendError>> {
        Box::pin(std::future::ready(Err(BackendError::Unknown(
            self.0.clone(),
        ))))
    }

    fn preflight<'a>(&'a self, _: &'a [Program]) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(std::future::ready(Err(BackendError::Unknown(
            self.0.clone(),
        ))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_are_chosen_by_name_and_an_unknown_one_is_named_in_the_error() {
        assert!(backend_named("process").is_ok());
        assert!(backend_named("containers").is_ok());
        let err = backend_named("podman").err().expect("unknown");
        assert!(
            err.contains("`podman`") && err.contains("process, containers"),
            "{err}"
        );
    }
}
