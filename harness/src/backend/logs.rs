//! Captured service output: kept in memory for log probes and written to the run folder.

use std::path::Path;
use std::sync::{Arc, Mutex};

use std::time::{SystemTime, UNIX_EPOCH};
use tokio::io::AsyncWriteExt as _;

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

/// Where a service's output goes, line by line, as the person reading it sees it (colours
/// removed): its [`LogBuffer`] and `output.log` in its folder.
pub(super) struct OutputSink {
    logs: LogBuffer,
    file: Option<tokio::fs::File>,
    /// The start of a line whose end has not arrived yet (output read in chunks).
    partial: Vec<u8>,
}

impl OutputSink {
    /// A sink into `logs` and the file `path` (appended to; lines still go to `logs` if it
    /// cannot be opened).
    pub(super) async fn open(logs: LogBuffer, path: &Path) -> Self {
        let file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .await
            .ok();
        Self {
            logs,
            file,
            partial: Vec::new(),
        }
    }

    /// One whole line (without its newline).
    pub(super) async fn line(&mut self, line: &str) {
        let line = strip_ansi(line);
        if let Some(f) = self.file.as_mut() {
            let _ = f.write_all(format!("{line}\n").as_bytes()).await;
        }
        self.logs.push(line);
    }

    /// A chunk of output, cut anywhere: its whole lines now, the rest with the next chunk.
    pub(super) async fn chunk(&mut self, bytes: &[u8]) {
        self.partial.extend_from_slice(bytes);
        while let Some(end) = self.partial.iter().position(|b| *b == b'\n') {
            let rest = self.partial.split_off(end + 1);
            let line = std::mem::replace(&mut self.partial, rest);
            let text = String::from_utf8_lossy(&line[..end]);
            let text = text.strip_suffix('\r').unwrap_or(&text).to_string();
            self.line(&text).await;
        }
    }

    /// The last line, when the output ended without a newline; then everything on disk.
    pub(super) async fn finish(&mut self) {
        if !self.partial.is_empty() {
            let line = String::from_utf8_lossy(&std::mem::take(&mut self.partial)).to_string();
            self.line(&line).await;
        }
        if let Some(f) = self.file.as_mut() {
            let _ = f.flush().await;
        }
    }
}

/// Removes ANSI escape sequences (colours), so log probes match the text a person reads.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_are_stripped() {
        assert_eq!(
            strip_ansi("\u{1b}[90m2026\u{1b}[39m [gateway] ready"),
            "2026 [gateway] ready"
        );
        assert_eq!(strip_ansi("plain"), "plain");
    }

    #[tokio::test]
    async fn output_read_in_chunks_is_kept_line_by_line() {
        let dir = tempfile::tempdir().expect("temp dir");
        let logs = LogBuffer::new();
        let mut sink = OutputSink::open(logs.clone(), &dir.path().join("output.log")).await;
        sink.chunk(b"first li").await;
        sink.chunk(b"ne\r\nsecond\n\x1b[31mthi").await;
        assert_eq!(logs.tail(5), vec!["first line", "second"]);
        sink.chunk(b"rd").await;
        sink.finish().await;
        drop(sink);
        assert_eq!(logs.tail(5), vec!["first line", "second", "third"]);
        let file = std::fs::read_to_string(dir.path().join("output.log")).expect("log file");
        assert_eq!(file, "first line\nsecond\nthird\n");
    }
}
