//! The crate's one error type.

use std::{io, net::SocketAddr, path::PathBuf};

/// Why a token service could not start, change mode or write its key.
#[derive(Debug, thiserror::Error)]
pub enum TokenServiceError {
    /// The address is not a loopback address; the project only ever listens on loopback.
    #[error("refusing to listen on {addr}: only loopback addresses (127.0.0.0/8, ::1) are allowed")]
    NotLoopback {
        /// The address asked for.
        addr: SocketAddr,
    },
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
    /// The signing key could not be made.
    #[error("cannot generate the signing key: {0}")]
    KeyGeneration(String),
    /// An error mode was asked for with a status that is not an HTTP error (400..=599).
    #[error("error mode needs an HTTP error status (400..=599), got {0}")]
    InvalidStatus(u16),
    /// The verification key could not be written.
    #[error("cannot write the key to {path}: {source}")]
    WriteKey {
        /// The file it tried to write.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
}
