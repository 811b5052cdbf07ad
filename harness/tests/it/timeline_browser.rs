//! A run's HTML timeline, opened in a real browser (Debian's headless Chromium, installed by
//! `scripts/setup chromium`): the page draws a lane per probe, the fault's band and its marks,
//! and a screenshot of it is taken. The run is a real one: openclaw#110306 reproduced on
//! OpenClaw 2026.7.1 (`incidents/port-held-by-http-server`), its outcome kept as a fixture.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clawchaos::report::timeline;
use clawchaos::runner::ScenarioOutcome;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/timeline/port-held-by-http-server-2026.7.1.json"
);

/// Runs headless Chromium on `page` with `args`; its stdout. Fails the test when Chromium is
/// missing or takes over a minute.
fn chromium(profile: &Path, page: &Path, args: &[&str]) -> String {
    let program = std::env::var("CLAWCHAOS_CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let mut child = Command::new(&program)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run {program} ({e}): `scripts/setup chromium` installs it")
        });
    let started = Instant::now();
    loop {
        match child.try_wait().expect("wait for chromium") {
            Some(_) => break,
            None if started.elapsed() > Duration::from_secs(60) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{program} did not finish within 60 s");
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    let output = child.wait_with_output().expect("chromium's output");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn the_timeline_of_the_110306_reproduction_draws_its_lanes_in_chromium() {
    let text = std::fs::read_to_string(FIXTURE).expect("the fixture");
    let outcome: ScenarioOutcome = serde_json::from_str(&text).expect("an outcome");
    assert!(
        outcome.probes.len() >= 3,
        "the fixture has its probes' traces"
    );
    let tmp = tempfile::tempdir().expect("temp dir");
    let page = tmp.path().join(timeline::file_name(&outcome));
    std::fs::write(&page, timeline::to_html(&outcome)).expect("the page");

    let dom = chromium(&tmp.path().join("profile"), &page, &["--dump-dom"]);
    assert!(
        dom.contains(&format!("data-lanes=\"{}\"", outcome.probes.len())),
        "the script did not draw: {}",
        &dom[..dom.len().min(2000)]
    );
    for probe in &outcome.probes {
        assert!(
            dom.contains(&format!("class=\"lane\" data-probe=\"{}\"", probe.probe)),
            "no lane for {}",
            probe.probe
        );
    }
    assert_eq!(
        dom.matches("<rect class=\"holds\"").count() + dom.matches("<rect class=\"fails\"").count(),
        outcome
            .probes
            .iter()
            .map(|p| p.stretches.len())
            .sum::<usize>(),
        "one bar per stretch"
    );
    assert!(dom.contains("class=\"fault\" data-fault=\"http-server-on-port\""));
    assert!(dom.contains("<rect class=\"band\""), "the fault's band");
    assert!(
        dom.contains("class=\"mark ttd\""),
        "the time-to-detect mark"
    );
    assert!(dom.contains("class=\"badge XFAIL\""), "the verdict");
    assert!(dom.contains("OpenClaw 2026.7.1"), "the release");
    assert!(
        dom.contains("exited with code 0"),
        "what the failed expectation saw"
    );

    let shot = tmp.path().join("timeline.png");
    chromium(
        &tmp.path().join("profile"),
        &page,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1200,700",
        ],
    );
    let png = std::fs::read(&shot).expect("a screenshot");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    // A blank page of that size is about 4 KB; the drawn one has text and colour.
    assert!(png.len() > 20_000, "a screenshot of {} bytes", png.len());
}
