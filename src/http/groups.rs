//! `groups`: send groups (行文群組), their members and history.

use axum::extract::State;
use axum::routing::get;
use axum::{Extension, Json, Router};
use http::StatusCode;

use super::AppState;
use super::extract::{Body, Path};
use super::problem::ApiResult;
use crate::domain::group::{Group, GroupMember, GroupScope};
use crate::service::caller::Caller;
use crate::service::groups;
use crate::store::GroupVersion;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/groups", get(list).post(create))
        .route("/api/v1/groups/{id}", get(show).put(update).delete(remove))
        .route("/api/v1/groups/{id}/history", get(history))
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGroup {
    /// `shared` (secretariat) or `private` (the caller's agency_admin).
    pub scope: GroupScope,
    pub name: String,
    pub members: Vec<GroupMember>,
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupChange {
    pub name: String,
    pub members: Vec<GroupMember>,
    /// The version this change starts from; a later change by someone else is refused.
    pub version: Option<i64>,
}

/// The group id in a path.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
struct GroupPath {
    /// The send group's id.
    id: String,
}

#[utoipa::path(get, path = "/api/v1/groups", tag = "groups", responses((status = 200, body = Vec<Group>)))]
async fn list(State(app): State<AppState>, Extension(caller): Extension<Caller>) -> ApiResult<Json<Vec<Group>>> {
    Ok(Json(groups::list(&app, &caller).await?))
}

#[utoipa::path(post, path = "/api/v1/groups", tag = "groups", request_body = NewGroup,
    responses((status = 201, body = Group), (status = 403, description = "problem: forbidden"),
        (status = 422, description = "problem: invalid-field, group-cycle")))]
async fn create(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Body(req): Body<NewGroup>,
) -> ApiResult<(StatusCode, Json<Group>)> {
    let g = groups::create(&app, &caller, req.scope, &req.name, &req.members).await?;
    Ok((StatusCode::CREATED, Json(g)))
}

#[utoipa::path(get, path = "/api/v1/groups/{id}", tag = "groups", params(GroupPath),
    responses((status = 200, body = Group), (status = 404, description = "problem: not-found")))]
async fn show(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<Group>> {
    Ok(Json(groups::visible(&app, &caller, &id).await?))
}

#[utoipa::path(put, path = "/api/v1/groups/{id}", tag = "groups", params(GroupPath), request_body = GroupChange,
    responses((status = 200, body = Group), (status = 403, description = "problem: forbidden"),
        (status = 404, description = "problem: not-found"), (status = 409, description = "problem: invalid-state"),
        (status = 422, description = "problem: invalid-field, group-cycle")))]
async fn update(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Body(req): Body<GroupChange>,
) -> ApiResult<Json<Group>> {
    Ok(Json(groups::update(&app, &caller, &id, req.version, &req.name, &req.members).await?))
}

#[utoipa::path(delete, path = "/api/v1/groups/{id}", tag = "groups", params(GroupPath),
    responses((status = 204), (status = 403, description = "problem: forbidden"),
        (status = 404, description = "problem: not-found"), (status = 409, description = "problem: invalid-state")))]
async fn remove(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    groups::delete(&app, &caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/groups/{id}/history", tag = "groups", params(GroupPath),
    responses((status = 200, body = Vec<GroupVersion>), (status = 404, description = "problem: not-found")))]
async fn history(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<GroupVersion>>> {
    Ok(Json(groups::history(&app, &caller, &id).await?))
}
