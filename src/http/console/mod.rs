//! 網頁操作介面: the web console for clerks, supervisors, auditors and the
//! IT bureau, served by the hub itself.
//!
//! Server-rendered HTML (askama templates under `templates/console/`), one
//! stylesheet and one small script served from the binary: no external
//! asset, no build step. The browser presents the same client certificate
//! as the API, and goes through the same authentication; every page calls
//! the same domain functions as the API, so it shows and allows exactly
//! what the credential's roles allow.
//!
//! A client certificate is an ambient credential, like a cookie: every
//! state-changing form carries a CSRF token bound to the certificate (an
//! HMAC under a key derived from the hub's own key), and a cross-site
//! `Origin` is refused. Refusals are rendered as an HTML page with the
//! same status and problem type as the API's problem+json.

mod audit;
mod chart;
mod clerk;
mod manage;

use askama::Template;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use http::{HeaderValue, Method, StatusCode, header};

use super::AppState;
use super::problem::Problem;
use crate::domain::Role;
use crate::service::caller::Caller;

/// A time on a console page: Taipei, to the minute (the column or label
/// says 臺北時間). Templates call it as `crate::http::console::taipei(t)`.
pub fn taipei(t: &chrono::DateTime<chrono::Utc>) -> String {
    crate::domain::calendar::local_minute(*t)
}

/// A date on a console page, in Taipei.
pub fn taipei_date(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.with_timezone(&crate::domain::calendar::taipei()).format("%Y-%m-%d").to_string()
}

pub fn routes(app: AppState) -> Router<AppState> {
    let authenticated = Router::new()
        .route("/console", get(home))
        .route("/console/", get(home))
        .route("/console/inbox", get(clerk::inbox))
        .route("/console/deliveries/{id}", get(clerk::delivery))
        .route("/console/deliveries/{id}/parts/{seq}", get(clerk::part))
        .route("/console/deliveries/{id}/print", get(clerk::print))
        .route("/console/deliveries/{id}/confirm", post(clerk::confirm))
        .route("/console/deliveries/{id}/return", post(clerk::return_))
        .route("/console/deliveries/{id}/paper-resend", post(clerk::paper_resend))
        .route("/console/sent", get(clerk::sent))
        .route("/console/sent/{id}", get(clerk::sent_document))
        .route("/console/send", get(clerk::send_form).post(clerk::send))
        .route("/console/deadlines/{which}", get(clerk::deadlines))
        .route("/console/groups", get(manage::groups).post(manage::create_group))
        .route("/console/groups/{id}", get(manage::group).post(manage::edit_group))
        .route("/console/applications", get(manage::applications))
        .route("/console/applications/{id}/{decision}", post(manage::decide))
        .route("/console/admin", get(manage::admin))
        .route("/console/admin/participants/{code}/{action}", post(manage::participant_action))
        .route("/console/admin/credentials/{id}/{action}", post(manage::credential_action))
        .route("/console/admin/blocks", post(manage::add_block))
        .route("/console/admin/blocks/{id}/remove", post(manage::remove_block))
        .route("/console/admin/calendar", post(manage::upload_calendar))
        .route("/console/admin/closures", post(manage::declare_closure))
        .route("/console/audit", get(audit::dashboard))
        .route("/console/audit/chart.svg", get(audit::chart))
        .route("/console/security", get(audit::security))
        .layer(middleware::from_fn_with_state(app.clone(), csrf))
        .route_layer(middleware::from_fn_with_state(app, super::authenticate));
    Router::new()
        .merge(authenticated)
        // A browser opening the hub's address lands on the console.
        .route("/", get(|| async { axum::response::Redirect::to("/console/") }))
        .route("/console/assets/{file}", get(asset))
        .route("/roster", get(manage::roster_page))
        .layer(middleware::map_response(html_errors))
        .layer(middleware::map_response(security_headers))
}

/// A menu entry.
pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

/// The header and menu of every page: what the caller's roles open.
pub struct Nav {
    pub who: String,
    pub items: Vec<NavItem>,
    /// The CSRF token of the caller's certificate, for the forms.
    pub csrf: String,
}

impl Nav {
    pub fn new(app: &AppState, caller: &Caller, current: &str) -> Nav {
        let mut items = Vec::new();
        let mut add = |role: Option<Role>, href: &'static str, label: &'static str| {
            if role.is_none_or(|r| caller.has(r)) {
                items.push(NavItem { href, label, current: href == current });
            }
        };
        add(Some(Role::Receiver), "/console/inbox", "收文匣");
        add(Some(Role::Receiver), "/console/deadlines/receiver", "逾期未處理");
        add(Some(Role::Sender), "/console/sent", "已發公文");
        add(Some(Role::Sender), "/console/send", "發送公文");
        add(Some(Role::Sender), "/console/deadlines/sender", "應補發紙本");
        if caller.has(Role::AgencyAdmin) || caller.has(Role::Secretariat) {
            add(None, "/console/groups", "行文群組");
        }
        add(Some(Role::Supervisor), "/console/applications", "連線申請審核");
        add(Some(Role::ItBureau), "/console/admin", "系統管理");
        add(Some(Role::Rdec), "/console/audit", "時效稽核");
        add(Some(Role::Ethics), "/console/security", "資安稽核");
        add(None, "/roster", "機關及連線用戶名冊");
        Nav {
            who: format!("{}（{}）｜{}", caller.participant.name, caller.participant.code, caller.credential.holder),
            items,
            csrf: csrf_token(app, &caller.credential.fingerprint),
        }
    }
}

