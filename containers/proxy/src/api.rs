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
use crate::error::ApiError;
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
        .layer(middleware::from_fn(refuse_browsers))
        .with_state(proxies)
}

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

/// Decodes a request body, answering 400 as Toxiproxy does when it does not fit.
fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(ApiError::bad_body)
}

/// Resolves a listen address (`host:port`, port 0 allowed); 500 like Toxiproxy's listen error.
async fn resolve_listen(listen: &str) -> Result<SocketAddr, ApiError> {
    if let Ok(addr) = listen.parse() {
        return Ok(addr);
    }
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host(listen)
        .await
        .map_err(|err| ApiError::listen(listen, err))?
        .collect();
    addrs
        .iter()
        .find(|addr| addr.is_ipv4())
        .or_else(|| addrs.first())
        .copied()
        .ok_or_else(|| ApiError::listen(listen, "no address found"))
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
        return (StatusCode::FORBIDDEN, "User agent not allowed\n").into_response();
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
