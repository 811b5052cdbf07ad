//! Control runs and failure messages: a detect expectation that holds without its fault is
//! reported as a defect, and a failed expectation names itself, what was observed and the budget.

use std::path::Path;

use clawchaos::observer::Silent;
use clawchaos::runner::{RunOptions, Runner, Verdict};
use clawchaos::scenario::parse_str;

/// The mock LLM behind a link; `DETECT_PROBE` and `BUDGET` are filled in per test.
const TEMPLATE: &str = r#"
name = "control-test"

[services.llm]
kind = "mock_llm"

[links.llm]
to = "llm"

[probes.answers]
kind = "http"
link = "llm"
path = "/v1/models"
timeout = "1s"
status = 200

[probes.refused]
kind = "http"
link = "llm"
path = "/v1/models"
timeout = "1s"
error = "refused"

[steady_state]
probes = ["answers"]

[[faults]]
name = "down"
kind = "link_down"
link = "llm"
at = "200ms"
duration = "1s"

[[expect]]
kind = "detect"
fault = "down"
probe = "DETECT_PROBE"
within = "BUDGET"
"#;

fn scenario(detect_probe: &str, budget: &str) -> clawchaos::scenario::Scenario {
    let text = TEMPLATE
        .replace("DETECT_PROBE", detect_probe)
        .replace("BUDGET", budget);
    parse_str(Path::new("control-test.toml"), &text).expect("valid scenario")
}

fn run(
    scenario: &clawchaos::scenario::Scenario,
    control: bool,
) -> clawchaos::runner::ScenarioOutcome {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(Runner::default().run(
        scenario,
        &RunOptions {
            control,
            ..RunOptions::default()
        },
        &Silent,
    ))
}

#[test]
fn a_sound_detect_expectation_passes_with_the_fault_and_fails_without_it() {
    let s = scenario("refused", "900ms");
    let real = run(&s, false);
    assert!(real.passed, "{:#?}", real.failures());
    assert!(real.faults[0].time_to_detect.is_some());

    let control = run(&s, true);
    assert!(control.passed, "{:#?}", control.failures());
    assert!(control.control_defects.is_empty());
    assert_eq!(control.expectations[0].verdict, Verdict::Failed);
    assert!(!control.faults[0].injected);
}

#[test]
fn a_detect_expectation_that_holds_without_its_fault_is_a_defect() {
    // "answers" holds whether or not the link is down... until it is down; without the fault it
    // holds all along, so the control run must flag it.
    let s = scenario("answers", "900ms");
    let control = run(&s, true);
    assert!(!control.passed);
    assert_eq!(
        control.control_defects.len(),
        1,
        "{:#?}",
        control.control_defects
    );
    let defect = &control.control_defects[0];
    assert!(
        defect.contains("detect down by answers within 900ms"),
        "{defect}"
    );
    assert!(defect.contains("passed without its fault"), "{defect}");
}

#[test]
fn a_wrong_expectation_fails_naming_itself_the_observation_and_the_budget() {
    // With the link down, "answers" never holds: the detect expectation must fail, and say so.
    let s = scenario("answers", "500ms");
    let outcome = run(&s, false);
    assert!(!outcome.passed);
    let failures = outcome.failures();
    let message = failures
        .iter()
        .find(|f| f.contains("detect down by answers within 500ms"))
        .unwrap_or_else(|| panic!("no failure names the expectation: {failures:#?}"));
    assert!(message.contains("the 500ms budget"), "{message}");
    assert!(message.contains("last observed: refused"), "{message}");
}

#[test]
fn a_control_run_ends_once_its_detect_windows_have_closed() {
    // The fault would last 20 s; its detect window closes 900 ms after it comes due.
    let text = TEMPLATE
        .replace("DETECT_PROBE", "refused")
        .replace("BUDGET", "900ms")
        .replace("duration = \"1s\"", "duration = \"20s\"");
    let s = parse_str(Path::new("control-test.toml"), &text).expect("valid scenario");
    let control = run(&s, true);
    assert!(control.passed, "{:#?}", control.failures());
    assert_eq!(control.expectations[0].verdict, Verdict::Failed);
    assert!(
        control.duration < std::time::Duration::from_secs(15),
        "a control run waits out a fault it never injected: {:?}",
        control.duration
    );
    let cut = control.cut_short.expect("says what it left out");
    assert!(cut.contains("fault `down` was due to heal"), "{cut}");
    assert!(cut.contains("final steady-state check"), "{cut}");
}

#[test]
fn a_scenario_without_detect_expectations_has_its_control_run_skipped_with_the_reason() {
    let text = TEMPLATE.replace(
        "[[expect]]\nkind = \"detect\"\nfault = \"down\"\nprobe = \"DETECT_PROBE\"\nwithin = \"BUDGET\"\n",
        "[[expect]]\nkind = \"recover\"\nfault = \"down\"\nprobe = \"answers\"\nwithin = \"2s\"\n",
    );
    let s = parse_str(Path::new("control-test.toml"), &text).expect("valid scenario");
    let control = run(&s, true);
    assert!(control.passed);
    let reason = control.skipped.expect("skipped, with a reason");
    assert!(reason.contains("no detect expectations"), "{reason}");
    assert!(
        control.services.is_empty(),
        "nothing started for a skipped run"
    );

    let real = run(&s, false);
    assert!(real.passed, "{:#?}", real.failures());
    assert!(real.skipped.is_none() && real.cut_short.is_none());
}
