//! Verdicts: how an expectation is judged from a probe's observations. Pure functions of the
//! observations and the clock reading they are given, so every rule has a table test below.

use std::time::{Duration, Instant};

use super::outcome::{ExpectationOutcome, Verdict};
use crate::ledger::Counts;
use crate::probe::{Observation, ms};

/// The window a detect or recover expectation is judged in.
#[derive(Debug, Clone, Copy)]
pub(super) struct Window {
    /// The injection (detect) or heal (recover) the window opens at.
    pub from: Instant,
    /// The budget: a holding observation must finish by `from + within`.
    pub within: Duration,
    /// A holding observation that finishes earlier than `from + not_before` fails the check.
    pub not_before: Duration,
}

/// A decided verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Decision {
    /// Passed or failed.
    pub verdict: Verdict,
    /// For a pass (or a too-early hit): from the window's opening to the holding observation.
    pub observed: Option<Duration>,
    /// The observation that decided it, in words.
    pub detail: String,
}

/// Judges a window, or returns `None` while it cannot yet be decided. `in_flight` is how long
/// past the deadline an evaluation that started in the window may still be running (the probe's
/// timeout and a margin): until then a missing hit is not yet a miss.
pub(super) fn decide_window(
    window: Window,
    observations: &[Observation],
    now: Instant,
    in_flight: Duration,
) -> Option<Decision> {
    let deadline = super::clock::after(window.from, window.within);
    let in_window = |o: &&Observation| o.started >= window.from;
    let first_hit = observations
        .iter()
        .filter(in_window)
        .find(|o| o.holds && o.finished <= deadline);
    if let Some(hit) = first_hit {
        let observed = hit.finished.saturating_duration_since(window.from);
        return Some(if observed < window.not_before {
            Decision {
                verdict: Verdict::Failed,
                observed: Some(observed),
                detail: format!(
                    "held too early, {} after the fault (not before {}): {}",
                    ms(observed),
                    ms(window.not_before),
                    hit.detail
                ),
            }
        } else {
            Decision {
                verdict: Verdict::Passed,
                observed: Some(observed),
                detail: hit.detail.clone(),
            }
        });
    }
    let evaluated_past_deadline = observations.iter().any(|o| o.started >= deadline);
    if !evaluated_past_deadline && now <= super::clock::after(deadline, in_flight) {
        return None;
    }
    let last = observations
        .iter()
        .rev()
        .find(|o| o.started >= window.from && o.started <= deadline)
        .map_or_else(
            || "no observation in the window".to_string(),
            |o| o.detail.clone(),
        );
    Some(Decision {
        verdict: Verdict::Failed,
        observed: None,
        detail: last,
    })
}

/// Judges an invariant over the observations that started at or after steady state (`from`)
/// and finished by `until`: it must hold in every one, and there must be at least one.
pub(super) fn decide_invariant(
    observations: &[Observation],
    from: Instant,
    until: Instant,
) -> Decision {
    let judged: Vec<&Observation> = observations
        .iter()
        .filter(|o| o.started >= from && o.finished <= until)
        .collect();
    let (verdict, detail) = match judged.iter().find(|o| !o.holds) {
        Some(bad) => (
            Verdict::Failed,
            format!(
                "at +{} after steady state: {}",
                ms(bad.started.saturating_duration_since(from)),
                bad.detail
            ),
        ),
        None if judged.is_empty() => (Verdict::Failed, "never evaluated".to_string()),
        None => (
            Verdict::Passed,
            format!("held in all {} evaluations", judged.len()),
        ),
    };
    Decision {
        verdict,
        observed: None,
        detail,
    }
}

