//! What a run found: per fault, per expectation, per scenario. Plain data the reports print.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How an expectation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// It held.
    Passed,
    /// It did not hold.
    Failed,
    /// Not evaluated (a control run's recover expectation, or the run stopped early).
    Skipped,
}

/// The result of one expectation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExpectationOutcome {
    /// Its name, e.g. "detect slow-llm by llm_slow within 3s".
    pub name: String,
    /// detect, recover, invariant or steady_state.
    pub kind: String,
    /// The probe it watched.
    pub probe: String,
    /// The fault it is about.
    pub fault: Option<String>,
    /// The verdict.
    pub verdict: Verdict,
    /// The budget, for detect and recover.
    #[serde(with = "opt_ms")]
    pub budget: Option<Duration>,
    /// Time from injection (detect) or heal (recover) to the first passing observation.
    #[serde(with = "opt_ms")]
    pub observed: Option<Duration>,
    /// What the probe saw: the passing observation, or the last one before the verdict.
    pub detail: String,
}

/// What one probe saw over a run, as stretches of one result (for the timeline).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeTrace {
    /// The probe.
    pub probe: String,
    /// Its stretches, in time order.
    pub stretches: Vec<Stretch>,
}

/// Consecutive evaluations of a probe with one result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stretch {
    /// From the run's start to the first evaluation's start.
    #[serde(with = "ms")]
    pub from: Duration,
    /// From the run's start to the last evaluation's end.
    #[serde(with = "ms")]
    pub to: Duration,
    /// Whether the probe held.
    pub holds: bool,
    /// How many evaluations.
    pub evaluations: u32,
    /// What the first of them saw.
    pub detail: String,
}

impl ProbeTrace {
    /// At most this many stretches are kept per probe (a flapping probe's last ones are
    /// joined into the one before).
    pub const MAX_STRETCHES: usize = 300;

    /// The trace of `observations` (in time order), times from `run_started`.
    pub fn of(
        probe: &str,
        observations: &[crate::probe::Observation],
        run_started: std::time::Instant,
    ) -> Self {
        let mut stretches: Vec<Stretch> = Vec::new();
        for o in observations {
            let from = o.started.saturating_duration_since(run_started);
            let to = o.finished.saturating_duration_since(run_started);
            let full = stretches.len() >= Self::MAX_STRETCHES;
            match stretches.last_mut() {
                Some(last) if last.holds == o.holds || full => {
                    last.to = to;
                    last.evaluations += 1;
                }
                _ => stretches.push(Stretch {
                    from,
                    to,
                    holds: o.holds,
                    evaluations: 1,
                    detail: o.detail.clone(),
                }),
            }
        }
        Self {
            probe: probe.to_string(),
            stretches,
        }
    }
}

/// What happened to one fault.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FaultOutcome {
    /// The fault's name.
    pub name: String,
    /// Its kind.
    pub kind: String,
    /// Whether it was injected (false in control runs and when the run stopped before).
    pub injected: bool,
    /// Time from steady state to injection.
    #[serde(with = "opt_ms")]
    pub injected_after: Option<Duration>,
    /// How long it was active.
    #[serde(with = "opt_ms")]
    pub active_for: Option<Duration>,
    /// Time to detect: injection to the first passing detect expectation.
    #[serde(with = "opt_ms")]
    pub time_to_detect: Option<Duration>,
    /// Time to recover: heal to the last passing recover expectation.
    #[serde(with = "opt_ms")]
    pub time_to_recover: Option<Duration>,
}

/// A service's start, as the run saw it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceStart {
    /// The service.
    pub name: String,
    /// Its kind (`openclaw`, `rabbitmq`, ...).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// Its pid, when it is a process.
    pub pid: Option<u32>,
    /// Time from the run's start to the service being ready.
    #[serde(with = "ms")]
    pub ready_after: Duration,
    /// The software and version it runs, when known (e.g. "OpenClaw 2026.9.6").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// Where a run's time went, phase by phase (each from the end of the one before).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Phases {
    /// Starting the topology: every service up and ready, links in place.
    #[serde(with = "ms")]
    pub setup: Duration,
    /// From the topology's start to steady state.
    #[serde(with = "ms")]
    pub steady_state: Duration,
    /// The fault timeline: injections, heals, verdicts, the final steady-state check and
    /// the ledger's settle.
    #[serde(with = "ms")]
    pub timeline: Duration,
    /// Stopping everything and removing the run folder.
    #[serde(with = "ms")]
    pub teardown: Duration,
}

