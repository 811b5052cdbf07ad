//! The OpenAI chat-completions wire format: request subset, answers, chunks, errors, SSE framing.

use axum::http::StatusCode;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// The part of a chat completion request the mock reads; everything else is ignored.
#[derive(Debug, Deserialize)]
pub(crate) struct ChatRequest {
    #[serde(default)]
    pub(crate) model: Option<String>,
    #[serde(default)]
    pub(crate) stream: Option<bool>,
    #[serde(default)]
    pub(crate) stream_options: Option<StreamOptions>,
}

/// `stream_options` of a request.
#[derive(Debug, Deserialize)]
pub(crate) struct StreamOptions {
    #[serde(default)]
    pub(crate) include_usage: Option<bool>,
}

/// `{"error": {...}}`, the body of every error answer.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ErrorBody {
    pub(crate) error: ApiError,
}

/// The error object inside [`ErrorBody`].
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ApiError {
    pub(crate) message: String,
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) param: Option<&'static str>,
    pub(crate) code: Option<&'static str>,
}

impl ApiError {
    fn new(message: String, kind: &'static str, code: Option<&'static str>) -> Self {
        Self {
            message,
            kind,
            param: None,
            code,
        }
    }

    /// The body OpenAI sends with `status` for a request for `model`.
    pub(crate) fn for_status(status: u16, model: &str) -> Self {
        match status {
            401 => Self::new(
                "Incorrect API key provided. You can find your API key at \
                 https://platform.openai.com/account/api-keys."
                    .to_string(),
                "invalid_request_error",
                Some("invalid_api_key"),
            ),
            403 => Self::new(
                "You have insufficient permissions for this operation. Missing scopes: \
                 model.request."
                    .to_string(),
                "invalid_request_error",
                None,
            ),
            404 => Self::model_not_found(model),
            429 => Self::new(
                format!(
                    "Rate limit reached for {model} on requests per min (RPM). \
                     Please try again later."
                ),
                "requests",
                Some("rate_limit_exceeded"),
            ),
            500 => Self::new(
                "The server had an error while processing your request. Sorry about that!"
                    .to_string(),
                "server_error",
                None,
            ),
            503 => Self::new(
                "The server is overloaded or not ready yet.".to_string(),
                "service_unavailable_error",
                Some("server_is_overloaded"),
            ),
            other => {
                let reason = StatusCode::from_u16(other)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("Error");
                let kind = if other >= 500 {
                    "server_error"
                } else {
                    "invalid_request_error"
                };
                Self::new(format!("{other} {reason} (mock fault)"), kind, None)
            }
        }
    }

    /// 404 for a model that does not exist; the message names it.
    pub(crate) fn model_not_found(model: &str) -> Self {
        let mut e = Self::new(
            format!("The model `{model}` does not exist or you do not have access to it."),
            "invalid_request_error",
            Some("model_not_found"),
        );
        e.param = Some("model");
        e
    }

    /// 400 for a body that is not a JSON chat completion request.
    pub(crate) fn invalid_body(detail: &str) -> Self {
        Self::new(
            format!(
                "We could not parse the JSON body of your request. ({detail}) \
                 The OpenAI API expects a JSON payload."
            ),
            "invalid_request_error",
            None,
        )
    }

    /// 400 for a request without `model`.
    pub(crate) fn missing_model() -> Self {
        let mut e = Self::new(
            "you must provide a model parameter".to_string(),
            "invalid_request_error",
            None,
        );
        e.param = Some("model");
        e
    }

    /// 404 for a `/v1/*` route the mock does not serve.
    pub(crate) fn invalid_url(method: &str, path: &str) -> Self {
        Self::new(
            format!("Invalid URL ({method} {path})"),
            "invalid_request_error",
            None,
        )
    }

    /// 413 for a body above the mock's limit (or one that could not be read).
    pub(crate) fn body_unreadable(detail: &str) -> Self {
        Self::new(
            format!("The request body could not be read: {detail}"),
            "invalid_request_error",
            None,
        )
    }

    /// Wraps the error in `{"error": ...}`.
    pub(crate) fn into_body(self) -> ErrorBody {
        ErrorBody { error: self }
    }
}

/// `GET /v1/models`.
#[derive(Debug, Serialize)]
pub(crate) struct ModelList {
    object: &'static str,
    data: Vec<Model>,
}

#[derive(Debug, Serialize)]
struct Model {
    id: String,
    object: &'static str,
    created: u64,
    owned_by: &'static str,
}

impl ModelList {
    /// The list for these model ids.
    pub(crate) fn new(models: &[String], created: u64) -> Self {
        Self {
            object: "list",
            data: models
                .iter()
                .map(|id| Model {
                    id: id.clone(),
                    object: "model",
                    created,
                    owned_by: "clawchaos",
                })
                .collect(),
        }
    }
}

