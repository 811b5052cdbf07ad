//! Secrets (tokens, passwords) that must never reach a log line or the health output.

use std::fmt;
use std::sync::{Arc, RwLock};

/// A secret string: `Debug` and `Display` print `[redacted]`; read it with [`Secret::expose`].
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that sends it (a header, a password field).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

/// Scrubs known secrets and anything shaped like a JWT out of text bound for logs or health.
///
/// Error texts come from other libraries (HTTP clients, brokers) that may echo a credential;
/// everything the bridge reports passes through one of these first.
#[derive(Clone, Default, Debug)]
pub struct Redactor {
    known: Arc<RwLock<Vec<Secret>>>,
}

impl Redactor {
    /// Remembers `secret` so that it is scrubbed from every later text.
    pub fn add(&self, secret: &Secret) {
        if secret.expose().len() < 4 {
            // Too short to scrub without mangling ordinary words; never logged anyway.
            return;
        }
        let mut known = self.known.write().unwrap_or_else(|e| e.into_inner());
        if !known.contains(secret) {
            known.push(secret.clone());
        }
    }

    /// `text` with every known secret and every JWT-shaped word replaced by `[redacted]`.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in self.known.read().unwrap_or_else(|e| e.into_inner()).iter() {
            out = out.replace(secret.expose(), "[redacted]");
        }
        scrub_jwts(&out)
    }
}

/// Replaces every `eyJ…​.…​.…` word (the shape of a JWT) by `[redacted]`.
fn scrub_jwts(text: &str) -> String {
    let is_b64 = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("eyJ") {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        let end = tail.find(|c: char| !is_b64(c)).unwrap_or(tail.len());
        let word = &tail[..end];
        if word.matches('.').count() >= 1 {
            out.push_str("[redacted]");
        } else {
            out.push_str(word);
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let s = Secret::new("hunter2-secret");
        assert_eq!(format!("{s:?} {s}"), "[redacted] [redacted]");
        assert_eq!(s.expose(), "hunter2-secret");
    }

    #[test]
    fn scrubs_known_secrets_and_jwts() {
        let r = Redactor::default();
        r.add(&Secret::new("gateway-token-123"));
        let text = "auth gateway-token-123 failed; token eyJhbGciOi.eyJzdWIi.c2ln, done";
        assert_eq!(
            r.scrub(text),
            "auth [redacted] failed; token [redacted], done"
        );
        assert_eq!(r.scrub("eyJ alone"), "eyJ alone");
    }
}
