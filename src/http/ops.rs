//! Operations: `/healthz` (public) and `/metrics` (loopback or it_bureau).

use std::sync::{Arc, OnceLock};

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use http::{StatusCode, header};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use super::AppState;
use super::problem::Problem;
use crate::domain::Role;
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
    pub status: &'static str,
    pub database: &'static str,
}

#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, body = Health), (status = 503, body = super::problem::ProblemBody)))]
async fn healthz(State(app): State<AppState>) -> Response {
    match app.store.ping().await {
        Ok(()) => Json(Health { status: "ok", database: app.store.backend_name() }).into_response(),
        Err(e) => {
            Problem::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "服務暫時無法使用", format!("database: {e}"))
                .into_response()
        }
    }
}

#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text format")))]
async fn metrics(State(app): State<AppState>, req: Request) -> Response {
    let Some(conn) = req.extensions().get::<Arc<ConnInfo>>().cloned() else {
        return Problem::internal("request without connection information").into_response();
    };
    let socket_ip = conn.socket_peer.ip().to_canonical();
    let local = socket_ip.is_loopback() && !app.trusted_proxies.iter().any(|p| p.contains(socket_ip));
    if !local {
        let ip = caller::client_ip(&app, &conn, req.headers());
        let allowed = match caller::authenticate(&app, &conn, ip).await {
            Ok(c) => c.require(Role::ItBureau),
            Err(r) => Err(r.into()),
        };
        if let Err(refusal) = allowed {
            return Problem::from(refusal).into_response();
        }
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], prometheus().render()).into_response()
}
