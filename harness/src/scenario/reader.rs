//! A reader over a parsed TOML document that keeps positions, so every validation error can
//! name the file, line and column, and so that all problems in a file are reported at once.

use std::cell::RefCell;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use toml::de::{DeTable, DeValue};

use super::diag::Diagnostic;

/// The longest duration a scenario file may give.
pub const LONGEST: Duration = Duration::from_secs(24 * 60 * 60);

/// A value with the byte range it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Byte range in the scenario file.
    pub span: Range<usize>,
}

impl<T> Spanned<T> {
    /// Wraps `value` with `span`.
    pub fn new(value: T, span: Range<usize>) -> Self {
        Self { value, span }
    }
}

impl<T> std::ops::Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

/// The source being read, and every problem found so far.
pub struct Source<'s> {
    file: &'s Path,
    text: &'s str,
    problems: RefCell<Vec<Diagnostic>>,
}

impl<'s> Source<'s> {
    /// Starts reading `text`, which came from `file`.
    pub fn new(file: &'s Path, text: &'s str) -> Self {
        Self {
            file,
            text,
            problems: RefCell::new(Vec::new()),
        }
    }

    /// The file being read.
    pub fn file(&self) -> &'s Path {
        self.file
    }

    /// Records a problem at `span`.
    pub fn problem(&self, span: Range<usize>, message: impl Into<String>) {
        self.problems
            .borrow_mut()
            .push(Diagnostic::at(self.file, self.text, span, message));
    }

    /// "line L, column C" for `span`, to point at an earlier definition.
    pub fn position(&self, span: Range<usize>) -> String {
        let d = Diagnostic::at(self.file, self.text, span, "");
        format!("line {}, column {}", d.line, d.column)
    }

    /// Every problem found, in file order.
    pub fn into_problems(self) -> Vec<Diagnostic> {
        let mut problems = self.problems.into_inner();
        problems.sort_by_key(|d| (d.line, d.column));
        problems
    }

    /// Opens `value` as a table named `what` whose keys must come from `allowed`.
    pub fn table<'v, 'i>(
        &'v self,
        value: &'v toml::Spanned<DeValue<'i>>,
        what: &str,
        allowed: &[&str],
    ) -> Option<Table<'v, 'i, 's>> {
        match value.get_ref() {
            DeValue::Table(table) => Some(self.table_of(table, value.span(), what, allowed)),
            other => {
                self.problem(
                    value.span(),
                    format!("{what} must be a table, found {}", other.type_str()),
                );
                None
            }
        }
    }

    /// Opens an already-unwrapped table (the document root, for instance).
    pub fn table_of<'v, 'i>(
        &'v self,
        table: &'v DeTable<'i>,
        span: Range<usize>,
        what: &str,
        allowed: &[&str],
    ) -> Table<'v, 'i, 's> {
        for key in table.keys() {
            if !allowed.contains(&key.get_ref().as_ref()) {
                self.problem(
                    key.span(),
                    format!(
                        "unknown key `{}` in {what}; expected one of: {}",
                        key.get_ref(),
                        allowed.join(", ")
                    ),
                );
            }
        }
        Table {
            source: self,
            table,
            span,
            what: what.to_string(),
        }
    }
}

/// A TOML table being read; each getter records a problem (and returns `None`) on a bad value.
pub struct Table<'v, 'i, 's> {
    source: &'v Source<'s>,
    table: &'v DeTable<'i>,
    span: Range<usize>,
    what: String,
}

impl<'v, 'i, 's> Table<'v, 'i, 's> {
    /// The table's own span (its header or inline braces).
    pub fn span(&self) -> Range<usize> {
        self.span.clone()
    }

    /// The source, to record problems of its own.
    pub fn source(&self) -> &'v Source<'s> {
        self.source
    }

    /// What this table is called in messages, e.g. `[[faults]]`.
    pub fn what(&self) -> &str {
        &self.what
    }

