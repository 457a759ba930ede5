//! 研考會's timeliness dashboard (with its chart) and 政風處's security log.

use askama::Template;
use axum::Extension;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use http::header;

use super::clerk::{TablePage, TableRow};
use super::{Nav, page};
use crate::domain::period::period;
use crate::http::AppState;
use crate::http::problem::ApiResult;
use crate::service::audit;
use crate::service::caller::Caller;
use crate::store::Timeliness;

#[derive(serde::Deserialize, Default)]
pub struct PeriodQuery {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

#[derive(Template)]
#[template(path = "console/audit.html")]
struct AuditPage {
    nav: Nav,
    columns: [&'static str; 13],
    flash: Option<&'static str>,
    from: NaiveDate,
    to: NaiveDate,
    rows: Vec<Vec<String>>,
    chart: String,
    query: String,
}

/// The timeliness figures of a period, with the chart and the CSV link.
pub async fn dashboard(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<PeriodQuery>,
) -> ApiResult<Response> {
    let r = audit::timeliness(&app, &caller, q.from, q.to, None).await?;
    let chart = super::chart::timeliness_svg(&r.participants);
    let query = format!("from={}&to={}", r.from, r.to);
    let rows = r.participants.iter().chain(std::iter::once(&r.totals)).map(Timeliness::cells).collect();
    Ok(page(AuditPage {
        nav: Nav::new(&app, &caller, "/console/audit"),
        columns: Timeliness::COLUMNS,
        flash: None,
        from: r.from,
        to: r.to,
        rows,
        chart,
        query,
    }))
}

/// The same chart as an SVG image.
pub async fn chart(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<PeriodQuery>,
) -> ApiResult<Response> {
    let r = audit::timeliness(&app, &caller, q.from, q.to, None).await?;
    Ok(([(header::CONTENT_TYPE, "image/svg+xml")], super::chart::timeliness_svg(&r.participants)).into_response())
}

/// Authentication refusals, blocks, suspensions and credential changes.
pub async fn security(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<PeriodQuery>,
) -> ApiResult<Response> {
    let filter = audit::security_filter(&caller, None, None)?;
    let p = period(q.from, q.to, app.now())?;
    let table = crate::http::log::readable(&app, filter, &p, "資安稽核紀錄").await?;
    Ok(page(TablePage {
        nav: Nav::new(&app, &caller, "/console/security"),
        flash: None,
        title: table.title,
        subtitle: format!("{}：認證拒絕、封鎖、停用與憑證異動", table.subtitle),
        columns: table.columns,
        rows: table.rows.into_iter().map(|cells| TableRow { link: None, cells }).collect(),
        note: table.note,
        csv: Some(format!(
            "/api/v1/audit/security?format=csv{}{}",
            q.from.map(|d| format!("&from={d}")).unwrap_or_default(),
            q.to.map(|d| format!("&to={d}")).unwrap_or_default()
        )),
    }))
}
