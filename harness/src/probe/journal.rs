//! The mock LLM journal probe: counts and spacing of chat completion requests.

use std::sync::atomic::Ordering;

use std::time::Duration;

use super::{ProbeContext, now_unix_ms};
use crate::clients::mock_llm::{JournalEntry, MockLlmClient};
use crate::scenario::JournalCheck;

pub(super) async fn evaluate(
    client: &MockLlmClient,
    check: &JournalCheck,
    context: &ProbeContext,
) -> (bool, String) {
    let entries = match client.journal().await {
        Ok(e) => e,
        Err(e) => return (false, format!("cannot read the journal: {e}")),
    };
    let since = check
        .since_last_event
        .then(|| context.last_event_unix_ms.load(Ordering::Relaxed));
    judge(check, &entries, since, now_unix_ms())
}

fn judge(
    check: &JournalCheck,
    entries: &[JournalEntry],
    since_unix_ms: Option<u64>,
    now_unix_ms: u64,
) -> (bool, String) {
    let chosen: Vec<&JournalEntry> = entries
        .iter()
        .filter(|e| e.path == check.path)
        .filter(|e| {
            check
                .model
                .as_ref()
                .is_none_or(|m| e.model.as_ref() == Some(m))
        })
        .filter(|e| {
            check
                .outcome
                .as_ref()
                .is_none_or(|o| e.outcome.starts_with(o.as_str()))
        })
        .filter(|e| since_unix_ms.is_none_or(|t| e.unix_ms >= t))
        .collect();
    let n = chosen.len();
    let mut holds = true;
    if check.min_requests.is_some_and(|min| n < min) {
        holds = false;
    }
    if check.max_requests.is_some_and(|max| n > max) {
        holds = false;
    }
    let mut detail = format!("{n} request(s) to {}", check.path);
    let latest_age = chosen
        .last()
        .map(|e| Duration::from_millis(now_unix_ms.saturating_sub(e.unix_ms)));
    if let Some(age) = latest_age {
        detail.push_str(&format!(", latest {}ms ago", age.as_millis()));
    }
    if let Some(quiet) = check.quiet_for
        && latest_age.is_some_and(|age| age < quiet)
    {
        holds = false;
    }
    if let Some(active) = check.active_within
        && latest_age.is_none_or(|age| age > active)
    {
        holds = false;
    }
    if let Some(min) = check.min_spacing {
        let smallest = chosen
            .windows(2)
            .map(|w| (w[1].at_ms - w[0].at_ms).max(0.0))
            .fold(f64::INFINITY, f64::min);
        if smallest.is_finite() {
            detail.push_str(&format!(", closest spacing {smallest:.0}ms"));
            if smallest < min.as_secs_f64() * 1000.0 {
                holds = false;
            }
        }
    }
    (holds, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHAT_PATH: &str = "/v1/chat/completions";

    fn entry(at_ms: f64, model: &str) -> JournalEntry {
        JournalEntry {
            seq: 0,
            at_ms,
            unix_ms: at_ms as u64,
            method: "POST".into(),
            path: CHAT_PATH.into(),
            model: Some(model.into()),
            stream: true,
            body_bytes: 10,
            outcome: "ok".into(),
        }
    }

    #[test]
    fn counts_and_spacing() {
        let entries = vec![entry(0.0, "a"), entry(2100.0, "a"), entry(2200.0, "b")];
        let chat = || JournalCheck {
            path: CHAT_PATH.into(),
            ..JournalCheck::default()
        };
        let check = JournalCheck {
            min_requests: Some(2),
            model: Some("a".into()),
            min_spacing: Some(Duration::from_secs(2)),
            ..chat()
        };
        assert!(judge(&check, &entries, None, 3000).0);
        let check = JournalCheck {
            min_spacing: Some(Duration::from_secs(2)),
            ..chat()
        };
        assert!(
            !judge(&check, &entries, None, 3000).0,
            "a and b are 100ms apart"
        );
        let check = JournalCheck {
            max_requests: Some(1),
            ..chat()
        };
        assert!(
            judge(&check, &entries, Some(2150), 3000).0,
            "only one since the event"
        );
        assert!(!judge(&check, &entries, None, 3000).0);
        let quiet = JournalCheck {
            quiet_for: Some(Duration::from_secs(1)),
            ..chat()
        };
        assert!(
            !judge(&quiet, &entries, None, 3000).0,
            "latest was 800ms ago"
        );
        assert!(judge(&quiet, &entries, None, 3300).0);
        let active = JournalCheck {
            active_within: Some(Duration::from_secs(1)),
            ..chat()
        };
        assert!(judge(&active, &entries, None, 3000).0);
        assert!(!judge(&active, &entries, None, 3300).0);
        assert!(!judge(&active, &[], None, 3300).0, "nothing ever arrived");
        let mut limited = entries.clone();
        limited[1].outcome = "error:429".into();
        let only_429 = JournalCheck {
            outcome: Some("error:429".into()),
            max_requests: Some(1),
            min_requests: Some(1),
            ..chat()
        };
        assert!(judge(&only_429, &limited, None, 3000).0);
        assert!(!judge(&only_429, &entries, None, 3000).0, "no 429 at all");
    }
}
