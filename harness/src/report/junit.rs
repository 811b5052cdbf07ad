//! The JUnit XML report: one test case per scenario run, failures with their reasons.

use super::display_name;
use crate::runner::ScenarioOutcome;

/// The JUnit XML text.
pub fn to_junit(outcomes: &[ScenarioOutcome]) -> String {
    let failures = outcomes.iter().filter(|o| !o.passed).count();
    let skipped = outcomes.iter().filter(|o| o.skipped.is_some()).count();
    let total: f64 = outcomes.iter().map(|o| o.duration.as_secs_f64()).sum();
    let counts = format!(
        "tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\" time=\"{total:.3}\"",
        outcomes.len()
    );
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    xml.push_str(&format!("<testsuites name=\"clawchaos\" {counts}>\n"));
    xml.push_str(&format!("  <testsuite name=\"clawchaos\" {counts}>\n"));
    for o in outcomes {
        xml.push_str(&format!(
            "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\">\n",
            escape(&o.file.display().to_string()),
            escape(&display_name(o)),
            o.duration.as_secs_f64()
        ));
        // The tier, so that a CI dashboard can tell a CI-tier failure from a release one; the
        // OpenClaw release, for a version matrix.
        let openclaw = o.openclaw_version().map_or_else(String::new, |v| {
            format!("<property name=\"openclaw\" value=\"{}\" />", escape(&v))
        });
        xml.push_str(&format!(
            "      <properties><property name=\"tier\" value=\"{}\" />{openclaw}</properties>\n",
            o.tier
        ));
        if let Some(reason) = &o.skipped {
            xml.push_str(&format!(
                "      <skipped message=\"{}\" />\n",
                escape(reason)
            ));
        } else if !o.passed {
            let failures = o.failures();
            let message = failures.first().cloned().unwrap_or_else(|| "failed".into());
            xml.push_str(&format!(
                "      <failure message=\"{}\">{}</failure>\n",
                escape(&message),
                escape(&failures.join("\n"))
            ));
        }
        xml.push_str("    </testcase>\n");
    }
    xml.push_str("  </testsuite>\n</testsuites>\n");
    xml
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot() {
        let expected = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="clawchaos" tests="4" failures="1" skipped="1" time="15.200">
  <testsuite name="clawchaos" tests="4" failures="1" skipped="1" time="15.200">
    <testcase classname="scenarios/selftest/latency.toml" name="selftest/latency" time="6.100">
      <properties><property name="tier" value="ci" /></properties>
    </testcase>
    <testcase classname="scenarios/selftest/latency.toml" name="selftest/latency (control)" time="6.100">
      <properties><property name="tier" value="ci" /></properties>
      <failure message="control run: detect expectation `detect slow by llm_slow within 3s` passed without its fault &lt;&amp;&gt;">control run: detect expectation `detect slow by llm_slow within 3s` passed without its fault &lt;&amp;&gt;</failure>
    </testcase>
    <testcase classname="scenarios/selftest/tolerated.toml" name="selftest/tolerated" time="3.000">
      <properties><property name="tier" value="release" /></properties>
    </testcase>
    <testcase classname="scenarios/selftest/tolerated.toml" name="selftest/tolerated (control)" time="0.000">
      <properties><property name="tier" value="release" /></properties>
      <skipped message="no detect expectations: a control run would have nothing to show" />
    </testcase>
  </testsuite>
</testsuites>
"#;
        assert_eq!(to_junit(&crate::report::fixtures::outcomes()), expected);
    }
}
