//! `roster` (public, §5-4): the agencies and connected users of the
//! exchange, and every registration, change, suspension and cancellation.
//! No client certificate is needed.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};

use super::AppState;
use super::extract::{Limit, PageOf, Query, numeric_cursor};
use super::problem::ApiResult;
use super::report::{csv_line, csv_response};
use crate::service::roster::{self, RosterEntry};
use crate::store::RosterChange;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/roster", get(list)).route("/api/v1/roster/changes", get(changes))
}

/// `?format=` of the roster.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub(super) enum RosterFormat {
    #[default]
    Json,
    Csv,
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct RosterParams {
    /// `json` (default) or `csv`.
    format: Option<RosterFormat>,
}

#[utoipa::path(get, path = "/api/v1/roster", tag = "roster", params(RosterParams),
    responses((status = 200, body = Vec<RosterEntry>, description = "JSON, or CSV with format=csv",
        content((Vec<RosterEntry> = "application/json"), (String = "text/csv")))))]
async fn list(State(app): State<AppState>, Query(q): Query<RosterParams>) -> ApiResult<Response> {
    let list = roster::entries(&app).await?;
    if q.format.unwrap_or_default() == RosterFormat::Json {
        return Ok(Json(list).into_response());
    }
    // UTF-8 with a BOM, so spreadsheet programs read the Chinese names.
    let mut out = String::from("\u{feff}");
    out.push_str(&csv_line(["code", "name", "kind", "receive", "send", "status", "since", "updated_at"].into_iter()));
    for e in &list {
        let cells = [
            e.code.clone(),
            e.name.clone(),
            e.kind.clone(),
            e.capabilities.receive.to_string(),
            e.capabilities.send.to_string(),
            e.status.clone(),
            e.since.to_rfc3339(),
            e.updated_at.to_rfc3339(),
        ];
        out.push_str(&csv_line(cells.iter().map(String::as_str)));
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
}

#[utoipa::path(get, path = "/api/v1/roster/changes", tag = "roster", params(ChangeParams),
    responses((status = 200, body = PageOf<RosterChange>), (status = 422, description = "problem: invalid-field")))]
async fn changes(State(app): State<AppState>, Query(q): Query<ChangeParams>) -> ApiResult<Json<PageOf<RosterChange>>> {
    let limit = Limit::or(q.limit, 500);
    let after = numeric_cursor(q.cursor.as_deref())?.unwrap_or(0);
    let items = roster::changes(&app, q.since, after, limit).await?;
    Ok(Json(PageOf::new(items, limit, |c| c.id.to_string())))
}
