//! Teardown on the containers backend: after a panic, SIGINT or SIGTERM mid-scenario, no
//! container or network carrying the run's label is left (checked with the docker CLI, not the
//! harness's own code), and within seconds of a SIGKILL of the harness the run's reaper has
//! removed them. Needs a Docker engine and the base image (`scripts/setup containers`).

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clawchaos::backend::containers::ContainersBackend;
use clawchaos::runner::{RunOptions, Runner};
use clawchaos::scenario::parse_str;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::teardown::{
    PanicOnFault, Running, SCENARIO, Scratch, Seen, eventually, processes_with_run_id, run_id_of,
    zombie,
};

/// What the engine holds of run `run_id`: container names, then network names.
fn on_the_engine(run_id: &str) -> (Vec<String>, Vec<String>) {
    let list = |args: &[&str], format: &str| -> Vec<String> {
        let output = Command::new("docker")
            .args(args)
            .arg("--filter")
            .arg(format!("label=clawchaos.run={run_id}"))
            .arg("--format")
            .arg(format)
            .output()
            .expect("the docker CLI runs");
        assert!(
            output.status.success(),
            "docker {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    };
    (
        list(&["ps", "--all"], "{{.Names}}"),
        list(&["network", "ls"], "{{.Name}}"),
    )
}

fn nothing_on_the_engine(run_id: &str) -> bool {
    let (containers, networks) = on_the_engine(run_id);
    containers.is_empty() && networks.is_empty()
}

#[test]
fn a_panic_mid_run_leaves_no_container_network_or_folder() {
    let scenario = parse_str(Path::new("teardown.toml"), SCENARIO).expect("valid");
    let seen = Arc::new(Mutex::new(Seen::default()));
    let observer = PanicOnFault(seen.clone());
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let joined = runtime.block_on(async move {
        tokio::spawn(async move {
            Runner::new(Arc::new(ContainersBackend))
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
    // At once: the scope's drop removes and waits. (No connect to the services' addresses:
    // with the network gone, this machine routes them like any other address.)
    assert_eq!(on_the_engine(&run_id), (Vec::new(), Vec::new()));
    assert!(!folder.exists(), "run folder {} remains", folder.display());
    drop(runtime);
}

/// Starts the teardown scenario on containers, waits for the fault, checks the run is on the
/// engine, sends `signal`; returns the run id and the harness's exit code.
fn interrupted_by(signal: Signal, prefix: &str) -> (String, Option<i32>) {
    let scratch = Scratch::new(prefix);
    let tmp = scratch.0.clone();
    let file = tmp.join("teardown.toml");
    std::fs::write(&file, SCENARIO).expect("scenario file");
    let mut harness = Running::scenario_with(&file, &tmp, &["--backend", "containers"], &[]);
    let (folder, _pids, lines) = harness.until_fault();
    let run_id = run_id_of(&folder);
    let (containers, networks) = on_the_engine(&run_id);
    assert_eq!(
        containers.len(),
        4,
        "two pods, two services: {containers:?}"
    );
    assert_eq!(networks.len(), 1, "{networks:?}");

    kill(Pid::from_raw(harness.id() as i32), signal).expect("signal the harness");
    // Drain the rest of its output so it never blocks on a full pipe.
    let _rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = harness.wait().expect("reap the harness");
    assert!(!folder.exists(), "run folder {} remains", folder.display());
    (run_id, status.code())
}

#[test]
fn after_sigint_nothing_of_the_run_is_on_the_engine_when_the_harness_exits() {
    let (run_id, code) = interrupted_by(Signal::SIGINT, "clawchaos-containers-sigint");
    assert_eq!(code, Some(130));
    // At once, not eventually: when it says everything was stopped, it was.
    assert_eq!(on_the_engine(&run_id), (Vec::new(), Vec::new()));
}

#[test]
fn after_sigterm_nothing_of_the_run_is_on_the_engine_when_the_harness_exits() {
    let (run_id, code) = interrupted_by(Signal::SIGTERM, "clawchaos-containers-sigterm");
    assert_ne!(code, Some(0));
    assert_eq!(on_the_engine(&run_id), (Vec::new(), Vec::new()));
}

#[test]
fn within_seconds_of_a_sigkill_the_reaper_has_removed_the_run_from_the_engine() {
    let scratch = Scratch::new("clawchaos-containers-sigkill");
    let tmp = scratch.0.clone();
    let file = tmp.join("teardown.toml");
    std::fs::write(&file, SCENARIO).expect("scenario file");
    let mut harness = Running::scenario_with(&file, &tmp, &["--backend", "containers"], &[]);
    let (folder, _pids, _rest) = harness.until_fault();
    let run_id = run_id_of(&folder);
    assert!(!nothing_on_the_engine(&run_id), "the run is on the engine");

    harness.kill().expect("SIGKILL the harness");
    harness.wait().expect("reap the harness");
    assert!(
        eventually(Duration::from_secs(10), || nothing_on_the_engine(&run_id)),
        "left on the engine after a SIGKILL: {:?}",
        on_the_engine(&run_id)
    );
    assert!(
        eventually(Duration::from_secs(10), || processes_with_run_id(&run_id)
            .into_iter()
            .all(zombie)),
        "processes of the run remain"
    );
    assert!(
        eventually(Duration::from_secs(10), || !folder.exists()),
        "the reaper did not remove {}",
        folder.display()
    );
}

#[test]
fn without_a_reaper_the_next_run_sweeps_what_a_sigkilled_run_left_on_the_engine() {
    use clawchaos::backend::Backend as _;
    let scratch = Scratch::new("clawchaos-containers-sweep");
    let tmp = scratch.0.clone();
    let file = tmp.join("teardown.toml");
    std::fs::write(&file, SCENARIO).expect("scenario file");
    // No reaper (no program where it is looked for): what the next run's sweep is for.
    let mut harness = Running::scenario_with(
        &file,
        &tmp,
        &["--backend", "containers"],
        &[("CLAWCHAOS_BIN", "/nonexistent")],
    );
    let (folder, _pids, _rest) = harness.until_fault();
    let run_id = run_id_of(&folder);
    assert!(!nothing_on_the_engine(&run_id), "the run is on the engine");
    harness.kill().expect("SIGKILL the harness");
    harness.wait().expect("reap the harness");
    // (Not checked here that it is still there: any run opening meanwhile, another test's,
    // sweeps it as well. Without a reaper it stays: the test above fails that way.)

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let next = ContainersBackend
            .open_run(clawchaos::backend::Pins::default())
            .await
            .expect("the next run opens");
        drop(next);
    });
    assert_eq!(on_the_engine(&run_id), (Vec::new(), Vec::new()));
}
