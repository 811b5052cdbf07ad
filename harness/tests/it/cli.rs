//! The command line: invalid files are rejected with positions and nothing is started.

use std::process::Command;

fn clawchaos() -> Command {
    Command::new(env!("CARGO_BIN_EXE_clawchaos"))
}

fn assert_success(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
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
        .args(["validate", "--files-only", scenarios])
        .output()
        .expect("runs");
    assert_success(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("scenario(s) valid"));
}

fn shipped(path: &str) -> String {
    format!("{}/../scenarios/{path}", env!("CARGO_MANIFEST_DIR"))
}

/// A run whose prerequisite is missing exits 2 naming it and how to install it, and starts
/// nothing: no run folder, no report.
#[test]
fn a_missing_prerequisite_is_named_with_its_install_command_and_nothing_starts() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let reports = tmp.path().join("reports");
    for (scenario, env, name, install) in [
        (
            "kafka/broker-restart.toml",
            ("CLAWCHAOS_TANSU_BIN", "/nonexistent/tansu"),
            "missing prerequisite `tansu`",
            "install it: scripts/setup tansu",
        ),
        (
            "gateway/hang.toml",
            ("CLAWCHAOS_OPENCLAW_HOME", "/nonexistent/openclaw"),
            "missing prerequisite `openclaw`",
            "install it: scripts/setup openclaw",
        ),
    ] {
        for command in ["run", "validate"] {
            let out = clawchaos()
                .args([command, &shipped(scenario)])
                .args(["--report-dir"].iter().filter(|_| command == "run"))
                .args(std::iter::once(&reports).filter(|_| command == "run"))
                .env(env.0, env.1)
                .env("TMPDIR", tmp.path())
                .output()
                .expect("runs");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{command} {scenario}: {stderr}");
            assert!(stderr.contains(name), "{command} {scenario}: {stderr}");
            assert!(stderr.contains(install), "{command} {scenario}: {stderr}");
            assert!(stderr.contains("nothing was started"), "{stderr}");
            assert!(!reports.exists(), "no report for a run that never started");
            assert!(
                !tmp.path().join("clawchaos").exists(),
                "no run folder for a run that never started"
            );
        }
    }
}

/// What `scripts/chaos` sets up for the self-tests: the CLI names no OpenClaw, Tansu,
/// RabbitMQ or bridge for them, and setting up what it names leaves the cache untouched.
#[test]
fn the_self_tests_need_nothing_installed_beyond_python() {
    let needs = |path: &str, missing: bool| {
        let out = clawchaos()
            .arg("needs")
            .args(["--missing"].iter().filter(|_| missing))
            .arg(shipped(path))
            .output()
            .expect("runs");
        assert_success(&out);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(needs("selftest", false), ["python3"]);
    assert_eq!(
        needs("kafka", false),
        ["bridge", "lsof", "openclaw", "tansu"],
        "the Kafka scenarios need the broker, the bridge and the gateway"
    );
    assert_eq!(
        needs("messaging", false),
        ["bridge", "faketime", "lsof", "openclaw", "rabbitmq"]
    );

    let missing = needs("selftest", true);
    assert!(missing.iter().all(|m| m == "python3"), "{missing:?}");
    if missing.is_empty() {
        return;
    }
    let cache = tempfile::tempdir().expect("temp dir");
    let out = Command::new(format!("{}/../scripts/setup", env!("CARGO_MANIFEST_DIR")))
        .args(&missing)
        .env("CLAWCHAOS_CACHE", cache.path())
        .output()
        .expect("runs");
    assert_success(&out);
    let left: Vec<_> = std::fs::read_dir(cache.path())
        .expect("cache")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .filter(|n| n != "apt.log")
        .collect();
    assert!(left.is_empty(), "the self-tests' set-up installed {left:?}");
}

/// A release npm does not carry is refused before anything starts, with the nearest published
/// ones (asks the npm registry, as `scripts/setup openclaw` does).
#[test]
fn an_unpublished_openclaw_release_is_refused_with_the_nearest_published() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let reports = tmp.path().join("reports");
    let out = clawchaos()
        .args(["run", "--openclaw", "2026.7.2", "--report-dir"])
        .arg(&reports)
        .arg(shipped("gateway/hang.toml"))
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "openclaw@2026.7.2 is not published on npm; the nearest published: 2026.7.1, 2026.7.33"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was started"), "{stderr}");
    assert!(!reports.exists(), "no report for a run that never started");

    let out = clawchaos()
        .args(["run", "--openclaw", "2026.7", "--report-dir"])
        .arg(&reports)
        .arg(shipped("gateway/hang.toml"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("`2026.7` is not an OpenClaw release"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Bisect refuses what it cannot search before running anything: a scenario without a
/// gateway, the same release at both ends, a release npm does not carry.
#[test]
fn bisect_refuses_what_it_cannot_search_and_starts_nothing() {
    let bisect = |file: &str, good: &str, bad: &str| {
        let out = clawchaos()
            .args(["bisect", &shipped(file), "--good", good, "--bad", bad])
            .output()
            .expect("runs");
        assert_eq!(
            out.status.code(),
            Some(2),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout.is_empty(), "nothing was run");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let no_gateway = bisect("selftest/llm-latency-detected.toml", "2026.9.6", "2026.7.1");
    assert!(
        no_gateway.contains("this scenario has no openclaw service"),
        "{no_gateway}"
    );
    let same = bisect("gateway/hang.toml", "2026.9.6", "2026.9.6");
    assert!(
        same.contains("--good and --bad are both 2026.9.6"),
        "{same}"
    );
    let unpublished = bisect("gateway/hang.toml", "2026.9.6", "2026.7.2");
    assert!(
        unpublished.contains("openclaw@2026.7.2 is not published on npm"),
        "{unpublished}"
    );
}
