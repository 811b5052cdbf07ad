//! OpenClaw's calendar versions (`2026.9.6`, `2026.3.0-beta.2`) and ranges of them
//! (`<2026.8.0`, `>=2026.3.13, <2026.9.0`, `2026.7.1`): the releases a known defect is
//! expected on.

use std::cmp::Ordering;
use std::fmt;

/// One release: year, month, patch, and a pre-release tag (`beta.2`), which sorts before the
/// release itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    numbers: [u64; 3],
    pre: Option<String>,
}

impl Version {
    /// Parses `2026.9.6` or `2026.3.0-beta.2`; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim().trim_start_matches('v');
        let (release, pre) = match text.split_once('-') {
            Some((release, pre)) if !pre.is_empty() => (release, Some(pre.to_string())),
            Some(_) => return None,
            None => (text, None),
        };
        let mut parts = release.split('.');
        let mut numbers = [0; 3];
        for n in &mut numbers {
            *n = parts.next()?.parse().ok()?;
        }
        if parts.next().is_some() {
            return None;
        }
        Some(Self { numbers, pre })
    }

    /// Whether it carries a pre-release tag (`2026.7.1-beta.2`, and npm's `2026.7.1-1`).
    pub fn is_prerelease(&self) -> bool {
        self.pre.is_some()
    }

    /// The first version in a program's `--version` line ("OpenClaw 2026.9.6 (abc123)").
    pub fn find_in(line: &str) -> Option<Self> {
        line.split(|c: char| c.is_whitespace() || c == '(' || c == ')')
            .find_map(Self::parse)
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.numbers
            .cmp(&other.numbers)
            .then_with(|| match (&self.pre, &other.pre) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(a), Some(b)) => compare_pre(a, b),
            })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Pre-release tags dot by dot, numbers as numbers (`beta.10` after `beta.9`).
fn compare_pre(a: &str, b: &str) -> Ordering {
    let mut a = a.split('.');
    let mut b = b.split('.');
    loop {
        match (a.next(), b.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let order = match (x.parse::<u64>(), y.parse::<u64>()) {
                    (Ok(x), Ok(y)) => x.cmp(&y),
                    _ => x.cmp(y),
                };
                if order != Ordering::Equal {
                    return order;
                }
            }
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [year, month, patch] = self.numbers;
        write!(f, "{year}.{month}.{patch}")?;
        if let Some(pre) = &self.pre {
            write!(f, "-{pre}")?;
        }
        Ok(())
    }
}

/// Versions that satisfy every one of some comparisons (`>=2026.3.13, <2026.9.0`); a bare
/// version is that version only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRange {
    text: String,
    bounds: Vec<(Ordering, bool, Version)>,
}

impl VersionRange {
    /// Parses comma-separated comparisons (`<`, `<=`, `>`, `>=`, `=` or none, then a
    /// version); the error says what was expected.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut bounds = Vec::new();
        for part in text.split(',') {
            let part = part.trim();
            let (order, or_equal, rest) = if let Some(rest) = part.strip_prefix(">=") {
                (Ordering::Greater, true, rest)
            } else if let Some(rest) = part.strip_prefix("<=") {
                (Ordering::Less, true, rest)
            } else if let Some(rest) = part.strip_prefix('>') {
                (Ordering::Greater, false, rest)
            } else if let Some(rest) = part.strip_prefix('<') {
                (Ordering::Less, false, rest)
            } else {
                (
                    Ordering::Equal,
                    true,
                    part.strip_prefix('=').unwrap_or(part),
                )
            };
            let version = Version::parse(rest).ok_or_else(|| {
                format!(
                    "`{part}` is not a comparison with a version: expected e.g. \"<2026.8.0\", \">=2026.3.13, <2026.9.0\" or \"2026.7.1\""
                )
            })?;
            bounds.push((order, or_equal, version));
        }
        Ok(Self {
            text: text.trim().to_string(),
            bounds,
        })
    }

    /// Whether `version` is in the range.
    pub fn contains(&self, version: &Version) -> bool {
        self.bounds.iter().all(|(order, or_equal, bound)| {
            let seen = version.cmp(bound);
            seen == *order && *order != Ordering::Equal || seen == Ordering::Equal && *or_equal
        })
    }
}

impl fmt::Display for VersionRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        Version::parse(text).expect(text)
    }

    #[test]
    fn calendar_versions_sort_by_number_and_a_pre_release_before_its_release() {
        assert!(v("2026.10.1") > v("2026.9.6"));
        assert!(v("2026.3.13") > v("2026.3.2"));
        assert!(v("2026.3.0-beta.2") < v("2026.3.0"));
        assert!(v("2026.3.0-beta.10") > v("2026.3.0-beta.9"));
        assert_eq!(v("v2026.9.6").to_string(), "2026.9.6");
        for bad in ["2026.9", "2026.9.6.1", "latest", "2026.x.1", "2026.9.6-"] {
            assert_eq!(Version::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_version_is_found_in_a_version_line() {
        assert_eq!(
            Version::find_in("OpenClaw 2026.9.6 (3f2a1b0)"),
            Some(v("2026.9.6"))
        );
        assert_eq!(Version::find_in("RabbitMQ"), None);
    }

    #[test]
    fn a_range_holds_the_versions_every_comparison_allows() {
        let cases = [
            ("<2026.8.0", "2026.7.1", true),
            ("<2026.8.0", "2026.8.0", false),
            ("<=2026.8.0", "2026.8.0", true),
            (">=2026.3.13, <2026.9.0", "2026.3.13", true),
            (">=2026.3.13, <2026.9.0", "2026.9.6", false),
            (">=2026.3.13, <2026.9.0", "2026.3.2", false),
            (">2026.7.1", "2026.7.1", false),
            ("2026.7.1", "2026.7.1", true),
            ("=2026.7.1", "2026.7.2", false),
            ("<2026.8.0", "2026.8.0-beta.1", true),
        ];
        for (range, version, inside) in cases {
            let parsed = VersionRange::parse(range).expect(range);
            assert_eq!(parsed.contains(&v(version)), inside, "{version} in {range}");
        }
    }

    #[test]
    fn a_range_that_is_not_one_says_what_was_expected() {
        let err = VersionRange::parse("<2026.8, >=x").unwrap_err();
        assert!(
            err.contains("`<2026.8`") && err.contains("expected e.g."),
            "{err}"
        );
    }
}
