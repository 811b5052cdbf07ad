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
    if let Some(matrix) = Matrix::of(outcomes) {
        out.push_str(&format!("\nBy OpenClaw release:\n{}", matrix.to_text()));
    }
    out.push_str(&format!("\n{}\n", super::count_line(outcomes)));
    out
}

/// A version matrix's verdicts: one row per scenario (and control run), one column per
/// OpenClaw release the runs were pinned to; `None` when no run was pinned.
pub struct Matrix {
    /// The releases, oldest first.
    pub releases: Vec<String>,
    /// Each scenario run's name (without its release) and its verdict on each release
    /// (`None`: not run there).
    pub rows: Vec<(String, Vec<Option<&'static str>>)>,
}

impl Matrix {
    /// The matrix of `outcomes`, when some were pinned to a release.
    pub fn of(outcomes: &[ScenarioOutcome]) -> Option<Self> {
        use crate::scenario::version::Version;
        let mut releases: Vec<String> =
            outcomes.iter().filter_map(|o| o.openclaw.clone()).collect();
        if releases.is_empty() {
            return None;
        }
        releases.sort_by(|a, b| match (Version::parse(a), Version::parse(b)) {
            (Some(a), Some(b)) => a.cmp(&b),
            _ => a.cmp(b),
        });
        releases.dedup();
        let mut rows: Vec<(String, Vec<Option<&'static str>>)> = Vec::new();
        for o in outcomes.iter().filter(|o| o.openclaw.is_some()) {
            let name = if o.control {
                format!("{} (control)", o.name)
            } else {
                o.name.clone()
            };
            let row = match rows.iter().position(|(n, _)| *n == name) {
                Some(i) => i,
                None => {
                    rows.push((name, vec![None; releases.len()]));
                    rows.len() - 1
                }
            };
            let column = o
                .openclaw
                .as_ref()
                .and_then(|r| releases.iter().position(|x| x == r));
            if let Some(column) = column {
                rows[row].1[column] = Some(o.label());
            }
        }
        Some(Self { releases, rows })
    }

    /// The matrix as a text table, `-` where a scenario did not run on a release.
    pub fn to_text(&self) -> String {
        let mut headers = vec!["scenario \\ openclaw".to_string()];
        headers.extend(self.releases.iter().cloned());
        let rows: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|(name, cells)| {
                std::iter::once(name.clone())
                    .chain(cells.iter().map(|c| c.unwrap_or("-").to_string()))
                    .collect()
            })
            .collect();
        let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: &[String]| {
            let text: Vec<String> = cells
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            text.join("  ").trim_end().to_string() + "\n"
        };
        let mut out = line(&headers);
        out.push_str(&line(
            &widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>(),
        ));
        for row in &rows {
            out.push_str(&line(row));
        }
        out
    }
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
    fn a_version_matrix_has_a_column_per_release_oldest_first() {
        let mut outcomes = crate::report::fixtures::outcomes();
        assert!(Matrix::of(&outcomes).is_none(), "nothing pinned, no matrix");
        let mut on_new = outcomes[0].clone();
        on_new.openclaw = Some("2026.9.6".into());
        outcomes[0].openclaw = Some("2026.7.1".into());
        outcomes[1].openclaw = Some("2026.7.1".into());
        outcomes.truncate(2);
        outcomes.push(on_new);
        let matrix = Matrix::of(&outcomes).expect("a matrix");
        assert_eq!(matrix.releases, ["2026.7.1", "2026.9.6"]);
        assert_eq!(
            matrix.to_text(),
            "\
scenario \\ openclaw         2026.7.1  2026.9.6
--------------------------  --------  --------
selftest/latency            PASS      PASS
selftest/latency (control)  FAIL      -
"
        );
    }

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
