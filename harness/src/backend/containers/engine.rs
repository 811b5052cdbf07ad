//! The Docker engine as the containers backend uses it: one client per run, the base image's
//! tag, the labels every container and network of a run carries, and a way to clean up from
//! `Drop` (no runtime needed, so it works on a panic and after the runtime is gone).

use std::collections::HashMap;
use std::time::Duration;

use bollard::Docker;
use bollard::query_parameters::RemoveContainerOptions;
use sha2::{Digest, Sha256};

use super::super::BackendError;

/// The base image's recipe (`images/base.recipe`): its hash is the image's tag, as
/// `scripts/provision-containers` computes it.
const BASE_RECIPE: &[u8] = include_bytes!("../../../../images/base.recipe");
/// The repository of the base image.
const BASE_REPOSITORY: &str = "clawchaos/base";
/// How long one call to the engine may take.
const CALL_TIMEOUT_SECS: u64 = 60;

/// Label: the run a container or network belongs to.
pub const LABEL_RUN: &str = "clawchaos.run";
/// Label: the pid of the harness that made it.
pub const LABEL_OWNER: &str = "clawchaos.owner";
/// Label: the boot the owner's pid belongs to (a pid of another boot is not that process).
pub const LABEL_BOOT: &str = "clawchaos.boot";
/// Label: the service a container runs (or whose pod it is).
pub const LABEL_SERVICE: &str = "clawchaos.service";
/// Label: `pod` or `service`.
pub const LABEL_ROLE: &str = "clawchaos.role";

/// The base image every container runs (Debian's minimal system, python3, procps, lsof):
/// `clawchaos/base:<first 12 hex digits of the recipe's sha256>`.
pub fn base_image() -> String {
    format!("{BASE_REPOSITORY}:{}", content_hash(BASE_RECIPE))
}

/// The first 12 hex digits of the sha256 of `recipe`: an image's tag, as
/// `scripts/provision-containers` computes it (`sha256sum | cut -c1-12`).
pub fn content_hash(recipe: &[u8]) -> String {
    let digest = Sha256::digest(recipe);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    hex[..12].to_string()
}

/// This boot's id (`/proc/sys/kernel/random/boot_id`), empty when unreadable.
pub fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// The labels of everything made for `run_id` by this process.
pub fn run_labels(run_id: &str) -> HashMap<String, String> {
    HashMap::from([
        (LABEL_RUN.to_string(), run_id.to_string()),
        (LABEL_OWNER.to_string(), std::process::id().to_string()),
        (LABEL_BOOT.to_string(), boot_id()),
    ])
}

/// A client of the local engine (`DOCKER_HOST` or `/var/run/docker.sock`); makes no call.
pub fn client() -> Result<Docker, BackendError> {
    let docker = Docker::connect_with_local_defaults().map_err(|e| no_engine(&e))?;
    Ok(docker.with_timeout(Duration::from_secs(CALL_TIMEOUT_SECS)))
}

/// There is no engine to talk to: what happened, and what sets one up.
fn no_engine(e: &dyn std::fmt::Display) -> BackendError {
    BackendError::Engine(format!(
        "no Docker engine answers ({e}): the containers backend needs one; `scripts/setup containers` installs and starts it"
    ))
}

/// A client whose engine answered, at the engine's API version (bollard speaks a newer one by
/// default; Debian's engine answers at 1.41).
pub async fn connect() -> Result<Docker, BackendError> {
    client()?
        .negotiate_version()
        .await
        .map_err(|e| no_engine(&e))
}

/// `image` must be on the engine already: no registry is ever asked.
pub async fn require_image(docker: &Docker, image: &str) -> Result<(), BackendError> {
    match docker.inspect_image(image).await {
        Ok(_) => Ok(()),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Err(BackendError::Engine(format!(
            "image {image} is not on the engine: `scripts/setup containers` builds it"
        ))),
        Err(e) => Err(engine_error(&e)),
    }
}

/// An engine error as a backend error.
pub fn engine_error(e: &bollard::errors::Error) -> BackendError {
    BackendError::Engine(e.to_string())
}

/// Runs `job` on a thread of its own with its own runtime and client, and waits for it: for
/// `Drop`, which may run on a panic, inside or outside a runtime.
pub fn blocking<F>(job: impl FnOnce(Docker) -> F + Send + 'static)
where
    F: std::future::Future<Output = ()> + 'static,
{
    let worker = std::thread::spawn(move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        let Ok(docker) = client() else {
            return;
        };
        runtime.block_on(job(docker));
    });
    let _ = worker.join();
}

/// Removes a container and what runs in it, whatever its state.
pub async fn force_remove(docker: &Docker, id: &str) {
    let options = RemoveContainerOptions {
        force: true,
        v: true,
        ..Default::default()
    };
    match docker.remove_container(id, Some(options)).await {
        Ok(()) => {}
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => {}
        Err(e) => tracing::warn!(container = %id, error = %e, "cannot remove container"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_base_image_is_tagged_by_its_recipe_s_hash() {
        let image = base_image();
        let (repository, tag) = image.split_once(':').expect("a tag");
        assert_eq!(repository, BASE_REPOSITORY);
        assert_eq!(tag.len(), 12);
        assert!(tag.chars().all(|c| c.is_ascii_hexdigit()), "{tag}");
    }

    #[test]
    fn a_run_s_labels_name_the_run_and_its_owner() {
        let labels = run_labels("run-1-2-3");
        assert_eq!(labels[LABEL_RUN], "run-1-2-3");
        assert_eq!(labels[LABEL_OWNER], std::process::id().to_string());
        assert!(labels.contains_key(LABEL_BOOT));
    }
}
