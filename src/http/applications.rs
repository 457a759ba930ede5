//! `applications` and `notifications`: the connected-user application
//! workflow (`service::applications`). Reachable with a registered
//! certificate, and — to apply and follow one's own application — with a
//! trusted certificate the hub does not know yet.

use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use http::StatusCode;

use super::extract::{Body, Limit, OptionalBody, PageOf, Path, Query, numeric_cursor};
use super::problem::{ApiResult, Problem};
use super::{AppState, conn_info};
use crate::domain::application::{ApplicationForm, ApplicationState, Step};
use crate::service::applications::{self, Requester};
use crate::service::caller;
use crate::store::{Application, ApplicationEvent, Notification};

pub fn routes(app: AppState) -> Router<AppState> {
    Router::new()
        .route("/api/v1/applications", get(list).post(submit))
        .route("/api/v1/applications/{id}", get(show).put(amend))
        .route("/api/v1/applications/{id}/approve", post(approve))
        .route("/api/v1/applications/{id}/reject", post(reject))
        .route("/api/v1/applications/{id}/request-correction", post(request_correction))
        .route("/api/v1/applications/{id}/activate", post(activate))
        .route("/api/v1/notifications", get(notifications))
        .route_layer(middleware::from_fn_with_state(app, identify))
}

/// Hands the handlers a [`Requester`]: a registered caller, or an applicant.
async fn identify(State(app): State<AppState>, mut req: Request, next: Next) -> Response {
    let Some(conn) = conn_info(&req) else {
        return Problem::internal("request without connection information").into_response();
    };
    let ip = caller::client_ip(&app, &conn, req.headers());
    match applications::identify(&app, &conn, ip).await {
        Ok(who) => {
            req.extensions_mut().insert(who);
            next.run(req).await
        }
        Err(r) => Problem::from(r).into_response(),
    }
}

/// An application with its history.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ApplicationView {
    #[serde(flatten)]
    pub application: Application,
    pub history: Vec<ApplicationEvent>,
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListParams {
    /// Only applications in this state.
    state: Option<ApplicationState>,
}

/// The application id in a path.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
struct ApplicationPath {
    /// The application's id (申請案號).
    id: String,
}

#[utoipa::path(get, path = "/api/v1/applications", tag = "applications", params(ListParams),
    responses((status = 200, body = Vec<Application>, description = "it_bureau: all; a supervisor: those naming it; an applicant: its own")))]
async fn list(
    State(app): State<AppState>,
    Extension(who): Extension<Requester>,
    Query(q): Query<ListParams>,
) -> ApiResult<Json<Vec<Application>>> {
    Ok(Json(applications::list(&app, &who, q.state).await?))
}

#[utoipa::path(post, path = "/api/v1/applications", tag = "applications", request_body = ApplicationForm,
    responses((status = 201, body = Application), (status = 403, description = "problem: forbidden"),
        (status = 409, description = "problem: invalid-state"),
        (status = 422, description = "problem: invalid-field, terms-not-accepted")))]
async fn submit(
    State(app): State<AppState>,
    Extension(who): Extension<Requester>,
    Body(form): Body<ApplicationForm>,
) -> ApiResult<(StatusCode, Json<Application>)> {
    Ok((StatusCode::CREATED, Json(applications::submit(&app, &who, &form).await?)))
}

#[utoipa::path(get, path = "/api/v1/applications/{id}", tag = "applications", params(ApplicationPath),
    responses((status = 200, body = ApplicationView), (status = 404, description = "problem: not-found")))]
async fn show(
    State(app): State<AppState>,
    Extension(who): Extension<Requester>,
    Path(id): Path<String>,
) -> ApiResult<Json<ApplicationView>> {
    let (application, history) = applications::show(&app, &who, &id).await?;
    Ok(Json(ApplicationView { application, history }))
}

#[utoipa::path(put, path = "/api/v1/applications/{id}", tag = "applications", params(ApplicationPath),
    request_body = ApplicationForm,
    responses((status = 200, body = Application), (status = 403, description = "problem: forbidden"),
        (status = 404, description = "problem: not-found"), (status = 409, description = "problem: invalid-state"),
        (status = 422, description = "problem: invalid-field, terms-not-accepted")))]
