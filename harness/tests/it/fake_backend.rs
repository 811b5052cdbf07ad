//! The runner above the backends, on the fake backend (no program runs): a topology starts,
//! faults reach the services, verdicts come out, teardown, graceful or dropped, stops every
//! service before the run folder goes, and services and links listen where the backend's host
//! says, not on an address the harness assumed.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clawchaos::backend::fake::{Action, Entry, FakeBackend};
use clawchaos::backend::{Host, Installed, Loopback, Program, Signal, Want};
use clawchaos::observer::{Observer, RunEvent, RunName, Silent};
use clawchaos::runner::{RunOptions, Runner};
use clawchaos::scenario::{load, parse_str};

/// Remembers the run folders the runs made.
#[derive(Default)]
struct Folders(Mutex<Vec<PathBuf>>);

impl Observer for Folders {
    fn event(&self, _run: RunName<'_>, event: &RunEvent) {
        if let RunEvent::RunFolder { path } = event
            && let Ok(mut folders) = self.0.lock()
        {
            folders.push(path.clone());
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn selftest(name: &str) -> clawchaos::scenario::Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios/selftest")
        .join(name);
    load(&path).expect("a shipped scenario")
}

fn actions(entries: &[Entry], service: &str) -> Vec<Action> {
    entries
        .iter()
        .filter(|e| e.service == service)
        .map(|e| e.action)
        .collect()
}

#[test]
fn process_faults_are_detected_and_healed_on_the_fake_backend_and_not_in_control_runs() {
    let rt = runtime();
    for (file, signals) in [
        ("process-kill-restart.toml", &[Signal::Kill][..]),
        ("process-pause.toml", &[Signal::Stop, Signal::Cont][..]),
    ] {
        let scenario = selftest(file);
        for control in [false, true] {
            let fake = FakeBackend::new();
            let runner = Runner::new(Arc::new(fake.clone()));
            let folders = Folders::default();
            let options = RunOptions {
                control,
                ..RunOptions::default()
            };
            let outcome = rt.block_on(runner.run(&scenario, &options, &folders));
            assert!(outcome.passed, "{file} (control {control}): {outcome:#?}");
            let sent: Vec<Signal> = actions(&fake.journal().entries(), "web")
                .into_iter()
                .filter_map(|a| match a {
                    Action::Signalled(s) => Some(s),
                    _ => None,
                })
                .collect();
            if control {
                assert!(sent.is_empty(), "{file}: a control run signalled {sent:?}");
            } else {
                assert_eq!(sent, signals, "{file}");
                let detect = &outcome.faults[0].time_to_detect;
                assert!(detect.is_some(), "{file}: {outcome:#?}");
            }
            for folder in folders.0.lock().expect("folders").iter() {
                assert!(!folder.exists(), "{} left behind", folder.display());
            }
        }
    }
}

/// Two services and a long fault timeline, so that the run can be dropped half-way.
const TWO_SERVICES: &str = r#"
name = "fake/dropped"

[services.first]
kind = "process"
command = ["never-run"]

[services.second]
kind = "process"
command = ["never-run"]

[probes.up]
kind = "tcp"
service = "second"

[probes.down]
kind = "tcp"
service = "second"
connects = false

[steady_state]
probes = ["up"]

[[faults]]
name = "late"
kind = "kill"
service = "second"
at = "60s"
duration = "1s"

[[expect]]
kind = "detect"
fault = "late"
probe = "down"
within = "1s"
"#;

#[test]
fn a_dropped_run_stops_every_service_before_its_folder_goes() {
    let rt = runtime();
    let scenario = parse_str(Path::new("dropped.toml"), TWO_SERVICES).expect("valid");
    let fake = FakeBackend::new();
    let runner = Runner::new(Arc::new(fake.clone()));
    let folders = Folders::default();
    let options = RunOptions::default();
    // Ctrl-C and a panic both drop the run's future half-way: here, in its fault timeline.
    let cut = rt.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(3),
            runner.run(&scenario, &options, &folders),
        )
        .await
    });
    assert!(cut.is_err(), "the run should still have been going");
    let entries = fake.journal().entries();
    let dropped: Vec<&Entry> = entries
        .iter()
        .filter(|e| e.action == Action::Dropped)
        .collect();
    let order: Vec<&str> = dropped.iter().map(|e| e.service.as_str()).collect();
    assert_eq!(
        order,
        ["second", "first"],
        "reverse start order: {entries:#?}"
    );
    assert!(
        dropped.iter().all(|e| e.run_dir_existed),
        "a service outlived its run folder: {entries:#?}"
    );
    let folder = folders.0.lock().expect("folders")[0].clone();
    assert!(!folder.exists(), "{} left behind", folder.display());
}

