//! The reaper: a small process beside each run that outlives the harness, so that a harness
//! killed with SIGKILL (no `Drop`, no signal handler) still leaves nothing running.
//!
//! It is the `clawchaos` program (`clawchaos reap`, hidden), started when a run opens, in a
//! process group of its own (Ctrl-C at a terminal does not reach it) and without the run's id
//! in its environment (the sweep it does would find itself). It reads its stdin, a pipe from
//! the harness, until end of file: the harness closes it when the run's scope is dropped,
//! after its teardown, and the kernel closes it when the harness dies, whatever killed it.
//! Then it removes what is left of the run (a no-op after a teardown): the processes carrying
//! the run's id, the run's containers and network (found by label), the run folder (unless
//! kept), and exits.
//!
//! Where `clawchaos` is not built (a test binary run alone), a run goes without one, with a
//! warning; the next run's sweep still removes what a killed one left.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::rundir::{RUN_ID_ENV, kill_processes_of_run, remove_run_folder};

/// What a run's reaper removes besides processes and the folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leftovers {
    /// Processes only (the process backend).
    Processes,
    /// Containers and the network, found by the run's label, too.
    Containers,
}

/// A run's reaper, as the harness holds it: dropping it (last, after the run's teardown)
/// closes its pipe, so it checks once and exits.
#[derive(Debug)]
pub struct Reaper {
    child: Child,
}

impl Reaper {
    /// Starts the reaper of run `run_id` (folder `dir`); `None`, with a warning, when the
    /// `clawchaos` program is not there or cannot start.
    pub fn start(run_id: &str, dir: &Path, leftovers: Leftovers) -> Option<Self> {
        let program = match crate::backend::ports::our_binary(
            "clawchaos",
            "CLAWCHAOS_BIN",
            "clawchaos",
        ) {
            Ok(path) => path,
            Err(e) => {
                tracing::warn!(error = %e, "no reaper for this run: a SIGKILLed harness leaves its services until the next run");
                return None;
            }
        };
        let mut command = Command::new(&program);
        command
            .arg("reap")
            .arg("--run")
            .arg(run_id)
            .arg("--folder")
            .arg(dir);
        if leftovers == Leftovers::Containers {
            command.arg("--containers");
        }
        use std::os::unix::process::CommandExt as _;
        let spawned = command
            .env_remove(RUN_ID_ENV)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn();
        match spawned {
            Ok(child) => Some(Self { child }),
            Err(e) => {
                tracing::warn!(program = %program.display(), error = %e, "cannot start the run's reaper");
                None
            }
        }
    }

    /// The reaper's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        // Closing the pipe is the signal; then a short wait, so that it is not left a zombie.
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            match self.child.try_wait() {
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                _ => return,
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The reaper's side (`clawchaos reap`): waits for end of file on stdin, then removes what is
/// left of the run. Returns how many processes it killed.
pub fn reap(run_id: &str, folder: &Path, leftovers: Leftovers) -> usize {
    let mut stdin = std::io::stdin();
    let mut buf = [0u8; 64];
    // Nothing is ever written: this returns at end of file (or on an error, the same).
    while matches!(stdin.read(&mut buf), Ok(n) if n > 0) {}
    remove_leftovers(run_id, folder, leftovers)
}

/// Removes the run's processes, containers and network, and its folder unless kept; returns
/// how many processes were killed.
pub fn remove_leftovers(run_id: &str, folder: &Path, leftovers: Leftovers) -> usize {
    let killed = kill_processes_of_run(run_id);
    if leftovers == Leftovers::Containers
        && let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    {
        runtime.block_on(async {
            if let Ok(docker) = super::containers::engine::client() {
                super::containers::sweep::sweep(&docker, Some(run_id)).await;
            }
        });
    }
    remove_run_folder(&PathBuf::from(folder));
    killed
}
