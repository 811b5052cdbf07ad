//! Teardown is guaranteed: after a run that panics mid-way, or a harness killed with SIGKILL,
//! no process, listening port or run folder of that run remains.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clawchaos::backend::rundir::{RUN_ID_ENV, sweep_dead_runs};
use clawchaos::observer::{Observer, RunEvent, RunName};
use clawchaos::runner::{RunOptions, Runner};
use clawchaos::scenario::parse_str;
use nix::sys::signal::kill;
use nix::unistd::Pid;

/// Two services: one a plain server, one a shell whose child (a grandchild of the harness)
/// also listens, to prove the whole process group goes.
pub(crate) const SCENARIO: &str = r#"
name = "teardown"

[services.web]
kind = "process"
command = ["python3", "-m", "http.server", "{port}", "--bind", "{host}", "--directory", "{service_dir}"]

[services.nested]
kind = "process"
command = ["sh", "-c", "python3 -m http.server {port} --bind {host} --directory {service_dir} & wait"]

[probes.up]
kind = "tcp"
service = "web"

[steady_state]
probes = ["up"]

[[faults]]
name = "pause"
kind = "pause"
service = "web"
at = "100ms"
duration = "30s"

[[expect]]
kind = "detect"
fault = "pause"
probe = "up"
within = "30s"
"#;

#[derive(Default)]
pub(crate) struct Seen {
    pub(crate) pids: Vec<u32>,
    pub(crate) addrs: Vec<SocketAddr>,
    pub(crate) run_folder: Option<PathBuf>,
}

/// Records what the run started, and panics as soon as the fault is injected.
pub(crate) struct PanicOnFault(pub(crate) Arc<Mutex<Seen>>);

impl Observer for PanicOnFault {
    fn event(&self, _run: RunName<'_>, event: &RunEvent) {
        let mut seen = self.0.lock().expect("lock");
        match event {
            RunEvent::RunFolder { path } => seen.run_folder = Some(path.clone()),
            RunEvent::ServiceReady { pid, addr, .. } => {
                seen.pids.extend(*pid);
                seen.addrs.push(*addr);
            }
            RunEvent::FaultInjected { .. } => {
                drop(seen);
                panic!("deliberate panic in the middle of a run");
            }
            _ => {}
        }
    }
}

/// A temporary folder of the test's own, removed when the test ends, passed or failed.
pub(crate) struct Scratch(pub(crate) PathBuf);

