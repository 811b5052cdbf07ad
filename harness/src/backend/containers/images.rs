//! The images services run from, beyond the base image: OpenClaw's (built by
//! `scripts/provision-containers` from the provisioned install, or the user's own named by
//! `CLAWCHAOS_OPENCLAW_IMAGE`), found on the engine before a run starts (a missing image would
//! otherwise make the engine ask a registry), with the OpenClaw version read from it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{CreateContainerOptions, LogsOptions, WaitContainerOptions};
use futures_util::StreamExt as _;

use super::super::Installed;
use super::engine;
use crate::scenario::version::Version;
use crate::services::openclaw::install::{
    PINNED_NODE, PINNED_OPENCLAW, default_cache, parse_version, wanted_version,
};

/// The variable naming a user's own OpenClaw image.
pub const OPENCLAW_IMAGE_ENV: &str = "CLAWCHAOS_OPENCLAW_IMAGE";
/// The label an image states its OpenClaw version with (ours has it).
const VERSION_LABEL: &str = "org.openclaw.version";
/// Where OpenClaw's Control UI is in our image.
const CONTROL_UI_IN_IMAGE: &str = "/opt/openclaw/node_modules/openclaw/dist/control-ui";

/// RabbitMQ's image recipe (`images/rabbitmq.Dockerfile`).
const RABBITMQ_DOCKERFILE: &[u8] = include_bytes!("../../../../images/rabbitmq.Dockerfile");

/// The base image's hash (its tag).
fn base_hash() -> String {
    engine::base_image()
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Our OpenClaw image: `clawchaos/openclaw:<openclaw>-node<node>-<base image's hash>`, as
/// `scripts/provision-containers` tags it; of the pinned release unless `release` names
/// another (on the Node it was provisioned with).
pub fn our_openclaw_image(release: Option<&Version>) -> String {
    let (openclaw, node) = match release {
        None => (PINNED_OPENCLAW.to_string(), PINNED_NODE.to_string()),
        Some(release) => (release.to_string(), provisioned_node(release)),
    };
    format!("clawchaos/openclaw:{openclaw}-node{node}-{}", base_hash())
}

/// The Node `release` was provisioned with (the pinned one when it is not provisioned).
fn provisioned_node(release: &Version) -> String {
    crate::services::openclaw::releases::provisioned_home(release)
        .and_then(|home| {
            let name = home.file_name()?.to_str()?.to_string();
            let (_, node) = name.rsplit_once("-node-")?;
            Some(node.to_string())
        })
        .unwrap_or_else(|| PINNED_NODE.to_string())
}

/// RabbitMQ's image: `clawchaos/rabbitmq:<recipe's hash>-<base image's hash>`, as
/// `scripts/provision-containers` tags it.
pub fn rabbitmq_image() -> String {
    format!(
        "clawchaos/rabbitmq:{}-{}",
        engine::content_hash(RABBITMQ_DOCKERFILE),
        base_hash()
    )
}

/// The OpenClaw image runs use: ours of `release` when one is pinned, else the user's
/// (`CLAWCHAOS_OPENCLAW_IMAGE`), else ours.
pub fn openclaw_image(release: Option<&Version>) -> (String, bool) {
    match std::env::var(OPENCLAW_IMAGE_ENV) {
        Ok(image) if !image.trim().is_empty() && release.is_none() => {
            (image.trim().to_string(), true)
        }
        _ => (our_openclaw_image(release), false),
    }
}

/// OpenClaw as the containers backend runs it: `openclaw` from its image, the version the
/// image states (its label), else what `openclaw --version` prints in it (read once per
/// image), checked against `release` (else `CLAWCHAOS_OPENCLAW_VERSION`).
pub async fn openclaw(
    docker: &Docker,
    run_id: &str,
    release: Option<&Version>,
) -> Result<Installed, String> {
    let (image, users) = openclaw_image(release);
    let inspect = match docker.inspect_image(&image).await {
        Ok(inspect) => inspect,
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) if users => {
            return Err(format!(
                "{OPENCLAW_IMAGE_ENV}={image}: no such image on the engine (build or load it first; no registry is asked)"
            ));
        }
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => {
            return Err(match release {
                None => format!(
                    "image {image} is not on the engine: `scripts/setup openclaw containers` builds it"
                ),
                Some(release) => format!(
                    "image {image} is not on the engine: `clawchaos run --backend containers --openclaw {release}` builds it, or CLAWCHAOS_OPENCLAW_VERSION={release} scripts/provision-containers"
                ),
            });
        }
        Err(e) => return Err(e.to_string()),
    };
    let labelled = inspect
        .config
        .as_ref()
        .and_then(|c| c.labels.as_ref())
        .and_then(|l| l.get(VERSION_LABEL))
        .filter(|v| !v.trim().is_empty())
        .cloned();
    let version = match labelled {
        Some(v) => v,
        None => version_by_running(docker, &image, inspect.id.as_deref(), run_id).await?,
    };
    let version = match release {
        Some(release) if Version::parse(&version).as_ref() != Some(release) => {
            return Err(format!(
                "image {image} has OpenClaw {version}, but the run asks for {release}"
            ));
        }
        Some(_) => version,
        None => wanted_version(&format!("image {image}"), version).map_err(|e| e.to_string())?,
    };
    Ok(Installed {
        command: vec!["openclaw".to_string()],
        tool: Some(vec!["openclaw".to_string()]),
        env: Vec::new(),
        version: Some(version),
        assets: (!users).then(|| PathBuf::from(CONTROL_UI_IN_IMAGE)),
        cache: Some(default_cache().join("node-compile-cache-containers")),
        image: Some(image),
    })
}

/// `openclaw --version` in a throwaway container of `image` (no network), once per image id.
async fn version_by_running(
    docker: &Docker,
    image: &str,
    id: Option<&str>,
    run_id: &str,
) -> Result<String, String> {
    static SEEN: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());
    let key = id.unwrap_or(image).to_string();
    if let Some(v) = SEEN
        .lock()
        .ok()
        .and_then(|seen| seen.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone()))
    {
        return Ok(v);
    }
    let mut labels: HashMap<String, String> = engine::run_labels(run_id);
    labels.insert(engine::LABEL_ROLE.into(), "probe".into());
    let body = ContainerCreateBody {
        image: Some(image.to_string()),
        cmd: Some(vec!["openclaw".into(), "--version".into()]),
        env: Some(vec!["NO_COLOR=1".into()]),
        labels: Some(labels),
        host_config: Some(HostConfig {
            network_mode: Some("none".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let created = docker
        .create_container(None::<CreateContainerOptions>, body)
        .await
        .map_err(|e| format!("cannot read OpenClaw's version from {image}: {e}"))?;
    let result = async {
        docker
            .start_container(&created.id, None)
            .await
            .map_err(|e| e.to_string())?;
        let _ = docker
            .wait_container(&created.id, None::<WaitContainerOptions>)
            .next()
            .await;
        let mut text = String::new();
        let mut logs = docker.logs(
            &created.id,
            Some(LogsOptions {
                stdout: true,
                stderr: true,
                ..Default::default()
            }),
        );
        while let Some(Ok(chunk)) = logs.next().await {
            text.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
        }
        parse_version(&text)
            .ok_or_else(|| format!("`openclaw --version` printed {:?}", text.trim()))
    }
    .await;
    engine::force_remove(docker, &created.id).await;
    let version =
        result.map_err(|e| format!("cannot read OpenClaw's version from {image}: {e}"))?;
    if let Ok(mut seen) = SEEN.lock() {
        seen.push((key, version.clone()));
    }
    Ok(version)
}
