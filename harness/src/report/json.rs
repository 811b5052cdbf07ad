//! The JSON report: every outcome as data, durations in milliseconds.

use crate::runner::ScenarioOutcome;

/// The JSON report text.
pub fn to_json(outcomes: &[ScenarioOutcome]) -> std::io::Result<String> {
    let skipped = outcomes.iter().filter(|o| o.skipped.is_some()).count();
    let passed = outcomes.iter().filter(|o| o.passed).count() - skipped;
    let mut report = serde_json::json!({
        "tool": "clawchaos",
        "version": env!("CARGO_PKG_VERSION"),
        "passed": passed,
        "failed": outcomes.len() - passed - skipped,
        "skipped": skipped,
        "scenarios": outcomes,
    });
    if let Some(matrix) = super::Matrix::of(outcomes) {
        let rows: Vec<serde_json::Value> = matrix
            .rows
            .iter()
            .map(|(run, cells)| {
                let verdicts: serde_json::Map<String, serde_json::Value> = matrix
                    .releases
                    .iter()
                    .zip(cells)
                    .filter_map(|(release, cell)| Some((release.clone(), (*cell)?.into())))
                    .collect();
                serde_json::json!({ "run": run, "verdicts": verdicts })
            })
            .collect();
        report["matrix"] = serde_json::json!({ "releases": matrix.releases, "rows": rows });
    }
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

    /// Every key report.json can hold, found recursively.
    fn keys(v: &serde_json::Value, out: &mut std::collections::BTreeSet<String>) {
        match v {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    out.insert(k.clone());
                    keys(v, out);
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| keys(v, out)),
            _ => {}
        }
    }

    #[test]
    fn every_field_is_documented_in_docs_reports_md() {
        let docs = include_str!("../../../docs/reports.md");
        let mut outcomes = crate::report::fixtures::outcomes();
        // The optional parts too: a ledger, a known defect, a service version.
        outcomes[0].ledger = Some(crate::ledger::Counts::default());
        outcomes[0].known_defect = Some(crate::runner::KnownDefectSeen {
            summary: String::new(),
            report: String::new(),
            probes: Vec::new(),
            reproduced: true,
        });
        outcomes[0].cut_short = Some(String::new());
        outcomes[0].openclaw = Some("2026.9.6".into());
        outcomes[0].probes.push(crate::runner::ProbeTrace {
            probe: "up".into(),
            stretches: vec![crate::runner::Stretch {
                from: std::time::Duration::ZERO,
                to: std::time::Duration::from_millis(5),
                holds: true,
                evaluations: 1,
                detail: String::new(),
            }],
        });
        outcomes[0].services.push(crate::runner::ServiceStart {
            name: "gateway".into(),
            kind: "openclaw".into(),
            pid: Some(1),
            ready_after: std::time::Duration::from_secs(1),
            version: Some("OpenClaw 2026.9.6".into()),
        });
        let text = to_json(&outcomes).expect("serialises");
        let mut found = std::collections::BTreeSet::new();
        keys(
            &serde_json::from_str(&text).expect("valid JSON"),
            &mut found,
        );
        let missing: Vec<_> = found
            .iter()
            // A matrix's verdicts are keyed by release.
            .filter(|k| crate::scenario::version::Version::parse(k).is_none())
            .filter(|k| !docs.contains(&format!("`{k}`")))
            .collect();
        assert!(missing.is_empty(), "not in docs/reports.md: {missing:?}");
    }
}
