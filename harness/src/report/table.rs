//! The summary table printed at the end of a run.

use super::{display_name, fault_times};
use crate::runner::ScenarioOutcome;

/// One line per scenario run: result, time-to-detect and time-to-recover per fault.
pub fn summary_table(outcomes: &[ScenarioOutcome]) -> String {
    let headers = [
        "scenario",
        "result",
        "time-to-detect",
        "time-to-recover",
        "took (set-up/steady/timeline/teardown)",
    ];
    let rows: Vec<[String; 5]> = outcomes
        .iter()
        .map(|o| {
            if let Some(reason) = &o.skipped {
                return [
                    display_name(o),
                    "SKIP".to_string(),
                    "-".to_string(),
                    "-".to_string(),
                    format!("- ({})", reason.split(':').next().unwrap_or(reason)),
                ];
            }
            let (ttd, ttr) = if o.control {
                ("-".to_string(), "-".to_string())
            } else {
                (
                    fault_times(o, |f| f.time_to_detect),
                    fault_times(o, |f| f.time_to_recover),
                )
            };
            [display_name(o), o.label().to_string(), ttd, ttr, took(o)]
        })
        .collect();
    let mut widths = headers.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: &[String]| {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{cell:<w$}  "));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    out.push_str(&line(&headers.map(String::from)));
    out.push_str(&line(&widths.map(|w| "-".repeat(w))));
    for row in &rows {
        out.push_str(&line(row));
    }
    out.push_str(&format!("\n{}\n", super::count_line(outcomes)));
    out
}

/// "41.2s (12.1/3.0/24.0/2.1)": the whole run, then its phases.
fn took(o: &ScenarioOutcome) -> String {
    let p = &o.phases;
    format!(
        "{:.1}s ({:.1}/{:.1}/{:.1}/{:.1})",
        o.duration.as_secs_f64(),
        p.setup.as_secs_f64(),
        p.steady_state.as_secs_f64(),
        p.timeline.as_secs_f64(),
        p.teardown.as_secs_f64()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot() {
        let expected = "\
scenario                      result  time-to-detect  time-to-recover  took (set-up/steady/timeline/teardown)
----------------------------  ------  --------------  ---------------  --------------------------------------
selftest/latency              PASS    512ms           204ms            6.1s (1.0/0.1/4.5/0.5)
selftest/latency (control)    FAIL    -               -                6.1s (1.0/0.1/4.5/0.5)
selftest/tolerated            PASS    -               -                3.0s (1.0/0.1/1.5/0.4)
selftest/tolerated (control)  SKIP    -               -                - (no detect expectations)

2 passed, 1 failed, 1 skipped
";
        assert_eq!(
            summary_table(&crate::report::fixtures::outcomes()),
            expected
        );
    }
}
