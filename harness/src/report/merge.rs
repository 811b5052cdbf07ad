//! Joins the JSON reports of several slices of a suite (CI shards, or one report per test
//! process under nextest) into one set of outcomes, refusing a run that appears twice.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::runner::ScenarioOutcome;

/// Why reports could not be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// A file or folder could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file is not a clawchaos JSON report.
    #[error("{path} is not a clawchaos report: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
    /// The same run is in two reports: the slices overlap.
    #[error("{run} is in both {first} and {second}: the slices overlap")]
    Duplicate {
        /// The run (scenario, or scenario and "(control)").
        run: String,
        /// The first report that has it.
        first: PathBuf,
        /// The second.
        second: PathBuf,
    },
    /// No report.json was found.
    #[error("no report.json under {0}")]
    Empty(String),
}

#[derive(serde::Deserialize)]
struct ReportFile {
    scenarios: Vec<ScenarioOutcome>,
}

/// Every `report.json` in `paths` (files, or folders searched recursively), except `skip`
/// (the merged report itself, when it is written among its inputs).
pub fn find_reports(paths: &[PathBuf], skip: Option<&Path>) -> Result<Vec<PathBuf>, MergeError> {
    let mut found = Vec::new();
    for path in paths {
        collect(path, &mut found)?;
    }
    let skip = skip.and_then(|s| s.canonicalize().ok());
    found.retain(|p| skip.is_none() || p.canonicalize().ok() != skip);
    found.sort();
    found.dedup();
    if found.is_empty() {
        let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(MergeError::Empty(shown.join(", ")));
    }
    Ok(found)
}

fn collect(path: &Path, found: &mut Vec<PathBuf>) -> Result<(), MergeError> {
    let read_error = |source| MergeError::Read {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(read_error)?;
    if !meta.is_dir() {
        found.push(path.to_path_buf());
        return Ok(());
    }
    for entry in std::fs::read_dir(path).map_err(read_error)? {
        let entry = entry.map_err(read_error)?;
        let child = entry.path();
        if child.is_dir() {
            collect(&child, found)?;
        } else if child.file_name().is_some_and(|n| n == "report.json") {
            found.push(child);
        }
    }
    Ok(())
}

/// The outcomes of every report, sorted by scenario (each scenario's own run before its
/// control run).
pub fn merge(reports: &[PathBuf]) -> Result<Vec<ScenarioOutcome>, MergeError> {
    let mut runs: BTreeMap<(String, Option<String>, bool), (PathBuf, ScenarioOutcome)> =
        BTreeMap::new();
    for path in reports {
        let text = std::fs::read_to_string(path).map_err(|source| MergeError::Read {
            path: path.clone(),
            source,
        })?;
        let file: ReportFile = serde_json::from_str(&text).map_err(|source| MergeError::Parse {
            path: path.clone(),
            source,
        })?;
        for outcome in file.scenarios {
            let key = (
                outcome.name.clone(),
                outcome.openclaw.clone(),
                outcome.control,
            );
            if let Some((first, _)) = runs.get(&key) {
                return Err(MergeError::Duplicate {
                    run: super::display_name(&outcome),
                    first: first.clone(),
                    second: path.clone(),
                });
            }
            runs.insert(key, (path.clone(), outcome));
        }
    }
    Ok(runs.into_values().map(|(_, o)| o).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{fixtures, write_reports};

    #[test]
    fn slices_join_into_one_report_in_scenario_order() {
        let dir = tempfile::tempdir().expect("temp dir");
        let all = fixtures::outcomes();
        write_reports(&all[2..], &dir.path().join("shard-1")).expect("write");
        write_reports(&all[..2], &dir.path().join("shard-2/nested")).expect("write");
        let reports = find_reports(&[dir.path().to_path_buf()], None).expect("found");
        assert_eq!(reports.len(), 2);
        let merged = merge(&reports).expect("merged");
        let names: Vec<String> = merged.iter().map(crate::report::display_name).collect();
        assert_eq!(
            names,
            [
                "selftest/latency",
                "selftest/latency (control)",
                "selftest/tolerated",
                "selftest/tolerated (control)"
            ]
        );
        assert_eq!(
            merged[0].phases, all[0].phases,
            "durations survive the trip"
        );
        assert_eq!(
            merged[0].faults[0].time_to_detect,
            all[0].faults[0].time_to_detect
        );
        assert_eq!(merged[3].skipped, all[3].skipped);
    }

    #[test]
    fn a_run_in_two_slices_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let all = fixtures::outcomes();
        write_reports(&all[..2], &dir.path().join("a")).expect("write");
        write_reports(&all[1..3], &dir.path().join("b")).expect("write");
        let reports = find_reports(&[dir.path().to_path_buf()], None).expect("found");
        let err = merge(&reports).expect_err("overlap");
        assert!(
            err.to_string()
                .contains("selftest/latency (control) is in both"),
            "{err}"
        );
    }

    #[test]
    fn nothing_to_merge_is_an_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert!(matches!(
            find_reports(&[dir.path().to_path_buf()], None),
            Err(MergeError::Empty(_))
        ));
    }
}