#[test]
fn a_finished_run_stops_services_gracefully_in_reverse_start_order() {
    let rt = runtime();
    let text = TWO_SERVICES.replace("at = \"60s\"", "at = \"200ms\"");
    let scenario = parse_str(Path::new("finished.toml"), &text).expect("valid");
    let fake = FakeBackend::new();
    let runner = Runner::new(Arc::new(fake.clone()));
    let outcome = rt.block_on(runner.run(&scenario, &RunOptions::default(), &Folders::default()));
    assert!(outcome.passed, "{outcome:#?}");
    let entries = fake.journal().entries();
    let stopped: Vec<&str> = entries
        .iter()
        .filter(|e| e.action == Action::Stopped)
        .map(|e| e.service.as_str())
        .collect();
    assert_eq!(stopped, ["second", "first"], "{entries:#?}");
    assert!(entries.iter().all(|e| e.run_dir_existed), "{entries:#?}");
}

/// A host that is not 127.0.0.1: services bind 127.0.0.2, links 127.0.0.3 (both loopback
/// on Linux, so the run still works).
#[derive(Debug)]
struct Elsewhere;

impl Host for Elsewhere {
    fn listen_ip(&self) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2))
    }

    fn link_ip(&self) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3))
    }

    fn port(&self, want: Want) -> std::io::Result<u16> {
        Loopback::default().port(want)
    }

    fn program(&self, program: Program) -> Result<Installed, String> {
        Loopback::default().program(program)
    }
}

/// Where each service and link of a run said it listens.
#[derive(Default)]
struct Addresses(Mutex<Vec<(String, SocketAddr)>>);

impl Observer for Addresses {
    fn event(&self, _run: RunName<'_>, event: &RunEvent) {
        let seen = match event {
            RunEvent::ServiceReady { service, addr, .. } => (format!("service {service}"), *addr),
            RunEvent::LinkReady { link, addr, .. } => (format!("link {link}"), *addr),
            _ => return,
        };
        if let Ok(mut all) = self.0.lock() {
            all.push(seen);
        }
    }
}

#[test]
fn services_and_links_listen_where_the_backend_s_host_says() {
    let rt = runtime();
    let fake = FakeBackend::on_host(Arc::new(Elsewhere));
    let runner = Runner::new(Arc::new(fake));
    for file in ["process-kill-restart.toml", "llm-latency-detected.toml"] {
        let scenario = selftest(file);
        let seen = Addresses::default();
        let outcome = rt.block_on(runner.run(&scenario, &RunOptions::default(), &seen));
        assert!(outcome.passed, "{file}: {outcome:#?}");
        let seen = seen.0.lock().expect("addresses").clone();
        assert!(
            !seen.is_empty(),
            "{file}: nothing reported where it listens"
        );
        for (what, addr) in &seen {
            // The mock LLM runs inside the harness on this host (it serves in-process): where
            // the links are, the harness's own address.
            let want = if what.starts_with("link") || what == "service llm" {
                Elsewhere.link_ip()
            } else {
                Elsewhere.listen_ip()
            };
            assert_eq!(addr.ip(), want, "{file}: {what} listens on {addr}");
        }
    }
}

/// A backend that runs everything the fake one does except OpenClaw, which it cannot run.
struct NoGateway(FakeBackend);

impl clawchaos::backend::Backend for NoGateway {
    fn name(&self) -> &'static str {
        "no-gateway"
    }

    fn cannot_run(&self, program: Program) -> Option<String> {
        (program == Program::OpenClaw).then(|| "no gateway here".to_string())
    }

    fn open_run(
        &self,
        pins: clawchaos::backend::Pins,
    ) -> clawchaos::backend::BoxFuture<
        '_,
        Result<Box<dyn clawchaos::backend::RunScope>, clawchaos::backend::BackendError>,
    > {
        self.0.open_run(pins)
    }
}

#[test]
fn a_scenario_needing_what_the_backend_cannot_run_is_skipped_with_the_reason() {
    let rt = runtime();
    let runner = Runner::new(Arc::new(NoGateway(FakeBackend::new())));
    let needs_gateway = parse_str(
        Path::new("gateway.toml"),
        r#"
name = "needs-gateway"
smoke = true
[services.gateway]
kind = "openclaw"
[probes.up]
kind = "tcp"
service = "gateway"
[steady_state]
probes = ["up"]
"#,
    )
    .expect("valid");
    let outcome = rt.block_on(runner.run(&needs_gateway, &RunOptions::default(), &Silent));
    assert_eq!(
        outcome.skipped.as_deref(),
        Some("not run on the no-gateway backend: no gateway here")
    );
    assert!(
        outcome.passed && outcome.services.is_empty(),
        "{outcome:#?}"
    );
    // What it can run, it runs.
    let runs = rt.block_on(runner.run(
        &selftest("process-kill-restart.toml"),
        &RunOptions::default(),
        &Silent,
    ));
    assert!(runs.skipped.is_none() && runs.passed, "{runs:#?}");
}
