//! `calendar`: the working-day calendar (DESIGN §6). Anyone authenticated
//! reads it; `it_bureau` loads a year (DGPA CSV), declares closures and
//! asks for deadlines to be recomputed (`service::deadlines`).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use chrono::NaiveDate;
use http::StatusCode;

use super::AppState;
use super::extract::{Body, Path, Query};
use super::problem::ApiResult;
use super::report::csv_response;
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
async fn overview(State(app): State<AppState>) -> ApiResult<Json<CalendarOverview>> {
    let (years, closures) = deadlines::calendar(&app).await?;
    Ok(Json(CalendarOverview { years, closures }))
}

/// `?format=` of a calendar year.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum YearFormat {
    #[default]
    Json,
    /// The DGPA layout.
    Csv,
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct YearParams {
    /// `json` (default) or `csv` (the DGPA layout).
    pub format: Option<YearFormat>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct YearDay {
    pub date: NaiveDate,
    pub working: bool,
    pub note: String,
}

#[utoipa::path(get, path = "/api/v1/calendar/{year}", tag = "calendar",
    params(("year" = i32, Path, description = "The Gregorian year"), YearParams),
    responses((status = 200, body = Vec<YearDay>, description = "JSON, or the DGPA CSV with format=csv",
        content((Vec<YearDay> = "application/json"), (String = "text/csv"))),
        (status = 404, description = "problem: not-found")))]
async fn year(State(app): State<AppState>, Path(year): Path<i32>, Query(q): Query<YearParams>) -> ApiResult<Response> {
    let y = deadlines::calendar_year(&app, year).await?;
    Ok(match q.format.unwrap_or_default() {
        YearFormat::Csv => csv_response(&format!("calendar-{year}"), y.to_dgpa_csv()),
        YearFormat::Json => {
            let days: Vec<YearDay> =
                y.days.into_iter().map(|d| YearDay { date: d.date, working: d.working, note: d.note }).collect();
            Json(days).into_response()
        }
    })
}

/// The body is the DGPA office-calendar CSV (`西元日期,星期,是否放假,備註`).
#[utoipa::path(put, path = "/api/v1/calendar/{year}", tag = "calendar",
    params(("year" = i32, Path, description = "The Gregorian year", minimum = 2000, maximum = 2100)),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = CalendarYearInfo), (status = 422, description = "problem: invalid-field")))]
async fn load(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(year): Path<i32>,
    body: axum::body::Bytes,
) -> ApiResult<Json<CalendarYearInfo>> {
    Ok(Json(deadlines::load_year_file(&app, &caller, year, &body).await?))
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
    responses((status = 201, body = Declared), (status = 422, description = "problem: invalid-field")))]
async fn declare(
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
    responses((status = 200, body = Recomputed), (status = 422, description = "problem: invalid-field")))]
async fn recompute(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Body(req): Body<RecomputeRequest>,
) -> ApiResult<Json<Recomputed>> {
    Ok(Json(deadlines::recompute_by(&app, &caller, &req.reason).await?))
}
