//! What runs killed before their teardown left on the engine: containers and networks whose
//! labels name an owner that is gone (its pid no longer runs, or it ran in another boot).
//! Found by label, never by name; removed before a new run starts.

use std::collections::{BTreeMap, HashMap};

use bollard::Docker;
use bollard::query_parameters::{ListContainersOptions, ListNetworksOptions};
use nix::sys::signal::kill;
use nix::unistd::Pid;

use super::engine::{self, LABEL_BOOT, LABEL_OWNER, LABEL_RUN};

/// Whether the owner named by `labels` is gone: a pid that no longer runs, or one of another
/// boot. Without an owner label, nothing is known: not gone.
pub fn owner_gone(labels: &HashMap<String, String>, boot: &str) -> bool {
    let Some(pid) = labels.get(LABEL_OWNER).and_then(|p| p.parse::<i32>().ok()) else {
        return false;
    };
    if labels.get(LABEL_BOOT).is_some_and(|b| b != boot) {
        return true;
    }
    kill(Pid::from_raw(pid), None).is_err()
}

/// Removes the containers, then the networks, of runs whose owner is gone (or, with `only`,
/// of that run alone, whoever owned it); returns the runs swept.
pub async fn sweep(docker: &Docker, only: Option<&str>) -> Vec<String> {
    let boot = engine::boot_id();
    let filter = match only {
        Some(run) => format!("{LABEL_RUN}={run}"),
        None => LABEL_RUN.to_string(),
    };
    let filters = HashMap::from([("label".to_string(), vec![filter])]);
    let dead = |labels: &HashMap<String, String>| only.is_some() || owner_gone(labels, &boot);
    let mut swept: BTreeMap<String, usize> = BTreeMap::new();

    let containers = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(filters.clone()),
            ..Default::default()
        }))
        .await
        .unwrap_or_default();
    // Services before pods: a pod goes last, as in a teardown.
    let (pods, services): (Vec<_>, Vec<_>) = containers.into_iter().partition(|c| {
        c.labels
            .as_ref()
            .and_then(|l| l.get(engine::LABEL_ROLE))
            .is_some_and(|r| r == "pod")
    });
    for container in services.into_iter().chain(pods) {
        let labels = container.labels.unwrap_or_default();
        let (Some(id), Some(run)) = (container.id, labels.get(LABEL_RUN)) else {
            continue;
        };
        if dead(&labels) {
            engine::force_remove(docker, &id).await;
            *swept.entry(run.clone()).or_default() += 1;
        }
    }

    let networks = docker
        .list_networks(Some(ListNetworksOptions {
            filters: Some(filters),
        }))
        .await
        .unwrap_or_default();
    for network in networks {
        let labels = network.labels.unwrap_or_default();
        let (Some(name), Some(run)) = (network.name, labels.get(LABEL_RUN)) else {
            continue;
        };
        if dead(&labels) {
            match docker.remove_network(&name).await {
                Ok(()) => {
                    swept.entry(run.clone()).or_default();
                }
                Err(e) => {
                    tracing::warn!(network = %name, error = %e, "cannot remove a dead run's network")
                }
            }
        }
    }
    for (run, containers) in &swept {
        tracing::warn!(%run, containers, "removed what a dead run left on the engine");
    }
    swept.into_keys().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(owner: &str, boot: &str) -> HashMap<String, String> {
        HashMap::from([
            (LABEL_OWNER.to_string(), owner.to_string()),
            (LABEL_BOOT.to_string(), boot.to_string()),
        ])
    }

    #[test]
    fn an_owner_is_gone_when_its_pid_is_gone_or_of_another_boot() {
        let me = std::process::id().to_string();
        assert!(!owner_gone(&labels(&me, "this-boot"), "this-boot"));
        assert!(owner_gone(&labels(&me, "another-boot"), "this-boot"));
        // Past the kernel's largest pid (4194304): no such process.
        assert!(owner_gone(&labels("2147483647", "this-boot"), "this-boot"));
        assert!(
            !owner_gone(&HashMap::new(), "this-boot"),
            "no owner, no verdict"
        );
    }
}
