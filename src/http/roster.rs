//! `roster` (public, §5-4): the agencies and connected users of the
//! exchange, and every registration, change, suspension and cancellation.
//! No client certificate is needed.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};

use super::AppState;
use super::extract::{PageOf, Query};
use super::problem::{ApiResult, Problem};
use super::report::{csv_line, csv_response};
use crate::domain::participant::Participant;
use crate::domain::{Capabilities, ParticipantStatus};
use crate::store::{Page, RosterChange};

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/roster", get(roster)).route("/api/v1/roster/changes", get(changes))
}

/// A participant as the public roster shows it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct RosterEntry {
    pub code: String,
    pub name: String,
    /// agency or connected_user.
    pub kind: String,
    pub capabilities: Capabilities,
    /// active or suspended.
    pub status: String,
    /// Registered since.
    pub since: DateTime<Utc>,
    /// Last change of its entry.
    pub updated_at: DateTime<Utc>,
}

impl From<Participant> for RosterEntry {
    fn from(p: Participant) -> Self {
        RosterEntry {
            code: p.code.to_string(),
            name: p.name,
            kind: p.kind.to_string(),
            capabilities: p.capabilities,
            status: p.status.to_string(),
            since: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct RosterParams {
    /// `json` (default) or `csv`.
    format: Option<String>,
}

/// Every participant that is registered and not cancelled, in code order.
pub(super) async fn entries(app: &AppState) -> ApiResult<Vec<RosterEntry>> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = app.store.participants(&Page { after: after.clone(), limit: 1000 }).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.code.to_string());
        out.extend(
            page.into_iter()
                .filter(|p| matches!(p.status, ParticipantStatus::Active | ParticipantStatus::Suspended))
                .map(RosterEntry::from),
        );
    }
    Ok(out)
}

#[utoipa::path(get, path = "/api/v1/roster", tag = "roster", params(RosterParams),
    responses((status = 200, body = Vec<RosterEntry>, description = "JSON, or CSV with format=csv")))]
async fn roster(State(app): State<AppState>, Query(q): Query<RosterParams>) -> ApiResult<Response> {
    let list = entries(&app).await?;
    match q.format.as_deref() {
        None | Some("json") => Ok(Json(list).into_response()),
        Some("csv") => {
            // UTF-8 with a BOM, so spreadsheet programs read the Chinese names.
            let mut out = String::from("\u{feff}");
            out.push_str(&csv_line(
                ["code", "name", "kind", "receive", "send", "status", "since", "updated_at"].into_iter(),
            ));
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
        Some(other) => Err(Problem::invalid_field(format!("format '{other}': json or csv"))),
    }
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ChangeParams {
    /// Changes at or after this time (RFC 3339); default: all.
    since: Option<DateTime<Utc>>,
    limit: Option<u32>,
    cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/roster/changes", tag = "roster", params(ChangeParams),
    responses((status = 200, body = PageOf<RosterChange>)))]
async fn changes(State(app): State<AppState>, Query(q): Query<ChangeParams>) -> ApiResult<Json<PageOf<RosterChange>>> {
    let limit = i64::from(q.limit.unwrap_or(500).clamp(1, 1000));
    let after = super::extract::numeric_cursor(q.cursor.as_deref())?.unwrap_or(0);
    let items = app.store.roster_changes(q.since, after, limit).await?;
    Ok(Json(PageOf::new(items, limit, |c| c.id.to_string())))
}
