//! Two sets of runs of one suite side by side (the process and the containers backends, say),
//! as a Markdown table for `docs/scenarios.md`: per scenario, each side's verdict (its control
//! run's too) and its time-to-detect and time-to-recover.

use std::collections::BTreeMap;

use super::fault_times;
use crate::runner::ScenarioOutcome;

/// One side: its label (the column heading) and its runs.
pub struct Side<'a> {
    /// The column heading, e.g. `process`.
    pub label: &'a str,
    /// Its runs, control runs included.
    pub outcomes: &'a [ScenarioOutcome],
}

/// What one side says of one scenario.
#[derive(Default)]
struct Cell {
    verdict: String,
    ttd: String,
    ttr: String,
}

/// A scenario's run and control run on one side as a cell: `PASS`, `FAIL (control FAIL)`,
/// `SKIP` (with the first words of the reason), `-` when it was not run there.
fn cell(name: &str, outcomes: &[ScenarioOutcome]) -> Cell {
    let run = outcomes
        .iter()
        .find(|o| super::run_name(o) == name && !o.control);
    let control = outcomes
        .iter()
        .find(|o| super::run_name(o) == name && o.control);
    let Some(run) = run else {
        return Cell {
            verdict: "-".into(),
            ttd: "-".into(),
            ttr: "-".into(),
        };
    };
    if run.skipped.is_some() {
        return Cell {
            verdict: "SKIP".into(),
            ttd: "-".into(),
            ttr: "-".into(),
        };
    }
    let mut verdict = run.label().to_string();
    if let Some(control) = control.filter(|c| c.skipped.is_none() && !c.passed) {
        verdict.push_str(&format!(" (control {})", control.label()));
    }
    Cell {
        verdict,
        ttd: seconds(&fault_times(run, |f| f.time_to_detect)),
        ttr: seconds(&fault_times(run, |f| f.time_to_recover)),
    }
}

/// "1234ms" as "1.23 s", in every part of a cell ("a 1234ms, b -").
fn seconds(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            let trimmed = word.trim_end_matches(',');
            match trimmed
                .strip_suffix("ms")
                .and_then(|n| n.parse::<f64>().ok())
            {
                Some(ms) => {
                    let s = format!("{:.2} s", ms / 1000.0);
                    if word.ends_with(',') { s + "," } else { s }
                }
                None => word.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The Markdown table of `left` and `right`, one row per scenario (per scenario and release,
/// for runs pinned to OpenClaw releases) either side ran, in name order.
pub fn side_by_side(left: &Side<'_>, right: &Side<'_>) -> String {
    let mut names: BTreeMap<String, ()> = BTreeMap::new();
    for o in left.outcomes.iter().chain(right.outcomes) {
        names.insert(super::run_name(o), ());
    }
    let mut out = format!(
        "| scenario | {l} | TTD | TTR | {r} | TTD | TTR |\n|---|---|---|---|---|---|---|\n",
        l = left.label,
        r = right.label
    );
    for name in names.keys() {
        let (a, b) = (cell(name, left.outcomes), cell(name, right.outcomes));
        out.push_str(&format!(
            "| `{name}` | {} | {} | {} | {} | {} | {} |\n",
            a.verdict, a.ttd, a.ttr, b.verdict, b.ttd, b.ttr
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures::outcomes;

    #[test]
    fn each_scenario_is_one_row_with_both_sides_verdicts_and_times() {
        let all = outcomes();
        let only_first: Vec<ScenarioOutcome> = all.iter().take(1).cloned().collect();
        let table = side_by_side(
            &Side {
                label: "process",
                outcomes: &all,
            },
            &Side {
                label: "containers",
                outcomes: &only_first,
            },
        );
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines[0],
            "| scenario | process | TTD | TTR | containers | TTD | TTR |"
        );
        let names: std::collections::BTreeSet<&str> = all.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(lines.len(), 2 + names.len(), "{table}");
        let first = &all[0];
        let row = lines
            .iter()
            .find(|l| l.starts_with(&format!("| `{}` |", first.name)))
            .unwrap_or_else(|| panic!("no row for {}: {table}", first.name));
        let cells: Vec<&str> = row.trim_end_matches(" |").split(" | ").collect();
        assert_eq!(
            cells[2..4],
            cells[5..7],
            "the same run on both sides: {row}"
        );
        assert_eq!(
            cells[1], "PASS (control FAIL)",
            "its control run failed: {row}"
        );
        assert_eq!(cells[4], "PASS", "the right side has no control run: {row}");
        assert!(
            lines.iter().any(|l| l.ends_with("| - | - | - |")),
            "a scenario the right side did not run is `-` there: {table}"
        );
    }

    #[test]
    fn a_failing_control_run_shows_in_the_verdict() {
        let all = outcomes();
        let failed_control = all.iter().find(|o| o.control && !o.passed);
        let Some(failed_control) = failed_control else {
            panic!("the fixtures have a failing control run");
        };
        let c = cell(&failed_control.name, &all);
        assert!(c.verdict.ends_with("(control FAIL)"), "{}", c.verdict);
    }

    #[test]
    fn runs_pinned_to_releases_are_a_row_each() {
        let mut old = outcomes()[0].clone();
        old.openclaw = Some("2026.7.1".into());
        let mut new = outcomes()[0].clone();
        new.openclaw = Some("2026.9.6".into());
        new.passed = false;
        let runs = [old, new];
        let table = side_by_side(
            &Side {
                label: "a",
                outcomes: &runs,
            },
            &Side {
                label: "b",
                outcomes: &runs,
            },
        );
        assert!(
            table.contains("| `selftest/latency @2026.7.1` | PASS |"),
            "{table}"
        );
        assert!(
            table.contains("| `selftest/latency @2026.9.6` | FAIL |"),
            "{table}"
        );
    }

    #[test]
    fn milliseconds_read_as_seconds() {
        assert_eq!(seconds("1234ms"), "1.23 s");
        assert_eq!(seconds("a 1500ms, b -"), "a 1.50 s, b -");
        assert_eq!(seconds("-"), "-");
    }
}
