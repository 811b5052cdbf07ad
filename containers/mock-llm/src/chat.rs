//! `POST /v1/chat/completions`: journal the request, pick normal service or the fault, answer.

use std::{sync::Arc, time::Duration};

use axum::{
    body::Body,
    extract::State,
    http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header},
    response::Response,
};
use bytes::Bytes;

use crate::{
    behavior::Fault,
    journal::{Arrival, Outcome},
    openai::{self, Answer, ApiError, ChatRequest},
    script::{self, Step},
    server::{self, ReadBody, Shared, error_response, log_request},
};

/// What the handler decided to do with a well-formed request.
enum Plan {
    Normal,
    UnknownModel,
    Fault(Fault),
}

/// The chat completions handler.
pub(crate) async fn chat_completions(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let bytes = match server::read_body(body).await {
        ReadBody::Whole(bytes) => bytes,
        ReadBody::Unreadable(seen, why) => {
            let arrival = Arrival::new(method.as_str(), uri.path(), &headers, seen);
            log_request(&shared.journal.record(arrival, Outcome::Error(413)));
            return error_response(413, ApiError::body_unreadable(&why), None);
        }
    };
    let mut arrival = Arrival::new(method.as_str(), uri.path(), &headers, bytes.len());

    let request: ChatRequest = match serde_json::from_slice(&bytes) {
        Ok(request) => request,
        Err(e) => {
            log_request(&shared.journal.record(arrival, Outcome::Error(400)));
            return error_response(400, ApiError::invalid_body(&e.to_string()), None);
        }
    };
    let stream = request.stream.unwrap_or(false);
    arrival.stream = stream;
    let Some(model) = request.model else {
        log_request(&shared.journal.record(arrival, Outcome::Error(400)));
        return error_response(400, ApiError::missing_model(), None);
    };
    arrival.model = Some(model.clone());

    let plan = match shared.take_fault(&model) {
        Some(fault) => Plan::Fault(fault),
        None if !shared.models.contains(&model) => Plan::UnknownModel,
        None => Plan::Normal,
    };
    let outcome = match &plan {
        Plan::Normal => Outcome::Ok,
        Plan::UnknownModel => Outcome::Error(404),
        Plan::Fault(fault) => Outcome::from(fault),
    };
    let entry = shared.journal.record(arrival, outcome);
    log_request(&entry);

    let include_usage = request
        .stream_options
        .and_then(|o| o.include_usage)
        .unwrap_or(false);
    let answer = Answer {
        id: format!("chatcmpl-mock-{}", entry.seq),
        created: server::unix_secs(),
        model,
        text: shared.reply.clone(),
        prompt_tokens: u32::try_from(bytes.len() / 4).unwrap_or(u32::MAX),
    };
    let reply = Reply {
        shared: &shared,
        answer,
        stream,
        include_usage,
        request_id: format!("req_mock_{}", entry.seq),
    };

    match plan {
        Plan::Normal => reply.normal(),
        Plan::UnknownModel => reply.error(404, None),
        Plan::Fault(fault) => reply.fault(fault).await,
    }
}

/// One answer being built.
struct Reply<'a> {
    shared: &'a Shared,
    answer: Answer,
    stream: bool,
    include_usage: bool,
    request_id: String,
}

