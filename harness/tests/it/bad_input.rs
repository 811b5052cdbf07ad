//! Bad input a new user writes on day one: each case gets a located error (file, line,
//! column) or the right exit status, never a panic, a busy loop or a silent pass.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

use clawchaos::scenario::parse_str;

use super::validation::{VALID as BASE, problems};

/// `text` is rejected with a problem on the line that starts with `line_start` (1 for the
/// top of the file) whose message contains `needle`.
fn rejected_at(text: &str, line_start: Option<&str>, needle: &str) {
    let line = match line_start {
        None => 1,
        Some(start) => {
            text.lines()
                .position(|l| l.starts_with(start))
                .unwrap_or_else(|| panic!("no line starts with {start:?}"))
                + 1
        }
    };
    let found = problems(text);
    assert!(
        found
            .iter()
            .any(|d| d.line == line && d.column >= 1 && d.message.contains(needle)),
        "expected a problem on line {line} containing {needle:?}, got: {found:#?}"
    );
}

fn with(old: &str, new: &str) -> String {
    assert!(BASE.contains(old), "BASE lacks {old:?}");
    BASE.replacen(old, new, 1)
}

#[test]
fn an_empty_file_starts_nothing_and_is_rejected() {
    rejected_at("", None, "starts nothing");
    rejected_at("# only a comment\n", None, "starts nothing");
}

#[test]
fn a_scenario_without_expectations_cannot_fail_and_is_rejected() {
    let text = "name = \"idle\"\n\n[services.llm]\nkind = \"mock_llm\"\n";
    rejected_at(text, None, "cannot fail");
}

#[test]
fn a_smoke_file_is_the_documented_opt_out_and_needs_a_steady_state() {
    let smoke = "smoke = true\n\n[services.llm]\nkind = \"mock_llm\"\n\n[probes.up]\nkind = \"tcp\"\nservice = \"llm\"\n\n[steady_state]\nprobes = [\"up\"]\n";
    parse_str(Path::new("smoke.toml"), smoke).expect("a smoke file with a steady state");
    let hollow = "smoke = true\n\n[services.llm]\nkind = \"mock_llm\"\n";
    rejected_at(hollow, Some("smoke"), "needs [steady_state] probes");
}

#[test]
fn a_duration_that_would_overflow_the_clock_is_rejected() {
    let text = with("duration = \"2s\"", "duration = \"5124095576030431h\"");
    rejected_at(&text, Some("duration ="), "at most 24h");
}

#[test]
fn not_before_after_within_is_a_window_no_detection_meets() {
    let text = with("within = \"3s\"", "within = \"3s\"\nnot_before = \"5s\"");
    rejected_at(&text, Some("not_before"), "must be shorter than `within`");
}

#[test]
fn a_fault_past_the_timeout_could_never_happen() {
    let text = with("[[faults]]", "[settings]\ntimeout = \"60s\"\n\n[[faults]]").replacen(
        "at = \"1s\"",
        "at = \"90s\"",
        1,
    );
    rejected_at(
        &text,
        Some("name = \"slow\""),
        "past the scenario's timeout",
    );
    // Healing past the timeout is as impossible as starting past it.
    let text = with("[[faults]]", "[settings]\ntimeout = \"60s\"\n\n[[faults]]").replacen(
        "duration = \"2s\"",
        "duration = \"2m\"",
        1,
    );
    rejected_at(&text, Some("name = \"slow\""), "is healed");
}

#[test]
fn an_expectation_window_past_the_timeout_is_rejected() {
    let text = with("[[faults]]", "[settings]\ntimeout = \"10s\"\n\n[[faults]]").replacen(
        "within = \"3s\"",
        "within = \"30s\"",
        1,
    );
    rejected_at(&text, Some("fault = \"slow\""), "closes");
}

#[test]
fn zero_intervals_and_timeouts_are_rejected() {
    for (key, table) in [
        ("poll_interval", "settings"),
        ("timeout", "settings"),
        ("within", "steady_state"),
    ] {
        let text = if table == "settings" {
            with(
                "[[faults]]",
                &format!("[settings]\n{key} = \"0s\"\n\n[[faults]]"),
            )
        } else {
            with(
                "probes = [\"fast\"]",
                "probes = [\"fast\"]\nwithin = \"0s\"",
            )
        };
        let start = format!("{key} = \"0s\"");
        rejected_at(&text, Some(&start), "above zero");
    }
    let text = with("within = \"3s\"", "within = \"0ms\"");
    rejected_at(&text, Some("within = \"0ms\""), "above zero");
}

#[test]
fn names_that_are_not_safe_as_folder_names_or_table_cells_are_rejected() {
    for bad in ["", "..", "a/b", "two\\nlines", ".hidden", "pipe|cell"] {
        let text = with("name = \"slow\"", &format!("name = \"{bad}\""))
            .replace("fault = \"slow\"", &format!("fault = \"{bad}\""));
        rejected_at(&text, Some(&format!("name = \"{bad}\"")), "is not usable");
        let text = with("[probes.fast]", &format!("[probes.\"{bad}\"]"));
        rejected_at(&text, Some("[probes."), "is not usable");
    }
    let long = "x".repeat(65);
    let text = with("[services.llm]", &format!("[services.{long}]"));
    rejected_at(&text, Some("[services."), "is not usable");
    for bad in ["", "..", "a//b", "/abs", "new\\nline"] {
        let text = with("name = \"ok\"", &format!("name = \"{bad}\""));
        rejected_at(&text, Some(&format!("name = \"{bad}\"")), "scenario name");
    }
    // A scenario name may have folders, as the shipped ones do.
    let text = with("name = \"ok\"", "name = \"llm/rate-limited\"");
    parse_str(Path::new("ok.toml"), &text).expect("a name with a folder");
}

fn clawchaos() -> Command {
    Command::new(env!("CARGO_BIN_EXE_clawchaos"))
}

/// A fresh folder under the system's temp folder, removed when dropped.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("clawchaos-bad-input-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn two_files_with_one_name_are_rejected_before_anything_starts() {
    let dir = TempDir::new("dup");
    std::fs::write(dir.0.join("one.toml"), BASE).expect("write");
    std::fs::write(dir.0.join("two.toml"), BASE).expect("write");
    let reports = dir.0.join("reports");
    let out = clawchaos()
        .args(["run", "--report-dir"])
        .arg(&reports)
        .arg(&dir.0)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("two.toml: scenario name \"ok\" is also the name of")
            && stderr.contains("one.toml"),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was started"), "{stderr}");
    assert!(!reports.exists(), "no report for a run that never started");
}

#[test]
fn an_empty_file_is_exit_2_not_a_pass() {
    let dir = TempDir::new("empty");
    let file = dir.0.join("empty.toml");
    std::fs::write(&file, "").expect("write");
    for args in [&["validate"][..], &["run", "--report-dir", "reports"][..]] {
        let command = args[0];
        let out = clawchaos()
            .current_dir(&dir.0)
            .args(args)
            .arg(&file)
            .output()
            .expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command}: {stderr}");
        assert!(stderr.contains("empty.toml:1:1:"), "{command}: {stderr}");
    }
}

#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    let scenarios = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios");
    for args in [&["list", scenarios][..], &["faults"][..]] {
        let mut child = clawchaos()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starts");
        // The reader goes away before the first line is written, as `| head -c 0` would.
        drop(child.stdout.take());
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .expect("stderr")
            .read_to_string(&mut stderr)
            .expect("stderr");
        let status = child.wait().expect("exits");
        assert_eq!(status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}
