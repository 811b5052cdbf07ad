//! The HTTP API: a thin layer mapping Toxiproxy 2.x routes onto the proxy collection.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::collection::{ProxyChange, ProxyCollection, ProxySpec};
use crate::error::{ApiError, is_usable_name};
use crate::model::{
    ErrorJson, PopulateInput, PopulateJson, ProxyInput, ToxicInput, ToxicPatch, VersionJson,
};

/// The version `GET /version` reports: the Toxiproxy API level, then this crate's version.
pub(crate) const VERSION: &str = concat!("2.12.0+clawchaos.", env!("CARGO_PKG_VERSION"));

/// Where a proxy listens when the request does not say.
const DEFAULT_LISTEN: &str = "127.0.0.1:0";

type AppState = Arc<ProxyCollection>;

/// The API's routes over a proxy collection.
pub(crate) fn router(proxies: AppState) -> Router {
    Router::new()
        .route("/version", get(version))
        .route("/reset", post(reset))
        .route("/populate", post(populate))
        .route("/proxies", get(list_proxies).post(create_proxy))
        .route(
            "/proxies/{proxy}",
            get(show_proxy)
                .post(update_proxy)
                .patch(update_proxy)
                .delete(delete_proxy),
        )
        .route(
            "/proxies/{proxy}/toxics",
            get(list_toxics).post(create_toxic),
        )
        .route(
            "/proxies/{proxy}/toxics/{toxic}",
            get(show_toxic)
                .post(update_toxic)
                .patch(update_toxic)
                .delete(delete_toxic),
        )
        .fallback(no_such_route)
        .layer(middleware::from_fn(refuse_browsers))
        .layer(middleware::from_fn(errors_as_json))
        .with_state(proxies)
}

/// 404 for a path the API does not have, in the API's error shape.
async fn no_such_route(request: Request) -> ApiError {
    ApiError::with_status(
        StatusCode::NOT_FOUND,
        format!(
            "no such endpoint: {} {}",
            request.method(),
            request.uri().path()
        ),
    )
}

/// Rewrites the errors the routes do not write themselves (405, 413, a body that is not
/// bytes) into the one JSON shape every other error has.
async fn errors_as_json(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|kind| kind.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, ERROR_TEXT_LIMIT)
        .await
        .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_owned())
        .unwrap_or_default();
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_lowercase()
    } else {
        text
    };
    let mut rewritten = ApiError::with_status(status, message).into_response();
    // Keep what the status needs, e.g. `Allow` on a 405.
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            rewritten.headers_mut().insert(name, value.clone());
        }
    }
    rewritten
}

/// The most of a plain-text error body [`errors_as_json`] carries over.
const ERROR_TEXT_LIMIT: usize = 4096;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorJson {
            error: self.message,
            status: self.status.as_u16(),
        };
        json(self.status, &body)
    }
}

/// A JSON answer.
fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            bytes,
        )
            .into_response(),
        Err(err) => {
            tracing::error!(%err, "cannot encode a response");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Decodes a request body, answering 400 as Toxiproxy does when it does not fit; the message
/// names the field at fault (`toxicity: invalid type: string "x", expected f32`).
fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    let mut json = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut json).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if path == "." {
            ApiError::bad_body(inner)
        } else {
            ApiError::bad_body(format!("{path}: {inner}"))
        }
    })
}

/// `name`, if it round-trips through the API's URL paths; 400 naming `field` otherwise.
pub(crate) fn usable_name(field: &str, name: String) -> Result<String, ApiError> {
    if is_usable_name(&name) {
        Ok(name)
    } else {
        Err(ApiError::invalid_name(field, &name))
    }
}

/// Resolves a listen address (`host:port`, port 0 allowed); 400 if it is not one.
async fn resolve_listen(listen: &str) -> Result<SocketAddr, ApiError> {
    if let Ok(addr) = listen.parse() {
        return Ok(addr);
    }
    let Some((host, port)) = listen.rsplit_once(':') else {
        return Err(ApiError::bad_listen(listen, "is not host:port"));
    };
    let Ok(port) = port.parse::<u16>() else {
        return Err(ApiError::bad_listen(
            listen,
            "has no port from 0 to 65535 after its last `:`",
        ));
    };
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|err| ApiError::bad_listen(listen, format_args!("does not resolve: {err}")))?
        .collect();
    addrs
        .iter()
        .find(|addr| addr.is_ipv4())
        .or_else(|| addrs.first())
        .copied()
        .ok_or_else(|| ApiError::bad_listen(listen, "resolves to no address"))
}

