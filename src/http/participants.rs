//! `participants` (it_bureau): register, change, suspend/reinstate/terminate,
//! and each participant's fixed-IP allowlist. The rules are in
//! `service::participants`.

use axum::extract::State;
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};
use http::StatusCode;

use super::AppState;
use super::extract::{Body, PageOf, PageParams, Path, Query};
use super::problem::ApiResult;
use crate::domain::ParticipantStatus;
use crate::domain::participant::Participant;
use crate::service::caller::Caller;
use crate::service::participants::{self, ParticipantChanges, ParticipantForm};
use crate::store::{AllowlistEntry, Page};

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
pub struct StatusChange {
    /// Required to suspend or terminate.
    pub reason: Option<String>,
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAllowlistEntry {
    /// An IPv4/IPv6 address or CIDR block.
    #[schema(schema_with = super::extract::ip_range_schema)]
    pub ip: String,
    pub note: Option<String>,
}

/// The participant code in a path.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
struct CodePath {
    /// The participant's exchange code.
    code: String,
}

#[utoipa::path(get, path = "/api/v1/participants", tag = "participants", params(PageParams),
    responses((status = 200, body = PageOf<Participant>)))]
async fn list(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(page): Query<PageParams>,
) -> ApiResult<Json<PageOf<Participant>>> {
    let limit = page.limit();
    let items = participants::list(&app, &caller, &Page { after: page.cursor, limit }).await?;
    Ok(Json(PageOf::new(items, limit, |p| p.code.to_string())))
}

#[utoipa::path(post, path = "/api/v1/participants", tag = "participants", request_body = ParticipantForm,
    responses((status = 201, body = Participant), (status = 409, description = "problem: conflict"),
        (status = 422, description = "problem: invalid-field")))]
async fn create(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Body(form): Body<ParticipantForm>,
) -> ApiResult<(StatusCode, Json<Participant>)> {
    Ok((StatusCode::CREATED, Json(participants::create(&app, &caller, form).await?)))
}

#[utoipa::path(get, path = "/api/v1/participants/{code}", tag = "participants", params(CodePath),
    responses((status = 200, body = Participant), (status = 404, description = "problem: not-found")))]
async fn show(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(code): Path<String>,
) -> ApiResult<Json<Participant>> {
    Ok(Json(participants::show(&app, &caller, &code).await?))
}

#[utoipa::path(patch, path = "/api/v1/participants/{code}", tag = "participants", params(CodePath),
    request_body = ParticipantChanges,
    responses((status = 200, body = Participant), (status = 404, description = "problem: not-found"),
        (status = 422, description = "problem: invalid-field")))]
async fn update(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(code): Path<String>,
    Body(changes): Body<ParticipantChanges>,
) -> ApiResult<Json<Participant>> {
    Ok(Json(participants::update(&app, &caller, &code, changes).await?))
}

/// Suspending and terminating need a reason; a terminated participant stays terminated.
async fn change_status(
    app: AppState,
    caller: Caller,
    code: String,
    to: ParticipantStatus,
    req: StatusChange,
) -> ApiResult<Json<Participant>> {
    Ok(Json(participants::change_status(&app, &caller, &code, to, req.reason.as_deref()).await?))
}

#[utoipa::path(post, path = "/api/v1/participants/{code}/suspend", tag = "participants", params(CodePath),
    request_body = StatusChange,
    responses((status = 200, body = Participant), (status = 404, description = "problem: not-found"),
        (status = 409, description = "problem: conflict"), (status = 422, description = "problem: invalid-field")))]
async fn suspend(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(code): Path<String>,
    Body(req): Body<StatusChange>,
) -> ApiResult<Json<Participant>> {
    change_status(app, caller, code, ParticipantStatus::Suspended, req).await
}

#[utoipa::path(post, path = "/api/v1/participants/{code}/reinstate", tag = "participants", params(CodePath),
    request_body = StatusChange,
    responses((status = 200, body = Participant), (status = 404, description = "problem: not-found"),
        (status = 409, description = "problem: conflict")))]
async fn reinstate(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(code): Path<String>,
    Body(req): Body<StatusChange>,
) -> ApiResult<Json<Participant>> {
    change_status(app, caller, code, ParticipantStatus::Active, req).await
}

#[utoipa::path(post, path = "/api/v1/participants/{code}/terminate", tag = "participants", params(CodePath),
    request_body = StatusChange,
    responses((status = 200, body = Participant), (status = 404, description = "problem: not-found"),
        (status = 409, description = "problem: conflict"), (status = 422, description = "problem: invalid-field")))]
async fn terminate(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(code): Path<String>,
    Body(req): Body<StatusChange>,
) -> ApiResult<Json<Participant>> {
    change_status(app, caller, code, ParticipantStatus::Terminated, req).await
}

#[utoipa::path(get, path = "/api/v1/participants/{code}/allowlist", tag = "participants", params(CodePath),
    responses((status = 200, body = Vec<AllowlistEntry>), (status = 404, description = "problem: not-found")))]
async fn allowlist(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(code): Path<String>,
) -> ApiResult<Json<Vec<AllowlistEntry>>> {
    Ok(Json(participants::allowlist(&app, &caller, &code).await?))
}

#[utoipa::path(post, path = "/api/v1/participants/{code}/allowlist", tag = "participants", params(CodePath),
    request_body = NewAllowlistEntry,
    responses((status = 201, body = AllowlistEntry), (status = 404, description = "problem: not-found"),
        (status = 409, description = "problem: conflict"), (status = 422, description = "problem: invalid-field")))]
async fn allow(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(code): Path<String>,
    Body(req): Body<NewAllowlistEntry>,
) -> ApiResult<(StatusCode, Json<AllowlistEntry>)> {
    let e = participants::allow(&app, &caller, &code, &req.ip, req.note.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(e)))
}

#[utoipa::path(delete, path = "/api/v1/participants/{code}/allowlist/{id}", tag = "participants",
    params(CodePath, ("id" = i64, Path, description = "The allowlist entry")),
    responses((status = 204), (status = 404, description = "problem: not-found")))]
async fn disallow(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((code, id)): Path<(String, i64)>,
) -> ApiResult<StatusCode> {
    participants::disallow(&app, &caller, &code, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
