//! clawchaos: chaos and fault-injection scenarios for OpenClaw deployments.
//!
//! A scenario starts a real topology, puts a Toxiproxy-compatible proxy on its links, injects
//! faults, and judges whether the system **detects** them and **recovers**, measuring
//! time-to-detect and time-to-recover. Scenarios are TOML files (see `docs/scenarios.md`);
//! this is one run from Rust, with its control run:
//!
//! ```
//! use std::path::Path;
//! use clawchaos::observer::Silent;
//! use clawchaos::runner::{RunOptions, Runner};
//!
//! let scenario = clawchaos::scenario::parse_str(Path::new("example.toml"), r#"
//!     [services.llm]
//!     kind = "mock_llm"
//!
//!     [links.llm]
//!     to = "llm"
//!
//!     [probes.answers]
//!     kind = "http"
//!     link = "llm"
//!     path = "/v1/models"
//!     timeout = "1s"
//!     status = 200
//!
//!     [probes.refused]
//!     kind = "http"
//!     link = "llm"
//!     path = "/v1/models"
//!     error = "refused"
//!
//!     [steady_state]
//!     probes = ["answers"]
//!
//!     [[faults]]
//!     name = "llm-down"
//!     kind = "link_down"
//!     link = "llm"
//!     duration = "500ms"
//!
//!     [[expect]]
//!     kind = "detect"
//!     fault = "llm-down"
//!     probe = "refused"
//!     within = "1s"
//!
//!     [[expect]]
//!     kind = "recover"
//!     fault = "llm-down"
//!     probe = "answers"
//!     within = "1s"
//! "#)?;
//!
//! let runtime = tokio::runtime::Runtime::new()?;
//! let runner = Runner::default();
//! let outcome = runtime.block_on(runner.run(&scenario, &RunOptions::default(), &Silent));
//! assert!(outcome.passed, "{:?}", outcome.failures());
//! println!("time to detect: {:?}", outcome.faults[0].time_to_detect);
//!
//! // The same timeline with the fault switched off: the detect expectation must fail.
//! let control = RunOptions { control: true, ..RunOptions::default() };
//! let outcome = runtime.block_on(runner.run(&scenario, &control, &Silent));
//! assert!(outcome.passed && outcome.control_defects.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The parts, one purpose each: [`scenario`] (the format and its validation), [`runner`] (the
//! timeline, faults and topology), [`probe`] (conditions evaluated over and over), [`services`]
//! (each service kind as a recipe: how it runs, when it is ready, what it needs), [`backend`]
//! (running what a recipe plans: local processes and in-process servers), [`ledger`] (tasks
//! through the queue, each counted once), [`clients`] (the Toxiproxy and mock LLM APIs),
//! [`prereq`] (what the scenarios need on this machine), [`report`] (summary table, JSON,
//! JUnit), [`observer`] (progress events) and [`tier`] (the CI tier's rule: what it must cover).

#![warn(missing_docs)]

pub mod backend;
pub mod bisect;
pub mod clients;
pub mod ledger;
pub mod observer;
pub mod prereq;
pub mod probe;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod services;
pub mod tier;
