//! Shared by the tests that run a shipped scenario with one deliberate change.

use std::path::Path;

use clawchaos::observer::Silent;
use clawchaos::runner::{RunOptions, Runner, ScenarioOutcome, unless_interrupted};
use clawchaos::scenario::parse_str;

/// Runs `scenarios/<relative>` with each `(from, to)` replacement made (each must change the
/// file).
pub fn run_altered(relative: &str, changes: &[(&str, &str)]) -> ScenarioOutcome {
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
    let scenario = parse_str(&file, &altered).expect("still a valid scenario");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime
        .block_on(unless_interrupted(Runner::default().run(
            &scenario,
            &RunOptions::default(),
            &Silent,
        )))
        .unwrap_or_else(|| panic!("interrupted: everything the run started has been stopped"))
}
