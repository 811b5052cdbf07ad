//! The timeline of one run: steady state, injections and heals on schedule, and the verdict of
//! each expectation from the probes' observations.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::faults::{self, FaultCx, FaultError, Undo};
use super::outcome::{ExpectationOutcome, FaultOutcome, ProbeTrace, ScenarioOutcome, Verdict};
use super::topology::Topology;
use super::{clock, verdict};
use crate::observer::{Observer, RunEvent, RunName};
use crate::probe::poller::{History, Poller};
use crate::probe::{Observation, ms};
use crate::scenario::{ExpectKind, Expectation, FaultSpec, KnownDefect, ProbeKind, Scenario};

const TICK: Duration = Duration::from_millis(10);
/// How many lost tasks a ledger failure names.
const LOST_IDS_SHOWN: usize = 5;

/// Why a timeline stopped before its end.
#[derive(Debug, thiserror::Error)]
pub(super) enum TimelineError {
    /// Steady state was not reached before the first fault (the detail says which probe).
    #[error("{0}")]
    SteadyState(String),
    /// A fault could not be injected or healed.
    #[error(transparent)]
    Fault(#[from] FaultError),
}

struct FaultState<'s> {
    spec: &'s FaultSpec,
    injected: Option<Instant>,
    healed: Option<Instant>,
    /// What the injection returned for the heal, until the heal.
    undo: Option<Undo>,
}

struct ExpectState<'s> {
    spec: &'s Expectation,
    verdict: Option<Verdict>,
    observed: Option<Duration>,
    detail: String,
}

/// The state of a run's timeline; it survives a timeout so partial results can be reported.
pub(super) struct Timeline<'s> {
    scenario: &'s Scenario,
    /// The known defect this run expects (the scenario's, if its OpenClaw is among the
    /// releases it names).
    defect: Option<&'s KnownDefect>,
    /// Which run this is (a control run's faults are off).
    run: RunName<'s>,
    run_started: Instant,
    pollers: BTreeMap<String, Poller>,
    steady_at: Option<Instant>,
    faults: Vec<FaultState<'s>>,
    expectations: Vec<ExpectState<'s>>,
    final_steady: Option<ExpectationOutcome>,
    ledger_outcomes: Vec<ExpectationOutcome>,
    ledger_counts: Option<crate::ledger::Counts>,
    /// In a control run that ended once its verdict was in: what it left out.
    cut_short: Option<String>,
    /// The probes' traces, kept when polling stops.
    traces: Vec<ProbeTrace>,
}

impl<'s> Timeline<'s> {
    pub(super) fn new(
        scenario: &'s Scenario,
        defect: Option<&'s KnownDefect>,
        run: RunName<'s>,
        topology: &mut Topology,
        run_started: Instant,
    ) -> Self {
        let pollers = scenario
            .probes
            .values()
            .map(|p| {
                (
                    p.name.clone(),
                    Poller::start(
                        p.clone(),
                        topology.probe_context.clone(),
                        scenario.settings.poll_interval,
                    ),
                )
            })
            .collect();
        Self {
            scenario,
            defect,
            run,
            run_started,
            pollers,
            steady_at: None,
            faults: scenario
                .faults
                .iter()
                .map(|spec| FaultState {
                    spec,
                    // Before-start faults were put in place (or, in a control run, would have
                    // been) as the topology started.
                    injected: spec.before_start().then(|| {
                        topology
                            .injected_before_start
                            .get(&spec.name)
                            .copied()
                            .unwrap_or(run_started)
                    }),
                    healed: None,
                    undo: spec.before_start().then(|| {
                        topology
                            .squatters
                            .remove(&spec.name)
                            .map_or(Undo::Nothing, Undo::Squatter)
                    }),
                })
                .collect(),
            expectations: scenario
                .expectations
                .iter()
                .map(|spec| ExpectState {
                    spec,
                    verdict: None,
                    observed: None,
                    detail: String::new(),
                })
                .collect(),
            final_steady: None,
            ledger_outcomes: Vec::new(),
            ledger_counts: None,
            cut_short: None,
            traces: Vec::new(),
        }
    }

