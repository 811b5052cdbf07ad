//! The broker JWT: decoding its claims, fetching it from the token service, refreshing it
//! before it expires, and judging clock skew.

mod client;
mod info;
pub mod jwt;
mod manager;

pub use client::{TokenClient, TokenFetchError};
pub use info::TokenInfo;
pub use manager::TokenManager;

#[cfg(test)]
pub(crate) mod testing;
