//! The CI tier's rule, checked, and the cheapest tier that keeps it, computed.
//!
//! Scenarios come in two tiers (`tier = "ci"` in a file, `release` otherwise): CI runs the
//! first on every change, the release regression runs both. The rule the CI tier keeps, each
//! scenario with its control run:
//! - every selftest scenario is in it (they check the harness itself, in seconds);
//! - every fault kind of the registry, every service kind and every scenario folder is used
//!   by at least one scenario in it.
//!
//! [`gaps`] lists what a set of scenarios leaves uncovered (a test keeps `scenarios/` free of
//! them, so a new fault kind cannot arrive without a CI-tier scenario); [`cheapest_cover`]
//! picks, from measured run times, the scenarios a CI tier needs (`clawchaos tier --report`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use crate::scenario::{SERVICE_KINDS, Scenario, Tier, fault_kind, fault_kinds};

/// Something the CI tier must cover.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Duty {
    /// A fault kind of the registry, by its current name.
    FaultKind(String),
    /// A service kind.
    ServiceKind(String),
    /// A folder of scenario files (`llm`, `kafka`, ...).
    Folder(String),
    /// A selftest scenario, by name: it must be in the CI tier itself.
    Selftest(String),
}

impl fmt::Display for Duty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Duty::FaultKind(k) => write!(f, "fault kind `{k}`"),
            Duty::ServiceKind(k) => write!(f, "service kind `{k}`"),
            Duty::Folder(d) => write!(f, "folder `{d}`"),
            Duty::Selftest(n) => write!(f, "selftest `{n}`"),
        }
    }
}

/// A duty the CI tier does not cover, with the scenarios outside it that would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    /// What is not covered.
    pub duty: Duty,
    /// Release-tier scenarios that cover it (empty: no scenario at all does).
    pub covered_by: Vec<String>,
}

impl fmt::Display for Gap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.duty, self.covered_by.as_slice()) {
            (Duty::Selftest(name), _) => {
                write!(
                    f,
                    "selftest `{name}` is not in the CI tier (add tier = \"ci\")"
                )
            }
            (duty, []) => write!(f, "{duty}: no scenario uses it at all"),
            (duty, by) => {
                const SHOWN: usize = 5;
                let mut list = by[..by.len().min(SHOWN)].join(", ");
                if by.len() > SHOWN {
                    list.push_str(&format!(" (and {} more)", by.len() - SHOWN));
                }
                write!(
                    f,
                    "{duty}: no CI-tier scenario uses it; tier = \"ci\" on one of: {list}"
                )
            }
        }
    }
}

