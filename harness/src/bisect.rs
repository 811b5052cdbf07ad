//! Bisect: the first OpenClaw release on which a scenario's verdict changes, between one it
//! holds on and one it fails on (either way round: the release that broke it, or the one that
//! fixed it).
//!
//! The search is over the published releases between the two, oldest first, and assumes one
//! change among them. Each release is run once, and again if the run could not judge it (a
//! set-up that failed, a timeout); a release is never run twice for the same answer. Once the
//! change is found, the releases on both sides of it are run once more: a verdict that differs
//! from the first is reported as flaky, not guessed past.

use std::future::Future;
use std::time::Duration;

use crate::runner::{ScenarioOutcome, Verdict};
use crate::scenario::version::Version;

/// What a run of the scenario said of a release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Every expectation held.
    Holds,
    /// An expectation failed.
    Fails,
}

impl Seen {
    /// The verdict of `outcome`, or why it has none (its set-up failed, it timed out): known
    /// defects aside, what its expectations said.
    pub fn of(outcome: &ScenarioOutcome) -> Result<Self, String> {
        if let Some(error) = &outcome.error {
            return Err(error.clone());
        }
        if outcome
            .expectations
            .iter()
            .any(|e| e.verdict == Verdict::Failed)
        {
            Ok(Self::Fails)
        } else {
            Ok(Self::Holds)
        }
    }
}

impl std::fmt::Display for Seen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Holds => "holds",
            Self::Fails => "fails",
        })
    }
}

/// One run of one release.
#[derive(Debug, Clone)]
pub struct Tried {
    /// The release.
    pub release: Version,
    /// Its verdict, or why the run could not give one.
    pub seen: Result<Seen, String>,
    /// How long the run took.
    pub took: Duration,
    /// Whether it confirms an earlier verdict (the runs on both sides of the change).
    pub confirming: bool,
}

/// Where bisect ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// The verdict changes on `first`: `before` (the release just before it among those
    /// searched) says the other.
    Changed {
        /// The last release with the old verdict.
        before: Version,
        /// The first release with the new one.
        first: Version,
        /// The new verdict.
        seen: Seen,
    },
    /// Both ends say the same: there is no change between them to find.
    NoChange {
        /// What both said.
        seen: Seen,
    },
    /// A release gave two verdicts: which release is first cannot be told.
    Flaky {
        /// The release.
        release: Version,
    },
    /// Fewer than two releases to search between.
    TooFew,
    /// A release could not be judged, after its retries.
    Untestable {
        /// The release.
        release: Version,
        /// Why, from its last run.
        why: String,
    },
}

