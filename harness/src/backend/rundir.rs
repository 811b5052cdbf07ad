//! The run folder: one private temp folder per run, removed at teardown, and the sweep that
//! removes what a killed run left behind.
//!
//! Every child the harness starts carries `CLAWCHAOS_RUN_ID` in its environment, so a later run
//! can find exactly the processes of a dead run (and nothing else) by reading `/proc`.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// The environment variable naming the run a child belongs to.
pub const RUN_ID_ENV: &str = "CLAWCHAOS_RUN_ID";
const OWNER_FILE: &str = "owner.pid";
const KEEP_FILE: &str = "keep";

/// A run's private folder; removed on drop.
#[derive(Debug)]
pub struct RunDir {
    path: PathBuf,
    id: String,
    keep: bool,
}

impl RunDir {
    /// The parent of every run folder: `$TMPDIR/clawchaos`.
    pub fn root() -> PathBuf {
        std::env::temp_dir().join("clawchaos")
    }

    /// Sweeps dead runs, then creates a fresh run folder under [`Self::root`].
    pub fn create() -> std::io::Result<Self> {
        let root = Self::root();
        std::fs::create_dir_all(&root)?;
        sweep_dead_runs(&root);
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let pid = std::process::id();
        for attempt in 0..1000u32 {
            let id = format!("run-{pid}-{millis}-{attempt}");
            let path = root.join(&id);
            match std::fs::create_dir(&path) {
                Ok(()) => {
                    std::fs::write(path.join(OWNER_FILE), pid.to_string())?;
                    return Ok(Self {
                        path,
                        id,
                        keep: false,
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(std::io::Error::other("no free run folder name"))
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The run id (the folder's name).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Keeps the folder after the run (for debugging with `--keep`); later sweeps leave it.
    pub fn keep(&mut self) {
        self.keep = true;
        let _ = std::fs::write(self.path.join(KEEP_FILE), "kept with --keep\n");
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if !self.keep
            && let Err(e) = std::fs::remove_dir_all(&self.path)
        {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot remove run folder");
        }
    }
}

/// Removes the folders of runs whose harness process is gone, after killing any process
/// still carrying that run's id.
pub fn sweep_dead_runs(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(id) = path
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_string)
        else {
            continue;
        };
        if !id.starts_with("run-") {
            continue;
        }
        let owner = std::fs::read_to_string(path.join(OWNER_FILE))
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok());
        let alive = owner.is_some_and(|pid| kill(Pid::from_raw(pid), None).is_ok());
        if alive {
            continue;
        }
        let killed = kill_processes_of_run(&id);
        if killed > 0 {
            tracing::warn!(run = %id, processes = killed, "killed processes left by a dead run");
        }
        if path.join(KEEP_FILE).exists() {
            continue;
        }
        match std::fs::remove_dir_all(&path) {
            Ok(()) => tracing::info!(run = %id, "removed the folder of a dead run"),
            Err(e) => tracing::warn!(run = %id, error = %e, "cannot remove a dead run's folder"),
        }
    }
}

/// SIGKILLs every process whose environment says it belongs to `run_id`; returns how many.
pub fn kill_processes_of_run(run_id: &str) -> usize {
    let needle = format!("{RUN_ID_ENV}={run_id}");
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let mut killed = 0;
    for entry in procs.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        if environ
            .split(|b| *b == 0)
            .any(|var| var == needle.as_bytes())
            && kill(Pid::from_raw(pid), Signal::SIGKILL).is_ok()
        {
            killed += 1;
        }
    }
    killed
}
