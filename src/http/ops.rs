//! Operations: `/healthz` (public) and `/metrics` (loopback or it_bureau).

use std::sync::{Arc, OnceLock};

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use http::header;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use super::AppState;
use super::problem::{ApiResult, Problem};
use crate::runtime::tls::ConnInfo;
use crate::service::caller;

pub fn routes() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz)).route("/metrics", get(metrics))
}

/// The process-wide Prometheus recorder, installed on first use.
pub fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        PrometheusBuilder::new().install_recorder().unwrap_or_else(|_| {
            // Another recorder is installed (embedding); keep an unattached handle.
            PrometheusBuilder::new().build_recorder().handle()
        })
    })
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Health {
    /// Always `ok` when the hub answers 200.
    #[schema(example = "ok")]
    pub status: &'static str,
    /// `sqlite` or `postgres`.
    pub database: &'static str,
}

#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, body = Health), (status = 503, description = "problem: unavailable")))]
async fn healthz(State(app): State<AppState>) -> ApiResult<Json<Health>> {
    Ok(Json(Health { status: "ok", database: app.health().await? }))
}

#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, content_type = "text/plain", body = String, description = "Prometheus text format")))]
async fn metrics(State(app): State<AppState>, req: Request) -> Response {
    let Some(conn) = req.extensions().get::<Arc<ConnInfo>>().cloned() else {
        return Problem::internal("request without connection information").into_response();
    };
    if let Err(e) = caller::may_read_metrics(&app, &conn, req.headers()).await {
        return Problem::from(e).into_response();
    }
    // The CRLs' gauges as of now, not of the last look.
    crate::service::trust::publish(&crate::service::trust::current(&app), app.now());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], prometheus().render()).into_response()
}
