//! `applications` and `notifications`: the connected-user application
//! workflow. Reachable with a registered certificate, and — to apply and
//! follow one's own application — with a trusted certificate the hub does
//! not know yet.

use axum::extract::{Path, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use http::StatusCode;

use super::extract::{Body, PageOf, Query};
use super::problem::{ApiResult, Problem, ProblemBody};
use super::{AppState, conn_info};
use crate::domain::application::{ApplicationForm, ApplicationState, Step};
use crate::service::applications::{self, Requester};
use crate::service::caller::{self, Caller};
use crate::service::error::RefusalKind;
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

/// Registered callers are authenticated as everywhere (allowlist, status);
/// a trusted but unregistered certificate becomes an applicant.
async fn identify(State(app): State<AppState>, mut req: Request, next: Next) -> Response {
    let Some(conn) = conn_info(&req) else {
        return Problem::internal("request without connection information").into_response();
    };
    let ip = caller::client_ip(&app, &conn, req.headers());
    let who = match caller::authenticate(&app, &conn, ip).await {
        Ok(caller) => Requester::Registered(Box::new(caller)),
        Err(r) if r.kind == RefusalKind::UnknownCertificate && conn.cert.is_some() => {
            Requester::Applicant { cert: conn.cert.clone().expect("checked"), source_ip: ip }
        }
        Err(r) => return Problem::from(r).into_response(),
    };
    req.extensions_mut().insert(who);
    next.run(req).await
}

fn registered(who: &Requester) -> Result<&Caller, Problem> {
    match who {
        Requester::Registered(c) => Ok(c),
        Requester::Applicant { .. } => Err(Problem::new(
            StatusCode::FORBIDDEN,
            "unknown-certificate",
            "憑證未註冊",
            "this action needs a registered certificate",
        )),
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
    state: Option<ApplicationState>,
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
    responses((status = 201, body = Application), (status = 409, body = ProblemBody), (status = 422, body = ProblemBody)))]
async fn submit(
    State(app): State<AppState>,
    Extension(who): Extension<Requester>,
    Body(form): Body<ApplicationForm>,
) -> ApiResult<(StatusCode, Json<Application>)> {
    Ok((StatusCode::CREATED, Json(applications::submit(&app, &who, &form).await?)))
}

#[utoipa::path(get, path = "/api/v1/applications/{id}", tag = "applications",
    responses((status = 200, body = ApplicationView), (status = 404, body = ProblemBody)))]
async fn show(
    State(app): State<AppState>,
    Extension(who): Extension<Requester>,
    Path(id): Path<String>,
) -> ApiResult<Json<ApplicationView>> {
    let (application, history) = applications::show(&app, &who, &id).await?;
    Ok(Json(ApplicationView { application, history }))
}

#[utoipa::path(put, path = "/api/v1/applications/{id}", tag = "applications", request_body = ApplicationForm,
    responses((status = 200, body = Application), (status = 404, body = ProblemBody), (status = 409, body = ProblemBody), (status = 422, body = ProblemBody)))]
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

async fn decide(app: &AppState, who: &Requester, id: &str, step: Step, body: &[u8]) -> ApiResult<Json<Application>> {
    let caller = registered(who)?;
    let decision: Decision = if body.is_empty() {
        Decision::default()
    } else {
        serde_json::from_slice(body)
            .map_err(|e| Problem::invalid_request(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?
    };
    Ok(Json(applications::review(app, caller, id, step, decision.reason.as_deref()).await?))
}

#[utoipa::path(post, path = "/api/v1/applications/{id}/approve", tag = "applications",
    responses((status = 200, body = Application), (status = 403, body = ProblemBody), (status = 409, body = ProblemBody)))]
async fn approve(
    State(app): State<AppState>,
    Extension(who): Extension<Requester>,
    Path(id): Path<String>,
    body: bytes::Bytes,
) -> ApiResult<Json<Application>> {
    decide(&app, &who, &id, Step::Approve, &body).await
}

#[utoipa::path(post, path = "/api/v1/applications/{id}/reject", tag = "applications", request_body = Decision,
    responses((status = 200, body = Application), (status = 403, body = ProblemBody), (status = 409, body = ProblemBody), (status = 422, body = ProblemBody)))]
async fn reject(
    State(app): State<AppState>,
    Extension(who): Extension<Requester>,
    Path(id): Path<String>,
    body: bytes::Bytes,
) -> ApiResult<Json<Application>> {
    decide(&app, &who, &id, Step::Reject, &body).await
}

#[utoipa::path(post, path = "/api/v1/applications/{id}/request-correction", tag = "applications", request_body = Decision,
    responses((status = 200, body = Application), (status = 403, body = ProblemBody), (status = 409, body = ProblemBody), (status = 422, body = ProblemBody)))]
async fn request_correction(
    State(app): State<AppState>,
    Extension(who): Extension<Requester>,
    Path(id): Path<String>,
    body: bytes::Bytes,
) -> ApiResult<Json<Application>> {
    decide(&app, &who, &id, Step::RequestCorrection, &body).await
}

#[utoipa::path(post, path = "/api/v1/applications/{id}/activate", tag = "applications",
    responses((status = 200, body = Application), (status = 403, body = ProblemBody), (status = 409, body = ProblemBody)))]
async fn activate(
    State(app): State<AppState>,
    Extension(who): Extension<Requester>,
    Path(id): Path<String>,
) -> ApiResult<Json<Application>> {
    Ok(Json(applications::activate(&app, registered(&who)?, &id).await?))
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct NotificationParams {
    limit: Option<u32>,
    cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/notifications", tag = "applications", params(NotificationParams),
    responses((status = 200, body = PageOf<Notification>)))]
async fn notifications(
    State(app): State<AppState>,
    Extension(who): Extension<Requester>,
    Query(q): Query<NotificationParams>,
) -> ApiResult<Json<PageOf<Notification>>> {
    let limit = i64::from(q.limit.unwrap_or(100).clamp(1, 1000));
    let after = super::extract::numeric_cursor(q.cursor.as_deref())?.unwrap_or(0);
    let items = app.store.notifications_for(who.participant(), Some(who.fingerprint()), after, limit).await?;
    Ok(Json(PageOf::new(items, limit, |n| n.id.to_string())))
}
