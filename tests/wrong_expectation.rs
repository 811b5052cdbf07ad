//! A deliberately wrong expectation against the real gateway must make the scenario fail, and
//! the failure must name the expectation, what was observed and the budget.
//!
//! The 401 scenario asserts one upstream call; this test asserts a retry instead (two calls),
//! which OpenClaw does not make.

use std::path::Path;

use clawchaos::observer::Silent;
use clawchaos::runner::{RunOptions, Runner};
use clawchaos::scenario::parse_str;

#[test]
fn asserting_a_retry_after_a_401_fails_naming_expectation_observation_and_budget() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/llm/api-key-invalid.toml");
    let text = std::fs::read_to_string(&file).expect("the 401 scenario");
    let wrong = text.replace(
        "min_requests = 1\nmax_requests = 1",
        "min_requests = 2\nmax_requests = 2",
    );
    assert_ne!(
        text, wrong,
        "the scenario's journal probe changed shape; update this test"
    );
    let scenario = parse_str(&file, &wrong).expect("still a valid scenario");

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let outcome =
        runtime.block_on(Runner::default().run(&scenario, &RunOptions::default(), &Silent));

    assert!(
        !outcome.passed,
        "a retry was asserted and OpenClaw makes none"
    );
    let failures = outcome.failures();
    let failure = failures
        .iter()
        .find(|f| f.contains("`detect key-revoked by one_upstream_call within 14s`"))
        .unwrap_or_else(|| panic!("no failure names the wrong expectation: {failures:#?}"));
    assert!(failure.contains("within the 14000ms budget"), "{failure}");
    assert!(
        failure.contains("last observed: 1 request(s) to /v1/chat/completions"),
        "{failure}"
    );
    // Everything else about the 401 still holds: only the wrong expectation failed.
    assert_eq!(failures.len(), 1, "{failures:#?}");
}