/// Bisects `releases` (oldest first; the first and the last are the two ends) with `run`, which
/// runs the scenario on one release. A run without a verdict is tried up to `retries` more
/// times. Returns where it ended and every run, in order (`on_tried` also sees each as it ends).
pub async fn bisect<F, Fut>(
    releases: &[Version],
    retries: u32,
    mut run: F,
    mut on_tried: impl FnMut(&Tried),
) -> (Found, Vec<Tried>)
where
    F: FnMut(Version) -> Fut,
    Fut: Future<Output = (Result<Seen, String>, Duration)>,
{
    let mut tried: Vec<Tried> = Vec::new();
    if releases.len() < 2 {
        return (Found::TooFew, tried);
    }
    let last = releases.len() - 1;
    // Runs release `i` until it has a verdict (or its retries are spent).
    macro_rules! judge {
        ($i:expr, $confirming:expr) => {{
            let release = releases[$i].clone();
            let mut verdict = Err(String::new());
            for _ in 0..=retries {
                let (seen, took) = run(release.clone()).await;
                let entry = Tried {
                    release: release.clone(),
                    seen: seen.clone(),
                    took,
                    confirming: $confirming,
                };
                on_tried(&entry);
                tried.push(entry);
                verdict = seen;
                if verdict.is_ok() {
                    break;
                }
            }
            match verdict {
                Ok(seen) => seen,
                Err(why) => return (Found::Untestable { release, why }, tried),
            }
        }};
    }
    let old = judge!(0, false);
    let new = judge!(last, false);
    if old == new {
        return (Found::NoChange { seen: old }, tried);
    }
    let (mut low, mut high) = (0, last);
    while high - low > 1 {
        let mid = low + (high - low) / 2;
        let seen = judge!(mid, false);
        if seen == old {
            low = mid;
        } else {
            high = mid;
        }
    }
    for (i, expected) in [(low, old), (high, new)] {
        let again = judge!(i, true);
        if again != expected {
            return (
                Found::Flaky {
                    release: releases[i].clone(),
                },
                tried,
            );
        }
    }
    (
        Found::Changed {
            before: releases[low].clone(),
            first: releases[high].clone(),
            seen: new,
        },
        tried,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    fn releases(n: u64) -> Vec<Version> {
        (1..=n)
            .map(|i| Version::parse(&format!("2026.{i}.1")).expect("a version"))
            .collect()
    }

    /// Bisects `n` releases whose verdict is `verdict(index)`, counting runs per release.
    fn search(
        n: u64,
        retries: u32,
        verdict: impl Fn(usize, usize) -> Result<Seen, String>,
    ) -> (Found, Vec<Tried>) {
        let list = releases(n);
        let runs: RefCell<Vec<usize>> = RefCell::new(vec![0; list.len()]);
        let future = bisect(
            &list,
            retries,
            |release: Version| {
                let i = list.iter().position(|r| *r == release).expect("listed");
                let nth = {
                    let mut runs = runs.borrow_mut();
                    runs[i] += 1;
                    runs[i]
                };
                std::future::ready((verdict(i, nth), Duration::from_secs(1)))
            },
            |_| {},
        );
        futures_util::FutureExt::now_or_never(future).expect("no real waiting")
    }

    #[test]
    fn the_first_release_with_the_other_verdict_is_found_in_logarithmic_runs() {
        for first_fixed in 1..20 {
            let (found, tried) = search(20, 0, |i, _| {
                Ok(if i < first_fixed {
                    Seen::Fails
                } else {
                    Seen::Holds
                })
            });
            assert_eq!(
                found,
                Found::Changed {
                    before: releases(20)[first_fixed - 1].clone(),
                    first: releases(20)[first_fixed].clone(),
                    seen: Seen::Holds,
                },
                "fixed at {first_fixed}"
            );
            // Two ends, at most ceil(log2(19)) = 5 between, two confirmations.
            assert!(tried.len() <= 9, "{} runs", tried.len());
            let searched: Vec<_> = tried.iter().filter(|t| !t.confirming).collect();
            let mut seen = std::collections::BTreeSet::new();
            assert!(
                searched.iter().all(|t| seen.insert(t.release.clone())),
                "a release was searched twice"
            );
        }
    }

    #[test]
    fn a_regression_is_found_the_same_way() {
        let (found, _) = search(9, 0, |i, _| {
            Ok(if i < 6 { Seen::Holds } else { Seen::Fails })
        });
        assert!(
            matches!(&found, Found::Changed { first, seen: Seen::Fails, .. } if *first == releases(9)[6]),
            "{found:?}"
        );
    }

    #[test]
    fn fewer_than_two_releases_is_nothing_to_search() {
        assert_eq!(search(1, 0, |_, _| Ok(Seen::Holds)).0, Found::TooFew);
    }

    #[test]
    fn the_same_verdict_at_both_ends_is_no_change_after_two_runs() {
        let (found, tried) = search(9, 0, |_, _| Ok(Seen::Fails));
        assert_eq!(found, Found::NoChange { seen: Seen::Fails });
        assert_eq!(tried.len(), 2);
    }

    #[test]
    fn a_run_without_a_verdict_is_retried_then_reported() {
        // The middle release's first run fails to set up; its retry judges it.
        let (found, tried) = search(3, 1, |i, nth| match (i, nth) {
            (1, 1) => Err("set-up failed".to_string()),
            (0, _) => Ok(Seen::Fails),
            _ => Ok(Seen::Holds),
        });
        assert!(matches!(found, Found::Changed { .. }), "{found:?}");
        assert_eq!(tried.iter().filter(|t| t.seen.is_err()).count(), 1);
        // Never judged: reported, not guessed.
        let (found, tried) = search(3, 2, |i, _| match i {
            1 => Err("set-up failed".to_string()),
            0 => Ok(Seen::Fails),
            _ => Ok(Seen::Holds),
        });
        assert_eq!(
            found,
            Found::Untestable {
                release: releases(3)[1].clone(),
                why: "set-up failed".to_string()
            }
        );
        assert_eq!(
            tried.len(),
            2 + 3,
            "two ends, then three tries of the middle"
        );
    }

    #[test]
    fn a_verdict_that_changes_on_its_second_run_is_flaky() {
        // Release 4 is the first with the new verdict, but says the old one when run again.
        let (found, _) = search(8, 0, |i, nth| {
            Ok(if i < 4 || (i == 4 && nth > 1) {
                Seen::Fails
            } else {
                Seen::Holds
            })
        });
        assert_eq!(
            found,
            Found::Flaky {
                release: releases(8)[4].clone()
            }
        );
    }
}
