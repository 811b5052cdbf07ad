//! The scenario suite: every scenario file under `scenarios/` is its own named test, run once
//! with its faults and once as a control run (faults off, every detect expectation must fail).
//!
//! `cargo test --features chaos` runs the CI tier (`tier = "ci"` in the file); the others are
//! `ignored`, and `cargo test --features chaos -- --include-ignored` runs them all (the release
//! regression). `-- llm` runs only those whose name contains "llm". Set `CLAWCHAOS_SCENARIOS`
//! to a folder or file to run others.
//! Under `cargo nextest run --features chaos --partition count:K/N` each test is its own
//! process and a CI runner takes a slice of them.
//!
//! The containers tier (`clawchaos::tier::in_containers_tier`: the selftest folder and one
//! scenario per link the containers backend runs) runs a second time on the containers
//! backend, as `on-containers/<scenario>`: it needs a Docker engine and the images
//! (`scripts/setup openclaw containers`, which `scripts/test` runs).
//!
//! Each test writes its JSON and JUnit report to `<dir>/<scenario>/`, where `<dir>` is
//! `CLAWCHAOS_REPORT_DIR` or `target/clawchaos/tests`; `clawchaos report merge <dir>` joins
//! them (and those of other slices) into one.

use std::path::PathBuf;
use std::sync::Arc;

use clawchaos::backend::{Backend, Pins, containers::ContainersBackend, default_backend};
use clawchaos::observer::Silent;
use clawchaos::report::{self, summary_table};
use clawchaos::runner::{RunOptions, Runner, ScenarioOutcome, releases_of, unless_interrupted};
use clawchaos::scenario::{self, Scenario, Tier};
use clawchaos::tier::in_containers_tier;
use libtest_mimic::{Arguments, Failed, Trial};

fn main() -> std::process::ExitCode {
    let args = Arguments::from_args();
    let root = std::env::var_os("CLAWCHAOS_SCENARIOS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios"));
    let files = match scenario::discover(std::slice::from_ref(&root)) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("cannot list scenarios under {}: {e}", root.display());
            return std::process::ExitCode::from(2);
        }
    };
    let mut trials = Vec::new();
    for file in files {
        let name = file
            .strip_prefix(&root)
            .unwrap_or(&file)
            .with_extension("")
            .display()
            .to_string();
        // An invalid file is not ignored: its test fails with the file's problems.
        let loaded = scenario::load(&file).ok();
        let release_only = loaded.as_ref().is_some_and(|s| s.tier == Tier::Release);
        if loaded.as_ref().is_some_and(in_containers_tier) {
            let file = file.clone();
            trials.push(
                Trial::test(format!("on-containers/{name}"), move || {
                    run_file(&file, Arc::new(ContainersBackend), "on-containers__")
                })
                .with_ignored_flag(release_only),
            );
        }
        trials.push(
            Trial::test(name, move || run_file(&file, default_backend(), ""))
                .with_ignored_flag(release_only),
        );
    }
    libtest_mimic::run(&args, trials).exit_code()
}

/// Runs the scenario in `file` and its control run on `backend`, on each OpenClaw release it
/// names (installed first when missing); its report goes under a folder named after it, with
/// `prefix`.
fn run_file(file: &std::path::Path, backend: Arc<dyn Backend>, prefix: &str) -> Result<(), Failed> {
    let scenario = scenario::load(file).map_err(|e| Failed::from(e.to_string()))?;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| Failed::from(e.to_string()))?;
    let outcomes = runtime.block_on(unless_interrupted(async {
        let mut outcomes = Vec::new();
        for openclaw in releases_of(&scenario, &[]) {
            let pins = Pins {
                openclaw: openclaw.clone(),
            };
            backend
                .provision(&pins)
                .await
                .map_err(|e| format!("cannot install what the scenario needs: {e}"))?;
            let runner = Runner::new(Arc::clone(&backend));
            for control in [false, true] {
                let options = RunOptions {
                    control,
                    keep_run_dir: false,
                    openclaw: openclaw.clone(),
                };
                outcomes.push(runner.run(&scenario, &options, &Silent).await);
            }
        }
        Ok::<_, String>(outcomes)
    }));
    let Some(outcomes) = outcomes else {
        return Err("interrupted: everything the run started has been stopped".into());
    };
    let outcomes = outcomes.map_err(Failed::from)?;
    write_report(&scenario, &outcomes, prefix);
    let failures: Vec<String> = outcomes
        .iter()
        .filter(|o| !o.passed)
        .flat_map(ScenarioOutcome::failures)
        .collect();
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!("{}\n{}", summary_table(&outcomes), failures.join("\n")).into())
    }
}

/// Keeps each scenario's JSON and JUnit report under `<dir>/<name>/` (see the module doc).
fn write_report(scenario: &Scenario, outcomes: &[ScenarioOutcome], prefix: &str) {
    let dir = std::env::var_os("CLAWCHAOS_REPORT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
                .join("clawchaos")
                .join("tests")
        })
        .join(format!("{prefix}{}", scenario.name.replace('/', "__")));
    if let Err(e) = report::write_reports(outcomes, &dir) {
        eprintln!("cannot write the report for {}: {e}", scenario.name);
    }
}
