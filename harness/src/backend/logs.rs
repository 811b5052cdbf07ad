//! Captured service output: kept in memory for log probes and written to the run folder.

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

/// Lines a service printed (stdout and stderr interleaved as they arrived), each with the
/// wall-clock time it arrived (unix ms).
#[derive(Debug, Clone, Default)]
pub struct LogBuffer {
    lines: Arc<Mutex<Vec<(u64, String)>>>,
}

impl LogBuffer {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a line, stamped with the time now.
    pub fn push(&self, line: String) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        if let Ok(mut lines) = self.lines.lock() {
            lines.push((now, line));
        }
    }

    /// How many lines match `regex`; with `since` (unix ms), only lines that arrived then or
    /// later.
    pub fn count_matching(&self, regex: &regex::Regex, since: Option<u64>) -> usize {
        self.lines
            .lock()
            .map(|lines| {
                lines
                    .iter()
                    .filter(|(at, l)| since.is_none_or(|s| *at >= s) && regex.is_match(l))
                    .count()
            })
            .unwrap_or(0)
    }

    /// The last `n` lines, for error messages.
    pub fn tail(&self, n: usize) -> Vec<String> {
        self.lines
            .lock()
            .map(|lines| {
                lines[lines.len().saturating_sub(n)..]
                    .iter()
                    .map(|(_, l)| l.clone())
                    .collect()
            })
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
