//! The stream model a link carries: directions, timestamped chunks and the ways a stream ends.

use std::time::Instant;

use bytes::Bytes;

/// Which way data flows through a proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Direction {
    /// Client to server.
    Upstream,
    /// Server to client.
    Downstream,
}

impl Direction {
    /// Both directions, in the order Toxiproxy lists toxics (upstream first).
    pub(crate) const ALL: [Direction; 2] = [Direction::Upstream, Direction::Downstream];

    /// The name the API uses for this direction.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Direction::Upstream => "upstream",
            Direction::Downstream => "downstream",
        }
    }

    /// Parses an API `stream` value, ignoring case as Toxiproxy does.
    pub(crate) fn parse(value: &str) -> Option<Direction> {
        if value.eq_ignore_ascii_case("upstream") {
            Some(Direction::Upstream)
        } else if value.eq_ignore_ascii_case("downstream") {
            Some(Direction::Downstream)
        } else {
            None
        }
    }

    /// A dense index (0 or 1) for per-direction arrays.
    pub(crate) fn index(self) -> usize {
        match self {
            Direction::Upstream => 0,
            Direction::Downstream => 1,
        }
    }
}

/// Bytes read from one side, stamped with when they arrived (or were last released by a toxic).
#[derive(Debug, Clone)]
pub(crate) struct Chunk {
    /// The bytes.
    pub(crate) data: Bytes,
    /// Arrival time; a toxic that holds the chunk sets it to the time it released it.
    pub(crate) at: Instant,
}

/// How a stream ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// The source finished sending: shut down the write side of the destination (half-close).
    Eof,
    /// A toxic closes the whole connection (Toxiproxy's `timeout` and `limit_data`).
    Close,
    /// A toxic resets the whole connection with a TCP RST (`reset_peer`).
    Reset,
}

/// What flows through a chain of toxics: data, then at most one end.
#[derive(Debug, Clone)]
pub(crate) enum Item {
    /// Bytes to forward.
    Data(Chunk),
    /// The end of the stream.
    End(End),
}

impl Item {
    /// Number of payload bytes (0 for an end).
    pub(crate) fn len(&self) -> usize {
        match self {
            Item::Data(chunk) => chunk.data.len(),
            Item::End(_) => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_directions_case_insensitively() {
        assert_eq!(Direction::parse("UpStream"), Some(Direction::Upstream));
        assert_eq!(Direction::parse("downstream"), Some(Direction::Downstream));
        assert_eq!(Direction::parse("sideways"), None);
        assert_eq!(Direction::Upstream.as_str(), "upstream");
        assert_eq!(Direction::Downstream.index(), 1);
    }
}
