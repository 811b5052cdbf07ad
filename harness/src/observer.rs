//! Progress events a run reports while it goes, for the CLI's progress lines and for tests.

use std::time::Duration;

/// Something that happened during a run.
#[derive(Debug, Clone)]
pub enum RunEvent {
    /// The run began.
    Started {
        /// Whether faults are switched off.
        control: bool,
    },
    /// The run's private folder exists.
    RunFolder {
        /// Its path (removed at teardown).
        path: std::path::PathBuf,
    },
    /// A service is up and ready.
    ServiceReady {
        /// The service.
        service: String,
        /// Where it listens.
        addr: std::net::SocketAddr,
        /// Its pid, when it is a process.
        pid: Option<u32>,
        /// The software and version it runs, when known.
        version: Option<String>,
        /// Time since the run began.
        after: Duration,
    },
    /// A link (a proxy in front of a service) is listening.
    LinkReady {
        /// The link.
        link: String,
        /// Where it listens.
        addr: std::net::SocketAddr,
        /// The service it leads to.
        to: String,
    },
    /// Every steady-state probe holds.
    SteadyState {
        /// Time since the run began.
        after: Duration,
    },
    /// A fault was injected (or, in a control run, would have been).
    FaultInjected {
        /// The fault.
        fault: String,
        /// Whether it really was (false in control runs).
        real: bool,
    },
    /// A fault was healed.
    FaultHealed {
        /// The fault.
        fault: String,
    },
    /// An expectation reached its verdict.
    ExpectationDecided {
        /// The expectation's name.
        name: String,
        /// Whether it is a detect expectation (which a control run must fail).
        detect: bool,
        /// Whether it passed.
        passed: bool,
        /// Whether it watches a probe of the scenario's known defect (expected to fail while
        /// the defect lasts).
        known_defect: bool,
        /// What was seen.
        detail: String,
    },
    /// Teardown began.
    TearingDown,
    /// The run was not run, for this reason (a control run of a scenario without detect
    /// expectations).
    Skipped {
        /// Why.
        reason: String,
    },
}

/// Which run an event belongs to: a scenario, or its control run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunName<'a> {
    /// The scenario's name.
    pub scenario: &'a str,
    /// Whether this is its control run (faults switched off).
    pub control: bool,
    /// The OpenClaw release it runs, when the run pins one (a version matrix).
    pub openclaw: Option<&'a crate::scenario::version::Version>,
}

impl std::fmt::Display for RunName<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.scenario)?;
        if let Some(release) = self.openclaw {
            write!(f, " @{release}")?;
        }
        if self.control {
            write!(f, " (control)")?;
        }
        Ok(())
    }
}

/// Receives progress events.
pub trait Observer: Send + Sync {
    /// Called for each event of `run`.
    fn event(&self, run: RunName<'_>, event: &RunEvent);
}

/// Ignores every event.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Observer for Silent {
    fn event(&self, _run: RunName<'_>, _event: &RunEvent) {}
}
