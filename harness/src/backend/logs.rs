//! Captured service output: kept in memory for log probes and written to the run folder.

use std::sync::{Arc, Mutex};

/// Lines a service printed (stdout and stderr interleaved as they arrived).
#[derive(Debug, Clone, Default)]
pub struct LogBuffer {
    lines: Arc<Mutex<Vec<String>>>,
}

impl LogBuffer {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a line.
    pub fn push(&self, line: String) {
        if let Ok(mut lines) = self.lines.lock() {
            lines.push(line);
        }
    }

    /// How many lines match `regex`.
    pub fn count_matching(&self, regex: &regex::Regex) -> usize {
        self.lines
            .lock()
            .map(|lines| lines.iter().filter(|l| regex.is_match(l)).count())
            .unwrap_or(0)
    }

    /// The last `n` lines, for error messages.
    pub fn tail(&self, n: usize) -> Vec<String> {
        self.lines
            .lock()
            .map(|lines| lines[lines.len().saturating_sub(n)..].to_vec())
            .unwrap_or_default()
    }

    /// Number of lines so far.
    pub fn len(&self) -> usize {
        self.lines.lock().map(|l| l.len()).unwrap_or(0)
    }

    /// Whether nothing was captured.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
