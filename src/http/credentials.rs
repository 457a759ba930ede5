//! `credentials` (it_bureau): register a certificate for a participant,
//! list, disable (lost card, departure) and re-enable. The rules are in
//! `service::credentials`.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use http::StatusCode;

use super::AppState;
use super::extract::{Body, Limit, PageOf, Path, Query, numeric_cursor};
use super::problem::ApiResult;
use crate::service::caller::Caller;
use crate::service::credentials::{self, CredentialForm};
use crate::store::{Credential, Page};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/credentials", get(list).post(register))
        .route("/api/v1/credentials/{id}", get(show))
        .route("/api/v1/credentials/{id}/disable", post(disable))
        .route("/api/v1/credentials/{id}/enable", post(enable))
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisableCredential {
    pub reason: String,
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only this participant's credentials.
    pub participant: Option<String>,
    /// Only enabled credentials whose certificate expires within this many
    /// days (the IT bureau's renewal list).
    #[param(maximum = 3660)]
    pub expiring_within_days: Option<u32>,
    /// At most this many items (1–1000, default 100).
    pub limit: Option<Limit>,
    /// The `next_cursor` of the previous page.
    #[param(schema_with = super::extract::numeric_cursor_schema)]
    pub cursor: Option<String>,
}

/// The credential id in a path.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
struct IdPath {
    /// The credential's id.
    id: i64,
}

#[utoipa::path(get, path = "/api/v1/credentials", tag = "credentials", params(ListParams),
    responses((status = 200, body = PageOf<Credential>), (status = 422, description = "problem: invalid-field")))]
async fn list(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<ListParams>,
) -> ApiResult<Json<PageOf<Credential>>> {
    let limit = Limit::or(q.limit, 100);
    let page = Page { after: numeric_cursor(q.cursor.as_deref())?, limit };
    let items = credentials::list(&app, &caller, q.participant.as_deref(), q.expiring_within_days, &page).await?;
    Ok(Json(PageOf::new(items, limit, |c| c.id.to_string())))
}

#[utoipa::path(get, path = "/api/v1/credentials/{id}", tag = "credentials", params(IdPath),
    responses((status = 200, body = Credential), (status = 404, description = "problem: not-found")))]
async fn show(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Credential>> {
    Ok(Json(credentials::show(&app, &caller, id).await?))
}

#[utoipa::path(post, path = "/api/v1/credentials", tag = "credentials", request_body = CredentialForm,
    responses((status = 201, body = Credential), (status = 409, description = "problem: conflict"),
        (status = 422, description = "problem: invalid-field, weak-certificate, untrusted-certificate")))]
async fn register(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Body(form): Body<CredentialForm>,
) -> ApiResult<(StatusCode, Json<Credential>)> {
    Ok((StatusCode::CREATED, Json(credentials::register(&app, &caller, form).await?)))
}

#[utoipa::path(post, path = "/api/v1/credentials/{id}/disable", tag = "credentials", params(IdPath),
    request_body = DisableCredential,
    responses((status = 200, body = Credential), (status = 404, description = "problem: not-found"),
        (status = 422, description = "problem: invalid-field")))]
async fn disable(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
    Body(req): Body<DisableCredential>,
) -> ApiResult<Json<Credential>> {
    Ok(Json(credentials::disable(&app, &caller, id, &req.reason).await?))
}

#[utoipa::path(post, path = "/api/v1/credentials/{id}/enable", tag = "credentials", params(IdPath),
    responses((status = 200, body = Credential), (status = 404, description = "problem: not-found")))]
async fn enable(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Credential>> {
    Ok(Json(credentials::enable(&app, &caller, id).await?))
}
