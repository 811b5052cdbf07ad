//! Shared by the tests that run a shipped scenario with deliberate changes.

use std::path::Path;

use clawchaos::observer::Silent;
use clawchaos::runner::{RunOptions, Runner, ScenarioOutcome, unless_interrupted};
use clawchaos::scenario::{Scenario, parse_str};

/// `scenarios/<relative>` with each `(from, to)` replacement made (each must change the file).
pub fn altered(relative: &str, changes: &[(&str, &str)]) -> Scenario {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(relative);
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let mut altered = text;
    for (from, to) in changes {
        let changed = altered.replace(from, to);
        assert_ne!(
            altered, changed,
            "{relative} no longer contains {from:?}; update this test"
        );
        altered = changed;
    }
    parse_str(&file, &altered).expect("still a valid scenario")
}

/// Runs the scenarios side by side; their outcomes in the same order.
pub fn run_all(scenarios: &[Scenario]) -> Vec<ScenarioOutcome> {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let runner = Runner::default();
    let options = RunOptions::default();
    let runs = scenarios.iter().map(|s| runner.run(s, &options, &Silent));
    runtime
        .block_on(unless_interrupted(futures_util::future::join_all(runs)))
        .unwrap_or_else(|| panic!("interrupted: everything the runs started has been stopped"))
}

/// Runs `scenarios/<relative>` with each `(from, to)` replacement made.
#[allow(dead_code)] // each test binary uses its part of this module
pub fn run_altered(relative: &str, changes: &[(&str, &str)]) -> ScenarioOutcome {
    run_all(&[altered(relative, changes)]).remove(0)
}