async fn amend(
    State(app): State<AppState>,
    Extension(who): Extension<Requester>,
    Path(id): Path<String>,
    Body(form): Body<ApplicationForm>,
) -> ApiResult<Json<Application>> {
    Ok(Json(applications::amend(&app, &who, &id, &form).await?))
}

#[derive(serde::Deserialize, utoipa::ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// Required to reject or to request a correction.
    pub reason: Option<String>,
}

async fn decide(app: AppState, who: Requester, id: String, step: Step, d: Decision) -> ApiResult<Json<Application>> {
    Ok(Json(applications::review(&app, &who, &id, step, d.reason.as_deref()).await?))
}

#[utoipa::path(post, path = "/api/v1/applications/{id}/approve", tag = "applications", params(ApplicationPath),
    request_body(content = Decision, description = "Optional"),
    responses((status = 200, body = Application), (status = 403, description = "problem: forbidden, unknown-certificate"),
        (status = 404, description = "problem: not-found"), (status = 409, description = "problem: invalid-state")))]
async fn approve(
    State(app): State<AppState>,
    Extension(who): Extension<Requester>,
    Path(id): Path<String>,
    OptionalBody(d): OptionalBody<Decision>,
) -> ApiResult<Json<Application>> {
    decide(app, who, id, Step::Approve, d).await
}

#[utoipa::path(post, path = "/api/v1/applications/{id}/reject", tag = "applications", params(ApplicationPath),
    request_body = Decision,
    responses((status = 200, body = Application), (status = 403, description = "problem: forbidden, unknown-certificate"),
        (status = 404, description = "problem: not-found"), (status = 409, description = "problem: invalid-state"),
        (status = 422, description = "problem: invalid-field")))]
async fn reject(
    State(app): State<AppState>,
    Extension(who): Extension<Requester>,
    Path(id): Path<String>,
    OptionalBody(d): OptionalBody<Decision>,
) -> ApiResult<Json<Application>> {
    decide(app, who, id, Step::Reject, d).await
}

#[utoipa::path(post, path = "/api/v1/applications/{id}/request-correction", tag = "applications",
    params(ApplicationPath), request_body = Decision,
    responses((status = 200, body = Application), (status = 403, description = "problem: forbidden, unknown-certificate"),
        (status = 404, description = "problem: not-found"), (status = 409, description = "problem: invalid-state"),
        (status = 422, description = "problem: invalid-field")))]
async fn request_correction(
    State(app): State<AppState>,
    Extension(who): Extension<Requester>,
    Path(id): Path<String>,
    OptionalBody(d): OptionalBody<Decision>,
) -> ApiResult<Json<Application>> {
    decide(app, who, id, Step::RequestCorrection, d).await
}

#[utoipa::path(post, path = "/api/v1/applications/{id}/activate", tag = "applications", params(ApplicationPath),
    responses((status = 200, body = Application), (status = 403, description = "problem: forbidden, unknown-certificate"),
        (status = 404, description = "problem: not-found"), (status = 409, description = "problem: invalid-state")))]
async fn activate(
    State(app): State<AppState>,
    Extension(who): Extension<Requester>,
    Path(id): Path<String>,
) -> ApiResult<Json<Application>> {
    Ok(Json(applications::activate(&app, &who, &id).await?))
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct NotificationParams {
    /// At most this many items (1–1000, default 100).
    limit: Option<Limit>,
    /// The `next_cursor` of the previous page.
    #[param(schema_with = super::extract::numeric_cursor_schema)]
    cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/notifications", tag = "applications", params(NotificationParams),
    responses((status = 200, body = PageOf<Notification>), (status = 422, description = "problem: invalid-field")))]
async fn notifications(
    State(app): State<AppState>,
    Extension(who): Extension<Requester>,
    Query(q): Query<NotificationParams>,
) -> ApiResult<Json<PageOf<Notification>>> {
    let limit = Limit::or(q.limit, 100);
    let after = numeric_cursor(q.cursor.as_deref())?.unwrap_or(0);
    let items = applications::notifications(&app, &who, after, limit).await?;
    Ok(Json(PageOf::new(items, limit, |n| n.id.to_string())))
}