/// Validates a proxy from a create or populate request; `position` names it in errors.
async fn proxy_spec(input: ProxyInput, position: Option<usize>) -> Result<ProxySpec, ApiError> {
    let at = |field: &str| match position {
        Some(n) => format!("{field} at proxy {n}"),
        None => field.to_owned(),
    };
    let name = input
        .name
        .filter(|name| !name.is_empty())
        .ok_or_else(|| ApiError::missing_field(at("name")))?;
    let name = usable_name(&at("name"), name)?;
    let upstream = input
        .upstream
        .filter(|upstream| !upstream.is_empty())
        .ok_or_else(|| ApiError::missing_field(at("upstream")))?;
    let listen = match input.listen.as_deref() {
        None | Some("") => DEFAULT_LISTEN,
        Some(listen) => listen,
    };
    Ok(ProxySpec {
        name,
        listen: resolve_listen(listen).await?,
        upstream,
        enabled: input.enabled.unwrap_or(true),
    })
}

/// Toxiproxy refuses browsers so a web page cannot drive it.
async fn refuse_browsers(request: Request, next: Next) -> Response {
    let from_browser = request
        .headers()
        .get(header::USER_AGENT)
        .and_then(|agent| agent.to_str().ok())
        .is_some_and(|agent| agent.starts_with("Mozilla/"));
    if from_browser {
        return ApiError::with_status(StatusCode::FORBIDDEN, "User agent not allowed")
            .into_response();
    }
    next.run(request).await
}

async fn version() -> Response {
    json(
        StatusCode::OK,
        &VersionJson {
            version: VERSION.to_owned(),
        },
    )
}

async fn reset(State(proxies): State<AppState>) -> Result<StatusCode, ApiError> {
    proxies.reset().await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn populate(State(proxies): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let inputs = parse::<PopulateInput>(&body)?.into_proxies();
    let mut specs = Vec::with_capacity(inputs.len());
    for (index, input) in inputs.into_iter().enumerate() {
        specs.push(proxy_spec(input, Some(index + 1)).await?);
    }
    let (done, error) = proxies.populate(specs).await;
    let status = error.as_ref().map_or(StatusCode::CREATED, |err| err.status);
    let body = PopulateJson {
        error: error.map(|err| ErrorJson {
            status: err.status.as_u16(),
            error: err.message,
        }),
        proxies: done,
    };
    Ok(json(status, &body))
}

async fn list_proxies(State(proxies): State<AppState>) -> Result<Response, ApiError> {
    Ok(json(StatusCode::OK, &proxies.list().await?))
}

async fn create_proxy(State(proxies): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let spec = proxy_spec(parse(&body)?, None).await?;
    Ok(json(StatusCode::CREATED, &proxies.create(spec).await?))
}

async fn show_proxy(
    State(proxies): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    Ok(json(StatusCode::OK, &proxies.get(&name).await?))
}

async fn update_proxy(
    State(proxies): State<AppState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    // 404 before 400, as in Toxiproxy.
    proxies.get(&name).await?;
    let input: ProxyInput = parse(&body)?;
    let listen = match input.listen.as_deref() {
        None => None,
        Some(listen) => Some(resolve_listen(listen).await?),
    };
    let change = ProxyChange {
        listen,
        upstream: input.upstream,
        enabled: input.enabled,
    };
    Ok(json(StatusCode::OK, &proxies.update(&name, change).await?))
}

async fn delete_proxy(
    State(proxies): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    proxies.remove(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_toxics(
    State(proxies): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    Ok(json(StatusCode::OK, &proxies.toxics(&name).await?.list()))
}

async fn create_toxic(
    State(proxies): State<AppState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let toxics = proxies.toxics(&name).await?;
    let input: ToxicInput = parse(&body)?;
    // Toxiproxy answers a new toxic with 200, not 201.
    Ok(json(StatusCode::OK, &toxics.add(input)?))
}

async fn show_toxic(
    State(proxies): State<AppState>,
    Path((name, toxic)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    Ok(json(
        StatusCode::OK,
        &proxies.toxics(&name).await?.get(&toxic)?,
    ))
}

async fn update_toxic(
    State(proxies): State<AppState>,
    Path((name, toxic)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let toxics = proxies.toxics(&name).await?;
    toxics.get(&toxic)?;
    let patch: ToxicPatch = parse(&body)?;
    Ok(json(StatusCode::OK, &toxics.update(&toxic, patch)?))
}

async fn delete_toxic(
    State(proxies): State<AppState>,
    Path((name, toxic)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    proxies.toxics(&name).await?.remove(&toxic)?;
    Ok(StatusCode::NO_CONTENT)
}
