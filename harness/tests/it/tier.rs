//! The CI tier's rule over the shipped scenarios (see `clawchaos::tier`): every selftest, and
//! for every fault kind, service kind and folder at least one scenario, in the CI tier. A new
//! fault kind or service kind fails this test until a CI-tier scenario uses it.

use std::path::{Path, PathBuf};

use clawchaos::scenario::{self, Scenario, Tier};
use clawchaos::tier::{CONTAINERS_TIER_LINKS, Duty, folder_of, gaps, in_containers_tier};

fn shipped() -> Vec<Scenario> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let files = scenario::discover(&[root]).expect("scenarios/ is listed");
    files
        .iter()
        .map(|f| scenario::load(Path::new(f)).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

#[test]
fn the_containers_tier_has_one_ci_scenario_per_link_and_every_containers_only_one() {
    let all = shipped();
    let tier: Vec<&Scenario> = all.iter().filter(|s| in_containers_tier(s)).collect();
    for name in CONTAINERS_TIER_LINKS {
        let scenario = tier
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("{name}: not a shipped scenario that runs on containers"));
        assert_eq!(scenario.tier, Tier::Ci, "{name} is not in the CI tier");
    }
    let only_there: Vec<&&Scenario> = tier
        .iter()
        .filter(|s| s.unsupported.contains_key("process"))
        .collect();
    let mut folders: Vec<String> = tier
        .iter()
        .filter(|s| !s.unsupported.contains_key("process"))
        .map(|s| folder_of(s))
        .filter(|f| f != "selftest")
        .collect();
    let count = folders.len();
    folders.dedup();
    assert_eq!(
        folders.len(),
        count,
        "two scenarios of one folder: {folders:?}"
    );
    // Every fault kind that exists only on containers is in the tier.
    let kinds = |scenarios: &[&Scenario]| -> std::collections::BTreeSet<String> {
        scenarios
            .iter()
            .filter(|s| s.unsupported.contains_key("process"))
            .flat_map(|s| s.faults.iter().map(|f| f.kind.clone()))
            .collect()
    };
    let everywhere: Vec<&Scenario> = all.iter().collect();
    assert_eq!(
        kinds(&tier),
        kinds(&everywhere),
        "a containers-only fault kind is left out"
    );
    assert!(
        !only_there.is_empty(),
        "no containers-only scenario in the tier"
    );
    let selftests = all.iter().filter(|s| folder_of(s) == "selftest").count();
    assert_eq!(
        tier.len(),
        selftests + CONTAINERS_TIER_LINKS.len() + only_there.len()
    );
}

#[test]
fn the_ci_tier_covers_every_selftest_fault_kind_service_kind_and_folder() {
    let gaps = gaps(&shipped());
    let lines: Vec<String> = gaps.iter().map(|g| format!("  {g}")).collect();
    assert!(
        gaps.is_empty(),
        "the CI tier misses (`clawchaos tier --report REPORT` picks the cheapest cover):\n{}",
        lines.join("\n")
    );
}

/// The rule can fail on the real suite: take any CI-tier scenario out of the tier, and every
/// duty it alone covered is reported, by name.
#[test]
fn taking_a_sole_cover_out_of_the_ci_tier_is_reported_by_name() {
    let suite = shipped();
    let mut demoted_some = false;
    for (i, s) in suite.iter().enumerate() {
        if s.tier != Tier::Ci {
            continue;
        }
        let mut altered = suite.clone();
        altered[i].tier = Tier::Release;
        let before: Vec<Duty> = gaps(&suite).into_iter().map(|g| g.duty).collect();
        let after = gaps(&altered);
        let new: Vec<_> = after.iter().filter(|g| !before.contains(&g.duty)).collect();
        let sole: Vec<Duty> = clawchaos::tier::duties_of(s)
            .into_iter()
            .filter(|d| {
                !suite.iter().enumerate().any(|(j, o)| {
                    j != i && o.tier == Tier::Ci && clawchaos::tier::duties_of(o).contains(d)
                })
            })
            .collect();
        for duty in &sole {
            let gap = new
                .iter()
                .find(|g| &g.duty == duty)
                .unwrap_or_else(|| panic!("demoting {} leaves {duty} unreported", s.name));
            assert!(gap.to_string().contains(&duty.to_string()), "{gap}");
            if !matches!(duty, Duty::Selftest(_)) {
                assert!(gap.covered_by.contains(&s.name), "{gap}");
            }
        }
        assert_eq!(new.len(), sole.len(), "{}: {new:?}", s.name);
        demoted_some |= !sole.is_empty();
    }
    assert!(
        demoted_some,
        "no CI-tier scenario is the only cover of anything"
    );
}
