//! `audit`: the timeliness report for 研考會 (`rdec`) and the security view
//! for 政風處 (`ethics`), DESIGN §8. The figures are `service::audit`'s.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use chrono::NaiveDate;

use super::AppState;
use super::extract::Query;
use super::log::LogParams;
use super::problem::ApiResult;
use super::report::{Format, Table};
use crate::service::audit::{self, TimelinessReport};
use crate::service::caller::Caller;
use crate::store::Timeliness;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/audit/timeliness", get(timeliness)).route("/api/v1/audit/security", get(security))
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TimelinessParams {
    /// First day (Taipei date, inclusive). Default: 30 days before `to`.
    pub from: Option<NaiveDate>,
    /// Last day (inclusive). Default: today.
    pub to: Option<NaiveDate>,
    /// One participant only.
    pub participant: Option<String>,
    /// `json` (default), `csv` or `html` (printable).
    pub format: Option<Format>,
}

/// The report as a table to print or export.
pub fn table(r: &TimelinessReport) -> Table {
    Table {
        title: "公文電子交換時效稽核報表".into(),
        subtitle: format!("期間 {} 至 {}", r.from, r.to),
        columns: Timeliness::COLUMNS.to_vec(),
        rows: r.participants.iter().chain(std::iter::once(&r.totals)).map(Timeliness::cells).collect(),
        note: None,
        file: format!("timeliness-{}_{}", r.from, r.to),
    }
}

#[utoipa::path(get, path = "/api/v1/audit/timeliness", tag = "audit", params(TimelinessParams),
    responses((status = 200, body = TimelinessReport, description = "JSON, or CSV or a printable page with `format`",
        content((TimelinessReport = "application/json"), (String = "text/csv"), (String = "text/html"))),
        (status = 422, description = "problem: invalid-field")))]
async fn timeliness(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<TimelinessParams>,
) -> ApiResult<Response> {
    let r = audit::timeliness(&app, &caller, q.from, q.to, q.participant.as_deref()).await?;
    Ok(match q.format.unwrap_or_default() {
        Format::Json => Json(r).into_response(),
        format => table(&r).respond(format),
    })
}

/// 政風處: authentication refusals, blocks, suspensions and credential changes.
#[utoipa::path(get, path = "/api/v1/audit/security", tag = "audit", params(LogParams),
    responses((status = 200, body = super::extract::PageOf<crate::domain::log::LogEntry>,
        description = "JSON, or CSV or a printable page with `format`",
        content((super::extract::PageOf<crate::domain::log::LogEntry> = "application/json"), (String = "text/csv"),
            (String = "text/html"))),
        (status = 422, description = "problem: invalid-field")))]
async fn security(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<LogParams>,
) -> ApiResult<Response> {
    let filter = audit::security_filter(&caller, q.action.as_deref(), q.participant.as_deref())?;
    super::log::respond(&app, &q, filter, "資安稽核紀錄（政風）", "security-log").await
}
