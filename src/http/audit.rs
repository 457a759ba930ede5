//! `audit`: the timeliness report for 研考會 (`rdec`) and the security view
//! for 政風處 (`ethics`), DESIGN §8.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use chrono::{DateTime, NaiveDate, Utc};

use super::AppState;
use super::extract::Query;
use super::log::LogParams;
use super::problem::{ApiResult, Problem};
use super::report::{Format, Table, period};
use crate::domain::Role;
use crate::domain::log::LogAction;
use crate::service::caller::Caller;
use crate::store::{LogFilter, Timeliness};

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

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct TimelinessReport {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// When the figures were taken: "overdue" and "pending" are as of then.
    pub as_of: DateTime<Utc>,
    pub participants: Vec<Timeliness>,
    pub totals: Timeliness,
}

/// The figures of a report, for the dashboard and the CSV alike.
pub async fn report(app: &AppState, q: &TimelinessParams) -> Result<TimelinessReport, Problem> {
    let now = app.now();
    let p = period(q.from, q.to, now)?;
    let participant = q.participant.as_deref().map(str::trim).filter(|p| !p.is_empty());
    let participants = app.store.timeliness(p.start, p.end, now, participant, false).await?;
    let totals = app
        .store
        .timeliness(p.start, p.end, now, participant, true)
        .await?
        .pop()
        .unwrap_or_else(|| Timeliness { code: "*".into(), ..Default::default() });
    Ok(TimelinessReport {
        from: p.from,
        to: p.to,
        as_of: now,
        participants,
        totals: Timeliness { name: "合計".into(), ..totals },
    })
}

#[utoipa::path(get, path = "/api/v1/audit/timeliness", tag = "audit", params(TimelinessParams),
    responses((status = 200, body = TimelinessReport)))]
pub(super) async fn timeliness(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<TimelinessParams>,
) -> ApiResult<Response> {
    caller.require(Role::Rdec)?;
    let r = report(&app, &q).await?;
    let format = q.format.unwrap_or_default();
    if format == Format::Json {
        return Ok(Json(r).into_response());
    }
    let table = Table {
        title: "公文電子交換時效稽核報表".into(),
        subtitle: format!("期間 {} 至 {}", r.from, r.to),
        columns: Timeliness::COLUMNS.to_vec(),
        rows: r.participants.iter().chain(std::iter::once(&r.totals)).map(Timeliness::cells).collect(),
        note: None,
        file: format!("timeliness-{}_{}", r.from, r.to),
    };
    Ok(table.respond(format))
}

/// What the security view shows (DESIGN §8).
pub const SECURITY_ACTIONS: [LogAction; 15] = [
    LogAction::TlsRefused,
    LogAction::AuthRefused,
    LogAction::IpBlocked,
    LogAction::IpUnblocked,
    LogAction::ParticipantSuspended,
    LogAction::ParticipantReinstated,
    LogAction::ParticipantTerminated,
    LogAction::CredentialRegistered,
    LogAction::CredentialDisabled,
    LogAction::CredentialEnabled,
    LogAction::AllowlistAdded,
    LogAction::AllowlistRemoved,
    LogAction::TrustReloaded,
    LogAction::LogPurged,
    LogAction::ClosureDeclared,
];

/// The security view's actions, as the log filter takes them.
pub fn security_actions() -> Vec<String> {
    SECURITY_ACTIONS.iter().map(|a| a.as_str().to_owned()).collect()
}

/// 政風處: authentication refusals, blocks, suspensions and credential changes.
#[utoipa::path(get, path = "/api/v1/audit/security", tag = "audit", params(LogParams),
    responses((status = 200, body = super::extract::PageOf<crate::domain::log::LogEntry>)))]
pub(super) async fn security(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<LogParams>,
) -> ApiResult<Response> {
    caller.require(Role::Ethics)?;
    let wanted: Vec<String> = match &q.action {
        Some(a) => {
            let a: LogAction = a.parse()?;
            if !SECURITY_ACTIONS.contains(&a) {
                return Err(Problem::invalid_field(format!("{a} is not part of the security view")));
            }
            vec![a.as_str().to_owned()]
        }
        None => security_actions(),
    };
    let filter = LogFilter { participant: q.participant.clone(), actions: wanted, ..Default::default() };
    super::log::respond(&app, &q, filter, "資安稽核紀錄（政風）", "security-log").await
}