    /// The raw value under `key`, if present.
    pub fn raw(&self, key: &str) -> Option<&'v toml::Spanned<DeValue<'i>>> {
        self.table.get(key)
    }

    /// Whether `key` is present.
    pub fn has(&self, key: &str) -> bool {
        self.table.contains_key(key)
    }

    /// Records that a required key is missing.
    pub fn missing(&self, key: &str, expected: &str) {
        self.source.problem(
            self.span.clone(),
            format!("{} is missing `{key}` ({expected})", self.what),
        );
    }

    fn wrong(&self, key: &str, value: &toml::Spanned<DeValue<'i>>, expected: &str) {
        self.source.problem(
            value.span(),
            format!(
                "`{key}` in {} must be {expected}, found {}",
                self.what,
                describe(value.get_ref())
            ),
        );
    }

    /// An optional string.
    pub fn string(&self, key: &str) -> Option<Spanned<String>> {
        let value = self.raw(key)?;
        match value.get_ref() {
            DeValue::String(s) => Some(Spanned::new(s.to_string(), value.span())),
            _ => {
                self.wrong(key, value, "a string");
                None
            }
        }
    }

    /// A required string.
    pub fn req_string(&self, key: &str, expected: &str) -> Option<Spanned<String>> {
        if !self.has(key) {
            self.missing(key, expected);
            return None;
        }
        self.string(key)
    }

    /// An optional string that must be one of `choices`.
    pub fn choice(&self, key: &str, choices: &[&str]) -> Option<Spanned<String>> {
        let s = self.string(key)?;
        if choices.contains(&s.value.as_str()) {
            Some(s)
        } else {
            self.source.problem(
                s.span.clone(),
                format!(
                    "`{key}` in {} is \"{}\"; expected one of: {}",
                    self.what,
                    s.value,
                    choices.join(", ")
                ),
            );
            None
        }
    }

