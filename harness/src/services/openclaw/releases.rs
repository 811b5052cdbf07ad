//! OpenClaw's published releases (npm keeps every one) and getting one onto this machine: what
//! the version matrix (`clawchaos run --openclaw`) and bisect choose from.
//!
//! The list comes from `npm view openclaw versions`; a release is installed on demand by
//! `scripts/provision-openclaw` into the cache folder, one folder per release, and found there
//! afterwards without asking the registry again.

use std::path::{Path, PathBuf};

use super::install::{OpenClawInstall, PINNED_NODE, default_cache};
use crate::scenario::version::Version;

/// A release could not be listed, found or installed.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    /// The registry's list could not be read.
    #[error("cannot list OpenClaw's published releases (`npm view openclaw versions --json`): {0}")]
    Unlisted(String),
    /// The release asked for is not published.
    #[error("openclaw@{wanted} is not published on npm; the nearest published: {}", nearest.join(", "))]
    Unpublished {
        /// What was asked for.
        wanted: String,
        /// The published releases nearest to it.
        nearest: Vec<String>,
    },
    /// `scripts/provision-openclaw` failed.
    #[error("cannot install openclaw@{release} ({script}): {why}")]
    Provision {
        /// The release.
        release: String,
        /// The script run.
        script: String,
        /// What it said.
        why: String,
    },
}

/// Every published OpenClaw release, oldest first (pre-releases included), from the npm
/// registry; read once per command.
pub fn published() -> Result<Vec<Version>, ReleaseError> {
    static LISTED: std::sync::OnceLock<Result<Vec<Version>, String>> = std::sync::OnceLock::new();
    LISTED
        .get_or_init(|| {
            let output = std::process::Command::new("npm")
                .args(["view", "openclaw", "versions", "--json"])
                .stdin(std::process::Stdio::null())
                .output()
                .map_err(|e| format!("npm: {e}"))?;
            if !output.status.success() {
                return Err(last_line(&output.stderr, output.status));
            }
            parse_published(&String::from_utf8_lossy(&output.stdout))
        })
        .clone()
        .map_err(ReleaseError::Unlisted)
}

/// The versions in npm's JSON list, sorted, anything that is not a calendar version left out
/// (the package's `0.0.1` placeholder is kept: it sorts first and is never chosen by a range).
pub fn parse_published(json: &str) -> Result<Vec<Version>, String> {
    let listed: Vec<String> =
        serde_json::from_str(json).map_err(|e| format!("not a JSON list: {e}"))?;
    let mut versions: Vec<Version> = listed.iter().filter_map(|v| Version::parse(v)).collect();
    versions.sort();
    versions.dedup();
    Ok(versions)
}

/// Whether each release in `wanted` can be run: provisioned here already, else published (the
/// registry is asked only then). The error names the nearest published releases.
pub fn check_available(wanted: &[Version]) -> Result<(), ReleaseError> {
    let missing: Vec<&Version> = wanted
        .iter()
        .filter(|r| provisioned_home(r).is_none())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let published = published()?;
    missing
        .into_iter()
        .try_for_each(|r| check_published(&published, r))
}

/// `wanted` when it is published, else the error naming the published releases nearest to it
/// (the one just before and the one just after, and the newest).
pub fn check_published(published: &[Version], wanted: &Version) -> Result<(), ReleaseError> {
    if published.contains(wanted) {
        return Ok(());
    }
    Err(ReleaseError::Unpublished {
        wanted: wanted.to_string(),
        nearest: nearest(published, wanted)
            .iter()
            .map(ToString::to_string)
            .collect(),
    })
}

/// The published releases on either side of `wanted` (pre-releases left out unless `wanted` is
/// one), then the newest release, without repeats.
pub fn nearest(published: &[Version], wanted: &Version) -> Vec<Version> {
    let candidates: Vec<&Version> = published
        .iter()
        .filter(|v| wanted.is_prerelease() || !v.is_prerelease())
        .collect();
    let after = candidates.partition_point(|v| *v < wanted);
    let mut picked: Vec<Version> = Vec::new();
    for v in [
        after.checked_sub(1).and_then(|i| candidates.get(i)),
        candidates.get(after),
        candidates.last(),
    ]
    .into_iter()
    .flatten()
    {
        if !picked.contains(v) {
            picked.push((*v).clone());
        }
    }
    picked
}

/// The published releases after `good` up to and including `bad` (either way round), oldest
/// first; pre-releases only when `prereleases`.
pub fn between(
    published: &[Version],
    good: &Version,
    bad: &Version,
    prereleases: bool,
) -> Vec<Version> {
    let (low, high) = if good <= bad {
        (good, bad)
    } else {
        (bad, good)
    };
    published
        .iter()
        .filter(|v| *v > low && *v <= high)
        .filter(|v| prereleases || !v.is_prerelease() || *v == high)
        .cloned()
        .collect()
}

/// The folder `release` is provisioned in, if it is: on the pinned Node when there is one,
/// else on whichever Node its `engines` chose.
pub fn provisioned_home(release: &Version) -> Option<PathBuf> {
    provisioned_home_in(&default_cache(), release)
}

