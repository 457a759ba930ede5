//! The HTTPS API: thin axum routes over the services, one file a resource.
//!
//! Layers, outermost first: metrics, HSTS, problem logging (every problem
//! response becomes an exchange-log entry), then per route group the
//! authentication and role checks. Handlers receive an authenticated
//! [`Caller`] and never see a request that failed those checks.

// Handlers return `Result<_, Problem>`; a problem is built only on the
// refusal path, so its size does not matter.
#![allow(clippy::result_large_err)]

mod applications;
mod audit;
mod blocks;
mod calendar;
mod console;
mod credentials;
mod deadlines;
pub(crate) mod documents;
pub mod extract;
mod groups;
mod log;
mod openapi;
pub mod ops;
mod participants;
pub mod problem;
pub mod report;
mod roster;
pub mod server;
mod trust;
mod whoami;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header};

use crate::domain::Role;
use crate::domain::log::{LogAction, NewLogEntry};
use crate::runtime::tls::ConnInfo;
use crate::service::app::App;
use crate::service::caller::{self, Caller};
use crate::service::error::ServiceError;
use crate::service::sanctions;
use problem::{Problem, ProblemRecord};
use server::stall::BodyVerdict;

pub type AppState = Arc<App>;

/// The HTTPS application.
pub fn router(app: AppState) -> Router {
    router_with(app, Router::new())
}

/// The HTTPS application with `extra` routes beside the API's, under the
/// same guard, panic catcher and problem log (tests mount failing handlers
/// this way).
pub fn router_with(app: AppState, extra: Router<AppState>) -> Router {
    let it_bureau = Router::new()
        .merge(participants::routes())
        .merge(credentials::routes())
        .merge(trust::routes())
        .merge(blocks::routes())
        .merge(roster::import_routes())
        .route_layer(middleware::from_fn(|req, next| require_role(Role::ItBureau, req, next)));

    let authenticated = Router::new()
        .merge(whoami::routes())
        .merge(documents::routes(app.config.limits.max_package_bytes))
        .merge(groups::routes())
        .merge(log::routes())
        .merge(calendar::routes())
        .merge(deadlines::routes())
        .merge(audit::routes())
        .merge(it_bureau)
        .route_layer(middleware::from_fn_with_state(app.clone(), authenticate));

    let hsts = HeaderValue::from_str(&format!("max-age={}; includeSubDomains", app.config.server.hsts_max_age))
        .expect("ASCII header value");

    Router::new()
        .merge(ops::routes())
        .merge(openapi::routes())
        .merge(roster::routes())
        .merge(authenticated)
        .merge(applications::routes(app.clone()))
        .merge(console::routes(app.clone()))
        .merge(extra)
        .fallback(|| async { Problem::not_found("no such path") })
        .method_not_allowed_fallback(|| async { Problem::method_not_allowed() })
        .layer(middleware::from_fn_with_state(app.clone(), guard))
        .layer(middleware::from_fn(catch_panics))
        .layer(middleware::from_fn(stalled_uploads))
        .layer(middleware::from_fn_with_state(app.clone(), record_problems))
        .layer(middleware::map_response(move |mut resp: Response| {
            let hsts = hsts.clone();
            async move {
                resp.headers_mut().insert(header::STRICT_TRANSPORT_SECURITY, hsts);
                resp
            }
        }))
        .layer(middleware::from_fn(track_metrics))
        .with_state(app)
}

/// The connection facts the accept loop attached to the request.
fn conn_info(req: &Request) -> Option<Arc<ConnInfo>> {
    req.extensions().get::<Arc<ConnInfo>>().cloned()
}

/// Authenticates the caller (DESIGN §2) and hands it to the handler.
async fn authenticate(State(app): State<AppState>, mut req: Request, next: Next) -> Response {
    let Some(conn) = conn_info(&req) else {
        return Problem::internal("request without connection information").into_response();
    };
    let ip = caller::client_ip(&app, &conn, req.headers());
    let caller = match caller::authenticate(&app, &conn, ip).await {
        Ok(c) => c,
        Err(refusal) => return Problem::from(refusal).into_response(),
    };
    let (code, fingerprint) = (caller.participant.code.to_string(), caller.credential.fingerprint.clone());
    req.extensions_mut().insert(caller);
    let mut resp = next.run(req).await;
    // Refusals from handlers are logged against the caller.
    if let Some(rec) = resp.extensions_mut().get_mut::<ProblemRecord>() {
        rec.participant.get_or_insert(code);
        rec.credential.get_or_insert(fingerprint);
    }
    resp
}

