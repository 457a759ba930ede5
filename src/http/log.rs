//! `GET /api/v1/log`: the exchange log. A participant sees the entries that
//! concern it; it_bureau, ethics and rdec see all (DESIGN §9).

use axum::extract::State;
use axum::routing::get;
use axum::{Extension, Json, Router};

use super::AppState;
use super::extract::{PageOf, Query};
use super::problem::ApiResult;
use crate::auth::Caller;
use crate::domain::Role;
use crate::domain::log::{LogAction, LogEntry};
use crate::store::LogFilter;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/log", get(list))
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogParams {
    /// Only entries about this participant (ignored for a participant's own view).
    pub participant: Option<String>,
    /// Only this action, e.g. `auth.refused`.
    pub action: Option<String>,
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page (a sequence number).
    pub cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/log", tag = "log", params(LogParams),
    responses((status = 200, body = PageOf<LogEntry>)))]
async fn list(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<LogParams>,
) -> ApiResult<Json<PageOf<LogEntry>>> {
    let sees_all = [Role::ItBureau, Role::Ethics, Role::Rdec].into_iter().any(|r| caller.has(r));
    let participant = if sees_all { q.participant } else { Some(caller.participant.code.to_string()) };
    if let Some(a) = &q.action {
        a.parse::<LogAction>()?;
    }
    let after_seq = super::extract::numeric_cursor(q.cursor.as_deref())?;
    let limit = i64::from(q.limit.unwrap_or(100).clamp(1, 1000));
    let items = app.store.log_entries(&LogFilter { participant, action: q.action, after_seq, limit }).await?;
    Ok(Json(PageOf::new(items, limit, |e| e.seq.to_string())))
}
