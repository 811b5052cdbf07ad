//! The runner: brings a topology up, waits for steady state, plays the fault timeline, judges
//! every expectation with time-to-detect and time-to-recover, and tears everything down.
//!
//! Who owns what:
//! - [`topology::Topology`] owns every resource of a run (run folder, services, proxy, links,
//!   the ledger's clients) and starts services through their recipe (`crate::services`) on a
//!   backend's run scope, waiting until each is ready (`ready`); dropping it tears
//!   everything down.
//! - `timeline::Timeline` plays one run: steady state, each fault's injection and heal on
//!   schedule (keeping what each injection returned for its heal), the probes' pollers, and
//!   the verdicts, which `verdict` decides as pure functions of the observations.
//! - [`faults`] injects and heals, one file per fault family.
//! - [`outcome`] is what a run reports; the [`crate::observer`] hears its events as they happen.

mod clock;
pub mod faults;
mod interrupt;
pub mod outcome;
mod ready;
mod timeline;
pub mod topology;
mod verdict;

use std::sync::Arc;
use std::time::{Duration, Instant};

pub use interrupt::unless_interrupted;
pub use outcome::{
    ExpectationOutcome, FaultOutcome, KnownDefectSeen, Phases, ProbeTrace, ScenarioOutcome,
    ServiceStart, Stretch, Verdict,
};

use crate::backend::Backend;
use crate::observer::{Observer, RunEvent, RunName};
use crate::scenario::{ExpectKind, KnownDefect, Scenario};
use timeline::Timeline;
use topology::{StartMode, Topology};

/// How to run a scenario.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Run with every fault switched off: every `detect` expectation must then fail.
    pub control: bool,
    /// Keep the run folder afterwards (its logs), instead of removing it.
    pub keep_run_dir: bool,
    /// The OpenClaw release to run (a version matrix's column); `None`: the one installed.
    pub openclaw: Option<crate::scenario::version::Version>,
}

/// Runs scenarios on a backend.
#[derive(Clone)]
pub struct Runner {
    backend: Arc<dyn Backend>,
}

impl Default for Runner {
    fn default() -> Self {
        Self::new(crate::backend::default_backend())
    }
}

impl Runner {
    /// A runner on `backend`.
    pub fn new(backend: Arc<dyn Backend>) -> Self {
        Self { backend }
    }

    /// Runs one scenario and reports what it found. Never panics on a failing system under
    /// test: failures are in the outcome. Everything started is stopped before it returns,
    /// and dropping the future (Ctrl-C) or a panic tears everything down too.
    pub async fn run(
        &self,
        scenario: &Scenario,
        options: &RunOptions,
        observer: &dyn Observer,
    ) -> ScenarioOutcome {
        let started = Instant::now();
        let deadline = clock::after(started, scenario.settings.timeout);
        let run = RunName {
            scenario: &scenario.name,
            control: options.control,
            openclaw: options.openclaw.as_ref(),
        };
        observer.event(
            run,
            &RunEvent::Started {
                control: options.control,
            },
        );
        let mut outcome = ScenarioOutcome {
            name: scenario.name.clone(),
            file: scenario.source.clone(),
            control: options.control,
            passed: false,
            skipped: None,
            cut_short: None,
            phases: Phases::default(),
            duration: Duration::ZERO,
            steady_after: None,
            services: Vec::new(),
            faults: Vec::new(),
            expectations: Vec::new(),
            error: None,
            control_defects: Vec::new(),
            ledger: None,
            tier: scenario.tier,
            known_defect: None,
            openclaw: options.openclaw.as_ref().map(ToString::to_string),
            probes: Vec::new(),
        };
        let unsupported = scenario
            .unsupported
            .get(self.backend.name())
            .cloned()
            .or_else(|| {
                scenario
                    .services
                    .values()
                    .flat_map(crate::services::programs_of)
                    .find_map(|program| self.backend.cannot_run(program))
            })
            .map(|why| format!("not run on the {} backend: {why}", self.backend.name()));
        let not_needed = (options.control && !has_detects(scenario)).then(|| {
            "no detect expectations: a control run would have nothing to show \
             (its invariants are judged in the scenario's own run)"
                .to_string()
        });
        if let Some(reason) = unsupported.or(not_needed) {
            observer.event(
                run,
                &RunEvent::Skipped {
                    reason: reason.clone(),
                },
            );
            outcome.skipped = Some(reason);
            outcome.passed = true;
            return outcome;
        }

        let mut services = Vec::new();
        let start = Topology::start(
            scenario,
            self.backend.as_ref(),
            StartMode {
                pins: crate::backend::Pins {
                    openclaw: options.openclaw.clone(),
                },
                faults_on: !options.control,
                keep_run_dir: options.keep_run_dir,
            },
            |mut event| {
                if let RunEvent::ServiceReady {
                    service,
                    pid,
                    after,
                    version,
                    ..
                } = &mut event
                {
                    *after = started.elapsed();
                    services.push(ServiceStart {
                        name: service.clone(),
                        kind: scenario
                            .services
                            .get(service)
                            .map(|spec| spec.kind.name().to_string())
                            .unwrap_or_default(),
                        pid: *pid,
                        ready_after: *after,
                        version: version.clone(),
                    });
                }
                observer.event(run, &event);
            },
        );
        let started_topology = tokio::time::timeout_at(deadline.into(), start).await;
        outcome.phases.setup = started.elapsed();
        outcome.services = services;
        let mut topology = match started_topology {
            Ok(Ok(t)) => t,
            Ok(Err(e)) => {
                outcome.error = Some(format!("set-up failed: {e}"));
                outcome.duration = started.elapsed();
                return outcome;
            }
            Err(_) => {
                outcome.error = Some(format!(
                    "set-up did not finish within the scenario timeout ({}ms)",
                    scenario.settings.timeout.as_millis()
                ));
                outcome.duration = started.elapsed();
                return outcome;
            }
        };

        let defect = expected_defect(scenario, &outcome.services);
        let mut timeline = Timeline::new(scenario, defect, run, &mut topology, started);
        let timeline_started = Instant::now();
        let result =
            tokio::time::timeout_at(deadline.into(), timeline.run(&mut topology, observer)).await;
        let timeline_took = timeline_started.elapsed();
        if result.is_err() {
            timeline.timed_out();
        }
        if let Ok(Err(e)) = &result {
            outcome.error = Some(e.to_string());
        }
        if result.is_err() {
            outcome.error = Some(format!(
                "the run did not finish within the scenario timeout ({}ms)",
                scenario.settings.timeout.as_millis()
            ));
        }
        observer.event(run, &RunEvent::TearingDown);
        let teardown_started = Instant::now();
        drop(timeline.stop_polling());
        timeline.release().await;
        topology.shutdown().await;
        outcome.phases.teardown = teardown_started.elapsed();

        timeline.fill(&mut outcome);
        // Steady state is the timeline's first step; the phases say it apart.
        let steady = outcome
            .steady_after
            .map_or(timeline_took, |at| at.saturating_sub(outcome.phases.setup));
        outcome.phases.steady_state = steady.min(timeline_took);
        outcome.phases.timeline = timeline_took.saturating_sub(outcome.phases.steady_state);
        outcome.duration = started.elapsed();
        let failed: Vec<bool> = outcome
            .expectations
            .iter()
            .filter(|e| e.verdict == Verdict::Failed)
            .map(|e| defect.is_some_and(|d| d.probes.contains(&e.probe)))
            .collect();
        let (passed, reproduced) = verdict::decide_run(
            options.control,
            outcome.error.is_some(),
            outcome.control_defects.len(),
            &failed,
            defect.is_some(),
        );
        outcome.passed = passed;
        if let (Some(defect), Some(reproduced)) = (defect, reproduced) {
            outcome.known_defect = Some(KnownDefectSeen {
                summary: defect.summary.clone(),
                report: defect.report.clone(),
                probes: defect.probes.clone(),
                reproduced,
            });
        }
        outcome
    }
}

