//! `[[expect]]`: detect, recover and invariant expectations.

use toml::de::DeValue;

use super::*;

pub(super) fn read_expectation(
    source: &Source<'_>,
    value: &toml::Spanned<DeValue<'_>>,
) -> Option<(Expectation, Spanned<String>, Option<Spanned<String>>)> {
    let raw_kind = raw_kind(value);
    let allowed: &[&str] = match raw_kind {
        "detect" => &["kind", "probe", "fault", "within", "not_before", "name"],
        "recover" => &["kind", "probe", "fault", "within", "name"],
        "invariant" => &["kind", "probe", "name"],
        _ => &present_keys(value),
    };
    let t = source.table(value, "[[expect]]", allowed)?;
    let kind = t.req_string("kind", "detect, recover or invariant")?;
    let probe = t.req_string("probe", "the probe that must hold");
    let (kind, fault) = match kind.value.as_str() {
        "detect" | "recover" => {
            let fault = t.req_string("fault", "the fault it is about");
            let within = t.req_positive_duration("within");
            let (fault, within) = (fault?, within?);
            let k = if kind.value == "detect" {
                let not_before = t.duration("not_before");
                if let Some(nb) = &not_before
                    && nb.value >= within.value
                {
                    source.problem(
                        nb.span.clone(),
                        format!(
                            "`not_before` ({}) must be shorter than `within` ({}): no detection could be both",
                            humantime::format_duration(nb.value),
                            humantime::format_duration(within.value)
                        ),
                    );
                    return None;
                }
                ExpectKind::Detect {
                    fault: fault.value.clone(),
                    within: within.value,
                    not_before: not_before.map(|d| d.value),
                }
            } else {
                ExpectKind::Recover {
                    fault: fault.value.clone(),
                    within: within.value,
                }
            };
            (k, Some(fault))
        }
        "invariant" => (ExpectKind::Invariant, None),
        other => {
            let kinds = ["detect", "recover", "invariant"];
            return unknown_kind(source, &kind, "expectation", other, &kinds, "[[expect]]");
        }
    };
    let probe = probe?;
    let name = t
        .string("name")
        .map(|s| s.value)
        .unwrap_or_else(|| match &kind {
            ExpectKind::Detect {
                fault,
                within,
                not_before,
            } => format!(
                "detect {fault} by {} {}within {}",
                probe.value,
                not_before.map_or_else(String::new, |d| format!(
                    "not before {} and ",
                    humantime::format_duration(d)
                )),
                humantime::format_duration(*within)
            ),
            ExpectKind::Recover { fault, within } => format!(
                "recover from {fault} by {} within {}",
                probe.value,
                humantime::format_duration(*within)
            ),
            ExpectKind::Invariant => format!("invariant {}", probe.value),
        });
    Some((
        Expectation {
            name,
            probe: probe.value.clone(),
            kind,
        },
        probe,
        fault,
    ))
}
