//! The harness's integration tests, one binary (each test binary links the whole harness,
//! librdkafka and lapin included): the CLI, control runs, guaranteed teardown, the Toxiproxy
//! client against the proxy, and scenario validation.

mod cli;
mod control;
mod teardown;
mod tier;
mod toxiproxy_client;
mod validation;