    /// An optional boolean.
    pub fn boolean(&self, key: &str) -> Option<bool> {
        let value = self.raw(key)?;
        match value.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            _ => {
                self.wrong(key, value, "true or false");
                None
            }
        }
    }

    /// An optional integer within `range`.
    pub fn integer(&self, key: &str, range: std::ops::RangeInclusive<i64>) -> Option<i64> {
        let value = self.raw(key)?;
        let parsed = value
            .get_ref()
            .as_integer()
            .and_then(|i| i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()).ok());
        match parsed {
            Some(n) if range.contains(&n) => Some(n),
            _ => {
                self.wrong(
                    key,
                    value,
                    &format!("an integer from {} to {}", range.start(), range.end()),
                );
                None
            }
        }
    }

    /// A required integer within `range`; `hint` says what it means when it is missing.
    pub fn req_integer(
        &self,
        key: &str,
        range: std::ops::RangeInclusive<i64>,
        hint: &str,
    ) -> Option<i64> {
        let value = self.integer(key, range);
        if value.is_none() && !self.has(key) {
            self.missing(key, hint);
        }
        value
    }

    /// An optional number (integer or float) within `range`.
    pub fn number(&self, key: &str, range: std::ops::RangeInclusive<f64>) -> Option<f64> {
        let value = self.raw(key)?;
        let parsed = match value.get_ref() {
            DeValue::Float(f) => f.as_str().replace('_', "").parse::<f64>().ok(),
            DeValue::Integer(i) => i.as_str().replace('_', "").parse::<f64>().ok(),
            _ => None,
        };
        match parsed {
            Some(n) if range.contains(&n) => Some(n),
            _ => {
                self.wrong(
                    key,
                    value,
                    &format!("a number from {} to {}", range.start(), range.end()),
                );
                None
            }
        }
    }

    /// An optional duration written as a string such as "250ms", "2s" or "1m", at most
    /// [`LONGEST`] (a scenario is a test: nothing in it lasts longer, and the runner adds
    /// durations to clock readings).
    pub fn duration(&self, key: &str) -> Option<Spanned<Duration>> {
        let value = self.raw(key)?;
        let parsed = match value.get_ref() {
            DeValue::String(s) => humantime::parse_duration(s.trim()).ok(),
            _ => None,
        };
        match parsed {
            Some(d) if d > LONGEST => {
                self.wrong(key, value, "a duration of at most 24h");
                None
            }
            Some(d) => Some(Spanned::new(d, value.span())),
            None => {
                self.wrong(key, value, "a duration like \"250ms\", \"2s\" or \"1m\"");
                None
            }
        }
    }

    /// An optional duration that must not be zero (a timeout, an interval, a budget).
    pub fn positive_duration(&self, key: &str) -> Option<Spanned<Duration>> {
        let d = self.duration(key)?;
        if d.value.is_zero() {
            if let Some(value) = self.raw(key) {
                self.wrong(
                    key,
                    value,
                    "a duration above zero, like \"100ms\" or \"2s\"",
                );
            }
            return None;
        }
        Some(d)
    }

    /// A required duration.
    pub fn req_duration(&self, key: &str) -> Option<Spanned<Duration>> {
        if !self.has(key) {
            self.missing(key, "a duration like \"2s\"");
            return None;
        }
        self.duration(key)
    }

    /// A required duration above zero.
    pub fn req_positive_duration(&self, key: &str) -> Option<Spanned<Duration>> {
        if !self.has(key) {
            self.missing(key, "a duration like \"2s\"");
            return None;
        }
        self.positive_duration(key)
    }

    /// An optional array of strings.
    pub fn strings(&self, key: &str) -> Option<Vec<Spanned<String>>> {
        let value = self.raw(key)?;
        let DeValue::Array(items) = value.get_ref() else {
            self.wrong(key, value, "an array of strings");
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items.iter() {
            match item.get_ref() {
                DeValue::String(s) => out.push(Spanned::new(s.to_string(), item.span())),
                _ => {
                    self.wrong(key, item, "an array of strings");
                    return None;
                }
            }
        }
        Some(out)
    }

    /// An optional sub-table, with its allowed keys.
    pub fn table(&self, key: &str, allowed: &[&str]) -> Option<Table<'v, 'i, 's>> {
        let value = self.raw(key)?;
        self.source
            .table(value, &format!("`{key}` in {}", self.what), allowed)
    }

    /// Every entry of a table of tables (e.g. `[services.NAME]`), as (name, raw value).
    pub fn entries(&self, key: &str) -> Vec<(Spanned<String>, &'v toml::Spanned<DeValue<'i>>)> {
        let Some(value) = self.raw(key) else {
            return Vec::new();
        };
        let DeValue::Table(table) = value.get_ref() else {
            self.wrong(key, value, "a table");
            return Vec::new();
        };
        table
            .iter()
            .map(|(k, v)| (Spanned::new(k.get_ref().to_string(), k.span()), v))
            .collect()
    }

    /// Every element of an array of tables (e.g. `[[faults]]`).
    pub fn array_of_tables(&self, key: &str) -> Vec<&'v toml::Spanned<DeValue<'i>>> {
        let Some(value) = self.raw(key) else {
            return Vec::new();
        };
        match value.get_ref() {
            DeValue::Array(items) => items.iter().collect(),
            _ => {
                self.wrong(key, value, "an array of tables");
                Vec::new()
            }
        }
    }

    /// A string-to-string table (environment variables, headers).
    pub fn string_map(&self, key: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (name, value) in self.entries(key) {
            match value.get_ref() {
                DeValue::String(s) => out.push((name.value, s.to_string())),
                _ => self.wrong(key, value, "a table of strings"),
            }
        }
        out
    }
}

fn describe(value: &DeValue<'_>) -> String {
    match value {
        DeValue::String(s) => format!("\"{s}\""),
        DeValue::Integer(i) => format!("integer {}", i.as_str()),
        DeValue::Float(f) => format!("number {}", f.as_str()),
        DeValue::Boolean(b) => format!("{b}"),
        other => other.type_str().to_string(),
    }
}
