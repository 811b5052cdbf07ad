//! Reports of a set of runs: a summary table for people, JSON and JUnit XML for machines.

pub mod compare;
mod json;
mod junit;
pub mod merge;
mod table;
pub mod timeline;

use std::path::{Path, PathBuf};

pub use json::to_json;
pub use junit::to_junit;
pub use table::{Matrix, summary_table};

use crate::runner::ScenarioOutcome;

/// Writes `report.json` and `junit.xml` into `dir` (created if needed), and each run's
/// timeline page into `dir/timelines/` (but a skipped run's); returns the two reports' paths.
pub fn write_reports(outcomes: &[ScenarioOutcome], dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let json_path = dir.join("report.json");
    std::fs::write(&json_path, to_json(outcomes)?)?;
    let junit_path = dir.join("junit.xml");
    std::fs::write(&junit_path, to_junit(outcomes))?;
    for outcome in outcomes.iter().filter(|o| o.skipped.is_none()) {
        let path = timeline_path(dir, outcome);
        std::fs::create_dir_all(dir.join(TIMELINES))?;
        std::fs::write(&path, timeline::to_html(outcome))?;
    }
    Ok(vec![json_path, junit_path])
}

/// The folder of the timeline pages, in a report folder.
pub const TIMELINES: &str = "timelines";

/// Where `write_reports` puts `outcome`'s timeline page.
pub fn timeline_path(dir: &Path, outcome: &ScenarioOutcome) -> PathBuf {
    dir.join(TIMELINES).join(timeline::file_name(outcome))
}

/// A scenario's display name: `name`, or `name (control)` for a control run.
pub fn display_name(outcome: &ScenarioOutcome) -> String {
    let mut name = run_name(outcome);
    if outcome.control {
        name.push_str(" (control)");
    }
    name
}

/// A run's name without its control mark: `name`, or `name @2026.7.1` when the run was pinned
/// to an OpenClaw release. A run and its control run share it.
pub fn run_name(outcome: &ScenarioOutcome) -> String {
    match &outcome.openclaw {
        Some(release) => format!("{} @{release}", outcome.name),
        None => outcome.name.clone(),
    }
}

/// "N passed, N failed" (", N skipped" when some were): the closing line of a set of runs.
pub fn count_line(outcomes: &[ScenarioOutcome]) -> String {
    let skipped = outcomes.iter().filter(|o| o.skipped.is_some()).count();
    let passed = outcomes.iter().filter(|o| o.passed).count() - skipped;
    let failed = outcomes.len() - passed - skipped;
    if skipped > 0 {
        format!("{passed} passed, {failed} failed, {skipped} skipped")
    } else {
        format!("{passed} passed, {failed} failed")
    }
}

/// Why each failed run failed, one block per run, to print under the summary table (empty when
/// every run passed).
pub fn why_failed(outcomes: &[ScenarioOutcome]) -> String {
    let mut out = String::new();
    for o in outcomes.iter().filter(|o| !o.passed) {
        out.push_str(&format!("{} {}:\n", o.label(), display_name(o)));
        for failure in o.failures() {
            out.push_str(&format!("  - {failure}\n"));
        }
    }
    if !out.is_empty() {
        out.insert(0, '\n');
        out.push('\n');
    }
    out
}

/// A time of each of a run's faults (its time-to-detect, say): the time alone for one fault,
/// `name time` for each of several, `-` for none.
pub(crate) fn fault_times(
    o: &ScenarioOutcome,
    pick: fn(&crate::runner::FaultOutcome) -> Option<std::time::Duration>,
) -> String {
    match o.faults.as_slice() {
        [] => "-".to_string(),
        [one] => fmt_ms(pick(one)),
        many => many
            .iter()
            .map(|f| format!("{} {}", f.name, fmt_ms(pick(f))))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// A measured time in milliseconds, or "-" when there is none.
fn fmt_ms(d: Option<std::time::Duration>) -> String {
    d.map_or_else(|| "-".to_string(), crate::probe::ms)
}

#[cfg(test)]
pub(crate) mod fixtures {
    use std::time::Duration;

    use crate::runner::{ExpectationOutcome, FaultOutcome, Phases, ScenarioOutcome, Verdict};

    /// A passing run and a failing control run, then a scenario without detect expectations
    /// and its skipped control run, for snapshot tests.
    pub fn outcomes() -> Vec<ScenarioOutcome> {
        let detect = ExpectationOutcome {
            name: "detect slow by llm_slow within 3s".into(),
            kind: "detect".into(),
            probe: "llm_slow".into(),
            fault: Some("slow".into()),
            verdict: Verdict::Passed,
            budget: Some(Duration::from_secs(3)),
            observed: Some(Duration::from_millis(512)),
            detail: "status 200 in 512ms".into(),
        };
        let fault = FaultOutcome {
            name: "slow".into(),
            kind: "latency".into(),
            injected: true,
            injected_after: Some(Duration::from_millis(1000)),
            active_for: Some(Duration::from_millis(4000)),
            time_to_detect: Some(Duration::from_millis(512)),
            time_to_recover: Some(Duration::from_millis(204)),
        };
        let pass = ScenarioOutcome {
            name: "selftest/latency".into(),
            file: "scenarios/selftest/latency.toml".into(),
            control: false,
            passed: true,
            skipped: None,
            cut_short: None,
            phases: Phases {
                setup: Duration::from_millis(1000),
                steady_state: Duration::from_millis(100),
                timeline: Duration::from_millis(4500),
                teardown: Duration::from_millis(500),
            },
            duration: Duration::from_millis(6100),
            steady_after: Some(Duration::from_millis(120)),
            services: vec![],
            faults: vec![fault.clone()],
            expectations: vec![detect.clone()],
            error: None,
            control_defects: vec![],
            ledger: None,
            tier: crate::scenario::Tier::Ci,
            known_defect: None,
            openclaw: None,
            probes: vec![],
        };
        let control = ScenarioOutcome {
            control: true,
            passed: false,
            faults: vec![FaultOutcome {
                injected: false,
                time_to_detect: Some(Duration::from_millis(40)),
                time_to_recover: None,
                ..fault
            }],
            control_defects: vec!["control run: detect expectation `detect slow by llm_slow within 3s` passed without its fault <&>".into()],
            ledger: None,
            ..pass.clone()
        };
        let tolerated = ScenarioOutcome {
            name: "selftest/tolerated".into(),
            file: "scenarios/selftest/tolerated.toml".into(),
            duration: Duration::from_millis(3000),
            phases: Phases {
                timeline: Duration::from_millis(1500),
                teardown: Duration::from_millis(400),
                ..pass.phases
            },
            faults: vec![],
            expectations: vec![],
            tier: crate::scenario::Tier::Release,
            ..pass.clone()
        };
        let skipped = ScenarioOutcome {
            control: true,
            skipped: Some(
                "no detect expectations: a control run would have nothing to show".into(),
            ),
            duration: Duration::ZERO,
            phases: Phases::default(),
            ..tolerated.clone()
        };
        vec![pass, control, tolerated, skipped]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn why_failed_names_each_failed_run_and_its_reasons() {
        let outcomes = fixtures::outcomes();
        let text = why_failed(&outcomes);
        assert!(
            text.contains("FAIL selftest/latency (control):\n  - control run: detect expectation `detect slow by llm_slow within 3s` passed without its fault"),
            "{text}"
        );
        assert_eq!(text.matches(":\n  - ").count(), 1, "{text}");
        let passed: Vec<_> = outcomes.into_iter().filter(|o| o.passed).collect();
        assert_eq!(why_failed(&passed), "");
    }
}
