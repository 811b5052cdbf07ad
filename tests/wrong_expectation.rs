//! A deliberately wrong expectation against the real gateway must make the scenario fail, and
//! the failure must name the expectation, what was observed and the budget.
//!
//! The 401 scenario asserts one upstream call; this test asserts a retry instead (two calls),
//! which OpenClaw does not make.

mod common;

#[test]
fn asserting_a_retry_after_a_401_fails_naming_expectation_observation_and_budget() {
    let outcome = common::run_altered(
        "llm/api-key-invalid.toml",
        &[(
            "min_requests = 1\nmax_requests = 1",
            "min_requests = 2\nmax_requests = 2",
        )],
    );

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