/// The result of one scenario run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScenarioOutcome {
    /// The scenario's name.
    pub name: String,
    /// Its file.
    pub file: PathBuf,
    /// Whether this was a control run (faults switched off).
    pub control: bool,
    /// Whether the run passed. A control run passes when every detect expectation failed.
    pub passed: bool,
    /// Why the run was not run at all (a control run of a scenario without detect
    /// expectations, a scenario that declares it cannot run on this backend); it counts as
    /// passed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// What a control run left out of its timeline once its verdict was in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cut_short: Option<String>,
    /// Wall time of the whole run, set-up and teardown included.
    #[serde(with = "ms")]
    pub duration: Duration,
    /// Where the time went.
    #[serde(default)]
    pub phases: Phases,
    /// Time from start to steady state.
    #[serde(with = "opt_ms")]
    pub steady_after: Option<Duration>,
    /// When each service was up and ready (the gateway's start time), in start order.
    pub services: Vec<ServiceStart>,
    /// Per fault.
    pub faults: Vec<FaultOutcome>,
    /// Per expectation, in file order, then the steady-state checks.
    pub expectations: Vec<ExpectationOutcome>,
    /// A failure outside the expectations (set-up, a service that would not start, timeout).
    pub error: Option<String>,
    /// In a control run: the detect expectations that passed without their fault.
    pub control_defects: Vec<String>,
    /// The task ledger's final counts, when the scenario has a ledger.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ledger: Option<crate::ledger::Counts>,
    /// The scenario's test tier (`ci` or `release`).
    #[serde(default)]
    pub tier: crate::scenario::Tier,
    /// For a scenario that reproduces a known upstream defect: whether this run did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_defect: Option<KnownDefectSeen>,
    /// The OpenClaw release the run was pinned to (a version matrix's column); absent: the
    /// one installed (its version is the gateway's in `services`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openclaw: Option<String>,
    /// What each probe saw, as stretches of one result (the timeline's lanes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<ProbeTrace>,
}

/// What a run of a scenario with `[known_defect]` saw of the defect.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KnownDefectSeen {
    /// What the component does wrong.
    pub summary: String,
    /// Where it is written up.
    pub report: String,
    /// The probes whose expectations fail while the defect lasts.
    pub probes: Vec<String>,
    /// Whether the run reproduced it: an expectation on one of `probes` failed, as it must
    /// while the defect lasts. `false` with no error: they held, the defect looks fixed.
    pub reproduced: bool,
}

impl ScenarioOutcome {
    /// The OpenClaw release the run's gateway is: the one the run was pinned to, else the
    /// version its gateway reported.
    pub fn openclaw_version(&self) -> Option<String> {
        self.openclaw.clone().or_else(|| {
            self.services
                .iter()
                .find(|s| s.kind == "openclaw")
                .and_then(|s| s.version.as_deref())
                .and_then(crate::scenario::version::Version::find_in)
                .map(|v| v.to_string())
        })
    }