/// The OpenClaw releases `scenario` runs on: its own (`openclaw = [..]`), else `asked` (the
/// command's `--openclaw`) when it has a gateway, else the one installed (`None`).
pub fn releases_of(
    scenario: &Scenario,
    asked: &[crate::scenario::version::Version],
) -> Vec<Option<crate::scenario::version::Version>> {
    if !scenario.openclaw.is_empty() {
        return scenario.openclaw.iter().cloned().map(Some).collect();
    }
    let has_gateway = scenario
        .services
        .values()
        .any(|s| s.kind.name() == "openclaw");
    if asked.is_empty() || !has_gateway {
        return vec![None];
    }
    asked.iter().cloned().map(Some).collect()
}

fn has_detects(scenario: &Scenario) -> bool {
    scenario
        .expectations
        .iter()
        .any(|e| matches!(e.kind, ExpectKind::Detect { .. }))
}

/// The known defect a run expects: the scenario's, unless its `versions` leave out the
/// OpenClaw release this run started (then the scenario is judged as any other).
fn expected_defect<'a>(
    scenario: &'a Scenario,
    services: &[ServiceStart],
) -> Option<&'a KnownDefect> {
    let defect = scenario.known_defect.as_ref()?;
    let openclaw = services
        .iter()
        .find(|s| {
            scenario
                .services
                .get(&s.name)
                .is_some_and(|spec| spec.kind.name() == "openclaw")
        })
        .and_then(|s| s.version.as_deref());
    defect.expected_on(openclaw).then_some(defect)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCENARIO: &str = r#"
name = "defect"

[known_defect]
summary = "no fallback"
report = "docs/x.md"
probes = ["up"]
versions = "<2026.8.0"

[services.llm]
kind = "mock_llm"

[services.gateway]
kind = "openclaw"
provider = { service = "llm" }

[probes.up]
kind = "http"
service = "llm"
path = "/v1/models"
status = 200

[[faults]]
name = "down"
kind = "llm_error"
service = "llm"
status = 500
at = "1s"
duration = "2s"

[[expect]]
kind = "detect"
fault = "down"
probe = "up"
within = "3s"
"#;

    fn started(name: &str, version: Option<&str>) -> ServiceStart {
        ServiceStart {
            name: name.into(),
            kind: String::new(),
            pid: None,
            ready_after: Duration::ZERO,
            version: version.map(str::to_string),
        }
    }

    #[test]
    fn a_known_defect_is_expected_only_on_the_releases_it_names() {
        let scenario = crate::scenario::parse_str(std::path::Path::new("d.toml"), SCENARIO)
            .expect("valid scenario");
        let on = |version| {
            expected_defect(
                &scenario,
                &[started("llm", None), started("gateway", Some(version))],
            )
            .is_some()
        };
        assert!(on("OpenClaw 2026.7.1"));
        assert!(!on("OpenClaw 2026.9.6"), "fixed there: judged as any other");
        // Another service's version is not OpenClaw's.
        let rabbit = [
            started("llm", Some("OpenClaw 2026.9.6")),
            started("gateway", None),
        ];
        assert!(expected_defect(&scenario, &rabbit).is_some());
    }
}