/// The ledger's two invariants once publishing stopped and the tasks had `settle` to complete
/// (they took `settled`): nothing lost, nothing done twice. `lost` names (some of) the tasks
/// still without a result and `last_error` is the ledger's last broker error, both in the
/// details so a failure explains itself.
pub(super) fn ledger_outcomes(
    counts: &Counts,
    lost: &[String],
    settle: Duration,
    settled: Duration,
    last_error: Option<&str>,
) -> [ExpectationOutcome; 2] {
    let detail = crate::ledger::describe(counts);
    let broker_trouble = last_error
        .map(|e| format!("; the ledger's last broker error: {e}"))
        .unwrap_or_default();
    let verdict = |ok: bool| if ok { Verdict::Passed } else { Verdict::Failed };
    let outcome = |name: &str, verdict, budget, observed, detail| ExpectationOutcome {
        name: name.into(),
        kind: "ledger".into(),
        probe: "ledger".into(),
        fault: None,
        verdict,
        budget,
        observed,
        detail,
    };
    let lost_detail = if counts.published == 0 {
        format!("no task was ever published{broker_trouble}")
    } else if counts.outstanding > 0 {
        let more = counts.outstanding.saturating_sub(lost.len());
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        format!(
            "{} task(s) still without a result {}ms after publishing stopped ({}{more}): {detail}{broker_trouble}",
            counts.outstanding,
            settle.as_millis(),
            lost.join(", ")
        )
    } else {
        detail.clone()
    };
    let doubled_detail = if counts.strangers > 0 {
        format!(
            "{} result(s) for tasks never published; {detail}",
            counts.strangers
        )
    } else {
        detail
    };
    [
        outcome(
            "ledger: no task lost (every published task done or failed)",
            verdict(counts.published > 0 && counts.outstanding == 0),
            Some(settle),
            Some(settled),
            lost_detail,
        ),
        outcome(
            "ledger: no task done twice",
            verdict(counts.duplicates == 0 && counts.strangers == 0),
            None,
            None,
            doubled_detail,
        ),
    ]
}

