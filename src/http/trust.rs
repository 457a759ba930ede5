//! `trust` (it_bureau): what the trust store holds, and reloading it
//! (new CRLs, new CAs) without a restart. SIGHUP does the same.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};

use super::AppState;
use super::problem::ApiResult;
use crate::pki::trust::TrustSummary;
use crate::service::caller::Caller;
use crate::service::trust;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/trust", get(show)).route("/api/v1/trust/reload", post(reload))
}

#[utoipa::path(get, path = "/api/v1/trust", tag = "trust", responses((status = 200, body = TrustSummary)))]
async fn show(State(app): State<AppState>, Extension(caller): Extension<Caller>) -> ApiResult<Json<TrustSummary>> {
    Ok(Json(trust::summary(&app, &caller)?))
}

#[utoipa::path(post, path = "/api/v1/trust/reload", tag = "trust",
    responses((status = 200, body = TrustSummary), (status = 422, description = "problem: trust-reload-failed")))]
async fn reload(State(app): State<AppState>, Extension(caller): Extension<Caller>) -> ApiResult<Json<TrustSummary>> {
    Ok(Json(trust::reload(&app, &caller).await?))
}
