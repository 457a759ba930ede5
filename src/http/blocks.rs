//! `blocks` (it_bureau): block an address or CIDR block at once, without
//! notice (terms §11), and lift it. The rules are in `service::sanctions`.

use axum::extract::State;
use axum::routing::{delete, get};
use axum::{Extension, Json, Router};
use http::StatusCode;

use super::AppState;
use super::extract::{Body, Path};
use super::problem::ApiResult;
use crate::service::caller::Caller;
use crate::service::sanctions;
use crate::store::Block;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/blocks", get(list).post(add)).route("/api/v1/blocks/{id}", delete(remove))
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBlock {
    /// An IPv4/IPv6 address or CIDR block.
    #[schema(schema_with = super::extract::ip_range_schema)]
    pub ip: String,
    pub reason: String,
}

#[utoipa::path(get, path = "/api/v1/blocks", tag = "sanctions", responses((status = 200, body = Vec<Block>)))]
async fn list(State(app): State<AppState>, Extension(caller): Extension<Caller>) -> ApiResult<Json<Vec<Block>>> {
    Ok(Json(sanctions::blocks(&app, &caller).await?))
}

#[utoipa::path(post, path = "/api/v1/blocks", tag = "sanctions", request_body = NewBlock,
    responses((status = 201, body = Block), (status = 409, description = "problem: conflict"),
        (status = 422, description = "problem: invalid-field")))]
async fn add(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Body(req): Body<NewBlock>,
) -> ApiResult<(StatusCode, Json<Block>)> {
    Ok((StatusCode::CREATED, Json(sanctions::block(&app, &caller, &req.ip, &req.reason).await?)))
}

#[utoipa::path(delete, path = "/api/v1/blocks/{id}", tag = "sanctions",
    params(("id" = i64, Path, description = "The block")),
    responses((status = 204), (status = 404, description = "problem: not-found")))]
async fn remove(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    sanctions::unblock(&app, &caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