/// A run's verdict once its expectations are judged: whether it passed and, for a scenario
/// that reproduces a known defect (and not a control run), whether this run reproduced it.
///
/// `failed` holds one entry per failed expectation: whether it watches a probe of the known
/// defect. A control run passes when nothing went wrong and no detect held without its fault
/// (`control_defects`); a run passes when nothing went wrong, no expectation outside the
/// defect failed, and the defect's expectations failed exactly when there is a defect.
pub(super) fn decide_run(
    control: bool,
    error: bool,
    control_defects: usize,
    failed: &[bool],
    known_defect: bool,
) -> (bool, Option<bool>) {
    let defect_failed = failed.iter().any(|&on_defect| on_defect);
    let others_failed = failed.iter().any(|&on_defect| !on_defect);
    if control {
        return (!error && control_defects == 0, None);
    }
    let passed = !error && !others_failed && defect_failed == known_defect;
    (passed, known_defect.then_some(!error && defect_failed))
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    /// An observation that started `start` s and finished `end` s after `t0`.
    fn obs(t0: Instant, start: f64, end: f64, holds: bool) -> Observation {
        let at = |s: f64| {
            if s < 0.0 {
                t0 - Duration::from_secs_f64(-s)
            } else {
                t0 + Duration::from_secs_f64(s)
            }
        };
        Observation {
            started: at(start),
            finished: at(end),
            holds,
            detail: format!("{start}-{end} {}", if holds { "holds" } else { "fails" }),
        }
    }

    fn window(t0: Instant, from: u64, within: u64, not_before: u64) -> Window {
        Window {
            from: t0 + Duration::from_secs(from),
            within: Duration::from_secs(within),
            not_before: Duration::from_secs(not_before),
        }
    }

    #[test]
    fn a_window_is_judged_by_its_first_holding_observation() {
        // (case, window (from, within, not_before), observations (start, end, holds), now,
        //  expected (verdict, observed in ms, detail contains)); in_flight is 3 s throughout.
        type Obs = &'static [(f64, f64, bool)];
        type Expected = Option<(Verdict, Option<u64>, &'static str)>;
        type Case = (&'static str, (u64, u64, u64), Obs, u64, Expected);
        let cases: &[Case] = &[
            (
                "a hit inside the budget passes, observed from the window's opening",
                (10, 5, 0),
                &[(10.0, 10.5, false), (11.0, 12.5, true)],
                13,
                Some((Verdict::Passed, Some(2500), "11-12.5 holds")),
            ),
            (
                "a hit from before the window does not count",
                (10, 5, 0),
                &[(9.0, 10.2, true)],
                12,
                None,
            ),
            (
                "a hit that finishes after the deadline does not count",
                (10, 5, 0),
                &[(14.0, 15.5, true), (16.0, 16.1, false)],
                17,
                Some((Verdict::Failed, None, "14-15.5 holds")),
            ),
            (
                "a hit before not_before fails as too early",
                (10, 5, 2),
                &[(10.0, 11.0, true)],
                11,
                Some((Verdict::Failed, Some(1000), "held too early, 1000ms")),
            ),
            (
                "a hit after not_before passes",
                (10, 5, 2),
                &[(10.0, 11.0, false), (11.5, 12.5, true)],
                13,
                Some((Verdict::Passed, Some(2500), "11.5-12.5 holds")),
            ),
            (
                "no hit yet, window open: undecided",
                (10, 5, 0),
                &[(10.0, 11.0, false)],
                12,
                None,
            ),
            (
                "no hit, deadline passed, an evaluation may still be in flight: undecided",
                (10, 5, 0),
                &[(10.0, 11.0, false), (14.5, 14.6, false)],
                17,
                None,
            ),
            (
                "no hit and an evaluation started past the deadline: failed with the last one in the window",
                (10, 5, 0),
                &[
                    (10.0, 11.0, false),
                    (14.5, 14.6, false),
                    (15.1, 15.2, false),
                ],
                15,
                Some((Verdict::Failed, None, "14.5-14.6 fails")),
            ),
            (
                "no observation at all, and the in-flight margin is over: failed",
                (10, 5, 0),
                &[],
                19,
                Some((Verdict::Failed, None, "no observation in the window")),
            ),
        ];
        let t0 = Instant::now();
        for (case, (from, within, not_before), observations, now, expected) in cases {
            let observations: Vec<Observation> = observations
                .iter()
                .map(|(s, e, h)| obs(t0, *s, *e, *h))
                .collect();
            let decision = decide_window(
                window(t0, *from, *within, *not_before),
                &observations,
                t0 + Duration::from_secs(*now),
                3 * S,
            );
            match (decision, expected) {
                (None, None) => {}
                (Some(d), Some((verdict, observed, detail))) => {
                    assert_eq!(d.verdict, *verdict, "{case}");
                    assert_eq!(
                        d.observed.map(|o| o.as_millis() as u64),
                        *observed,
                        "{case}"
                    );
                    assert!(d.detail.contains(detail), "{case}: {}", d.detail);
                }
                (d, e) => panic!("{case}: decided {d:?}, expected {e:?}"),
            }
        }
    }

    #[test]
    fn an_invariant_must_hold_in_every_evaluation_since_steady_state() {
        type Obs = &'static [(f64, f64, bool)];
        let cases: &[(&str, Obs, Verdict, &str)] = &[
            (
                "every evaluation holds",
                &[(1.0, 1.1, true), (2.0, 2.1, true)],
                Verdict::Passed,
                "held in all 2 evaluations",
            ),
            (
                "one evaluation fails",
                &[(1.0, 1.1, true), (2.0, 2.1, false)],
                Verdict::Failed,
                "at +2000ms after steady state: 2-2.1 fails",
            ),
            (
                "a failure before steady state does not count",
                &[(-1.0, -0.9, false), (1.0, 1.1, true)],
                Verdict::Passed,
                "held in all 1 evaluations",
            ),
            (
                "an evaluation unfinished at the end does not count",
                &[(1.0, 1.1, true), (9.5, 10.5, false)],
                Verdict::Passed,
                "held in all 1 evaluations",
            ),
            ("never evaluated", &[], Verdict::Failed, "never evaluated"),
        ];
        let t0 = Instant::now() + 5 * S;
        for (case, observations, verdict, detail) in cases {
            let observations: Vec<Observation> = observations
                .iter()
                .map(|(s, e, h)| obs(t0, *s, *e, *h))
                .collect();
            let d = decide_invariant(&observations, t0, t0 + 10 * S);
            assert_eq!(d.verdict, *verdict, "{case}");
            assert_eq!(d.detail, *detail, "{case}");
        }
    }

    #[test]
    fn the_ledger_fails_on_a_lost_or_doubled_task() {
        let counts = |published, done, outstanding, duplicates, strangers| Counts {
            published,
            done,
            outstanding,
            duplicates,
            strangers,
            ..Counts::default()
        };
        // (case, counts, lost verdict, doubled verdict, lost detail contains)
        let cases = [
            (
                "all done once",
                counts(10, 10, 0, 0, 0),
                Verdict::Passed,
                Verdict::Passed,
                "10 published",
            ),
            (
                "nothing published",
                counts(0, 0, 0, 0, 0),
                Verdict::Failed,
                Verdict::Passed,
                "no task was ever published; the ledger's last broker error: refused",
            ),
            (
                "two outstanding",
                counts(10, 8, 2, 0, 0),
                Verdict::Failed,
                Verdict::Passed,
                "2 task(s) still without a result 30000ms after publishing stopped (t-000009, t-000010)",
            ),
            (
                "one done twice",
                counts(10, 10, 0, 1, 0),
                Verdict::Passed,
                Verdict::Failed,
                "10 published",
            ),
            (
                "a result never published",
                counts(10, 10, 0, 0, 1),
                Verdict::Passed,
                Verdict::Failed,
                "10 published",
            ),
        ];
        for (case, counts, lost, doubled, detail) in cases {
            let waiting: Vec<String> = (counts.published - counts.outstanding + 1
                ..=counts.published)
                .map(|n| format!("t-{n:06}"))
                .collect();
            let [l, d] = ledger_outcomes(&counts, &waiting, 30 * S, 2 * S, Some("refused"));
            assert_eq!((l.verdict, d.verdict), (lost, doubled), "{case}");
            assert!(l.detail.contains(detail), "{case}: {}", l.detail);
        }
    }

    #[test]
    fn a_run_passes_on_its_expectations_and_a_known_defect_must_show() {
        // (control, error, control defects, failed expectations (on the defect?), defect)
        //   -> (passed, reproduced)
        type Case = (
            bool,
            bool,
            usize,
            &'static [bool],
            bool,
            (bool, Option<bool>),
        );
        let cases: &[Case] = &[
            (false, false, 0, &[], false, (true, None)),
            (false, false, 0, &[false], false, (false, None)),
            (false, true, 0, &[], false, (false, None)),
            // XFAIL: the defect's expectation failed, nothing else did.
            (false, false, 0, &[true], true, (true, Some(true))),
            // XPASS: every expectation held, so the defect did not show: a failure.
            (false, false, 0, &[], true, (false, Some(false))),
            // The defect showed, but something else failed too.
            (false, false, 0, &[true, false], true, (false, Some(true))),
            // A run that broke down shows nothing about the defect.
            (false, true, 0, &[true], true, (false, Some(false))),
            // Control runs: judged on their detects alone.
            (true, false, 0, &[true, false], true, (true, None)),
            (true, false, 1, &[], false, (false, None)),
            (true, true, 0, &[], false, (false, None)),
        ];
        for (i, &(control, error, defects, failed, known, expected)) in cases.iter().enumerate() {
            assert_eq!(
                decide_run(control, error, defects, failed, known),
                expected,
                "case {i}"
            );
        }
    }

    /// Any duration a scenario could carry, the extremes included.
    fn any_duration() -> impl proptest::strategy::Strategy<Value = Duration> {
        use proptest::prelude::*;
        prop_oneof![
            (0u64..100_000).prop_map(Duration::from_millis),
            any::<u64>().prop_map(Duration::from_secs),
            Just(Duration::MAX),
            Just(Duration::ZERO),
        ]
    }

    /// An offset from the test's clock reading, in ms, before or after it.
    fn offset() -> impl proptest::strategy::Strategy<Value = i64> {
        -1_000_000i64..1_000_000
    }

    fn shifted(t0: Instant, ms: i64) -> Instant {
        let d = Duration::from_millis(ms.unsigned_abs());
        if ms < 0 {
            t0.checked_sub(d).unwrap_or(t0)
        } else {
            t0 + d
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config {
            cases: 512,
            failure_persistence: None,
            ..Default::default()
        })]

        /// Whatever the durations and clock readings, judging never panics, and a pass is
        /// never observed outside its window.
        #[test]
        fn judging_any_window_never_panics(
            from in offset(),
            within in any_duration(),
            not_before in any_duration(),
            observations in proptest::collection::vec((offset(), 0i64..100_000, proptest::bool::ANY), 0..12),
            now in offset(),
            in_flight in any_duration(),
        ) {
            let t0 = Instant::now() + Duration::from_secs(2_000);
            let window = Window { from: shifted(t0, from), within, not_before };
            let observations: Vec<Observation> = observations
                .into_iter()
                .map(|(start, took, holds)| Observation {
                    started: shifted(t0, start),
                    finished: shifted(t0, start.saturating_add(took)),
                    holds,
                    detail: String::new(),
                })
                .collect();
            if let Some(decision) = decide_window(window, &observations, shifted(t0, now), in_flight)
                && decision.verdict == Verdict::Passed
            {
                let observed = decision.observed.expect("a pass has its time");
                proptest::prop_assert!(observed <= within && observed >= not_before);
            }
            let until = shifted(t0, now);
            let _ = decide_invariant(&observations, window.from, until);
        }
    }
}
