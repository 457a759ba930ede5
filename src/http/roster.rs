//! `roster` (public, §5-4): the agencies and connected users of the
//! exchange, and every registration, change, suspension and cancellation.
//! No client certificate is needed.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use chrono::{DateTime, Utc};

use super::AppState;
use super::extract::{Limit, PageOf, Query, numeric_cursor};
use super::problem::ApiResult;
use super::report::{csv_line, csv_response, local_time};
use crate::formats::address_book;
use crate::service::caller::Caller;
use crate::service::roster::{self, ImportReport, RosterEntry};
use crate::store::RosterChange;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/roster", get(list)).route("/api/v1/roster/changes", get(changes))
}

/// The IT bureau's import of a national address book.
pub fn import_routes() -> Router<AppState> {
    Router::new().route(
        "/api/v1/roster/import",
        post(import).layer(axum::extract::DefaultBodyLimit::max(address_book::MAX_BYTES)),
    )
}

/// `?format=` of the roster.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub(super) enum RosterFormat {
    #[default]
    Json,
    Csv,
    /// The national address book layout: `ORGID,ORGNAME,STATUSCODE,UPDATETIME`.
    National,
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct RosterParams {
    /// `json` (default), `csv`, or `national` (the national address book
    /// layout `ORGID,ORGNAME,STATUSCODE,UPDATETIME`: STATUSCODE 1 使用中,
    /// 2 暫停, 3 終止; UPDATETIME Asia/Taipei `YYYY-MM-DD HH:MM:SS`).
    format: Option<RosterFormat>,
}

#[utoipa::path(get, path = "/api/v1/roster", tag = "roster", params(RosterParams),
    responses((status = 200, body = Vec<RosterEntry>, description = "JSON, or CSV with format=csv",
        content((Vec<RosterEntry> = "application/json"), (String = "text/csv")))))]
async fn list(State(app): State<AppState>, Query(q): Query<RosterParams>) -> ApiResult<Response> {
    let list = roster::entries(&app).await?;
    let format = q.format.unwrap_or_default();
    if format == RosterFormat::Json {
        return Ok(Json(list).into_response());
    }
    // UTF-8 with a BOM, so spreadsheet programs read the Chinese names.
    let mut out = String::from("\u{feff}");
    if format == RosterFormat::National {
        out.push_str(&csv_line(address_book::HEADER.into_iter()));
        for e in &list {
            let status = e.status.parse().unwrap_or(crate::domain::ParticipantStatus::Active);
            let time = address_book::update_time(e.updated_at);
            out.push_str(&csv_line([e.code.as_str(), &e.name, address_book::status_code(status), &time].into_iter()));
        }
        return Ok(csv_response("roster-national", out));
    }
    // For people: the words of the roster page, the times in Taipei.
    out.push_str(&csv_line(
        ["代碼", "名稱", "類別", "收文", "發文", "狀態", "加入時間（臺北）", "異動時間（臺北）"].into_iter(),
    ));
    let yes = |b: bool| if b { "是" } else { "否" };
    for e in &list {
        let status = e.status.parse().map_or("", crate::domain::ParticipantStatus::zh);
        let kind = e.kind.parse().map_or("", crate::domain::ParticipantKind::zh);
        let (since, updated) = (local_time(e.since), local_time(e.updated_at));
        let cells =
            [&e.code, &e.name, kind, yes(e.capabilities.receive), yes(e.capabilities.send), status, &since, &updated];
        out.push_str(&csv_line(cells.into_iter().map(|c| c as &str)));
    }
    Ok(csv_response("roster", out))
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ChangeParams {
    /// Changes at or after this time (RFC 3339); default: all.
    since: Option<DateTime<Utc>>,
    /// At most this many items (1–1000, default 500).
    limit: Option<Limit>,
    /// The `next_cursor` of the previous page.
    #[param(schema_with = super::extract::numeric_cursor_schema)]
    cursor: Option<String>,
    /// `json` (default) or `csv`.
    format: Option<RosterFormat>,
}

#[utoipa::path(get, path = "/api/v1/roster/changes", tag = "roster", params(ChangeParams),
    responses((status = 200, body = PageOf<RosterChange>, description = "JSON, or CSV with format=csv",
        content((PageOf<RosterChange> = "application/json"), (String = "text/csv"))),
        (status = 422, description = "problem: invalid-field")))]
async fn changes(State(app): State<AppState>, Query(q): Query<ChangeParams>) -> ApiResult<Response> {
    let limit = Limit::or(q.limit, 500);
    let after = numeric_cursor(q.cursor.as_deref())?.unwrap_or(0);
    let items = roster::changes(&app, q.since, after, limit).await?;
    if q.format.unwrap_or_default() == RosterFormat::Json {
        return Ok(Json(PageOf::new(items, limit, |c| c.id.to_string())).into_response());
    }
    // The page as a spreadsheet: the time as people read it (Taipei) and as
    // machines do, the change in words and as its code.
    let mut out = String::from("\u{feff}");
    out.push_str(&csv_line(["id", "時間（臺北）", "at", "code", "異動", "change", "detail"].into_iter()));
    for c in &items {
        let cells = [
            c.id.to_string(),
            local_time(c.at),
            c.at.to_rfc3339(),
            c.code.clone(),
            crate::domain::participant::roster_change_zh(&c.change).to_owned(),
            c.change.clone(),
            c.detail.clone(),
        ];
        out.push_str(&csv_line(cells.iter().map(String::as_str)));
    }
    Ok(csv_response("roster-changes", out))
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ImportParams {
    /// `true`: only show what the import would change.
    dry_run: Option<bool>,
}

/// The body is a national address book CSV (`ORGID,ORGNAME,STATUSCODE,UPDATETIME`), UTF-8 or Big5.
#[utoipa::path(post, path = "/api/v1/roster/import", tag = "roster", params(ImportParams),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = ImportReport), (status = 403, description = "problem: forbidden"),
        (status = 422, description = "problem: invalid-field")))]
async fn import(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<ImportParams>,
    body: axum::body::Bytes,
) -> ApiResult<Json<ImportReport>> {
    Ok(Json(roster::import(&app, &caller, &body, q.dry_run.unwrap_or(false)).await?))
}
