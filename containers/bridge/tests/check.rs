//! The built `claw-bridge` binary validates configs: `--check` exits 0 on a good file and 2
//! with `FILE:LINE:COL: what was expected` on a bad one.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const GOOD: &str = "\
messaging:
  broker: rabbitmq
  url: amqp://127.0.0.1:5672/%2f
  heartbeat: 5s
  token:
    url: http://127.0.0.1:7000/token
    refresh_before: 10s
    leeway: 30s
gateway:
  url: http://127.0.0.1:18789
  token: clawchaos-gateway-token
bridge:
  health_listen: 127.0.0.1:8080
  ack: after_publish
";

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("claw-bridge-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).expect("write config");
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn check(path: &Path, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_claw-bridge"));
    cmd.arg("--config").arg(path).arg("--check");
    for var in [
        "OPENCLAW_MESSAGING_BROKER",
        "OPENCLAW_MESSAGING_URL",
        "OPENCLAW_MESSAGING_TOKEN",
        "OPENCLAW_MESSAGING_TOKEN_URL",
        "OPENCLAW_GATEWAY_URL",
        "OPENCLAW_GATEWAY_TOKEN",
        "CLAW_BRIDGE_HEALTH_LISTEN",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied());
    cmd.output().expect("run claw-bridge")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn good_file_passes() {
    let dir = Scratch::new("good");
    let path = dir.write("bridge.yaml", GOOD);
    let out = check(&path, &[]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
}

#[test]
fn unknown_key_exits_2_naming_file_line_col() {
    let dir = Scratch::new("unknown");
    let path = dir.write(
        "bridge.yaml",
        &GOOD.replace("  heartbeat: 5s\n", "  heartbeat: 5s\n  hartbeat: 5s\n"),
    );
    let out = check(&path, &[]);
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(&out));
    let err = stderr(&out);
    let expected = format!("{}:5:3: ", path.display());
    assert!(
        err.starts_with(&expected),
        "expected `{expected}…`, got: {err}"
    );
    assert!(err.contains("unknown field `hartbeat`"), "{err}");
}

#[test]
fn bad_duration_exits_2_naming_file_line_col() {
    let dir = Scratch::new("duration");
    let path = dir.write(
        "bridge.yaml",
        &GOOD.replace("leeway: 30s", "leeway: thirty"),
    );
    let out = check(&path, &[]);
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!("{}:8:13: ", path.display())),
        "{err}"
    );
    assert!(err.contains("expected a duration"), "{err}");
}

#[test]
fn non_loopback_exits_2_and_env_beats_file() {
    let dir = Scratch::new("loopback");
    let path = dir.write(
        "bridge.yaml",
        &GOOD.replace("amqp://127.0.0.1", "amqp://10.9.8.7"),
    );
    let out = check(&path, &[]);
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!("{}:3:8: ", path.display())),
        "{err}"
    );
    assert!(err.contains("loopback"), "{err}");
    // The environment overrides the bad file value...
    let out = check(
        &path,
        &[("OPENCLAW_MESSAGING_URL", "amqp://127.0.0.1:5999/%2f")],
    );
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    // ...and a bad environment value is named by its variable.
    let good = dir.write("good.yaml", GOOD);
    let out = check(&good, &[("OPENCLAW_GATEWAY_URL", "http://example.com:80")]);
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(&out));
    assert!(
        stderr(&out).starts_with("OPENCLAW_GATEWAY_URL: "),
        "{}",
        stderr(&out)
    );
}

#[test]
fn missing_file_exits_2() {
    let out = check(Path::new("/nonexistent/claw-bridge.yaml"), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("/nonexistent/claw-bridge.yaml"));
}
