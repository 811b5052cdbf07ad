//! The HTTP probe: one request, its outcome classified and checked.

use std::error::Error as _;
use std::time::{Duration, Instant};

use super::{ProbeContext, ms};
use crate::scenario::{ErrorClass, HttpCheck, ProbeKind};

/// How a request ended.
enum Outcome {
    Response { status: u16, body: String },
    Failed { class: ErrorClass, message: String },
}

pub(super) async fn evaluate(
    kind: &ProbeKind,
    context: &ProbeContext,
    client: &reqwest::Client,
) -> (bool, String) {
    let ProbeKind::Http {
        target,
        family,
        method,
        path,
        body,
        headers,
        timeout,
        check,
    } = kind
    else {
        return (false, "not an http probe".to_string());
    };
    let addr = match context.target_addr(target, *family) {
        Ok(a) => a,
        Err(e) => return (false, e),
    };
    let url = format!("http://{addr}{path}");
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::GET);
    let mut request = client.request(method, &url).timeout(*timeout);
    for (k, v) in headers {
        request = request.header(k, v);
    }
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.clone());
    }
    let start = Instant::now();
    let outcome = match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            match response.text().await {
                Ok(body) => Outcome::Response { status, body },
                Err(e) => Outcome::Failed {
                    class: classify(&e),
                    message: e.to_string(),
                },
            }
        }
        Err(e) => Outcome::Failed {
            class: classify(&e),
            message: error_chain(&e),
        },
    };
    judge(check, &outcome, start.elapsed())
}

fn judge(check: &HttpCheck, outcome: &Outcome, elapsed: Duration) -> (bool, String) {
    let mut holds = true;
    let detail = match outcome {
        Outcome::Response { status, body } => {
            if check.error.is_some() {
                holds = false;
            }
            if check.status.is_some_and(|s| s != *status) {
                holds = false;
            }
            let mut detail = format!("status {status} in {}", ms(elapsed));
            if let Some((pointer, expected)) = &check.json {
                let (matches, seen) = super::json_pointer_check(body, pointer, expected);
                holds &= matches;
                detail.push_str(&seen);
            }
            if let Some(needle) = &check.body_contains
                && !body.contains(needle.as_str())
            {
                holds = false;
                detail.push_str(&format!(", body lacks {needle:?}"));
            }
            detail
        }
        Outcome::Failed { class, message } => {
            let wanted = check
                .error
                .is_some_and(|want| want == ErrorClass::Any || want == *class);
            if !wanted {
                holds = false;
            }
            format!("{} after {}: {message}", class.name(), ms(elapsed))
        }
    };
    if check.slower_than.is_some_and(|t| elapsed <= t) {
        holds = false;
    }
    if check.faster_than.is_some_and(|t| elapsed >= t) {
        holds = false;
    }
    (holds, detail)
}

/// Classifies a failed request: timeout, refused or reset.
fn classify(error: &reqwest::Error) -> ErrorClass {
    if error.is_timeout() {
        return ErrorClass::Timeout;
    }
    let mut source = error.source();
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => return ErrorClass::Refused,
                std::io::ErrorKind::TimedOut => return ErrorClass::Timeout,
                _ => return ErrorClass::Reset,
            }
        }
        source = e.source();
    }
    ErrorClass::Reset
}

fn error_chain(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, body: &str) -> Outcome {
        Outcome::Response {
            status,
            body: body.to_string(),
        }
    }

    #[test]
    fn status_and_latency_bounds() {
        let check = HttpCheck {
            status: Some(200),
            faster_than: Some(Duration::from_millis(100)),
            ..HttpCheck::default()
        };
        assert!(judge(&check, &response(200, ""), Duration::from_millis(5)).0);
        assert!(!judge(&check, &response(500, ""), Duration::from_millis(5)).0);
        assert!(!judge(&check, &response(200, ""), Duration::from_millis(150)).0);
    }

    #[test]
    fn expected_error_class() {
        let check = HttpCheck {
            error: Some(ErrorClass::Timeout),
            ..HttpCheck::default()
        };
        let failed = |class| Outcome::Failed {
            class,
            message: String::new(),
        };
        assert!(judge(&check, &failed(ErrorClass::Timeout), Duration::ZERO).0);
        assert!(!judge(&check, &failed(ErrorClass::Refused), Duration::ZERO).0);
        assert!(!judge(&check, &response(200, ""), Duration::ZERO).0);
    }

    #[test]
    fn json_pointer() {
        let check = HttpCheck {
            json: Some(("/data/0/id".into(), serde_json::json!("m"))),
            ..HttpCheck::default()
        };
        assert!(
            judge(
                &check,
                &response(200, r#"{"data":[{"id":"m"}]}"#),
                Duration::ZERO
            )
            .0
        );
        let (holds, detail) = judge(&check, &response(200, r#"{"data":[]}"#), Duration::ZERO);
        assert!(!holds);
        assert!(detail.contains("(absent)"), "{detail}");
    }
}