/// Messages a redirect may ask a page to show (never text from the request).
pub fn flash_text(code: Option<&str>) -> Option<&'static str> {
    Some(match code? {
        "confirmed" => "已確認收文。",
        "returned" => "已退文，發文機關會在其清單上看到退文理由。",
        "resent" => "已記錄補發紙本。",
        "sent" => "公文已送出。",
        "saved" => "已儲存。",
        "approved" => "已核准，送資訊局開通。",
        "rejected" => "已駁回。",
        "correction" => "已退回補正。",
        "activated" => "已開通。",
        "suspended" => "已停止使用。",
        "reinstated" => "已恢復使用。",
        "terminated" => "已終止使用。",
        "disabled" => "憑證已停用。",
        "enabled" => "憑證已啟用。",
        "blocked" => "已封鎖。",
        "unblocked" => "已解除封鎖。",
        "calendar" => "行事曆已載入。",
        "closure" => "已宣布停班，未屆期限已重新計算。",
        _ => return None,
    })
}

/// `?msg=` of a page.
#[derive(serde::Deserialize, Default)]
pub struct FlashQuery {
    pub msg: Option<String>,
}

/// Renders a template as a page.
pub fn page(t: impl Template) -> Response {
    match t.render() {
        Ok(html) => super::report::html_response(html),
        Err(e) => Problem::internal(format!("cannot render the page: {e}")).into_response(),
    }
}

/// After a change: back to `to`, with a message (POST → 303 → GET).
pub fn done(to: &str, msg: &str) -> Response {
    Redirect::to(&format!("{to}{}msg={msg}", if to.contains('?') { '&' } else { '?' })).into_response()
}

async fn home(Extension(caller): Extension<Caller>) -> Redirect {
    let to = [
        (Role::Receiver, "/console/inbox"),
        (Role::Sender, "/console/sent"),
        (Role::ItBureau, "/console/admin"),
        (Role::Rdec, "/console/audit"),
        (Role::Ethics, "/console/security"),
        (Role::Supervisor, "/console/applications"),
    ]
    .into_iter()
    .find(|(r, _)| caller.has(*r))
    .map_or("/roster", |(_, to)| to);
    Redirect::to(to)
}

/// The token a form of this certificate must carry.
pub fn csrf_token(app: &AppState, fingerprint: &str) -> String {
    let key = openssl::pkey::PKey::hmac(&app.console_key).expect("HMAC key");
    let mut signer = openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &key).expect("HMAC");
    signer.update(fingerprint.as_bytes()).expect("HMAC update");
    hex::encode(&signer.sign_to_vec().expect("HMAC sign")[..16])
}

/// Refuses a state-changing request without the caller's token in `?csrf=`,
/// or from another site.
async fn csrf(State(app): State<AppState>, req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD) {
        return next.run(req).await;
    }
    let Some(caller) = req.extensions().get::<Caller>() else {
        return Problem::internal("CSRF check before authentication").into_response();
    };
    let expected = csrf_token(&app, &caller.credential.fingerprint);
    let given = req.uri().query().and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("csrf="))).unwrap_or("");
    let cross_site = req.headers().get("sec-fetch-site").is_some_and(|v| v == "cross-site")
        || req.headers().get(header::ORIGIN).is_some_and(|o| {
            // HTTP/1.1 names the host in `Host`, HTTP/2 in the `:authority` of the URI.
            let host = req
                .headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .or_else(|| req.uri().authority().map(|a| a.as_str()))
                .unwrap_or("");
            o.to_str().map_or(true, |o| o != format!("https://{host}"))
        });
    if given != expected || cross_site {
        return Problem::new(
            StatusCode::FORBIDDEN,
            "csrf",
            "表單已失效或來自其他網站",
            "the form did not come from this console; reload the page and submit it again",
        )
        .into_response();
    }
    next.run(req).await
}

#[derive(Template)]
#[template(path = "console/error.html")]
struct ErrorPage {
    status: u16,
    title: String,
    detail: String,
    type_: String,
}

/// Turns problem+json refusals into an HTML page with the same status (the
/// extensions, and so the exchange-log record, stay).
async fn html_errors(resp: Response) -> Response {
    let is_problem = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(super::problem::CONTENT_TYPE.as_bytes()));
    if !is_problem {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let text = |k: &str| v[k].as_str().unwrap_or("").to_owned();
    let html =
        ErrorPage { status: parts.status.as_u16(), title: text("title"), detail: text("detail"), type_: text("type") }
            .render()
            .unwrap_or_else(|_| "error".into());
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(html))
}

/// Pages load nothing from elsewhere and run no inline script.
async fn security_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    resp
}

async fn asset(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    let (body, kind): (&'static str, &'static str) = match file.as_str() {
        "console.css" => (include_str!("../../../assets/console.css"), "text/css; charset=utf-8"),
        "console.js" => (include_str!("../../../assets/console.js"), "text/javascript; charset=utf-8"),
        _ => return Problem::not_found(format!("no asset {file}")).into_response(),
    };
    ([(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, "public, max-age=3600")], body).into_response()
}