/// Token counts of an answer.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Usage {
    prompt_tokens: u32,
    completion_tokens: u32,
    total_tokens: u32,
}

/// A non-streaming `chat.completion`.
#[derive(Debug, Serialize)]
pub(crate) struct ChatCompletion<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: [Choice<'a>; 1],
    usage: Usage,
    system_fingerprint: Option<&'static str>,
}

#[derive(Debug, Serialize)]
struct Choice<'a> {
    index: u32,
    message: Message<'a>,
    logprobs: Option<()>,
    finish_reason: &'static str,
}

#[derive(Debug, Serialize)]
struct Message<'a> {
    role: &'static str,
    content: &'a str,
    refusal: Option<&'static str>,
}

/// A streamed `chat.completion.chunk`.
#[derive(Debug, Serialize)]
pub(crate) struct Chunk<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    system_fingerprint: Option<&'static str>,
    choices: Vec<ChunkChoice<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Usage>,
}

#[derive(Debug, Serialize)]
struct ChunkChoice<'a> {
    index: u32,
    delta: Delta<'a>,
    logprobs: Option<()>,
    finish_reason: Option<&'static str>,
}

#[derive(Debug, Default, Serialize)]
struct Delta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<&'a str>,
}

/// Everything needed to write one answer, plain or streamed.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub(crate) id: String,
    pub(crate) created: u64,
    pub(crate) model: String,
    pub(crate) text: String,
    pub(crate) prompt_tokens: u32,
}

impl Answer {
    /// The text cut into streamed pieces: two characters each.
    pub(crate) fn tokens(&self) -> Vec<&str> {
        let mut out = Vec::new();
        let mut rest = self.text.as_str();
        while !rest.is_empty() {
            let cut = rest
                .char_indices()
                .nth(2)
                .map_or(rest.len(), |(index, _)| index);
            let (head, tail) = rest.split_at(cut);
            out.push(head);
            rest = tail;
        }
        out
    }

    fn usage(&self) -> Usage {
        let completion_tokens = u32::try_from(self.tokens().len()).unwrap_or(u32::MAX);
        Usage {
            prompt_tokens: self.prompt_tokens,
            completion_tokens,
            total_tokens: self.prompt_tokens.saturating_add(completion_tokens),
        }
    }

    /// The non-streaming JSON body.
    pub(crate) fn completion_json(&self) -> Bytes {
        to_json(&ChatCompletion {
            id: &self.id,
            object: "chat.completion",
            created: self.created,
            model: &self.model,
            choices: [Choice {
                index: 0,
                message: Message {
                    role: "assistant",
                    content: &self.text,
                    refusal: None,
                },
                logprobs: None,
                finish_reason: "stop",
            }],
            usage: self.usage(),
            system_fingerprint: None,
        })
    }

    fn chunk(&self, delta: Delta<'_>, finish_reason: Option<&'static str>) -> Bytes {
        sse_data(&Chunk {
            id: &self.id,
            object: "chat.completion.chunk",
            created: self.created,
            model: &self.model,
            system_fingerprint: None,
            choices: vec![ChunkChoice {
                index: 0,
                delta,
                logprobs: None,
                finish_reason,
            }],
            usage: None,
        })
    }

    /// A chunk whose delta has empty content: a keepalive that looks like an answer.
    pub(crate) fn empty_delta(&self) -> Bytes {
        self.chunk(
            Delta {
                role: None,
                content: Some(""),
            },
            None,
        )
    }

    /// The SSE events of a streamed answer, in order, without the closing `[DONE]`.
    ///
    /// Role chunk, one chunk per token, the `finish_reason: "stop"` chunk, and the usage
    /// chunk (empty `choices`) when `include_usage`.
    pub(crate) fn sse_events(&self, include_usage: bool) -> SseEvents {
        let role = self.chunk(
            Delta {
                role: Some("assistant"),
                content: Some(""),
            },
            None,
        );
        let content = self
            .tokens()
            .into_iter()
            .map(|t| {
                self.chunk(
                    Delta {
                        role: None,
                        content: Some(t),
                    },
                    None,
                )
            })
            .collect();
        let mut tail = vec![self.chunk(Delta::default(), Some("stop"))];
        if include_usage {
            tail.push(sse_data(&Chunk {
                id: &self.id,
                object: "chat.completion.chunk",
                created: self.created,
                model: &self.model,
                system_fingerprint: None,
                choices: Vec::new(),
                usage: Some(self.usage()),
            }));
        }
        SseEvents {
            role,
            content,
            tail,
        }
    }
}