impl Scratch {
    pub(crate) fn new(prefix: &str) -> Self {
        let path = std::env::temp_dir().join(format!("{prefix}-{}", std::process::id()));
        std::fs::create_dir_all(&path).expect("temp dir");
        Self(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The harness under test, killed if the test ends (an assertion failed) while it still runs.
pub(crate) struct Running(pub(crate) std::process::Child);

impl Running {
    /// `clawchaos run FILE`, with its temporary files and report under `tmp` and its progress
    /// on a pipe.
    pub(crate) fn scenario(file: &Path, tmp: &Path) -> Self {
        Self::scenario_with(file, tmp, &[], &[])
    }

    /// The same, with more arguments (`--backend containers`) and environment.
    pub(crate) fn scenario_with(
        file: &Path,
        tmp: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        Self(
            Command::new(env!("CARGO_BIN_EXE_clawchaos"))
                .args(["run"])
                .arg(file)
                .args(args)
                .arg("--report-dir")
                .arg(tmp.join("report"))
                .env("TMPDIR", tmp)
                .envs(env.iter().copied())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn clawchaos"),
        )
    }

    /// Reads its progress until the fault is injected; returns the run folder it printed and
    /// the pids of the services it started, and the rest of its output, to be drained.
    pub(crate) fn until_fault(
        &mut self,
    ) -> (
        PathBuf,
        Vec<u32>,
        std::io::Lines<BufReader<std::process::ChildStderr>>,
    ) {
        let stderr = self.0.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        let mut pids = Vec::new();
        let mut folder = None;
        for line in lines.by_ref() {
            let line = line.expect("line");
            // Progress lines are tagged with their run: "    [name] run folder /tmp/...".
            if let Some((_, path)) = line.split_once("run folder ") {
                folder = Some(PathBuf::from(path));
            }
            if let Some(pid) = line
                .split("(pid ")
                .nth(1)
                .and_then(|rest| rest.split(')').next())
                .and_then(|p| p.parse::<u32>().ok())
            {
                pids.push(pid);
            }
            if line.contains("fault pause injected") {
                break;
            }
        }
        let folder = folder.expect("the harness printed its run folder");
        (folder, pids, lines)
    }
}

impl std::ops::Deref for Running {
    type Target = std::process::Child;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Running {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn alive(pid: u32) -> bool {
    kill(Pid::from_raw(pid as i32), None).is_ok()
}

pub(crate) fn processes_with_run_id(run_id: &str) -> Vec<u32> {
    let needle = format!("{RUN_ID_ENV}={run_id}");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if let Ok(env) = std::fs::read(entry.path().join("environ"))
            && env.split(|b| *b == 0).any(|v| v == needle.as_bytes())
        {
            found.push(pid);
        }
    }
    found
}

/// Polls `condition` until it holds or `within` passes.
pub(crate) fn eventually(within: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub(crate) fn run_id_of(folder: &Path) -> String {
    folder
        .file_name()
        .and_then(|n| n.to_str())
        .expect("run folder name")
        .to_string()
}

#[test]
fn a_panic_mid_run_leaves_no_process_port_or_folder() {
    let scenario = parse_str(Path::new("teardown.toml"), SCENARIO).expect("valid");
    let seen = Arc::new(Mutex::new(Seen::default()));
    let observer = PanicOnFault(seen.clone());
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let joined = runtime.block_on(async move {
        tokio::spawn(async move {
            Runner::default()
                .run(&scenario, &RunOptions::default(), &observer)
                .await
        })
        .await
    });
    let err = joined.expect_err("the run must have panicked");
    assert!(err.is_panic());

    let seen = seen.lock().expect("lock");
    assert_eq!(seen.pids.len(), 2, "both services started");
    let folder = seen.run_folder.clone().expect("run folder reported");
    let run_id = run_id_of(&folder);
    // The nested service's shell has a python child: the run had at least three processes.
    assert!(
        eventually(Duration::from_secs(10), || seen
            .pids
            .iter()
            .all(|p| !alive(*p))),
        "service processes still alive: {:?}",
        seen.pids
    );
    assert!(
        eventually(Duration::from_secs(10), || processes_with_run_id(&run_id)
            .is_empty()),
        "processes of the run still alive: {:?}",
        processes_with_run_id(&run_id)
    );
    for addr in &seen.addrs {
        assert!(
            std::net::TcpStream::connect_timeout(addr, Duration::from_millis(500)).is_err(),
            "{addr} still accepts connections"
        );
    }
    assert!(
        !folder.exists(),
        "run folder {} still exists",
        folder.display()
    );
    drop(runtime);
}

#[test]
fn without_a_reaper_a_sigkilled_harness_takes_its_children_and_the_next_run_sweeps_its_folder() {
    let scratch = Scratch::new("clawchaos-sigkill");
    let tmp = scratch.0.clone();
    let file = tmp.join("teardown.toml");
    std::fs::write(&file, SCENARIO).expect("scenario file");

    // No reaper (no program where it is looked for): this is the next run's sweep's test.
    let mut harness =
        Running::scenario_with(&file, &tmp, &[], &[("CLAWCHAOS_BIN", "/nonexistent")]);
    let (folder, pids, _rest) = harness.until_fault();
    assert_eq!(pids.len(), 2, "both services started");
    assert!(folder.exists());

    harness.kill().expect("SIGKILL the harness");
    harness.wait().expect("reap the harness");

    assert!(
        eventually(Duration::from_secs(10), || pids.iter().all(|p| !alive(*p))),
        "children outlived a SIGKILLed harness: {pids:?}"
    );
    // The folder is still there: nobody cleaned up. The next run's sweep removes it and any
    // process that still carries the dead run's id (the nested service's grandchild).
    assert!(folder.exists());
    sweep_dead_runs(&tmp.join("clawchaos"));
    assert!(
        !folder.exists(),
        "the sweep did not remove {}",
        folder.display()
    );
    let run_id = run_id_of(&folder);
    assert!(
        eventually(Duration::from_secs(10), || processes_with_run_id(&run_id)
            .is_empty()),
        "processes of the dead run remain"
    );
}

/// The same run with one service whose child leaves its process group (a session of its own,
/// as OpenClaw's detached workers do): out of `killpg`'s reach.
pub(crate) fn detached_scenario() -> String {
    let (_, from_probes) = SCENARIO
        .split_once("[probes.up]")
        .expect("SCENARIO has [probes.up]");
    format!(
        "name = \"detached\"\n\n[services.web]\nkind = \"process\"\n\
         command = [\"sh\", \"-c\", \"setsid python3 -m http.server {{port}} --bind {{host}} --directory {{service_dir}} & wait\"]\n\n\
         [probes.up]{from_probes}"
    )
}

/// Runs the detached scenario until its fault, sends `signal` to the harness and checks, the
/// moment it has exited, that no process and no folder of the run is left; its exit code.
fn interrupted_by(signal: nix::sys::signal::Signal, prefix: &str) -> Option<i32> {
    let scratch = Scratch::new(prefix);
    let tmp = scratch.0.clone();
    let file = tmp.join("detached.toml");
    std::fs::write(&file, detached_scenario()).expect("scenario file");

    let mut harness = Running::scenario(&file, &tmp);
    let (folder, _pids, lines) = harness.until_fault();
    let run_id = run_id_of(&folder);
    assert!(
        processes_with_run_id(&run_id).len() >= 2,
        "sh and the detached python: {:?}",
        processes_with_run_id(&run_id)
    );

    kill(Pid::from_raw(harness.id() as i32), signal).expect("signal the harness");
    // Drain the rest of its output so it never blocks on a full pipe.
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = harness.wait().expect("reap the harness");
    // At once, not eventually: when it says everything was stopped, it was.
    let left: Vec<u32> = processes_with_run_id(&run_id)
        .into_iter()
        .filter(|p| !zombie(*p))
        .collect();
    assert!(
        left.is_empty(),
        "processes of the run outlived it: {left:?}; output: {rest:?}"
    );
    assert!(!folder.exists(), "run folder {} remains", folder.display());
    status.code()
}

#[test]
fn after_ctrl_c_nothing_of_the_run_is_left_when_the_harness_exits() {
    let code = interrupted_by(nix::sys::signal::Signal::SIGINT, "clawchaos-sigint");
    assert_eq!(code, Some(130));
}

#[test]
fn after_sigterm_nothing_of_the_run_is_left_when_the_harness_exits() {
    let code = interrupted_by(nix::sys::signal::Signal::SIGTERM, "clawchaos-sigterm");
    assert_ne!(code, Some(0));
}

pub(crate) fn zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| rest.starts_with('Z')))
        .unwrap_or(true)
}

#[test]
fn within_seconds_of_a_sigkill_the_reaper_has_stopped_every_process_of_the_run() {
    let scratch = Scratch::new("clawchaos-reaper");
    let tmp = scratch.0.clone();
    let file = tmp.join("detached.toml");
    std::fs::write(&file, detached_scenario()).expect("scenario file");

    let mut harness = Running::scenario(&file, &tmp);
    let (folder, _pids, _rest) = harness.until_fault();
    let run_id = run_id_of(&folder);
    // The detached python left the process group and the harness's children: no parent-death
    // signal reaches it.
    assert!(processes_with_run_id(&run_id).len() >= 2);

    harness.kill().expect("SIGKILL the harness");
    harness.wait().expect("reap the harness");
    assert!(
        eventually(Duration::from_secs(10), || processes_with_run_id(&run_id)
            .into_iter()
            .all(zombie)),
        "processes of the run outlived a SIGKILLed harness: {:?}",
        processes_with_run_id(&run_id)
    );
    assert!(
        eventually(Duration::from_secs(10), || !folder.exists()),
        "the reaper did not remove {}",
        folder.display()
    );
}
