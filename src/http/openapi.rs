//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 description of the API.

use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::header;
use utoipa::OpenApi;

use super::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "gwx — 公文電子交換中心 API",
        description = "Every request is authenticated by its TLS client certificate and source IP (DESIGN §2). Errors are RFC 9457 problem+json with a stable `type` `urn:gwx:error:<name>`."
    ),
    paths(
        super::ops::healthz,
        super::ops::metrics,
        super::whoami::whoami,
        super::log::list,
        super::participants::list,
        super::participants::create,
        super::participants::show,
        super::participants::update,
        super::participants::suspend,
        super::participants::reinstate,
        super::participants::terminate,
        super::participants::allowlist,
        super::participants::allow,
        super::participants::disallow,
        super::credentials::list,
        super::credentials::show,
        super::credentials::register,
        super::credentials::disable,
        super::credentials::enable,
        super::trust::show,
        super::trust::reload,
        super::documents::send,
        super::documents::status,
        super::documents::receipt,
        super::documents::inbox,
        super::documents::delivery,
        super::documents::package,
        super::documents::confirm,
        super::documents::return_,
        super::documents::paper_resend,
        super::groups::list,
        super::groups::create,
        super::groups::show,
        super::groups::update,
        super::groups::remove,
        super::groups::history,
        super::blocks::list,
        super::blocks::add,
        super::blocks::remove,
        super::roster::list,
        super::roster::changes,
        super::applications::list,
        super::applications::submit,
        super::applications::show,
        super::applications::amend,
        super::applications::approve,
        super::applications::reject,
        super::applications::request_correction,
        super::applications::activate,
        super::applications::notifications,
        super::calendar::overview,
        super::calendar::year,
        super::calendar::load,
        super::calendar::declare,
        super::calendar::recompute,
        super::deadlines::sender,
        super::deadlines::receiver,
        super::audit::timeliness,
        super::audit::security,
    )
)]
pub struct ApiDoc;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/openapi.json", get(openapi))
}

async fn openapi() -> Response {
    let json = ApiDoc::openapi().to_pretty_json().expect("OpenAPI document serialises");
    ([(header::CONTENT_TYPE, "application/json")], json).into_response()
}
