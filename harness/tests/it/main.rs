//! The harness's integration tests, one binary (each test binary links the whole harness,
//! librdkafka and lapin included): bad input, generated scenario files, the CLI and its
//! standalone servers, control runs, the runner on the fake backend, guaranteed teardown,
//! the Toxiproxy client against the proxy, scenario validation, and a run's timeline page in a
//! real browser.

mod bad_input;
mod cli;
mod control;
mod fake_backend;
mod scenario_properties;
mod standalone;
mod teardown;
#[cfg(feature = "chaos")]
mod teardown_containers;
mod tier;
#[cfg(feature = "chaos")]
mod timeline_browser;
mod toxiproxy_client;
#[cfg(feature = "chaos")]
mod user_image;
mod validation;
