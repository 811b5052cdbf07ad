//! Validation diagnostics: what was wrong, where (file, line, column), and what was expected.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// One problem found in a scenario file, with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The scenario file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What is wrong and what was expected instead.
    pub message: String,
    /// The offending source line, for display.
    pub source_line: String,
}

impl Diagnostic {
    /// Builds a diagnostic for the byte range `span` of `text`.
    pub fn at(file: &Path, text: &str, span: Range<usize>, message: impl Into<String>) -> Self {
        let start = span.start.min(text.len());
        let before = &text[..start];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = text[line_start..start].chars().count() + 1;
        let source_line = text[line_start..]
            .lines()
            .next()
            .unwrap_or_default()
            .to_string();
        Self {
            file: file.to_path_buf(),
            line,
            column,
            message: message.into(),
            source_line,
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )?;
        if !self.source_line.is_empty() {
            let pad = " ".repeat(self.column.saturating_sub(1));
            write!(f, "\n    | {}\n    | {pad}^", self.source_line)?;
        }
        Ok(())
    }
}

/// Why a scenario could not be loaded: it could not be read, or it is invalid.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("cannot read scenario {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file was read but is not a valid scenario; every problem found is listed.
    #[error("invalid scenario ({} problem(s)):{}", .0.len(), Invalid(.0))]
    Invalid(Vec<Diagnostic>),
}

struct Invalid<'a>(&'a [Diagnostic]);

impl fmt::Display for Invalid<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in self.0 {
            write!(f, "\n{d}")?;
        }
        Ok(())
    }
}

impl ScenarioError {
    /// The diagnostics, if the file was invalid.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            ScenarioError::Invalid(d) => d,
            ScenarioError::Read { .. } => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based() {
        let text = "a = 1\nbb = 2\n";
        let d = Diagnostic::at(Path::new("f.toml"), text, 6..8, "bad");
        assert_eq!((d.line, d.column), (2, 1));
        assert_eq!(d.source_line, "bb = 2");
        let d = Diagnostic::at(Path::new("f.toml"), text, 11..12, "bad");
        assert_eq!((d.line, d.column), (2, 6));
    }
}
