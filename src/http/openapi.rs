//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 description of the API, true
//! to it (schemathesis checks it against the running hub in CI).
//!
//! The paths and schemas come from the handlers' `#[utoipa::path]`
//! attributes. A handler states the refusals of its own as responses whose
//! description is `problem: <type>, <type>`; [`complete`] turns each into an
//! `application/problem+json` response whose `type` is one of exactly
//! those, and adds what every operation of its kind can answer: the
//! authentication refusals, the block and rate limit, a malformed request,
//! an internal error.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::header;
use serde_json::{Value, json};
use utoipa::OpenApi;

use super::AppState;
use super::problem::ProblemBody;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "gwx — 公文電子交換中心 API",
        description = "Every request is authenticated by its TLS client certificate and source IP (DESIGN §2). Errors are RFC 9457 problem+json with a stable `type` `urn:gwx:error:<name>`."
    ),
    components(schemas(
        ProblemBody,
        super::extract::Limit,
        super::documents::Wait,
        super::report::Format,
        super::calendar::YearFormat,
        super::roster::RosterFormat,
    )),
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
        super::roster::import,
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
    static JSON: OnceLock<String> = OnceLock::new();
    let json = JSON.get_or_init(|| serde_json::to_string_pretty(&document()).expect("OpenAPI document serialises"));
    ([(header::CONTENT_TYPE, "application/json")], json.as_str()).into_response()
}

/// The whole document.
pub fn document() -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("OpenAPI document serialises");
    complete(&mut doc);
    doc
}

/// Paths that need no client certificate.
const PUBLIC: &[&str] = &["/healthz", "/api/v1/roster", "/api/v1/roster/changes"];

/// What authentication refuses (DESIGN §2), by status.
const AUTHENTICATION: &[(u16, &[&str])] = &[
    (401, &["certificate-required", "certificate-revoked", "revocation-unknown", "certificate-expired"]),
    (403, &["unknown-certificate", "ip-not-allowed", "credential-disabled", "participant-suspended", "forbidden"]),
];

/// What any request can be answered: blocked, over a rate limit, a failure
/// of the hub, or its storage full (nothing of the request kept).
const ANY: &[(u16, &[&str])] =
    &[(403, &["ip-blocked"]), (429, &["rate-limited"]), (500, &["internal"]), (507, &["storage-full"])];

/// A path or query parameter that does not parse.
const PARAMETERS: &[(u16, &[&str])] = &[(400, &["invalid-request"])];

/// A JSON body that is not JSON, not of the schema, too large, or sent as another type.
const JSON_BODY: &[(u16, &[&str])] = &[
    (400, &["invalid-request"]),
    (413, &["invalid-request"]),
    (415, &["invalid-request"]),
    (422, &["invalid-request"]),
];

/// Any request body that stops arriving, or arrives too slowly (`[connections]`).
const ANY_BODY: &[(u16, &[&str])] = &[(408, &["request-timeout"])];

/// Adds the problem responses to every operation (see the module's doc).
fn complete(doc: &mut Value) {
    let paths = doc["paths"].as_object_mut().expect("paths");
    for (path, item) in paths.iter_mut() {
        for (_, op) in item.as_object_mut().expect("path item").iter_mut() {
            let Some(op) = op.as_object_mut() else { continue };
            let mut problems: BTreeMap<u16, Vec<String>> = BTreeMap::new();
            let mut add = |table: &[(u16, &[&str])]| {
                for (status, types) in table {
                    problems.entry(*status).or_default().extend(types.iter().map(|t| t.to_string()));
                }
            };
            add(ANY);
            if !PUBLIC.contains(&path.as_str()) {
                add(AUTHENTICATION);
            }
            if op.get("parameters").is_some_and(|p| p.as_array().is_some_and(|a| !a.is_empty())) {
                add(PARAMETERS);
            }
            let json_body = op
                .get("requestBody")
                .and_then(|b| b["content"].as_object())
                .is_some_and(|c| c.contains_key("application/json"));
            if json_body {
                add(JSON_BODY);
            }
            if op.contains_key("requestBody") {
                add(ANY_BODY);
            }
            let responses = op.get_mut("responses").and_then(Value::as_object_mut).expect("responses");
            for (status, response) in responses.iter() {
                let Some(declared) = response["description"].as_str().and_then(|d| d.strip_prefix("problem: ")) else {
                    continue;
                };
                let status: u16 = status.parse().expect("a numeric status");
                add(&[(status, &declared.split(',').map(str::trim).collect::<Vec<_>>())]);
            }
            for (status, mut types) in problems {
                types.sort();
                types.dedup();
                responses.insert(status.to_string(), problem_response(status, &types));
            }
            if !PUBLIC.contains(&path.as_str()) {
                op.insert("security".into(), json!([{"clientCertificate": []}]));
            }
        }
    }
    doc["components"]["securitySchemes"] = json!({
        "clientCertificate": {
            "type": "mutualTLS",
            "description": "A client certificate registered to a participant, presented from an address in its fixed-IP allowlist.",
        }
    });
}

/// An `application/problem+json` response whose `type` is one of `types`.
fn problem_response(status: u16, types: &[String]) -> Value {
    let uris: Vec<String> = types.iter().map(|t| format!("urn:gwx:error:{t}")).collect();
    let mut response = json!({
        "description": format!("Refused: {}", types.join(", ")),
        "content": {
            "application/problem+json": {
                "schema": {
                    "allOf": [
                        {"$ref": "#/components/schemas/ProblemBody"},
                        {"type": "object", "properties": {"type": {"type": "string", "enum": uris}, "status": {"const": status}}}
                    ]
                }
            }
        }
    });
    if status == 429 {
        response["headers"] = json!({
            "Retry-After": {"description": "Seconds to wait before trying again.", "required": true,
                "schema": {"type": "integer", "minimum": 1}}
        });
    }
    response
}
