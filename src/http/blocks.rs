//! `blocks` (it_bureau): block an address or CIDR block at once, without
//! notice (terms §11), and lift it.

use axum::extract::{Path, State};
use axum::routing::{delete, get};
use axum::{Extension, Json, Router};
use http::StatusCode;

use super::AppState;
use super::extract::Body;
use super::problem::{ApiResult, Problem, ProblemBody};
use crate::domain::IpRange;
use crate::domain::log::LogAction;
use crate::service::caller::Caller;
use crate::store::Block;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/blocks", get(list).post(add)).route("/api/v1/blocks/{id}", delete(remove))
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBlock {
    /// An IPv4/IPv6 address or CIDR block.
    pub ip: String,
    pub reason: String,
}

#[utoipa::path(get, path = "/api/v1/blocks", tag = "sanctions", responses((status = 200, body = Vec<Block>)))]
async fn list(State(app): State<AppState>) -> ApiResult<Json<Vec<Block>>> {
    Ok(Json(app.store.blocks().await?))
}

#[utoipa::path(post, path = "/api/v1/blocks", tag = "sanctions", request_body = NewBlock,
    responses((status = 201, body = Block), (status = 409, body = ProblemBody), (status = 422, body = ProblemBody)))]
pub(super) async fn add(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Body(req): Body<NewBlock>,
) -> ApiResult<(StatusCode, Json<Block>)> {
    let range = IpRange::parse(&req.ip)?;
    let reason = req.reason.trim();
    if reason.is_empty() {
        return Err(Problem::invalid_field("a block needs its reason"));
    }
    if range.contains(caller.source_ip) {
        return Err(Problem::invalid_field(format!(
            "{range} contains your own address {}; block it from elsewhere",
            caller.source_ip
        )));
    }
    let log = caller.log_entry(LogAction::IpBlocked, format!("{range} blocked: {reason}"));
    let b = app.store.add_block(range, reason, caller.participant.code.as_str(), app.now(), &log).await?;
    app.guard.reload(&app.store).await?;
    Ok((StatusCode::CREATED, Json(b)))
}

#[utoipa::path(delete, path = "/api/v1/blocks/{id}", tag = "sanctions", responses((status = 204), (status = 404, body = ProblemBody)))]
pub(super) async fn remove(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    let blocks = app.store.blocks().await?;
    let b = blocks.iter().find(|b| b.id == id).ok_or_else(|| Problem::not_found(format!("no block {id}")))?;
    let log = caller.log_entry(LogAction::IpUnblocked, format!("{} unblocked", b.ip_range));
    app.store.remove_block(id, app.now(), &log).await?;
    app.guard.reload(&app.store).await?;
    Ok(StatusCode::NO_CONTENT)
}