/// A streamed answer's events, grouped so content chunks can be paced.
#[derive(Debug)]
pub(crate) struct SseEvents {
    pub(crate) role: Bytes,
    pub(crate) content: Vec<Bytes>,
    pub(crate) tail: Vec<Bytes>,
}

impl SseEvents {
    /// Every event in order, then `data: [DONE]`.
    pub(crate) fn all_with_done(self) -> Vec<Bytes> {
        let mut all = Vec::with_capacity(self.content.len() + self.tail.len() + 2);
        all.push(self.role);
        all.extend(self.content);
        all.extend(self.tail);
        all.push(Bytes::from_static(SSE_DONE));
        all
    }
}

/// The event that ends a stream.
pub(crate) const SSE_DONE: &[u8] = b"data: [DONE]\n\n";

/// An SSE comment: keeps a stream alive and carries nothing.
pub(crate) const SSE_KEEPALIVE: &[u8] = b": keepalive\n\n";

/// A streamed body that breaks: a chunk cut off mid-JSON, and no `[DONE]`.
pub(crate) fn malformed_sse(model: &str) -> Bytes {
    Bytes::from(format!(
        "data: {{\"id\":\"chatcmpl-mock\",\"object\":\"chat.completion.chunk\",\"model\":\"{model}\",\
         \"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"po\n\n"
    ))
}

/// A plain body that breaks: a `chat.completion` cut off mid-JSON.
pub(crate) fn malformed_json(model: &str) -> Bytes {
    Bytes::from(format!(
        "{{\"id\":\"chatcmpl-mock\",\"object\":\"chat.completion\",\"model\":\"{model}\",\
         \"choices\":[{{\"index\":0,\"message\":{{\"role\":\"assistant\",\"content\":\"po"
    ))
}

/// `data: <json>\n\n`.
pub(crate) fn sse_data(value: &impl Serialize) -> Bytes {
    let json = to_json(value);
    let mut out = Vec::with_capacity(json.len() + 8);
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(&json);
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

/// Serializes one of this module's types (which cannot fail; `{}` and a log if it ever did).
pub(crate) fn to_json(value: &impl Serialize) -> Bytes {
    match serde_json::to_vec(value) {
        Ok(json) => Bytes::from(json),
        Err(e) => {
            tracing::error!(error = %e, "cannot serialize an OpenAI wire value");
            Bytes::from_static(b"{}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(text: &str) -> Answer {
        Answer {
            id: "chatcmpl-mock-1".to_string(),
            created: 1_764_100_000,
            model: "m".to_string(),
            text: text.to_string(),
            prompt_tokens: 10,
        }
    }

    #[test]
    fn tokens_are_two_chars_on_char_boundaries() {
        assert_eq!(answer("pong").tokens(), ["po", "ng"]);
        assert_eq!(answer("hello").tokens(), ["he", "ll", "o"]);
        assert_eq!(answer("ünï").tokens(), ["ün", "ï"]);
        assert!(answer("").tokens().is_empty());
    }

    #[test]
    fn sse_events_are_framed() -> Result<(), serde_json::Error> {
        let events = answer("pong").sse_events(true).all_with_done();
        assert_eq!(events.len(), 1 + 2 + 1 + 1 + 1);
        for e in &events {
            assert!(e.starts_with(b"data: ") && e.ends_with(b"\n\n"));
        }
        let first: serde_json::Value = serde_json::from_slice(&events[0][6..])?;
        assert_eq!(first["object"], "chat.completion.chunk");
        assert_eq!(first["choices"][0]["delta"]["role"], "assistant");
        let stop: serde_json::Value = serde_json::from_slice(&events[3][6..])?;
        assert_eq!(stop["choices"][0]["finish_reason"], "stop");
        let usage: serde_json::Value = serde_json::from_slice(&events[4][6..])?;
        assert_eq!(usage["choices"], serde_json::json!([]));
        assert_eq!(usage["usage"]["completion_tokens"], 2);
        assert_eq!(events[5].as_ref(), SSE_DONE);
        Ok(())
    }

    #[test]
    fn error_bodies_name_the_model() -> Result<(), serde_json::Error> {
        let v = serde_json::to_value(ApiError::for_status(404, "gpt-x").into_body())?;
        assert_eq!(v["error"]["code"], "model_not_found");
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("`gpt-x`"))
        );
        let v = serde_json::to_value(ApiError::for_status(418, "m").into_body())?;
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert_eq!(v["error"]["code"], serde_json::Value::Null);
        Ok(())
    }

    #[test]
    fn malformed_bodies_do_not_parse() {
        assert!(serde_json::from_slice::<serde_json::Value>(&malformed_json("m")).is_err());
        let sse = malformed_sse("m");
        let data = sse.strip_prefix(b"data: ").unwrap_or(&sse);
        assert!(serde_json::from_slice::<serde_json::Value>(data).is_err());
    }
}
