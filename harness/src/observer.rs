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
        /// Whether it passed.
        passed: bool,
        /// What was seen.
        detail: String,
    },
    /// Teardown began.
    TearingDown,
}

/// Receives progress events.
pub trait Observer: Send + Sync {
    /// Called for each event of the run of `scenario`.
    fn event(&self, scenario: &str, event: &RunEvent);
}

/// Ignores every event.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Observer for Silent {
    fn event(&self, _scenario: &str, _event: &RunEvent) {}
}
