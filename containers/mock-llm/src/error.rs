//! The crate's one error type.

use std::{io, net::SocketAddr};

/// Why a mock LLM could not start or keep serving.
#[derive(Debug, thiserror::Error)]
pub enum MockLlmError {
    /// The listening socket could not be opened.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
    /// The listening socket's address could not be read back.
    #[error("cannot read the listening address: {0}")]
    LocalAddr(#[source] io::Error),
    /// The HTTP server stopped with an error.
    #[error("the HTTP server failed: {0}")]
    Serve(#[source] io::Error),
}
