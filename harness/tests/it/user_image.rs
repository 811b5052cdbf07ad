//! A user's own OpenClaw image (`CLAWCHAOS_OPENCLAW_IMAGE`): checked on the engine before
//! anything starts, and its version read from it and reported. Needs a Docker engine and our
//! OpenClaw image to derive the user's from (`scripts/setup openclaw containers`).

use std::path::Path;
use std::process::{Command, Output, Stdio};

use clawchaos::backend::containers::images::our_openclaw_image;

use crate::teardown::Scratch;

/// A gateway that only has to come up.
const SCENARIO: &str = r#"
name = "user-image"
smoke = true

[services.gateway]
kind = "openclaw"

[probes.ready]
kind = "http"
service = "gateway"
path = "/readyz"
status = 200

[steady_state]
probes = ["ready"]
within = "90s"
"#;

/// An image of the user's, under a name of its own, removed when dropped.
struct UserImage(String);

impl UserImage {
    /// Ours, with `openclaw --version` answering `version` (the gateway itself is the real
    /// one) and without our version label: the harness must ask the image.
    fn reporting(version: &str) -> Self {
        let name = format!("clawchaos-test/users-openclaw:{}", std::process::id());
        let dockerfile = format!(
            "FROM {base}\n\
             LABEL org.openclaw.version=\"\"\n\
             RUN mv /usr/local/bin/openclaw /usr/local/bin/openclaw-real && \
                 printf '#!/bin/sh\\nif [ \"$1\" = --version ]; then echo \"OpenClaw {version} (users)\"; exit 0; fi\\nexec openclaw-real \"$@\"\\n' \
                 > /usr/local/bin/openclaw && chmod 755 /usr/local/bin/openclaw\n",
            base = our_openclaw_image(None)
        );
        let mut build = Command::new("docker")
            .args(["build", "-q", "-t", &name, "-"])
            .env("DOCKER_BUILDKIT", "0")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("docker build runs");
        {
            use std::io::Write as _;
            let mut stdin = build.stdin.take().expect("stdin");
            stdin
                .write_all(dockerfile.as_bytes())
                .expect("write the Dockerfile");
        }
        let built = build.wait_with_output().expect("docker build ends");
        assert!(
            built.status.success(),
            "docker build: {}",
            String::from_utf8_lossy(&built.stderr)
        );
        Self(name)
    }
}

impl Drop for UserImage {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["image", "rm", "-f", &self.0])
            .output();
    }
}

fn run_with_image(image: &str, tmp: &Path) -> Output {
    let file = tmp.join("user-image.toml");
    std::fs::write(&file, SCENARIO).expect("scenario file");
    Command::new(env!("CARGO_BIN_EXE_clawchaos"))
        .args(["run", "--backend", "containers"])
        .arg(&file)
        .arg("--report-dir")
        .arg(tmp.join("report"))
        .env("TMPDIR", tmp)
        .env("CLAWCHAOS_OPENCLAW_IMAGE", image)
        .output()
        .expect("clawchaos runs")
}

#[test]
fn a_scenario_runs_on_the_user_s_image_and_reports_the_version_read_from_it() {
    let scratch = Scratch::new("clawchaos-user-image");
    let image = UserImage::reporting("2099.1.2");
    let output = run_with_image(&image.0, &scratch.0);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(scratch.0.join("report/report.json")).expect("report.json"),
    )
    .expect("JSON");
    let versions: Vec<&str> = report["scenarios"][0]["services"]
        .as_array()
        .expect("services")
        .iter()
        .filter_map(|s| s["version"].as_str())
        .collect();
    assert_eq!(versions, ["OpenClaw 2099.1.2"], "{report:#}");
    assert!(stderr.contains("OpenClaw 2099.1.2"), "{stderr}");
}

#[test]
fn an_image_not_on_the_engine_is_refused_before_anything_starts() {
    let scratch = Scratch::new("clawchaos-no-image");
    let output = run_with_image("clawchaos-test/no-such-image:nowhere", &scratch.0);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("CLAWCHAOS_OPENCLAW_IMAGE=clawchaos-test/no-such-image:nowhere")
            && stderr.contains("nothing was started"),
        "{stderr}"
    );
    assert!(
        !scratch.0.join("clawchaos").exists()
            || std::fs::read_dir(scratch.0.join("clawchaos"))
                .map(|mut d| d.next().is_none())
                .unwrap_or(true),
        "a run folder was made"
    );
}
