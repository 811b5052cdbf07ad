//! `[[faults]]`: what is injected, where, when and for how long.
//!
//! Every fault kind is one row of the registry ([`fault_kinds`]): its name, what it acts on, its
//! keys, whether it is in place before the topology starts, and its reader. Each family's file
//! holds its types, its rows and their readers; adding a kind is a variant, a row and a reader
//! in its family's file here, its inject and heal in its family's file of `runner/faults/`, and
//! its row in `docs/scenarios.md`.

mod clock;
mod config;
mod link;
mod llm;
mod network;
mod port;
mod process;
mod rabbitmq;
mod tokens;

pub use link::{LinkFault, Stream};
pub use llm::LlmFault;
pub use network::NetworkFault;
pub use process::ProcessFault;
pub use rabbitmq::BrokerFault;
pub use tokens::TokenFault;

use std::time::Duration;

use toml::de::DeValue;

use super::*;

/// Keys every fault may carry, whatever its kind.
pub(super) const FAULT_COMMON: &[&str] = &["name", "kind", "at", "after", "duration"];

/// Reads a fault's table (its keys already checked) into what it does.
type Read = for<'t, 'v, 'i, 's, 'r> fn(&'t Table<'v, 'i, 's>, &'r Refs<'r>) -> Option<FaultAction>;

/// One fault kind.
pub struct FaultKind {
    /// The name scenario files give as `kind`.
    pub name: &'static str,
    /// Older names that still work (each kept for one release after a rename).
    pub aliases: &'static [&'static str],
    /// What it acts on, as the fault table of `docs/scenarios.md` says it.
    pub targets: &'static str,
    /// The keys that name and shape its target (`link`, `stream`, `toxicity`; `service`,
    /// `model`, `times`; or `service`).
    pub target_keys: &'static [&'static str],
    /// Its own parameters.
    pub params: &'static [&'static str],
    /// In place before the topology starts (it takes no `at` or `after`).
    pub before_start: bool,
    /// Its reader.
    pub(super) read: Read,
}

/// Every fault kind scenario files can name, family by family.
pub fn fault_kinds() -> impl Iterator<Item = &'static FaultKind> {
    [
        link::KINDS,
        llm::KINDS,
        process::KINDS,
        port::KINDS,
        tokens::KINDS,
        clock::KINDS,
        rabbitmq::KINDS,
        config::KINDS,
        network::KINDS,
    ]
    .into_iter()
    .flatten()
}

/// The kind named `name` (or once named so: an alias gives the kind's current name).
pub fn kind_named(name: &str) -> Option<&'static FaultKind> {
    fault_kinds().find(|k| k.name == name || k.aliases.contains(&name))
}

pub(super) fn read_fault(
    source: &Source<'_>,
    value: &toml::Spanned<DeValue<'_>>,
    refs: &Refs<'_>,
) -> Option<(FaultSpec, std::ops::Range<usize>, Option<Spanned<String>>)> {
    let raw_kind = raw_kind(value);
    let allowed: Vec<&str> = match kind_named(raw_kind) {
        Some(kind) => FAULT_COMMON
            .iter()
            .chain(kind.target_keys)
            .chain(kind.params)
            .copied()
            .collect(),
        // The kind itself is the problem; its other keys cannot be judged.
        None => present_keys(value),
    };
    let t = source.table(value, "[[faults]]", &allowed)?;
    let name = t.req_string("name", "a name the expectations refer to");
    let kind = t.req_string("kind", "the fault kind")?;
    let Some(fault_kind) = kind_named(&kind.value) else {
        let names: Vec<&str> = fault_kinds().map(|k| k.name).collect();
        return unknown_kind(source, &kind, "fault", &kind.value, &names, "[[faults]]");
    };
    let start = FaultStart {
        at: t.duration("at").map_or(Duration::ZERO, |d| d.value),
        after: t.string("after").map(|s| s.value),
    };
    let after_ref = t.string("after");
    let duration = t.positive_duration("duration").map(|d| d.value);
    if fault_kind.before_start && (t.has("at") || t.has("after")) {
        source.problem(
            t.raw("at")
                .or(t.raw("after"))
                .map_or(t.span(), |v| v.span()),
            format!(
                "`{}` is in place before the topology starts; it takes no `at` or `after`",
                fault_kind.name
            ),
        );
    }
    let action = (fault_kind.read)(&t, refs)?;
    let name = name?;
    Some((
        FaultSpec {
            name: name.value.clone(),
            kind: fault_kind.name.to_string(),
            action,
            start,
            duration,
        },
        name.span,
        after_ref,
    ))
}