    /// The verdict in one word: PASS, FAIL, SKIP, or for a known defect XFAIL (reproduced,
    /// as expected) and XPASS (no longer reproduced: flagged, a failure).
    pub fn label(&self) -> &'static str {
        if self.skipped.is_some() {
            return "SKIP";
        }
        match &self.known_defect {
            Some(seen) if self.error.is_none() && !self.control && !self.others_failed(seen) => {
                if seen.reproduced {
                    "XFAIL"
                } else {
                    "XPASS"
                }
            }
            _ if self.passed => "PASS",
            _ => "FAIL",
        }
    }

    /// Whether an expectation outside the defect's probes failed (a failure of its own).
    fn others_failed(&self, seen: &KnownDefectSeen) -> bool {
        self.expectations
            .iter()
            .any(|e| e.verdict == Verdict::Failed && !seen.probes.contains(&e.probe))
    }

    /// The expectations that failed (for a control run: the defects).
    pub fn failures(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        if let Some(e) = &self.error {
            out.push(e.clone());
        }
        if let Some(seen) = &self.known_defect
            && !seen.reproduced
            && self.error.is_none()
        {
            out.push(format!(
                "known defect no longer reproduced: every expectation held. If it is fixed upstream, remove [known_defect] ({}: {})",
                seen.report, seen.summary
            ));
        }
        if self.control {
            out.extend(self.control_defects.iter().cloned());
        } else {
            let expected = |e: &ExpectationOutcome| {
                self.known_defect
                    .as_ref()
                    .is_some_and(|seen| seen.probes.contains(&e.probe))
            };
            out.extend(
                self.expectations
                    .iter()
                    .filter(|e| e.verdict == Verdict::Failed && !expected(e))
                    .map(|e| format!("expectation `{}` failed: {}", e.name, failure_text(e))),
            );
        }
        out
    }
}

/// A failed expectation in words: budget, what was observed.
pub fn failure_text(e: &ExpectationOutcome) -> String {
    match e.budget {
        Some(budget) => format!(
            "probe `{}` did not hold within the {}ms budget; last observed: {}",
            e.probe,
            budget.as_millis(),
            e.detail
        ),
        None => format!("probe `{}` was violated: {}", e.probe, e.detail),
    }
}

mod ms {
    use std::time::Duration;

    use serde::Deserialize;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64() * 1000.0)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let millis = f64::deserialize(d)?;
        Duration::try_from_secs_f64(millis / 1000.0).map_err(serde::de::Error::custom)
    }
}

mod opt_ms {
    use std::time::Duration;
    pub fn serialize<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_f64((d.as_secs_f64() * 1000.0 * 10.0).round() / 10.0),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        use serde::Deserialize;
        Option::<f64>::deserialize(d)?
            .map(|millis| Duration::try_from_secs_f64(millis / 1000.0))
            .transpose()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn seen(start: Instant, at_ms: u64, holds: bool) -> crate::probe::Observation {
        crate::probe::Observation {
            started: start + Duration::from_millis(at_ms),
            finished: start + Duration::from_millis(at_ms + 10),
            holds,
            detail: format!("at {at_ms}"),
        }
    }

    #[test]
    fn a_probe_trace_joins_evaluations_with_one_result() {
        let start = Instant::now();
        let observations: Vec<_> = [
            (0, true),
            (100, true),
            (200, false),
            (300, false),
            (400, true),
        ]
        .into_iter()
        .map(|(at, holds)| seen(start, at, holds))
        .collect();
        let trace = ProbeTrace::of("up", &observations, start);
        let summary: Vec<(u128, u128, bool, u32, &str)> = trace
            .stretches
            .iter()
            .map(|s| {
                (
                    s.from.as_millis(),
                    s.to.as_millis(),
                    s.holds,
                    s.evaluations,
                    s.detail.as_str(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (0, 110, true, 2, "at 0"),
                (200, 310, false, 2, "at 200"),
                (400, 410, true, 1, "at 400")
            ]
        );
    }

    #[test]
    fn a_flapping_probe_keeps_at_most_the_cap_of_stretches() {
        let start = Instant::now();
        let observations: Vec<_> = (0..1000).map(|i| seen(start, i * 10, i % 2 == 0)).collect();
        let trace = ProbeTrace::of("flaps", &observations, start);
        assert_eq!(trace.stretches.len(), ProbeTrace::MAX_STRETCHES);
        let evaluations: u32 = trace.stretches.iter().map(|s| s.evaluations).sum();
        assert_eq!(evaluations, 1000, "every evaluation is counted");
        let last = trace.stretches.last().expect("a stretch");
        assert_eq!(last.to, Duration::from_millis(9990 + 10));
    }
}