/// The folder a scenario's file is in (`llm` for `scenarios/llm/rate-limited.toml`).
pub fn folder_of(scenario: &Scenario) -> String {
    scenario
        .source
        .parent()
        .and_then(|p| p.file_name())
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The scenarios besides the selftests that CI also runs on the containers backend: one per
/// folder of a link (the LLM link, the gateway, the dashboard, the Kafka and the AMQP links),
/// each a CI-tier scenario (a test keeps them so).
pub const CONTAINERS_TIER_LINKS: [&str; 5] = [
    "llm/broken-answers",
    "gateway/permission-denied",
    "dashboard/control-ui-served",
    "kafka/forced-close",
    "messaging/issuer-clock-behind",
];

/// Whether CI also runs a scenario on the containers backend (the containers tier), beside its
/// run on the process backend. The rule: every selftest scenario (a process service, the mock
/// LLM and each link fault of the proxy, in seconds), one CI-tier scenario per link
/// ([`CONTAINERS_TIER_LINKS`]), and every CI-tier scenario only the containers backend can run
/// (its faults at the IP layer); never one that declares it cannot run there.
pub fn in_containers_tier(scenario: &Scenario) -> bool {
    let only_there = scenario.tier == Tier::Ci && scenario.unsupported.contains_key("process");
    (is_selftest(scenario) || only_there || CONTAINERS_TIER_LINKS.contains(&scenario.name.as_str()))
        && !scenario.unsupported.contains_key("containers")
}

/// Whether a scenario is one of the harness's self-tests.
fn is_selftest(scenario: &Scenario) -> bool {
    folder_of(scenario) == "selftest"
}

/// The duties a scenario covers when it is in the CI tier.
pub fn duties_of(scenario: &Scenario) -> BTreeSet<Duty> {
    let mut duties: BTreeSet<Duty> = scenario
        .faults
        .iter()
        .map(|f| {
            let kind = fault_kind(&f.kind).map_or(f.kind.as_str(), |k| k.name);
            Duty::FaultKind(kind.to_string())
        })
        .collect();
    duties.extend(
        scenario
            .services
            .values()
            .map(|s| Duty::ServiceKind(s.kind.name().to_string())),
    );
    duties.insert(Duty::Folder(folder_of(scenario)));
    if is_selftest(scenario) {
        duties.insert(Duty::Selftest(scenario.name.clone()));
    }
    duties
}

/// Everything a CI tier drawn from `scenarios` must cover: every fault kind and service kind
/// there is, and every folder and selftest among the scenarios.
pub fn duties(scenarios: &[Scenario]) -> BTreeSet<Duty> {
    let mut all: BTreeSet<Duty> = fault_kinds()
        .map(|k| Duty::FaultKind(k.name.to_string()))
        .chain(
            SERVICE_KINDS
                .iter()
                .map(|k| Duty::ServiceKind(k.to_string())),
        )
        .collect();
    for s in scenarios {
        all.insert(Duty::Folder(folder_of(s)));
        if is_selftest(s) {
            all.insert(Duty::Selftest(s.name.clone()));
        }
    }
    all
}

/// What the CI tier among `scenarios` (the whole suite) leaves uncovered; empty when the rule
/// holds.
pub fn gaps(scenarios: &[Scenario]) -> Vec<Gap> {
    let covered: BTreeSet<Duty> = scenarios
        .iter()
        .filter(|s| s.tier == Tier::Ci)
        .flat_map(duties_of)
        .collect();
    duties(scenarios)
        .into_iter()
        .filter(|d| !covered.contains(d))
        .map(|duty| Gap {
            covered_by: scenarios
                .iter()
                .filter(|s| duties_of(s).contains(&duty))
                .map(|s| s.name.clone())
                .collect(),
            duty,
        })
        .collect()
}

/// A CI tier picked by [`cheapest_cover`].
#[derive(Debug, Clone, PartialEq)]
pub struct Cover {
    /// The scenarios picked, in the order picked, with their measured cost.
    pub chosen: Vec<(String, Duration)>,
    /// Duties no scenario covers.
    pub uncoverable: Vec<Duty>,
    /// Scenarios that had no measured cost (counted as the dearest measured one).
    pub unmeasured: Vec<String>,
}

impl Cover {
    /// The summed cost of the scenarios picked.
    pub fn cost(&self) -> Duration {
        self.chosen.iter().map(|(_, c)| *c).sum()
    }
}

/// The cheapest CI tier by a greedy weighted set cover: the selftests first, then, again and
/// again, the scenario with the lowest cost per duty it newly covers. `cost` is a scenario's
/// measured run time (its run and its control run); ties go to the name that sorts first, so
/// the pick is the same on every machine with the same measurements.
pub fn cheapest_cover(
    scenarios: &[Scenario],
    cost: impl Fn(&Scenario) -> Option<Duration>,
) -> Cover {
    let measured: Vec<Option<Duration>> = scenarios.iter().map(&cost).collect();
    let dearest = measured.iter().flatten().max().copied().unwrap_or_default();
    let costs: Vec<Duration> = measured.iter().map(|c| c.unwrap_or(dearest)).collect();
    let unmeasured = scenarios
        .iter()
        .zip(&measured)
        .filter(|(_, m)| m.is_none())
        .map(|(s, _)| s.name.clone())
        .collect();
    let covers: Vec<BTreeSet<Duty>> = scenarios.iter().map(duties_of).collect();
    let mut order: Vec<usize> = (0..scenarios.len()).collect();
    order.sort_by(|&a, &b| scenarios[a].name.cmp(&scenarios[b].name));
    let mut open = duties(scenarios);
    let mut taken = vec![false; scenarios.len()];
    let mut picks: Vec<usize> = order
        .iter()
        .copied()
        .filter(|&i| is_selftest(&scenarios[i]))
        .collect();
    for &i in &picks {
        taken[i] = true;
        open.retain(|d| !covers[i].contains(d));
    }
    loop {
        let best = order
            .iter()
            .copied()
            .filter(|&i| !taken[i])
            .filter_map(|i| {
                let new = covers[i].intersection(&open).count();
                (new > 0).then(|| (costs[i].as_secs_f64() / new as f64, i))
            })
            .min_by(|a, b| a.0.total_cmp(&b.0));
        let Some((_, i)) = best else { break };
        taken[i] = true;
        open.retain(|d| !covers[i].contains(d));
        picks.push(i);
    }
    let chosen = picks
        .into_iter()
        .map(|i| (scenarios[i].name.clone(), costs[i]))
        .collect();
    Cover {
        chosen,
        uncoverable: open.into_iter().collect(),
        unmeasured,
    }
}

/// Each scenario's measured cost from a report's outcomes: the sum of its runs' durations.
pub fn costs_from_report(
    outcomes: &[crate::runner::ScenarioOutcome],
) -> BTreeMap<String, Duration> {
    let mut costs = BTreeMap::new();
    for o in outcomes {
        *costs.entry(o.name.clone()).or_insert(Duration::ZERO) += o.duration;
    }
    costs
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::scenario::parse_str;

    /// A scenario in `folder` with one service of each of `kinds`, and one fault of each of
    /// `faults` (process faults on the first service).
    fn scenario(folder: &str, name: &str, tier: &str, faults: &[&str]) -> Scenario {
        let mut text = format!(
            "name = \"{folder}/{name}\"\ntier = \"{tier}\"\n\
             [services.web]\nkind = \"process\"\ncommand = [\"python3\", \"-m\", \"http.server\", \"{{port}}\"]\n\
             [probes.up]\nkind = \"http\"\nservice = \"web\"\npath = \"/\"\nstatus = 200\n\
             [steady_state]\nprobes = [\"up\"]\n"
        );
        for (i, f) in faults.iter().enumerate() {
            text.push_str(&format!(
                "[[faults]]\nname = \"f{i}\"\nkind = \"{f}\"\nservice = \"web\"\nduration = \"1s\"\n"
            ));
        }
        text.push_str("[[expect]]\nkind = \"invariant\"\nprobe = \"up\"\n");
        let file = format!("scenarios/{folder}/{name}.toml");
        parse_str(Path::new(&file), &text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn names(gaps: &[Gap]) -> Vec<String> {
        gaps.iter().map(|g| g.duty.to_string()).collect()
    }

    #[test]
    fn a_fault_kind_only_release_scenarios_use_is_a_gap_naming_them() {
        let suite = [
            scenario("selftest", "a", "ci", &["kill"]),
            scenario("gateway", "b", "release", &["pause"]),
        ];
        let gaps = gaps(&suite);
        let pause = gaps
            .iter()
            .find(|g| g.duty == Duty::FaultKind("pause".into()))
            .expect("pause is a gap");
        assert_eq!(pause.covered_by, ["gateway/b"]);
        assert!(
            pause
                .to_string()
                .contains("tier = \"ci\" on one of: gateway/b")
        );
        assert!(names(&gaps).contains(&"folder `gateway`".to_string()));
        // kill is covered by the CI-tier selftest, so it is no gap.
        assert!(!names(&gaps).contains(&"fault kind `kill`".to_string()));
        // A kind no scenario uses is named as such.
        let slicer = gaps
            .iter()
            .find(|g| g.duty == Duty::FaultKind("slicer".into()))
            .expect("slicer is a gap");
        assert!(slicer.to_string().ends_with("no scenario uses it at all"));
    }

    #[test]
    fn a_selftest_outside_the_ci_tier_is_a_gap_even_when_all_else_is_covered() {
        let suite = [
            scenario("selftest", "a", "ci", &["kill"]),
            scenario("selftest", "b", "release", &["kill"]),
        ];
        let gaps = gaps(&suite);
        assert!(
            gaps.iter()
                .any(|g| g.duty == Duty::Selftest("selftest/b".into())),
            "{gaps:?}"
        );
        assert!(
            !gaps
                .iter()
                .any(|g| g.duty == Duty::Selftest("selftest/a".into()))
        );
    }

    #[test]
    fn the_cover_takes_selftests_then_the_cheapest_per_duty() {
        let suite = [
            scenario("selftest", "s", "release", &["kill"]),
            scenario("gateway", "dear", "release", &["pause", "restart"]),
            scenario("gateway", "cheap-pause", "release", &["pause"]),
            scenario("gateway", "cheap-restart", "release", &["restart"]),
        ];
        let cost = |s: &Scenario| {
            Some(Duration::from_secs(match s.name.as_str() {
                "selftest/s" => 5,
                "gateway/dear" => 100,
                _ => 30,
            }))
        };
        let cover = cheapest_cover(&suite, cost);
        let chosen: Vec<&str> = cover.chosen.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            chosen,
            ["selftest/s", "gateway/cheap-pause", "gateway/cheap-restart"]
        );
        assert_eq!(cover.cost(), Duration::from_secs(65));
        // Nothing in this suite uses slicer, so it cannot be covered.
        assert!(
            cover
                .uncoverable
                .contains(&Duty::FaultKind("slicer".into()))
        );
        assert!(cover.unmeasured.is_empty());
    }

    #[test]
    fn a_scenario_covers_its_service_kinds_and_its_folder() {
        let s = scenario("messaging", "m", "ci", &["kill"]);
        assert!(duties_of(&s).contains(&Duty::ServiceKind("process".into())));
        assert!(duties_of(&s).contains(&Duty::Folder("messaging".into())));
    }
}
