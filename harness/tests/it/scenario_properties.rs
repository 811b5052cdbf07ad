//! Properties of validation over generated scenario files: the shipped scenarios, mutated the
//! ways people break files (a duration, a name or a number changed to anything, a line
//! dropped or doubled, the file cut short, garbage typed in). Whatever the file, `parse_str`
//! never panics; every rejection is located inside the file; and every file it accepts keeps
//! its timings within what the runner's clock arithmetic can add to a clock reading.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use clawchaos::scenario::{ExpectKind, Scenario, parse_str};
use proptest::prelude::*;

/// The text of every shipped scenario file.
static SHIPPED: LazyLock<Vec<String>> = LazyLock::new(|| {
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios"));
    let files = clawchaos::scenario::discover(&[root]).expect("scenarios folder");
    let texts: Vec<String> = files
        .iter()
        .map(|f| std::fs::read_to_string(f).expect("readable"))
        .collect();
    assert!(texts.len() > 10, "the shipped scenarios are the seeds");
    texts
});

/// A value for a duration key: fine, zero, huge, negative, fractional, or not a duration.
fn duration_text() -> BoxedStrategy<String> {
    prop_oneof![
        (
            0u64..100_000,
            prop::sample::select(vec!["ms", "s", "m", "h", "d", ""])
        )
            .prop_map(|(n, unit)| format!("\"{n}{unit}\"")),
        Just("\"0s\"".to_owned()),
        Just("\"5124095576030431h\"".to_owned()),
        Just("\"99999999999999999999s\"".to_owned()),
        Just("\"-1s\"".to_owned()),
        Just("\"1.5s\"".to_owned()),
        any::<i64>().prop_map(|n| n.to_string()),
        "\"[ -~]{0,12}\"",
    ]
    .boxed()
}

/// A value for a name key: fine, empty, a dot segment, with a slash, a newline or a pipe, long.
fn name_text() -> BoxedStrategy<String> {
    prop_oneof![
        "\"[a-z][a-z0-9-]{0,10}\"",
        Just("\"\"".to_owned()),
        Just("\"..\"".to_owned()),
        Just("\"a/../b\"".to_owned()),
        Just("\"two\\nlines\"".to_owned()),
        Just("\"a|b\"".to_owned()),
        (60usize..140).prop_map(|n| format!("\"{}\"", "n".repeat(n))),
    ]
    .boxed()
}

/// One way to break a file, applied at a position chosen by `at` (a fraction of the file).
#[derive(Debug, Clone)]
enum Mutation {
    /// The value of the `at`-th `key = "..."` line whose value looks like a duration.
    Duration(f64, String),
    /// The value of the `at`-th `name = ...` line.
    Name(f64, String),
    /// The value of the `at`-th line assigning an integer.
    Number(f64, i64),
    /// Drops the line at `at`.
    DropLine(f64),
    /// Writes the line at `at` twice.
    DoubleLine(f64),
    /// Cuts the file at `at`.
    Truncate(f64),
    /// Types `text` in at `at`.
    Insert(f64, String),
}

fn mutation() -> BoxedStrategy<Mutation> {
    let at = 0.0f64..1.0;
    prop_oneof![
        3 => (at.clone(), duration_text()).prop_map(|(a, v)| Mutation::Duration(a, v)),
        2 => (at.clone(), name_text()).prop_map(|(a, v)| Mutation::Name(a, v)),
        1 => (at.clone(), any::<i64>()).prop_map(|(a, v)| Mutation::Number(a, v)),
        1 => at.clone().prop_map(Mutation::DropLine),
        1 => at.clone().prop_map(Mutation::DoubleLine),
        1 => at.clone().prop_map(Mutation::Truncate),
        1 => (at, "[ -~\n]{0,16}").prop_map(|(a, t)| Mutation::Insert(a, t)),
    ]
    .boxed()
}

/// Index `at` (a fraction) into `n` items.
fn pick(at: f64, n: usize) -> usize {
    ((at * n as f64) as usize).min(n.saturating_sub(1))
}

