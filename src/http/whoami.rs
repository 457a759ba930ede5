//! `GET /api/v1/whoami`: the caller as the hub sees it.

use axum::extract::State;
use axum::routing::get;
use axum::{Extension, Json, Router};

use super::AppState;
use crate::service::caller::{self, Caller, WhoAmI};

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/whoami", get(whoami))
}

#[utoipa::path(get, path = "/api/v1/whoami", tag = "auth", responses((status = 200, body = WhoAmI)))]
async fn whoami(State(app): State<AppState>, Extension(c): Extension<Caller>) -> Json<WhoAmI> {
    Json(caller::whoami(&app, c))
}
