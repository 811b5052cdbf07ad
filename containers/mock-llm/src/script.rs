//! Response bodies played out step by step: data, pauses, a stall, or a broken connection.
//!
//! A body that yields an error makes hyper drop the connection. If the error comes before any
//! byte was flushed, the client gets no HTTP response at all; that is how the mock "drops" a
//! connection, and how it ends stalls and hangs when it shuts down.

use std::{io, time::Duration};

use axum::body::Body;
use bytes::Bytes;

use crate::closing::Closing;

/// One step of a scripted body.
#[derive(Debug)]
pub(crate) enum Step {
    /// Send these bytes.
    Data(Bytes),
    /// Wait this long (cut short, with a broken connection, if the mock shuts down).
    Pause(Duration),
    /// Send nothing more, keep the connection open until the mock shuts down.
    Stall,
    /// Send these bytes every `every`, forever: a stream kept alive until the mock shuts down.
    Repeat {
        /// The pause before each sending.
        every: Duration,
        /// What is sent.
        bytes: Bytes,
    },
}

/// A body that plays `steps` in order.
pub(crate) fn body(steps: Vec<Step>, closing: Closing) -> Body {
    struct Play {
        steps: std::vec::IntoIter<Step>,
        closing: Closing,
        broken: bool,
        repeating: Option<(Duration, Bytes)>,
    }
    let play = Play {
        steps: steps.into_iter(),
        closing,
        broken: false,
        repeating: None,
    };
    let stream = futures_util::stream::unfold(play, |mut play| async move {
        if play.broken {
            return None;
        }
        while play.repeating.is_none() {
            match play.steps.next()? {
                Step::Data(bytes) => return Some((Ok(bytes), play)),
                Step::Pause(pause) => {
                    tokio::select! {
                        () = tokio::time::sleep(pause) => {}
                        () = play.closing.closed() => {
                            play.broken = true;
                            return Some((Err(shutting_down()), play));
                        }
                    }
                }
                Step::Repeat { every, bytes } => play.repeating = Some((every, bytes)),
                Step::Stall => {
                    play.closing.closed().await;
                    play.broken = true;
                    return Some((Err(shutting_down()), play));
                }
            }
        }
        let (every, bytes) = play.repeating.clone()?;
        tokio::select! {
            () = tokio::time::sleep(every) => Some((Ok(bytes), play)),
            () = play.closing.closed() => {
                play.broken = true;
                Some((Err(shutting_down()), play))
            }
        }
    });
    Body::from_stream(stream)
}

/// A body whose first poll fails, so the connection closes without a response.
pub(crate) fn broken() -> Body {
    let failed: Result<Bytes, io::Error> = Err(io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "mock: drop connection",
    ));
    Body::from_stream(futures_util::stream::iter([failed]))
}

fn shutting_down() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, "mock: shutting down")
}
