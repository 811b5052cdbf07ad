//! The command line: invalid files are rejected with positions and nothing is started.

use std::process::Command;

fn clawchaos() -> Command {
    Command::new(env!("CARGO_BIN_EXE_clawchaos"))
}

#[test]
fn validate_rejects_a_bad_file_with_its_position() {
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/invalid/unknown-fault.toml"
    );
    let out = clawchaos()
        .args(["validate", fixture])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unknown-fault.toml:6:8: unknown fault kind \"explode\""),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was started"), "{stderr}");
}

#[test]
fn run_of_a_bad_file_starts_nothing_and_writes_no_report() {
    let dir = std::env::temp_dir().join(format!("clawchaos-cli-test-{}", std::process::id()));
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/invalid");
    let out = clawchaos()
        .args(["run", fixture, "--report-dir"])
        .arg(&dir)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(!dir.exists(), "no report for a run that never started");
}

#[test]
fn validate_accepts_the_shipped_scenarios() {
    let scenarios = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios");
    let out = clawchaos()
        .args(["validate", scenarios])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("scenario(s) valid"));
}