/// The service a fault of `kind` acts on, which must be of one of `kinds` (comma-separated, as
/// the docs say them); `having` says what those kinds share, for the error.
fn fault_service_among(
    t: &Table<'_, '_, '_>,
    kind: &str,
    kinds: &str,
    having: &str,
    refs: &Refs<'_>,
) -> Option<String> {
    let service = t.req_string("service", "the service the fault acts on")?;
    if !require_service(t.source(), &service, refs.services) {
        return None;
    }
    let fits = refs
        .services
        .get(&service.value)
        .is_some_and(|s| kinds.split(", ").any(|k| k == s.kind.name()));
    if !fits {
        let needs = if having.is_empty() {
            format!("a {kinds} service")
        } else {
            format!("a service {having} ({kinds})")
        };
        t.source().problem(
            service.span.clone(),
            format!("`{kind}` needs {needs}; \"{}\" is not one", service.value),
        );
        return None;
    }
    Some(service.value)
}

/// The service a fault of `kind` acts on, which must be of `service_kind`.
fn fault_service(
    t: &Table<'_, '_, '_>,
    kind: &str,
    service_kind: &str,
    refs: &Refs<'_>,
) -> Option<String> {
    fault_service_among(t, kind, service_kind, "", refs)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rows of the fault table in `docs/scenarios.md`: kind, where, parameters.
    fn documented() -> Vec<(String, String, Vec<String>)> {
        let docs = include_str!("../../../../../docs/scenarios.md");
        let table = docs
            .split("| kind | where | parameters |")
            .nth(1)
            .expect("docs/scenarios.md has the fault table");
        table
            .lines()
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .map(|row| {
                let cells: Vec<&str> = row.split('|').map(str::trim).collect();
                let name = cells[1].trim_matches('`').to_string();
                // Each parameter is a `key`, perhaps followed by what it takes in brackets.
                let mut depth = 0;
                let outside: String = cells[3]
                    .chars()
                    .filter(|c| {
                        match c {
                            '(' => depth += 1,
                            ')' => depth -= 1,
                            _ => return depth == 0,
                        }
                        false
                    })
                    .collect();
                let params = outside
                    .split('`')
                    .skip(1)
                    .step_by(2)
                    .map(str::to_string)
                    .collect();
                (name, cells[2].to_string(), params)
            })
            .collect()
    }

    #[test]
    fn the_docs_fault_table_and_the_registry_agree() {
        let documented = documented();
        let registered: Vec<&str> = fault_kinds().map(|k| k.name).collect();
        for (name, targets, params) in &documented {
            let Some(kind) = kind_named(name) else {
                panic!("docs/scenarios.md documents fault kind `{name}`, which does not exist");
            };
            assert_eq!(
                targets, kind.targets,
                "`{name}`: the docs say it acts on \"{targets}\", the registry \"{}\"",
                kind.targets
            );
            assert_eq!(
                params, kind.params,
                "`{name}`: the docs list parameters {params:?}, the registry {:?}",
                kind.params
            );
        }
        for name in registered {
            assert!(
                documented.iter().any(|(n, _, _)| n == name),
                "fault kind `{name}` has no row in docs/scenarios.md's fault table"
            );
        }
    }

    #[test]
    fn kinds_are_unique_and_keys_do_not_repeat_the_common_ones() {
        let mut names: Vec<&str> = fault_kinds().map(|k| k.name).collect();
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count, "a fault kind is registered twice");
        for kind in fault_kinds() {
            for key in kind.target_keys.iter().chain(kind.params) {
                assert!(
                    !FAULT_COMMON.contains(key),
                    "`{}` lists the common key `{key}`",
                    kind.name
                );
            }
        }
    }
}
