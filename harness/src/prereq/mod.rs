//! What the selected scenarios need on this machine before anything starts: the programs and
//! installs their services and faults use, each with the `scripts/setup` item that provides
//! it. `clawchaos run` and `validate` check them first and exit 2 naming what is missing;
//! `clawchaos needs` tells `scripts/chaos` what to set up, so a run installs only what its
//! scenarios use.

pub mod need;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use need::Prerequisite;

use crate::scenario::{FaultAction, Scenario};

impl Prerequisite {
    /// Whether it is here; if not, what was looked for.
    pub fn check(&self) -> Result<(), String> {
        match self {
            Prerequisite::Program(p) => on_path(p)
                .map(|_| ())
                .ok_or_else(|| format!("`{p}` is not on PATH")),
            Prerequisite::OpenClaw => crate::services::openclaw::OpenClawInstall::locate()
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Prerequisite::Tansu => crate::services::tansu::locate_binary().map(|_| ()),
            Prerequisite::RabbitMq => crate::services::rabbitmq::locate_server().map(|_| ()),
            Prerequisite::Bridge => crate::services::bridge::locate_binary().map(|_| ()),
            Prerequisite::Faketime => {
                if Path::new(crate::services::bridge::LIBFAKETIME).is_file() {
                    Ok(())
                } else {
                    Err(format!(
                        "{} is missing",
                        crate::services::bridge::LIBFAKETIME
                    ))
                }
            }
        }
    }
}

/// What one scenario needs.
pub fn of_scenario(scenario: &Scenario) -> Vec<Prerequisite> {
    let mut needs = Vec::new();
    for service in scenario.services.values() {
        needs.extend(crate::services::kind(service).needs);
    }
    for fault in &scenario.faults {
        if let FaultAction::SquatPort { .. } = fault.action {
            needs.push(Prerequisite::Program("python3".into()));
        }
    }
    needs.sort();
    needs.dedup();
    needs
}

/// What a set of scenarios needs, each with the scenarios that need it.
pub fn of_scenarios(scenarios: &[Scenario]) -> BTreeMap<Prerequisite, Vec<String>> {
    let mut all: BTreeMap<Prerequisite, Vec<String>> = BTreeMap::new();
    for s in scenarios {
        for need in of_scenario(s) {
            all.entry(need).or_default().push(s.name.clone());
        }
    }
    all
}

/// A prerequisite that is not here.
#[derive(Debug, Clone)]
pub struct Missing {
    /// What is missing.
    pub prerequisite: Prerequisite,
    /// The scenarios that need it.
    pub needed_by: Vec<String>,
    /// What was looked for.
    pub reason: String,
}

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let by = match self.needed_by.as_slice() {
            [one] => one.clone(),
            [first, rest @ ..] => format!("{first} and {} more", rest.len()),
            [] => "no scenario".into(),
        };
        write!(
            f,
            "missing prerequisite `{}` (needed by {by}): {}\n    install it: {}",
            self.prerequisite,
            self.reason,
            self.prerequisite.install_hint()
        )
    }
}

/// Checks everything `scenarios` need; returns what is missing.
pub fn missing(scenarios: &[Scenario]) -> Vec<Missing> {
    of_scenarios(scenarios)
        .into_iter()
        .filter_map(|(prerequisite, needed_by)| {
            prerequisite.check().err().map(|reason| Missing {
                prerequisite,
                needed_by,
                reason,
            })
        })
        .collect()
}

/// The program's path, if `name` (a path or a bare name) can be run.
fn on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let runnable = |p: &Path| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if name.contains('/') {
        let p = PathBuf::from(name);
        return runnable(&p).then_some(p);
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| runnable(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(text: &str) -> Scenario {
        crate::scenario::parse_str(Path::new("t.toml"), text).expect("valid scenario")
    }

    #[test]
    fn a_mock_llm_with_a_process_needs_only_its_program() {
        let s = scenario(
            r#"
            [services.llm]
            kind = "mock_llm"
            [services.web]
            kind = "process"
            command = ["python3", "-m", "http.server", "{port}"]
            [probes.up]
            kind = "http"
            service = "web"
            path = "/"
            status = 200
            [steady_state]
            probes = ["up"]
            [[expect]]
            kind = "invariant"
            probe = "up"
            "#,
        );
        assert_eq!(
            of_scenario(&s),
            vec![Prerequisite::Program("python3".into())]
        );
    }

    #[test]
    fn setup_items_name_what_scripts_setup_knows() {
        assert_eq!(
            Prerequisite::Tansu.install_hint(),
            "scripts/setup tansu (or set CLAWCHAOS_TANSU_BIN)"
        );
        assert_eq!(
            Prerequisite::Program("python3".into()).setup_item(),
            Some("python3")
        );
        assert_eq!(Prerequisite::Program("my-server".into()).setup_item(), None);
        assert!(
            Prerequisite::Program("my-server".into())
                .install_hint()
                .contains("on PATH")
        );
    }

    #[test]
    fn a_program_that_is_not_there_is_missing() {
        let p = Prerequisite::Program("clawchaos-no-such-program".into());
        assert!(p.check().is_err());
        assert!(Prerequisite::Program("sh".into()).check().is_ok());
    }
}