impl Reply<'_> {
    async fn fault(self, fault: Fault) -> Response {
        match fault {
            Fault::Error {
                status,
                retry_after_secs,
            } => self.error(status, retry_after_secs),
            Fault::DelayFirstByte { ms } => {
                if !self.wait(Duration::from_millis(ms)).await {
                    return dropped();
                }
                self.normal()
            }
            Fault::Stall { after_chunks } => self.stalled(after_chunks),
            Fault::SlowTokens { per_token_ms } => {
                self.slow(Duration::from_millis(per_token_ms)).await
            }
            Fault::DropConnection => dropped(),
            Fault::Malformed => self.malformed(),
            Fault::Hang => {
                self.shared.closing.closed().await;
                dropped()
            }
            Fault::Keepalive {
                every_ms,
                empty_deltas,
            } => self.kept_alive(Duration::from_millis(every_ms), empty_deltas),
        }
    }

    /// The head (and a streamed answer's role chunk), then keepalives without content for ever.
    fn kept_alive(self, every: Duration, empty_deltas: bool) -> Response {
        if self.stream {
            let bytes = if empty_deltas {
                self.answer.empty_delta()
            } else {
                Bytes::from_static(openai::SSE_KEEPALIVE)
            };
            let role = self.answer.sse_events(self.include_usage).role;
            self.sse(vec![Step::Data(role), Step::Repeat { every, bytes }])
        } else {
            let steps = vec![Step::Repeat {
                every,
                bytes: Bytes::from_static(b" "),
            }];
            let body = script::body(steps, self.shared.closing.clone());
            self.plain(StatusCode::OK, "application/json", body)
        }
    }

    /// Waits `pause`; `false` if the mock shut down first.
    async fn wait(&self, pause: Duration) -> bool {
        tokio::select! {
            () = tokio::time::sleep(pause) => true,
            () = self.shared.closing.closed() => false,
        }
    }

    fn normal(self) -> Response {
        if self.stream {
            let events = self.answer.sse_events(self.include_usage).all_with_done();
            self.sse(events.into_iter().map(Step::Data).collect())
        } else {
            let json = self.answer.completion_json();
            self.plain(StatusCode::OK, "application/json", Body::from(json))
        }
    }

    fn error(&self, status: u16, retry_after: Option<u64>) -> Response {
        let error = ApiError::for_status(status, &self.answer.model);
        let mut response = error_response(status, error, retry_after);
        self.tag(&mut response);
        response
    }

    fn stalled(self, after_chunks: u32) -> Response {
        if self.stream {
            let events = self.answer.sse_events(self.include_usage).all_with_done();
            let take = usize::try_from(after_chunks).unwrap_or(usize::MAX);
            let mut steps: Vec<Step> = events.into_iter().take(take).map(Step::Data).collect();
            steps.push(Step::Stall);
            self.sse(steps)
        } else {
            let json = self.answer.completion_json();
            let half = json.slice(..json.len() / 2);
            let body = script::body(
                vec![Step::Data(half), Step::Stall],
                self.shared.closing.clone(),
            );
            self.plain(StatusCode::OK, "application/json", body)
        }
    }

    async fn slow(self, per_token: Duration) -> Response {
        if self.stream {
            let events = self.answer.sse_events(self.include_usage);
            let mut steps = vec![Step::Data(events.role)];
            for chunk in events.content {
                steps.push(Step::Pause(per_token));
                steps.push(Step::Data(chunk));
            }
            steps.extend(events.tail.into_iter().map(Step::Data));
            steps.push(Step::Data(Bytes::from_static(openai::SSE_DONE)));
            self.sse(steps)
        } else {
            let tokens = u32::try_from(self.answer.tokens().len()).unwrap_or(u32::MAX);
            if !self.wait(per_token.saturating_mul(tokens)).await {
                return dropped();
            }
            self.normal()
        }
    }

    fn malformed(self) -> Response {
        if self.stream {
            let body = Body::from(openai::malformed_sse(&self.answer.model));
            self.plain(StatusCode::OK, "text/event-stream", body)
        } else {
            let body = Body::from(openai::malformed_json(&self.answer.model));
            self.plain(StatusCode::OK, "application/json", body)
        }
    }

    fn sse(&self, steps: Vec<Step>) -> Response {
        let body = script::body(steps, self.shared.closing.clone());
        let mut response = self.plain(StatusCode::OK, "text/event-stream", body);
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        response
    }

    fn plain(&self, status: StatusCode, content_type: &'static str, body: Body) -> Response {
        let mut response = Response::new(body);
        *response.status_mut() = status;
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        self.tag(&mut response);
        response
    }

    fn tag(&self, response: &mut Response) {
        if let Ok(id) = HeaderValue::from_str(&self.request_id) {
            response.headers_mut().insert("x-request-id", id);
        }
    }
}

/// No HTTP response at all: the connection closes.
fn dropped() -> Response {
    Response::new(script::broken())
}
