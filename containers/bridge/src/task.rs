//! The messages: a task in, a result out.

use serde::{Deserialize, Serialize};

/// A task: `{"id":"t-000001","prompt":"ping"}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Task {
    /// The task id results are matched by.
    pub id: String,
    /// The user message sent to the gateway.
    pub prompt: String,
}

/// A result: `{"id":..,"status":"done","output":..,"attempts":N}` or
/// `{"id":..,"status":"failed","error_class":..,"error":..}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum TaskResult {
    /// The gateway answered.
    Done {
        /// The task id.
        id: String,
        /// The answer text.
        output: String,
        /// Gateway tries it took.
        attempts: u32,
        /// Unique per run of the task through the gateway: the same result delivered twice
        /// carries the same value; a task done twice would carry two.
        completion: String,
    },
    /// The task could not be done; it is explicitly failed, not lost.
    Failed {
        /// The task id.
        id: String,
        /// A class from [`crate::classify::ErrorClass`], or `bad_task`.
        error_class: String,
        /// What went wrong.
        error: String,
        /// See [`TaskResult::Done`]'s `completion`.
        completion: String,
    },
}

/// A fresh completion id: 16 random hex digits.
pub fn completion_id() -> String {
    use rand::{Rng as _, SeedableRng as _};
    format!(
        "{:016x}",
        rand::rngs::SmallRng::from_os_rng().random::<u64>()
    )
}

impl TaskResult {
    /// The task id.
    pub fn id(&self) -> &str {
        match self {
            TaskResult::Done { id, .. } | TaskResult::Failed { id, .. } => id,
        }
    }

    /// The JSON bytes to publish.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serialising a plain enum of strings cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// Why a message is not a usable task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadTask {
    /// No id could be read: nothing to answer to.
    NoId(String),
    /// An id but no usable prompt: answered with a `failed` result.
    WithId {
        /// The id.
        id: String,
        /// What was wrong.
        reason: String,
    },
}

/// Reads a task from a message body.
pub fn parse(payload: &[u8]) -> Result<Task, BadTask> {
    match serde_json::from_slice::<Task>(payload) {
        Ok(task) if !task.id.trim().is_empty() => Ok(task),
        Ok(_) => Err(BadTask::NoId("empty id".into())),
        Err(e) => {
            let value: Option<serde_json::Value> = serde_json::from_slice(payload).ok();
            match value
                .as_ref()
                .and_then(|v| v.get("id"))
                .and_then(|v| v.as_str())
            {
                Some(id) if !id.trim().is_empty() => Err(BadTask::WithId {
                    id: id.to_owned(),
                    reason: format!("not a task: {e}"),
                }),
                _ => Err(BadTask::NoId(format!("not a task: {e}"))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tasks_and_tells_bad_ones_apart() {
        assert_eq!(
            parse(br#"{"id":"t-000001","prompt":"ping"}"#),
            Ok(Task {
                id: "t-000001".into(),
                prompt: "ping".into()
            })
        );
        assert!(matches!(parse(b"not json"), Err(BadTask::NoId(_))));
        assert!(matches!(parse(br#"{"prompt":"x"}"#), Err(BadTask::NoId(_))));
        assert!(matches!(
            parse(br#"{"id":"t-2","prompt":5}"#),
            Err(BadTask::WithId { id, .. }) if id == "t-2"
        ));
    }

    #[test]
    fn results_have_the_documented_shape() {
        let done = TaskResult::Done {
            id: "t-000001".into(),
            output: "pong".into(),
            attempts: 1,
            completion: "c1".into(),
        };
        let v: serde_json::Value = serde_json::from_slice(&done.to_bytes()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"id":"t-000001","status":"done","output":"pong","attempts":1,"completion":"c1"})
        );
        let failed = TaskResult::Failed {
            id: "t-2".into(),
            error_class: "gateway_error".into(),
            error: "503".into(),
            completion: "c2".into(),
        };
        let v: serde_json::Value = serde_json::from_slice(&failed.to_bytes()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"id":"t-2","status":"failed","error_class":"gateway_error","error":"503","completion":"c2"})
        );
    }
}
