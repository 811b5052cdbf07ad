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
/// Tries at removing a run folder.
const REMOVE_ATTEMPTS: u32 = 5;
/// The pause between two tries.
const REMOVE_RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(100);
/// The prefix of a run folder being made (see [`RunDir::create`]).
const DRAFT_PREFIX: &str = ".draft-";

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

    /// Creates a fresh run folder under [`Self::root`]. Sweeping what dead runs left is the
    /// backend's part, before it opens a run ([`super::Backend::open_run`]).
    pub fn create() -> std::io::Result<Self> {
        let root = Self::root();
        std::fs::create_dir_all(&root)?;
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let pid = std::process::id();
        for attempt in 0..1000u32 {
            let id = format!("run-{pid}-{millis}-{attempt}");
            // Made under a name the sweep ignores and renamed once it names its owner: a
            // concurrent sweep (another run, even in this process) must never see a run
            // folder without an owner, or it removes it as a dead run's.
            let draft = root.join(format!("{DRAFT_PREFIX}{id}"));
            match std::fs::create_dir(&draft) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
            let path = root.join(&id);
            let named = std::fs::write(draft.join(OWNER_FILE), pid.to_string())
                .and_then(|()| std::fs::rename(&draft, &path));
            match named {
                Ok(()) => {
                    return Ok(Self {
                        path,
                        id,
                        keep: false,
                    });
                }
                Err(e) => {
                    let _ = std::fs::remove_dir_all(&draft);
                    // A run folder of that name exists already (renaming onto it fails).
                    if !path.exists() {
                        return Err(e);
                    }
                }
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
        if self.keep {
            return;
        }
        // A service killed a moment ago may still write a last file while the folder goes
        // (seen when a run is dropped on Ctrl-C): try again briefly before giving up.
        let mut last = None;
        for _ in 0..REMOVE_ATTEMPTS {
            match std::fs::remove_dir_all(&self.path) {
                Ok(()) => return,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
                Err(e) => last = Some(e),
            }
            std::thread::sleep(REMOVE_RETRY_PAUSE);
        }
        if let Some(e) = last {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot remove run folder");
        }
    }
}

/// Removes a run folder, unless it was kept (`--keep`); nothing to do when it is gone already.
pub fn remove_run_folder(path: &Path) {
    if path.join(KEEP_FILE).exists() {
        return;
    }
    match std::fs::remove_dir_all(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(path = %path.display(), error = %e, "cannot remove run folder"),
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
        if let Some(draft) = id.strip_prefix(DRAFT_PREFIX) {
            sweep_dead_draft(&path, draft);
            continue;
        }
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

/// Removes a draft folder (`.draft-run-{pid}-…`, see [`RunDir::create`]) whose maker is gone:
/// one killed between making it and renaming it. Nothing was started in it, so there is
/// nothing to kill. The maker's pid is in the name, since a draft may not have its owner file.
fn sweep_dead_draft(path: &Path, draft_id: &str) {
    let maker = draft_id
        .strip_prefix("run-")
        .and_then(|rest| rest.split('-').next())
        .and_then(|pid| pid.parse::<i32>().ok());
    let Some(maker) = maker else {
        return;
    };
    if kill(Pid::from_raw(maker), None).is_ok() {
        return;
    }
    match std::fs::remove_dir_all(path) {
        Ok(()) => tracing::info!(draft = %draft_id, "removed a dead run's draft folder"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(draft = %draft_id, error = %e, "cannot remove a draft folder"),
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Runs made side by side in one process, each sweeping as it starts: no sweep may take
    /// another live run's folder (seen in CI: a token key vanished from a run being made).
    #[test]
    fn a_sweep_never_removes_a_run_being_made() {
        let sweeping = Arc::new(AtomicBool::new(true));
        let sweepers: Vec<_> = (0..2)
            .map(|_| {
                let sweeping = Arc::clone(&sweeping);
                std::thread::spawn(move || {
                    while sweeping.load(Ordering::Relaxed) {
                        sweep_dead_runs(&RunDir::root());
                    }
                })
            })
            .collect();
        let makers: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(|| {
                    (0..100)
                        .map(|_| RunDir::create().expect("a run folder"))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let runs: Vec<RunDir> = makers
            .into_iter()
            .flat_map(|m| m.join().expect("maker thread"))
            .collect();
        sweeping.store(false, Ordering::Relaxed);
        for s in sweepers {
            s.join().expect("sweeper thread");
        }
        let gone: Vec<_> = runs
            .iter()
            .filter(|r| !r.path().join(OWNER_FILE).is_file())
            .map(|r| r.id().to_string())
            .collect();
        assert!(gone.is_empty(), "swept while alive: {gone:?}");
    }

    /// A draft left by a maker that died before renaming it is swept; a live maker's is not.
    #[test]
    fn a_dead_makers_draft_is_swept_and_a_live_ones_kept() {
        let root = tempfile::tempdir().expect("temp dir");
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("spawn true");
        let dead = child.id();
        child.wait().expect("wait for true");
        let dead_draft = root.path().join(format!("{DRAFT_PREFIX}run-{dead}-1-0"));
        let live_draft = root
            .path()
            .join(format!("{DRAFT_PREFIX}run-{}-1-0", std::process::id()));
        for d in [&dead_draft, &live_draft] {
            std::fs::create_dir(d).expect("draft folder");
        }
        sweep_dead_runs(root.path());
        assert!(!dead_draft.exists(), "a dead maker's draft was left");
        assert!(live_draft.exists(), "a live maker's draft was swept");
    }
}
