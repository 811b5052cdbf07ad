//! `GET /health` over HTTP.

use super::{Health, Status};
use axum::{Json, Router, extract::State, http::StatusCode, routing::get};
use std::future::Future;
use tokio::net::TcpListener;

/// The health router: `GET /health` answers 200 when all links are up, 503 otherwise.
pub fn router(health: Health) -> Router {
    Router::new()
        .route("/health", get(handler))
        .with_state(health)
}

async fn handler(State(health): State<Health>) -> (StatusCode, Json<super::HealthReport>) {
    let report = health.report();
    let code = if report.status == Status::Ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(report))
}

/// Serves the health router on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    health: Health,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(health))
        .with_graceful_shutdown(shutdown)
        .await
}