/// Replaces the value of the chosen line among those `matches` selects.
fn replace_value(text: &str, at: f64, value: &str, matches: impl Fn(&str, &str) -> bool) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let candidates: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter_map(|(i, l)| {
            let (key, v) = l.split_once('=')?;
            matches(key.trim(), v.trim()).then_some(i)
        })
        .collect();
    if candidates.is_empty() {
        return text.to_owned();
    }
    let i = candidates[pick(at, candidates.len())];
    let key = lines[i].split_once('=').map_or("", |(k, _)| k).to_owned();
    lines[i] = format!("{key}= {value}");
    lines.join("\n") + "\n"
}

fn looks_like_duration(value: &str) -> bool {
    let v = value.trim_matches('"');
    value.starts_with('"')
        && v.chars().next().is_some_and(|c| c.is_ascii_digit())
        && v.ends_with(['s', 'm', 'h'])
}

fn apply(text: &str, m: &Mutation) -> String {
    let lines: Vec<&str> = text.lines().collect();
    match m {
        Mutation::Duration(at, v) => replace_value(text, *at, v, |_, v| looks_like_duration(v)),
        Mutation::Name(at, v) => replace_value(text, *at, v, |k, _| k == "name"),
        Mutation::Number(at, n) => {
            replace_value(text, *at, &n.to_string(), |_, v| v.parse::<i64>().is_ok())
        }
        Mutation::DropLine(at) | Mutation::DoubleLine(at) => {
            let i = pick(*at, lines.len());
            let mut out: Vec<&str> = Vec::with_capacity(lines.len() + 1);
            for (j, l) in lines.iter().enumerate() {
                if j != i || matches!(m, Mutation::DoubleLine(_)) {
                    out.push(l);
                }
                if j == i && matches!(m, Mutation::DoubleLine(_)) {
                    out.push(l);
                }
            }
            out.join("\n") + "\n"
        }
        Mutation::Truncate(at) => {
            let mut cut = pick(*at, text.len() + 1);
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text[..cut].to_owned()
        }
        Mutation::Insert(at, inserted) => {
            let mut cut = pick(*at, text.len() + 1);
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            format!("{}{inserted}{}", &text[..cut], &text[cut..])
        }
    }
}

/// Every duration of an accepted scenario from which the runner computes a clock reading:
/// the run's timeout, the steady state's budget, each fault's start and heal, each window.
fn clock_durations(s: &Scenario) -> Vec<Duration> {
    let mut out = vec![
        s.settings.timeout,
        s.settings.poll_interval,
        s.steady_state.within,
    ];
    for f in &s.faults {
        out.push(f.start.at);
        if let Some(d) = f.duration {
            out.push(f.start.at.saturating_add(d));
        }
    }
    for e in &s.expectations {
        match &e.kind {
            ExpectKind::Detect { within, .. } | ExpectKind::Recover { within, .. } => {
                out.push(*within)
            }
            ExpectKind::Invariant => {}
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_broken_file_is_rejected_in_place_or_accepted_with_sane_timings(
        seed in prop::sample::select((0..SHIPPED.len()).collect::<Vec<_>>()),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let mut text = SHIPPED[seed].clone();
        for m in &mutations {
            text = apply(&text, m);
        }
        let file = Path::new("generated.toml");
        match parse_str(file, &text) {
            Ok(scenario) => {
                // The runner adds these to clock readings: they must fit, with room for a day
                // of set-up before them.
                let base = Instant::now() + Duration::from_secs(24 * 60 * 60);
                for d in clock_durations(&scenario) {
                    prop_assert!(base.checked_add(d).is_some(), "{d:?} in:\n{text}");
                }
            }
            Err(e) => {
                let last_line = text.lines().count().max(1) + 1;
                prop_assert!(!e.diagnostics().is_empty());
                for d in e.diagnostics() {
                    prop_assert_eq!(d.file.as_path(), file);
                    prop_assert!(
                        d.line >= 1 && d.line <= last_line && d.column >= 1,
                        "unlocated: {d:?} in:\n{text}"
                    );
                    prop_assert!(!d.message.is_empty());
                }
            }
        }
    }
}