fn provisioned_home_in(cache: &Path, release: &Version) -> Option<PathBuf> {
    let prefix = format!("openclaw-{release}-node-");
    let pinned = cache.join(format!("{prefix}{PINNED_NODE}"));
    if pinned.join(".complete").is_file() {
        return Some(pinned);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir(cache)
        .ok()?
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .and_then(|name| name.strip_prefix(&prefix))
                .is_some_and(|node| !node.contains(".partial"))
        })
        .map(|e| e.path())
        .filter(|home| home.join(".complete").is_file())
        .collect();
    found.sort();
    found.pop()
}

/// OpenClaw `release`, installed first if it is not (by `scripts/provision-openclaw`, about
/// 30 s and 600 MB each; its progress goes to this process's stderr).
pub fn provision(release: &Version) -> Result<OpenClawInstall, ReleaseError> {
    if let Some(install) =
        provisioned_home(release).and_then(|home| OpenClawInstall::from_home(&home).ok())
    {
        return Ok(install);
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/provision-openclaw");
    let failed = |why: String| ReleaseError::Provision {
        release: release.to_string(),
        script: script.display().to_string(),
        why,
    };
    tracing::info!("installing openclaw@{release} (scripts/provision-openclaw)");
    let output = std::process::Command::new(&script)
        .env("CLAWCHAOS_OPENCLAW_VERSION", release.to_string())
        .env_remove("CLAWCHAOS_NODE_VERSION")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| failed(e.to_string()))?;
    if !output.status.success() {
        return Err(failed(format!("it exited with {}", output.status)));
    }
    let home = String::from_utf8_lossy(&output.stdout).trim().to_string();
    OpenClawInstall::from_home(Path::new(&home)).map_err(|e| failed(e.to_string()))
}

fn last_line(stderr: &[u8], status: std::process::ExitStatus) -> String {
    let text = String::from_utf8_lossy(stderr);
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map_or_else(|| format!("npm exited with {status}"), str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        Version::parse(text).expect("a version")
    }

    fn listed() -> Vec<Version> {
        parse_published(
            r#"["0.0.1","2026.3.13","2026.3.22","2026.7.1-beta.1","2026.7.1","2026.7.2-beta.1",
                "2026.7.33","2026.8.1-beta.1","2026.8.1","2026.9.6"]"#,
        )
        .expect("the list")
    }

    #[test]
    fn an_unpublished_release_is_answered_with_its_neighbours_and_the_newest() {
        let published = listed();
        let err = check_published(&published, &v("2026.7.2")).expect_err("not published");
        assert_eq!(
            err.to_string(),
            "openclaw@2026.7.2 is not published on npm; the nearest published: 2026.7.1, 2026.7.33, 2026.9.6"
        );
        assert!(check_published(&published, &v("2026.7.1")).is_ok());
        assert_eq!(nearest(&published, &v("2099.1.1")), vec![v("2026.9.6")]);
        assert_eq!(
            nearest(&published, &v("2026.7.2-beta.2")),
            vec![v("2026.7.2-beta.1"), v("2026.7.33"), v("2026.9.6")]
        );
    }

    #[test]
    fn releases_between_two_leave_out_pre_releases_unless_asked() {
        let published = listed();
        assert_eq!(
            between(&published, &v("2026.7.1"), &v("2026.9.6"), false),
            vec![v("2026.7.33"), v("2026.8.1"), v("2026.9.6")]
        );
        assert_eq!(
            between(&published, &v("2026.9.6"), &v("2026.7.1"), true),
            vec![
                v("2026.7.2-beta.1"),
                v("2026.7.33"),
                v("2026.8.1-beta.1"),
                v("2026.8.1"),
                v("2026.9.6")
            ]
        );
    }

    #[test]
    fn a_provisioned_release_is_found_on_whichever_node_it_was_installed_with() {
        let cache = std::env::temp_dir().join(format!("clawchaos-releases-{}", std::process::id()));
        let release = v("2026.3.13");
        assert_eq!(provisioned_home_in(&cache, &release), None);
        let other = cache.join("openclaw-2026.3.13-node-24.22.3");
        std::fs::create_dir_all(&other).expect("folder");
        std::fs::create_dir_all(cache.join("openclaw-2026.3.13-node-25.0.0.partial.7"))
            .expect("folder");
        assert_eq!(provisioned_home_in(&cache, &release), None, "not complete");
        std::fs::write(other.join(".complete"), "").expect("stamp");
        assert_eq!(provisioned_home_in(&cache, &release), Some(other));
        let pinned = cache.join(format!("openclaw-2026.3.13-node-{PINNED_NODE}"));
        std::fs::create_dir_all(&pinned).expect("folder");
        std::fs::write(pinned.join(".complete"), "").expect("stamp");
        assert_eq!(provisioned_home_in(&cache, &release), Some(pinned));
        let _ = std::fs::remove_dir_all(&cache);
    }
}