    fn run_name(&self) -> RunName<'s> {
        self.run
    }

    fn history(&self, probe: &str) -> History {
        self.pollers
            .get(probe)
            .map(|p| p.history.clone())
            .unwrap_or_default()
    }

    /// Stops every poller.
    pub(super) fn stop_polling(&mut self) -> BTreeMap<String, Poller> {
        self.traces = self.probe_traces();
        std::mem::take(&mut self.pollers)
    }

    /// What each probe saw so far, as stretches of one result.
    fn probe_traces(&self) -> Vec<ProbeTrace> {
        self.pollers
            .iter()
            .map(|(name, poller)| {
                ProbeTrace::of(name, &poller.history.snapshot(), self.run_started)
            })
            .filter(|trace| !trace.stretches.is_empty())
            .collect()
    }

    /// Stops what faults that were never healed still hold (a squatter), before teardown.
    pub(super) async fn release(&mut self) {
        for f in &mut self.faults {
            if let Some(undo) = f.undo.take() {
                undo.release().await;
            }
        }
    }

    /// Plays the whole timeline.
    pub(super) async fn run(
        &mut self,
        topology: &mut Topology,
        observer: &dyn Observer,
    ) -> Result<(), TimelineError> {
        self.activate_probes(true);
        let steady = self.wait_steady(Instant::now()).await;
        match steady {
            Ok(at) => {
                self.steady_at = Some(at);
                observer.event(
                    self.run_name(),
                    &RunEvent::SteadyState {
                        after: at.saturating_duration_since(self.run_started),
                    },
                );
            }
            Err(detail) => return Err(TimelineError::SteadyState(detail)),
        }
        let t0 = self.steady_at.unwrap_or_else(Instant::now);
        loop {
            let now = Instant::now();
            self.activate_probes(false);
            self.schedule(t0, now, topology, observer).await?;
            self.activate_probes(false);
            self.judge(now, observer);
            let faults_done = self
                .faults
                .iter()
                .all(|f| f.healed.is_some() || (f.injected.is_some() && f.spec.duration.is_none()));
            let expectations_done = self
                .expectations
                .iter()
                .all(|e| e.verdict.is_some() || matches!(e.spec.kind, ExpectKind::Invariant));
            if self.run.control && self.detects_decided() {
                // A control run's verdict is its detect expectations failing: once each
                // window has closed, the rest of the timeline cannot change it.
                self.cut_short = Some(self.what_is_left_out(Instant::now()));
                self.judge_invariants(Instant::now());
                return Ok(());
            }
            if faults_done && expectations_done {
                break;
            }
            tokio::time::sleep(TICK).await;
        }
        // Faults without a duration last until every expectation is decided.
        for i in 0..self.faults.len() {
            if self.faults[i].healed.is_none() {
                self.heal(i, topology, observer).await?;
            }
        }
        self.activate_probes(true);
        self.final_steady_check().await;
        self.judge_invariants(Instant::now());
        self.settle_ledger(topology).await;
        Ok(())
    }

    /// Whether every detect expectation has its verdict.
    fn detects_decided(&self) -> bool {
        self.expectations
            .iter()
            .filter(|e| matches!(e.spec.kind, ExpectKind::Detect { .. }))
            .all(|e| e.verdict.is_some())
    }

    /// What a control run ending at `now` leaves out of the timeline.
    fn what_is_left_out(&self, now: Instant) -> String {
        let mut left = Vec::new();
        for f in &self.faults {
            match (f.injected, f.healed, f.spec.duration) {
                (None, _, _) => left.push(format!("fault `{}` never came due", f.spec.name)),
                (Some(at), None, Some(duration)) => left.push(format!(
                    "fault `{}` was due to heal {} later",
                    f.spec.name,
                    ms(clock::after(at, duration).saturating_duration_since(now))
                )),
                _ => {}
            }
        }
        let mut skipped = vec!["the final steady-state check"];
        if self.scenario.ledger.is_some() {
            skipped.push("the ledger's settle");
        }
        let mut text = "ended when its last detect window closed (its verdict was in)".to_string();
        if !left.is_empty() {
            text.push_str(&format!(": {}", left.join(", ")));
        }
        text.push_str(&format!(
            "; skipped {} (not part of a control run's verdict)",
            skipped.join(" and ")
        ));
        text
    }

    /// Stops the ledger's publishing, gives the outstanding tasks `settle` to complete, and
    /// judges its invariants: nothing lost, nothing doubled.
    async fn settle_ledger(&mut self, topology: &Topology) {
        let (Some(spec), Some(ledger)) = (&self.scenario.ledger, &topology.probe_context.ledger)
        else {
            return;
        };
        ledger.stop_publishing();
        let from = Instant::now();
        while ledger.counts().outstanding > 0 && from.elapsed() < spec.settle {
            tokio::time::sleep(TICK).await;
        }
        let counts = ledger.counts();
        let settled = from.elapsed();
        let last_error = ledger.last_error();
        let lost = ledger.outstanding_ids(LOST_IDS_SHOWN);
        self.ledger_outcomes =
            verdict::ledger_outcomes(&counts, &lost, spec.settle, settled, last_error.as_deref())
                .into();
        self.ledger_counts = Some(counts);
    }

    /// Polls exactly the probes some check needs now: invariants always, steady-state probes
    /// while steady state is awaited, a fault's `after` probe until it is injected, and detect
    /// and recover probes from their injection or heal until their verdict. Probes that drive
    /// real work (a gateway turn) then do not pile onto each other or onto the fault.
    fn activate_probes(&self, awaiting_steady: bool) {
        let mut needed: std::collections::BTreeSet<&str> = self
            .scenario
            .probes
            .values()
            .filter(|p| p.always)
            .map(|p| p.name.as_str())
            .collect();
        if awaiting_steady {
            needed.extend(self.scenario.steady_state.probes.iter().map(String::as_str));
        }
        for f in &self.faults {
            if f.injected.is_none()
                && let Some(after) = &f.spec.start.after
            {
                needed.insert(after);
            }
        }
        for e in &self.expectations {
            let active = match &e.spec.kind {
                ExpectKind::Invariant => true,
                ExpectKind::Detect { fault, .. } => {
                    e.verdict.is_none() && self.fault(fault).is_some_and(|f| f.injected.is_some())
                }
                ExpectKind::Recover { fault, .. } => {
                    e.verdict.is_none() && self.fault(fault).is_some_and(|f| f.healed.is_some())
                }
            };
            if active {
                needed.insert(&e.spec.probe);
            }
        }
        for (name, poller) in &self.pollers {
            poller.set_active(needed.contains(name.as_str()));
        }
    }

    async fn wait_steady(&self, from: Instant) -> Result<Instant, String> {
        let probes = &self.scenario.steady_state.probes;
        let within = self.scenario.steady_state.within;
        let deadline = clock::after(from, within);
        loop {
            let latest: Vec<(String, Option<Observation>)> = probes
                .iter()
                .map(|p| {
                    (
                        p.clone(),
                        self.history(p).latest().filter(|o| o.started >= from),
                    )
                })
                .collect();
            if latest
                .iter()
                .all(|(_, o)| o.as_ref().is_some_and(|o| o.holds))
            {
                return Ok(Instant::now());
            }
            if Instant::now() >= deadline {
                let failing: Vec<String> = latest
                    .iter()
                    .filter(|(_, o)| !o.as_ref().is_some_and(|o| o.holds))
                    .map(|(p, o)| {
                        format!(
                            "`{p}` last observed: {}",
                            o.as_ref()
                                .map_or("no observation yet", |o| o.detail.as_str())
                        )
                    })
                    .collect();
                return Err(format!(
                    "steady state not reached within {}: {}",
                    ms(within),
                    failing.join("; ")
                ));
            }
            tokio::time::sleep(TICK).await;
        }
    }

    async fn schedule(
        &mut self,
        t0: Instant,
        now: Instant,
        topology: &mut Topology,
        observer: &dyn Observer,
    ) -> Result<(), FaultError> {
        for i in 0..self.faults.len() {
            let f = &self.faults[i];
            if f.injected.is_none() {
                let gate = match &f.spec.start.after {
                    None => Some(t0),
                    Some(p) => self
                        .history(p)
                        .first_after(t0, |o| o.holds)
                        .map(|o| o.finished),
                };
                if gate.is_some_and(|g| now >= clock::after(g, f.spec.start.at)) {
                    // The mark comes first: whatever reaches a service from here on may
                    // already meet the fault.
                    mark_event(topology);
                    if !self.run.control {
                        let mut cx = FaultCx {
                            topology,
                            scenario: self.scenario,
                        };
                        self.faults[i].undo = Some(faults::inject(f.spec, &mut cx).await?);
                    }
                    let at = Instant::now();
                    self.faults[i].injected = Some(at);
                    observer.event(
                        self.run_name(),
                        &RunEvent::FaultInjected {
                            fault: self.faults[i].spec.name.clone(),
                            real: !self.run.control,
                        },
                    );
                }
            } else if f.healed.is_none()
                && let (Some(at), Some(duration)) = (f.injected, f.spec.duration)
                && now >= clock::after(at, duration)
            {
                self.heal(i, topology, observer).await?;
            }
        }
        Ok(())
    }

    async fn heal(
        &mut self,
        i: usize,
        topology: &mut Topology,
        observer: &dyn Observer,
    ) -> Result<(), FaultError> {
        if self.faults[i].injected.is_none() {
            return Ok(());
        }
        mark_event(topology);
        if !self.run.control {
            let undo = self.faults[i].undo.take().unwrap_or(Undo::Nothing);
            let mut cx = FaultCx {
                topology,
                scenario: self.scenario,
            };
            faults::heal(self.faults[i].spec, undo, &mut cx).await?;
        }
        self.faults[i].healed = Some(Instant::now());
        // A control run never injected it: there is nothing healed to report.
        if !self.run.control {
            observer.event(
                self.run_name(),
                &RunEvent::FaultHealed {
                    fault: self.faults[i].spec.name.clone(),
                },
            );
        }
        Ok(())
    }

    fn fault(&self, name: &str) -> Option<&FaultState<'s>> {
        self.faults.iter().find(|f| f.spec.name == name)
    }

    fn judge(&mut self, now: Instant, observer: &dyn Observer) {
        for i in 0..self.expectations.len() {
            let e = &self.expectations[i];
            if e.verdict.is_some() {
                continue;
            }
            let (from, within, not_before) = match &e.spec.kind {
                ExpectKind::Detect {
                    fault,
                    within,
                    not_before,
                } => (
                    self.fault(fault).and_then(|f| f.injected),
                    *within,
                    not_before.unwrap_or(Duration::ZERO),
                ),
                ExpectKind::Recover { fault, within } => {
                    if self.run.control {
                        self.expectations[i].verdict = Some(Verdict::Skipped);
                        self.expectations[i].detail =
                            "not judged in a control run (nothing to recover from)".into();
                        continue;
                    }
                    (
                        self.fault(fault).and_then(|f| f.healed),
                        *within,
                        Duration::ZERO,
                    )
                }
                ExpectKind::Invariant => continue,
            };
            let Some(from) = from else { continue };
            let window = verdict::Window {
                from,
                within,
                not_before,
            };
            let in_flight = self
                .probe_timeout(&e.spec.probe)
                .saturating_add(Duration::from_secs(1));
            let observations = self.history(&e.spec.probe).snapshot();
            let decided = verdict::decide_window(window, &observations, now, in_flight);
            if let Some(verdict::Decision {
                verdict,
                observed,
                detail,
            }) = decided
            {
                let run = self.run_name();
                let e = &mut self.expectations[i];
                e.verdict = Some(verdict);
                e.observed = observed;
                e.detail = detail.clone();
                observer.event(
                    run,
                    &RunEvent::ExpectationDecided {
                        name: e.spec.name.clone(),
                        detect: matches!(e.spec.kind, ExpectKind::Detect { .. }),
                        passed: verdict == Verdict::Passed,
                        known_defect: self
                            .defect
                            .is_some_and(|d| d.probes.contains(&e.spec.probe)),
                        detail,
                    },
                );
            }
        }
    }

    fn probe_timeout(&self, probe: &str) -> Duration {
        match self.scenario.probes.get(probe).map(|p| &p.kind) {
            Some(ProbeKind::Http { timeout, .. }) | Some(ProbeKind::Tcp { timeout, .. }) => {
                *timeout
            }
            _ => Duration::from_secs(2),
        }
    }

    fn judge_invariants(&mut self, until: Instant) {
        let Some(t0) = self.steady_at else { return };
        for i in 0..self.expectations.len() {
            if !matches!(self.expectations[i].spec.kind, ExpectKind::Invariant) {
                continue;
            }
            let observations = self.history(&self.expectations[i].spec.probe).snapshot();
            let decision = verdict::decide_invariant(&observations, t0, until);
            let e = &mut self.expectations[i];
            e.verdict = Some(decision.verdict);
            e.detail = decision.detail;
        }
    }

    async fn final_steady_check(&mut self) {
        let probes = &self.scenario.steady_state.probes;
        if probes.is_empty() {
            return;
        }
        let from = Instant::now();
        let result = self.wait_steady(from).await;
        self.final_steady = Some(ExpectationOutcome {
            name: "steady state restored after the last heal".into(),
            kind: "steady_state".into(),
            probe: probes.join(", "),
            fault: None,
            verdict: if result.is_ok() {
                Verdict::Passed
            } else {
                Verdict::Failed
            },
            budget: Some(self.scenario.steady_state.within),
            observed: result
                .as_ref()
                .ok()
                .map(|at| at.saturating_duration_since(from)),
            detail: result
                .err()
                .unwrap_or_else(|| "all steady-state probes hold".into()),
        });
    }

    /// Marks everything undecided as failed because the run ran out of time.
    pub(super) fn timed_out(&mut self) {
        for e in &mut self.expectations {
            if e.verdict.is_none() {
                e.verdict = Some(Verdict::Failed);
                e.detail = "the run timed out before a verdict".into();
            }
        }
    }

    /// Writes the results into `outcome`.
    pub(super) fn fill(&self, outcome: &mut ScenarioOutcome) {
        outcome.probes = if self.pollers.is_empty() {
            self.traces.clone()
        } else {
            self.probe_traces()
        };
        outcome.steady_after = self
            .steady_at
            .map(|t| t.saturating_duration_since(self.run_started));
        outcome.cut_short = self.cut_short.clone();
        for e in &self.expectations {
            let (kind, budget) = match &e.spec.kind {
                ExpectKind::Detect { within, .. } => ("detect", Some(*within)),
                ExpectKind::Recover { within, .. } => ("recover", Some(*within)),
                ExpectKind::Invariant => ("invariant", None),
            };
            outcome.expectations.push(ExpectationOutcome {
                name: e.spec.name.clone(),
                kind: kind.into(),
                probe: e.spec.probe.clone(),
                fault: e.spec.fault().map(str::to_string),
                verdict: e.verdict.unwrap_or(Verdict::Skipped),
                budget,
                observed: e.observed,
                detail: if e.detail.is_empty() {
                    "not reached".into()
                } else {
                    e.detail.clone()
                },
            });
        }
        if let Some(s) = &self.final_steady {
            outcome.expectations.push(s.clone());
        }
        outcome
            .expectations
            .extend(self.ledger_outcomes.iter().cloned());
        outcome.ledger = self.ledger_counts;
        for f in &self.faults {
            let of_fault = |kind: &str| {
                outcome
                    .expectations
                    .iter()
                    .filter(|e| e.kind == kind && e.fault.as_deref() == Some(&f.spec.name))
                    .filter(|e| e.verdict == Verdict::Passed)
                    .filter_map(|e| e.observed)
                    .collect::<Vec<_>>()
            };
            outcome.faults.push(FaultOutcome {
                name: f.spec.name.clone(),
                kind: f.spec.kind.clone(),
                injected: f.injected.is_some() && !self.run.control,
                injected_after: f
                    .injected
                    .zip(self.steady_at)
                    .map(|(i, s)| i.saturating_duration_since(s)),
                active_for: f
                    .injected
                    .zip(f.healed)
                    .map(|(i, h)| h.saturating_duration_since(i)),
                time_to_detect: of_fault("detect").into_iter().min(),
                time_to_recover: of_fault("recover").into_iter().max(),
            });
        }
        if self.run.control {
            outcome.control_defects = outcome
                .expectations
                .iter()
                .filter(|e| e.kind == "detect" && e.verdict == Verdict::Passed)
                .map(|e| {
                    format!(
                        "control run: detect expectation `{}` passed without its fault (probe `{}` saw: {}); it cannot tell the fault apart from normal operation",
                        e.name, e.probe, e.detail
                    )
                })
                .collect();
        }
    }
}

fn mark_event(topology: &Topology) {
    topology
        .probe_context
        .last_event_unix_ms
        .store(crate::probe::now_unix_ms(), Ordering::Relaxed);
}