/// Refuses callers whose credential lacks `role`.
async fn require_role(role: Role, req: Request, next: Next) -> Response {
    let Some(caller) = req.extensions().get::<Caller>() else {
        return Problem::internal("role check before authentication").into_response();
    };
    if let Err(e) = caller.require(role) {
        return Problem::from(e).into_response();
    }
    next.run(req).await
}

/// Blocked addresses and rate limits, before anything else: public pages
/// included, and on connections opened before the block (which close).
async fn guard(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let Some(conn) = conn_info(&req) else {
        return Problem::internal("request without connection information").into_response();
    };
    let ip = caller::client_ip(&app, &conn, req.headers());
    let fingerprint = conn.cert.as_ref().map(|c| c.fingerprint.as_str());
    match sanctions::screen(&app, ip, fingerprint) {
        Ok(()) => next.run(req).await,
        Err(e) => {
            let blocked = matches!(e, ServiceError::IpBlocked(_));
            let mut resp = Problem::from(e).into_response();
            if blocked {
                resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            resp
        }
    }
}

/// A handler that panics is answered `500 internal` and logged like any
/// failure, instead of the connection being dropped.
async fn catch_panics(req: Request, next: Next) -> Response {
    use futures_util::FutureExt;
    let what = format!("{} {}", req.method(), req.uri().path());
    match std::panic::AssertUnwindSafe(next.run(req)).catch_unwind().await {
        Ok(resp) => resp,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".into());
            tracing::error!(%what, %message, "a handler panicked");
            metrics::counter!("gwx_panics_total").increment(1);
            let mut resp = Problem::internal("the hub failed while answering; the failure is logged").into_response();
            // The log keeps what failed; the client is told only that it did.
            if let Some(rec) = resp.extensions_mut().get_mut::<ProblemRecord>() {
                rec.detail = format!("handler panicked: {message}");
            }
            resp
        }
    }
}

/// A request whose body stopped or crawled is answered `408` (and the
/// connection closed), whatever the handler made of the broken body.
async fn stalled_uploads(req: Request, next: Next) -> Response {
    let verdict = req.extensions().get::<BodyVerdict>().cloned();
    let resp = next.run(req).await;
    let Some(detail) = verdict.as_ref().and_then(|v| v.get()) else { return resp };
    let mut timed_out = Problem::request_timeout(detail).into_response();
    if let (Some(rec), Some(new)) =
        (resp.extensions().get::<ProblemRecord>(), timed_out.extensions_mut().get_mut::<ProblemRecord>())
    {
        new.participant = rec.participant.clone();
    }
    timed_out.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    timed_out
}

/// Writes every problem response to the exchange log, with who asked, from where.
async fn record_problems(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let conn = conn_info(&req);
    let ip = conn.as_ref().map(|c| caller::client_ip(&app, c, req.headers()));
    let cert = conn.as_ref().and_then(|c| c.cert.as_ref().map(|c| c.fingerprint.clone()));
    let what = format!("{} {}", req.method(), req.uri().path());
    let resp = next.run(req).await;
    if let Some(rec) = resp.extensions().get::<ProblemRecord>() {
        let action = match (rec.auth, rec.server_error) {
            (true, _) => LogAction::AuthRefused,
            (false, true) => LogAction::ServerError,
            (false, false) => LogAction::RequestRefused,
        };
        let mut entry = NewLogEntry::new(action, format!("{what}: {}", rec.detail)).problem(rec.type_uri.clone());
        entry.participant = rec.participant.clone();
        entry.credential = rec.credential.clone().or(cert);
        entry.source_ip = ip.map(|ip| ip.to_string());
        metrics::counter!("gwx_refusals_total", "type" => rec.type_uri.clone()).increment(1);
        app.log(&entry).await;
    }
    resp
}

async fn track_metrics(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().to_string();
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    metrics::counter!("gwx_http_requests_total", "method" => method, "status" => status).increment(1);
    metrics::histogram!("gwx_http_request_duration_seconds").record(start.elapsed().as_secs_f64());
    resp
}
