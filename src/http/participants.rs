//! `participants` (it_bureau): create, update, suspend/reinstate/terminate,
//! and each participant's fixed-IP allowlist.

use axum::extract::{Path, State};
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};
use http::StatusCode;

use super::AppState;
use super::extract::{Body, PageOf, PageParams, Query};
use super::problem::{ApiResult, Problem, ProblemBody};
use crate::domain::log::{LogAction, NewLogEntry};
use crate::domain::participant::{Participant, check_email, check_name, status_change_allowed};
use crate::domain::{
    Capabilities, IpRange, ParticipantCode, ParticipantKind, ParticipantStatus, UnifiedBusinessNumber,
};
use crate::service::caller::Caller;
use crate::store::{AllowlistEntry, NewParticipant, Page, ParticipantUpdate};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/participants", get(list).post(create))
        .route("/api/v1/participants/{code}", get(show).patch(update))
        .route("/api/v1/participants/{code}/suspend", post(suspend))
        .route("/api/v1/participants/{code}/reinstate", post(reinstate))
        .route("/api/v1/participants/{code}/terminate", post(terminate))
        .route("/api/v1/participants/{code}/allowlist", get(allowlist).post(allow))
        .route("/api/v1/participants/{code}/allowlist/{id}", delete(disallow))
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateParticipant {
    pub code: ParticipantCode,
    pub kind: ParticipantKind,
    pub name: String,
    #[schema(value_type = Option<String>)]
    pub unified_business_number: Option<UnifiedBusinessNumber>,
    pub capabilities: Capabilities,
    /// Required for a connected user: the agency that reviews its applications.
    pub supervisor: Option<ParticipantCode>,
    /// Default `active`.
    pub status: Option<ParticipantStatus>,
    /// Where its notifications are e-mailed.
    pub email: Option<String>,
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateParticipant {
    pub name: Option<String>,
    #[schema(value_type = Option<String>)]
    pub unified_business_number: Option<UnifiedBusinessNumber>,
    pub capabilities: Option<Capabilities>,
    pub supervisor: Option<ParticipantCode>,
    pub email: Option<String>,
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    /// Required to suspend or terminate.
    pub reason: Option<String>,
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAllowlistEntry {
    /// An IPv4/IPv6 address or CIDR block.
    pub ip: String,
    pub note: Option<String>,
}

/// The entry an it_bureau action writes to the exchange log.
fn admin_log(caller: &Caller, action: LogAction, counterpart: &ParticipantCode, detail: String) -> NewLogEntry {
    caller.log_entry(action, detail).counterpart(counterpart.to_string())
}

async fn existing(app: &AppState, code: &str) -> ApiResult<Participant> {
    app.store.participant(code).await?.ok_or_else(|| Problem::not_found(format!("no participant {code}")))
}

/// A supervisor must be an existing agency.
async fn check_supervisor(app: &AppState, code: &ParticipantCode) -> ApiResult<()> {
    match app.store.participant(code.as_str()).await? {
        Some(p) if p.kind == ParticipantKind::Agency => Ok(()),
        Some(_) => Err(Problem::invalid_field(format!("supervisor {code} is not an agency"))),
        None => Err(Problem::invalid_field(format!("supervisor {code} does not exist"))),
    }
}

#[utoipa::path(get, path = "/api/v1/participants", tag = "participants", params(PageParams),
    responses((status = 200, body = PageOf<Participant>), (status = 403, body = ProblemBody)))]
async fn list(State(app): State<AppState>, Query(page): Query<PageParams>) -> ApiResult<Json<PageOf<Participant>>> {
    let limit = page.limit();
    let items = app.store.participants(&Page { after: page.cursor, limit }).await?;
    Ok(Json(PageOf::new(items, limit, |p| p.code.to_string())))
}

#[utoipa::path(post, path = "/api/v1/participants", tag = "participants", request_body = CreateParticipant,
    responses((status = 201, body = Participant), (status = 409, body = ProblemBody), (status = 422, body = ProblemBody)))]
async fn create(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Body(req): Body<CreateParticipant>,
) -> ApiResult<(StatusCode, Json<Participant>)> {
    let name = check_name(&req.name)?;
    if req.kind == ParticipantKind::ConnectedUser {
        if req.unified_business_number.is_none() {
            return Err(Problem::invalid_field("a connected user needs its unified business number (統一編號)"));
        }
        if req.supervisor.is_none() {
            return Err(Problem::invalid_field("a connected user needs its supervising agency (審核機關)"));
        }
    }
    if let Some(s) = &req.supervisor {
        check_supervisor(&app, s).await?;
    }
    let new = NewParticipant {
        code: req.code,
        kind: req.kind,
        name,
        unified_business_number: req.unified_business_number,
        status: req.status.unwrap_or(ParticipantStatus::Active),
        capabilities: req.capabilities,
        supervisor: req.supervisor,
        email: req.email.as_deref().map(check_email).transpose()?,
    };
    let log = admin_log(
        &caller,
        LogAction::ParticipantCreated,
        &new.code,
        format!("participant {} {} created ({})", new.code, new.name, new.kind),
    );
    let p = app.store.create_participant(&new, app.now(), &log).await?;
    Ok((StatusCode::CREATED, Json(p)))
}

#[utoipa::path(get, path = "/api/v1/participants/{code}", tag = "participants",
    responses((status = 200, body = Participant), (status = 404, body = ProblemBody)))]
async fn show(State(app): State<AppState>, Path(code): Path<String>) -> ApiResult<Json<Participant>> {
    Ok(Json(existing(&app, &code).await?))
}

