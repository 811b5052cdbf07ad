//! The JSON report: every outcome as data, durations in milliseconds.

use crate::runner::ScenarioOutcome;

/// The JSON report text.
pub fn to_json(outcomes: &[ScenarioOutcome]) -> std::io::Result<String> {
    let skipped = outcomes.iter().filter(|o| o.skipped.is_some()).count();
    let passed = outcomes.iter().filter(|o| o.passed).count() - skipped;
    let report = serde_json::json!({
        "tool": "clawchaos",
        "version": env!("CARGO_PKG_VERSION"),
        "passed": passed,
        "failed": outcomes.len() - passed - skipped,
        "skipped": skipped,
        "scenarios": outcomes,
    });
    serde_json::to_string_pretty(&report).map_err(std::io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape() {
        let text = to_json(&crate::report::fixtures::outcomes()).expect("serialises");
        let v: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(v["passed"], 2);
        assert_eq!(v["failed"], 1);
        let s = &v["scenarios"][0];
        assert_eq!(s["name"], "selftest/latency");
        assert_eq!(s["faults"][0]["time_to_detect"], 512.0);
        assert_eq!(s["expectations"][0]["verdict"], "passed");
        assert_eq!(s["expectations"][0]["budget"], 3000.0);
        assert_eq!(v["scenarios"][1]["control"], true);
        assert_eq!(v["skipped"], 1);
        assert_eq!(s["phases"]["setup"], 1000.0);
        assert!(v["scenarios"][3]["skipped"].is_string());
        assert_eq!(s["tier"], "ci");
        assert_eq!(v["scenarios"][2]["tier"], "release");
    }
}
