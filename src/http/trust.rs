//! `trust` (it_bureau): what the trust store holds, and reloading it
//! (new CRLs, new CAs) without a restart. SIGHUP does the same.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use http::StatusCode;

use super::AppState;
use super::problem::{ApiResult, Problem, ProblemBody};
use crate::domain::log::LogAction;
use crate::pki::trust::TrustSummary;
use crate::service::caller::Caller;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/trust", get(show)).route("/api/v1/trust/reload", post(reload))
}

#[utoipa::path(get, path = "/api/v1/trust", tag = "trust", responses((status = 200, body = TrustSummary)))]
async fn show(State(app): State<AppState>) -> Json<TrustSummary> {
    Json(app.tls.trust().summary.clone())
}

#[utoipa::path(post, path = "/api/v1/trust/reload", tag = "trust",
    responses((status = 200, body = TrustSummary), (status = 422, body = ProblemBody)))]
async fn reload(State(app): State<AppState>, Extension(caller): Extension<Caller>) -> ApiResult<Json<TrustSummary>> {
    let summary = app.tls.reload().map_err(|e| {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "trust-reload-failed",
            "信任憑證重新載入失敗",
            format!("{e}; the previous trust store stays in force"),
        )
    })?;
    let entry = caller.log_entry(LogAction::TrustReloaded, describe(&summary));
    app.log(&entry).await;
    Ok(Json(summary))
}

/// One line for the exchange log.
pub fn describe(s: &TrustSummary) -> String {
    let revoked: usize = s.crls.iter().map(|c| c.revoked).sum();
    format!(
        "trust store reloaded: {} CAs, {} CRLs, {revoked} revoked certificates",
        s.certificate_authorities.len(),
        s.crls.len()
    )
}
