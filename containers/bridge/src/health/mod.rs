//! Link states, counters and the `GET /health` endpoint.

mod report;
mod server;
mod state;

pub use report::{HealthReport, LinkReport, LinksReport, Status, TokenReport};
pub use server::{router, serve};
pub use state::{Health, Link, LinkState};
