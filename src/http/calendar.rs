//! `calendar`: the working-day calendar (DESIGN §6). Anyone authenticated
//! reads it; `it_bureau` loads a year (DGPA CSV), declares closures and
//! asks for deadlines to be recomputed.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use chrono::NaiveDate;
use http::StatusCode;

use super::AppState;
use super::extract::{Body, Query};
use super::problem::{ApiResult, Problem, ProblemBody};
use super::report::{Format, csv_response};
use crate::domain::calendar::ClosurePart;
use crate::service::caller::Caller;
use crate::service::deadlines::{self, Declared, Recomputed};
use crate::store::{CalendarYearInfo, Closure};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/calendar", get(overview))
        .route("/api/v1/calendar/closures", post(declare))
        .route("/api/v1/calendar/{year}", get(year).put(load))
        .route("/api/v1/deadlines/recompute", post(recompute))
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct CalendarOverview {
    /// The DGPA years loaded; other years fall back to "weekends off".
    pub years: Vec<CalendarYearInfo>,
    pub closures: Vec<Closure>,
}

#[utoipa::path(get, path = "/api/v1/calendar", tag = "calendar", responses((status = 200, body = CalendarOverview)))]
pub(super) async fn overview(State(app): State<AppState>) -> ApiResult<Json<CalendarOverview>> {
    Ok(Json(CalendarOverview { years: app.store.calendar_years().await?, closures: app.store.closures().await? }))
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct YearParams {
    /// `json` (default) or `csv` (the DGPA layout).
    pub format: Option<Format>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct YearDay {
    pub date: NaiveDate,
    pub working: bool,
    pub note: String,
}

#[utoipa::path(get, path = "/api/v1/calendar/{year}", tag = "calendar", params(YearParams),
    responses((status = 200, body = Vec<YearDay>), (status = 404, body = ProblemBody)))]
pub(super) async fn year(
    State(app): State<AppState>,
    Path(year): Path<i32>,
    Query(q): Query<YearParams>,
) -> ApiResult<Response> {
    let y =
        app.store.calendar_year(year).await?.ok_or_else(|| {
            Problem::not_found(format!("no calendar loaded for {year}; weekends are its only days off"))
        })?;
    Ok(match q.format.unwrap_or_default() {
        Format::Csv => csv_response(&format!("calendar-{year}"), y.to_dgpa_csv()),
        _ => Json(
            y.days.into_iter().map(|d| YearDay { date: d.date, working: d.working, note: d.note }).collect::<Vec<_>>(),
        )
        .into_response(),
    })
}

/// The body is the DGPA office-calendar CSV (`西元日期,星期,是否放假,備註`).
#[utoipa::path(put, path = "/api/v1/calendar/{year}", tag = "calendar", request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = CalendarYearInfo), (status = 422, body = ProblemBody)))]
pub(super) async fn load(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(year): Path<i32>,
    body: axum::body::Bytes,
) -> ApiResult<Json<CalendarYearInfo>> {
    let text = std::str::from_utf8(&body)
        .map_err(|_| Problem::invalid_field("the calendar must be UTF-8 (convert a Big5 file first)"))?;
    Ok(Json(deadlines::load_year(&app, &caller, year, text).await?))
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClosure {
    pub date: NaiveDate,
    /// `day` (全日停班) or `afternoon` (下午停班).
    pub part: ClosurePart,
    pub reason: String,
}

#[utoipa::path(post, path = "/api/v1/calendar/closures", tag = "calendar", request_body = NewClosure,
    responses((status = 201, body = Declared), (status = 422, body = ProblemBody)))]
pub(super) async fn declare(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Body(req): Body<NewClosure>,
) -> ApiResult<(StatusCode, Json<Declared>)> {
    let d = deadlines::declare_closure(&app, &caller, req.date, req.part, &req.reason).await?;
    Ok((StatusCode::CREATED, Json(d)))
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecomputeRequest {
    /// Why (logged), e.g. "2027 calendar corrected".
    pub reason: String,
}

#[utoipa::path(post, path = "/api/v1/deadlines/recompute", tag = "calendar", request_body = RecomputeRequest,
    responses((status = 200, body = Recomputed)))]
pub(super) async fn recompute(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Body(req): Body<RecomputeRequest>,
) -> ApiResult<Json<Recomputed>> {
    Ok(Json(deadlines::recompute_by(&app, &caller, &req.reason).await?))
}
