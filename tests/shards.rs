//! The suite split across CI runners: `cargo nextest run --features chaos --partition
//! count:K/N` runs a slice of the scenarios, each with its control run, each slice writes its
//! own reports, and `clawchaos report merge` joins them. Run here for real on three small
//! scenarios in two slices: the union is the whole set, and no run is in two slices.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use clawchaos::report::{display_name, merge};

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Runs slice `k` of `n` of the scenario suite over the shard fixtures; returns its report
/// folder.
fn run_slice(k: usize, n: usize, reports: &Path) -> PathBuf {
    let dir = reports.join(format!("slice-{k}"));
    let out = cargo()
        .args(["nextest", "run", "--workspace", "--features", "chaos"])
        .args(["--test", "scenarios", "--no-fail-fast"])
        .arg(format!("--partition=count:{k}/{n}"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env(
            "CLAWCHAOS_SCENARIOS",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/shards"),
        )
        .env("CLAWCHAOS_REPORT_DIR", &dir)
        .output()
        .expect("cargo runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("no such command: `nextest`"),
        "cargo-nextest is not installed (cargo install cargo-nextest --locked): {stderr}"
    );
    assert!(out.status.success(), "slice {k}/{n} failed:\n{stderr}");
    dir
}

#[test]
fn two_slices_run_every_scenario_once_and_merge_into_one_report() {
    let reports = tempfile::tempdir().expect("temp dir");
    let mut seen: Vec<BTreeSet<String>> = Vec::new();
    let mut files = Vec::new();
    for k in 1..=2 {
        let dir = run_slice(k, 2, reports.path());
        let slice = merge::find_reports(&[dir], None).expect("the slice wrote reports");
        let outcomes = merge::merge(&slice).expect("one slice merges");
        assert!(outcomes.iter().all(|o| o.passed), "slice {k} failed");
        seen.push(outcomes.iter().map(display_name).collect());
        files.extend(slice);
    }
    assert!(
        seen[0].is_disjoint(&seen[1]),
        "a run is in both slices: {seen:?}"
    );
    assert!(!seen[0].is_empty() && !seen[1].is_empty(), "{seen:?}");
    let all = merge::merge(&files).expect("the slices merge");
    let names: BTreeSet<String> = all.iter().map(display_name).collect();
    let expected: BTreeSet<String> = ["a", "b", "c"]
        .iter()
        .flat_map(|x| {
            [
                format!("shards/llm-down-{x}"),
                format!("shards/llm-down-{x} (control)"),
            ]
        })
        .collect();
    assert_eq!(
        names, expected,
        "the union of the slices is the whole suite"
    );
    assert_eq!(all.len(), expected.len(), "no run twice");
}