#[utoipa::path(patch, path = "/api/v1/participants/{code}", tag = "participants", request_body = UpdateParticipant,
    responses((status = 200, body = Participant), (status = 404, body = ProblemBody)))]
async fn update(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(code): Path<String>,
    Body(req): Body<UpdateParticipant>,
) -> ApiResult<Json<Participant>> {
    let p = existing(&app, &code).await?;
    if let Some(s) = &req.supervisor {
        check_supervisor(&app, s).await?;
    }
    let update = ParticipantUpdate {
        name: req.name.as_deref().map(check_name).transpose()?,
        unified_business_number: req.unified_business_number,
        capabilities: req.capabilities,
        supervisor: req.supervisor,
        email: req.email.as_deref().map(check_email).transpose()?,
    };
    let log = admin_log(&caller, LogAction::ParticipantUpdated, &p.code, format!("participant {} updated", p.code));
    Ok(Json(app.store.update_participant(&p.code, &update, app.now(), &log).await?))
}

async fn change_status(
    app: &AppState,
    caller: &Caller,
    code: &str,
    to: ParticipantStatus,
    reason: Option<String>,
    action: LogAction,
) -> ApiResult<Json<Participant>> {
    let p = existing(app, code).await?;
    let reason = reason.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
    if matches!(to, ParticipantStatus::Suspended | ParticipantStatus::Terminated) && reason.is_none() {
        return Err(Problem::invalid_field(format!("a reason is required to make a participant {to}")));
    }
    if !status_change_allowed(p.status, to) {
        return Err(Problem::conflict(format!("participant {} is {} and cannot become {to}", p.code, p.status)));
    }
    let detail = format!(
        "participant {} {} → {to}{}",
        p.code,
        p.status,
        reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default()
    );
    let log = admin_log(caller, action, &p.code, detail);
    Ok(Json(app.store.set_participant_status(&p.code, to, reason.as_deref(), app.now(), &log).await?))
}

#[utoipa::path(post, path = "/api/v1/participants/{code}/suspend", tag = "participants", request_body = StatusChange,
    responses((status = 200, body = Participant), (status = 409, body = ProblemBody), (status = 422, body = ProblemBody)))]
pub(super) async fn suspend(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(code): Path<String>,
    Body(req): Body<StatusChange>,
) -> ApiResult<Json<Participant>> {
    change_status(&app, &caller, &code, ParticipantStatus::Suspended, req.reason, LogAction::ParticipantSuspended).await
}

#[utoipa::path(post, path = "/api/v1/participants/{code}/reinstate", tag = "participants", request_body = StatusChange,
    responses((status = 200, body = Participant), (status = 409, body = ProblemBody)))]
pub(super) async fn reinstate(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(code): Path<String>,
    Body(req): Body<StatusChange>,
) -> ApiResult<Json<Participant>> {
    change_status(&app, &caller, &code, ParticipantStatus::Active, req.reason, LogAction::ParticipantReinstated).await
}

#[utoipa::path(post, path = "/api/v1/participants/{code}/terminate", tag = "participants", request_body = StatusChange,
    responses((status = 200, body = Participant), (status = 409, body = ProblemBody), (status = 422, body = ProblemBody)))]
pub(super) async fn terminate(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(code): Path<String>,
    Body(req): Body<StatusChange>,
) -> ApiResult<Json<Participant>> {
    change_status(&app, &caller, &code, ParticipantStatus::Terminated, req.reason, LogAction::ParticipantTerminated)
        .await
}

#[utoipa::path(get, path = "/api/v1/participants/{code}/allowlist", tag = "participants",
    responses((status = 200, body = Vec<AllowlistEntry>), (status = 404, body = ProblemBody)))]
async fn allowlist(State(app): State<AppState>, Path(code): Path<String>) -> ApiResult<Json<Vec<AllowlistEntry>>> {
    let p = existing(&app, &code).await?;
    Ok(Json(app.store.allowlist(p.code.as_str()).await?))
}

#[utoipa::path(post, path = "/api/v1/participants/{code}/allowlist", tag = "participants", request_body = NewAllowlistEntry,
    responses((status = 201, body = AllowlistEntry), (status = 409, body = ProblemBody), (status = 422, body = ProblemBody)))]
pub(super) async fn allow(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(code): Path<String>,
    Body(req): Body<NewAllowlistEntry>,
) -> ApiResult<(StatusCode, Json<AllowlistEntry>)> {
    let p = existing(&app, &code).await?;
    let range = IpRange::parse(&req.ip)?;
    let note = req.note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    let log = admin_log(&caller, LogAction::AllowlistAdded, &p.code, format!("{range} allowed for {}", p.code));
    let e = app.store.add_allowlist_entry(&p.code, range, note.as_deref(), app.now(), &log).await?;
    Ok((StatusCode::CREATED, Json(e)))
}

#[utoipa::path(delete, path = "/api/v1/participants/{code}/allowlist/{id}", tag = "participants",
    responses((status = 204), (status = 404, body = ProblemBody)))]
pub(super) async fn disallow(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((code, id)): Path<(String, i64)>,
) -> ApiResult<StatusCode> {
    let p = existing(&app, &code).await?;
    let entries = app.store.allowlist(p.code.as_str()).await?;
    let entry = entries
        .iter()
        .find(|e| e.id == id)
        .ok_or_else(|| Problem::not_found(format!("{code} has no allowlist entry {id}")))?;
    let log = admin_log(
        &caller,
        LogAction::AllowlistRemoved,
        &p.code,
        format!("{} no longer allowed for {}", entry.ip_range, p.code),
    );
    app.store.remove_allowlist_entry(&p.code, id, app.now(), &log).await?;
    Ok(StatusCode::NO_CONTENT)
}
