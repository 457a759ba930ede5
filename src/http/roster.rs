//! `roster` (public, §5-4): the agencies and connected users of the
//! exchange, and every registration, change, suspension and cancellation.
//! No client certificate is needed.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use http::header;

use super::AppState;
use super::extract::{PageOf, Query};
use super::problem::{ApiResult, Problem};
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

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_owned() }
}

#[utoipa::path(get, path = "/api/v1/roster", tag = "roster", params(RosterParams),
    responses((status = 200, body = Vec<RosterEntry>, description = "JSON, or CSV with format=csv")))]
async fn roster(State(app): State<AppState>, Query(q): Query<RosterParams>) -> ApiResult<Response> {
    let list = entries(&app).await?;
    match q.format.as_deref() {
        None | Some("json") => Ok(Json(list).into_response()),
        Some("csv") => {
            // UTF-8 with a BOM, so spreadsheet programs read the Chinese names.
            let mut out = String::from("\u{feff}code,name,kind,receive,send,status,since,updated_at\r\n");
            for e in &list {
                out.push_str(&format!(
                    "{},{},{},{},{},{},{},{}\r\n",
                    e.code,
                    csv_field(&e.name),
                    e.kind,
                    e.capabilities.receive,
                    e.capabilities.send,
                    e.status,
                    e.since.to_rfc3339(),
                    e.updated_at.to_rfc3339()
                ));
            }
            Ok((
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                    (header::CONTENT_DISPOSITION, "attachment; filename=\"roster.csv\""),
                ],
                out,
            )
                .into_response())
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
