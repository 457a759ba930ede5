//! `documents`, `inbox` and `deliveries`: submitting packages and the life
//! of each delivery (DESIGN §3, §4). Thin: the rules are in `documents`.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use futures_util::StreamExt;
use http::{HeaderValue, StatusCode, header};

use super::AppState;
use super::extract::{Body as JsonBody, PageOf, Query};
use super::problem::{ApiResult, Problem, ProblemBody};
use crate::domain::delivery::{Action, DeliveryState};
use crate::service::caller::Caller;
use crate::service::documents::intake;
use crate::service::documents::lifecycle::{self, DeliveryView, DocumentStatus};
use crate::service::documents::submit::{self, Accepted, Submitted};
use crate::service::error::ServiceError;
use crate::store::Part;

pub fn routes(max_package_bytes: u64) -> Router<AppState> {
    // The whole request may be the package plus its small envelope parts.
    let body_limit = usize::try_from(max_package_bytes).unwrap_or(usize::MAX).saturating_add(4 * 1024 * 1024);
    Router::new()
        .route("/api/v1/documents", post(send).layer(DefaultBodyLimit::max(body_limit)))
        .route("/api/v1/documents/{id}", get(status))
        .route("/api/v1/documents/{id}/receipt", get(receipt))
        .route("/api/v1/inbox", get(inbox))
        .route("/api/v1/deliveries/{id}", get(delivery))
        .route("/api/v1/deliveries/{id}/package", get(package))
        .route("/api/v1/deliveries/{id}/confirm", post(confirm))
        .route("/api/v1/deliveries/{id}/return", post(return_))
        .route("/api/v1/deliveries/{id}/paper-resend", post(paper_resend))
}

/// multipart/form-data with parts `envelope`, `signature`, `document`, `attachment`…
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct PackageForm {
    /// The exchange envelope (schemas/envelope.xsd).
    envelope: Vec<u8>,
    /// Detached CMS signature (DER) over the exact envelope bytes.
    signature: Vec<u8>,
    /// The 公文 DI.
    document: Vec<u8>,
    /// Zero or more attachments (and the SW), each with its file name.
    attachment: Vec<Vec<u8>>,
}

#[utoipa::path(post, path = "/api/v1/documents", tag = "documents",
    request_body(content = PackageForm, content_type = "multipart/form-data"),
    responses((status = 201, body = Accepted, description = "Accepted; the signed receipt is included"),
        (status = 200, body = Accepted, description = "The same envelope was accepted before: the first result"),
        (status = 400, body = ProblemBody), (status = 403, body = ProblemBody), (status = 409, body = ProblemBody),
        (status = 413, body = ProblemBody), (status = 422, body = ProblemBody)))]
async fn send(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    mut multipart: Multipart,
) -> ApiResult<Response> {
    let parts = intake::receive(&mut multipart, &app.blobs, &app.config.limits).await?;
    Ok(match submit::submit(&app, &caller, parts).await? {
        Submitted::Accepted(a) => (StatusCode::CREATED, Json(a)).into_response(),
        Submitted::Replayed(a) => (StatusCode::OK, Json(a)).into_response(),
    })
}

#[utoipa::path(get, path = "/api/v1/documents/{id}", tag = "documents",
    responses((status = 200, body = DocumentStatus), (status = 404, body = ProblemBody)))]
async fn status(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<DocumentStatus>> {
    Ok(Json(lifecycle::status(&app, &caller, &id).await?))
}

#[utoipa::path(get, path = "/api/v1/documents/{id}/receipt", tag = "documents",
    responses((status = 200, content_type = "application/pkcs7-mime", description = "The hub-signed receipt, CMS DER"), (status = 404, body = ProblemBody)))]
async fn receipt(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let d = lifecycle::own_document(&app, &caller, &id).await?;
    Ok(([(header::CONTENT_TYPE, "application/pkcs7-mime; smime-type=signed-data")], d.receipt).into_response())
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct InboxParams {
    /// delivered, fetched, confirmed or returned.
    state: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
    /// Long-poll: wait up to this many seconds (at most 60) for a delivery when there is none.
    wait: Option<u64>,
}

#[utoipa::path(get, path = "/api/v1/inbox", tag = "deliveries", params(InboxParams),
    responses((status = 200, body = PageOf<DeliveryView>)))]
async fn inbox(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<InboxParams>,
) -> ApiResult<Json<PageOf<DeliveryView>>> {
    lifecycle_role(&caller)?;
    if let Some(s) = &q.state {
        s.parse::<DeliveryState>()?;
    }
    let limit = i64::from(q.limit.unwrap_or(100).clamp(1, 1000));
    let me = caller.participant.code.to_string();
    let mut events = app.inbox_events.subscribe();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(q.wait.unwrap_or(0).min(60));
    loop {
        let items = app.store.inbox(&me, q.state.as_deref(), q.cursor.as_deref(), limit).await?;
        if !items.is_empty() || tokio::time::Instant::now() >= deadline {
            let items: Vec<DeliveryView> = items.into_iter().map(DeliveryView::from).collect();
            return Ok(Json(PageOf::new(items, limit, |d| d.id.clone())));
        }
        // Woken by a delivery to us on this node, or re-check each second
        // for deliveries accepted by other nodes.
        let wake = async {
            loop {
                match events.recv().await {
                    Ok(code) if code == me => return,
                    Ok(_) => continue,
                    Err(_) => return,
                }
            }
        };
        let _ = tokio::time::timeout_at(deadline.min(tokio::time::Instant::now() + Duration::from_secs(1)), wake).await;
    }
}

fn lifecycle_role(caller: &Caller) -> Result<(), Problem> {
    caller.require(crate::domain::Role::Receiver).map_err(Problem::from)
}

#[utoipa::path(get, path = "/api/v1/deliveries/{id}", tag = "deliveries",
    responses((status = 200, body = DeliveryView), (status = 404, body = ProblemBody)))]
async fn delivery(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<DeliveryView>> {
    lifecycle_role(&caller)?;
    Ok(Json(lifecycle::own_delivery(&app, &caller, &id).await?.into()))
}

#[utoipa::path(get, path = "/api/v1/deliveries/{id}/package", tag = "deliveries",
    responses((status = 200, content_type = "multipart/mixed", description = "The stored parts, byte for byte, as submitted"), (status = 404, body = ProblemBody)))]
async fn package(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let parts = lifecycle::fetch(&app, &caller, &id).await?;
    multipart_mixed(&app, parts).await
}

enum PartBody {
    Inline(bytes::Bytes),
    File(tokio::fs::File),
}

/// Streams the parts as multipart/mixed; each part carries its part name,
/// file name, type, length and SHA-256.
async fn multipart_mixed(app: &AppState, parts: Vec<Part>) -> ApiResult<Response> {
    let boundary = format!("gwx-{}", uuid::Uuid::now_v7().simple());
    let mut length: u64 = 0;
    let mut pieces = Vec::new();
    for p in parts {
        let body = match p.inline {
            Some(bytes) => PartBody::Inline(bytes::Bytes::from(bytes)),
            None => PartBody::File(app.blobs.open_blob(&p.sha256).await.map_err(|e| {
                tracing::error!(part = %p.name, sha = %p.sha256, "blob file missing");
                ServiceError::from(e)
            })?),
        };
        let name = p.name.replace(['"', '\\', '\r', '\n'], "_");
        let head = format!(
            "--{boundary}\r\nContent-Disposition: attachment; name=\"{}\"; filename=\"{name}\"\r\nContent-Type: {}\r\n\
             Content-Length: {}\r\nX-Gwx-Sha256: {}\r\n\r\n",
            p.part, p.media_type, p.size, p.sha256
        );
        length += head.len() as u64 + p.size as u64 + 2;
        pieces.push((head, body));
    }
    let tail = format!("--{boundary}--\r\n");
    length += tail.len() as u64;
    let stream = futures_util::stream::iter(pieces)
        .flat_map(|(head, body)| {
            let head = futures_util::stream::once(async move { Ok::<_, std::io::Error>(bytes::Bytes::from(head)) });
            let body = match body {
                PartBody::Inline(b) => futures_util::stream::once(async move { Ok(b) }).boxed(),
                PartBody::File(f) => tokio_util::io::ReaderStream::with_capacity(f, 64 * 1024).boxed(),
            };
            let crlf = futures_util::stream::once(async { Ok(bytes::Bytes::from_static(b"\r\n")) });
            head.chain(body).chain(crlf)
        })
        .chain(futures_util::stream::once(async move { Ok(bytes::Bytes::from(tail)) }));
    let mut resp = Response::new(Body::from_stream(stream));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&format!("multipart/mixed; boundary={boundary}")).expect("ASCII"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    Ok(resp)
}

#[utoipa::path(post, path = "/api/v1/deliveries/{id}/confirm", tag = "deliveries",
    responses((status = 200, body = DeliveryView), (status = 404, body = ProblemBody), (status = 409, body = ProblemBody)))]
async fn confirm(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<DeliveryView>> {
    Ok(Json(lifecycle::decide(&app, &caller, &id, Action::Confirm, None).await?.into()))
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ReturnRequest {
    /// 退文原因: required (§13-5).
    reason: String,
}

#[utoipa::path(post, path = "/api/v1/deliveries/{id}/return", tag = "deliveries", request_body = ReturnRequest,
    responses((status = 200, body = DeliveryView), (status = 404, body = ProblemBody), (status = 409, body = ProblemBody), (status = 422, body = ProblemBody)))]
async fn return_(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<ReturnRequest>,
) -> ApiResult<Json<DeliveryView>> {
    Ok(Json(lifecycle::decide(&app, &caller, &id, Action::Return, Some(&req.reason)).await?.into()))
}

#[derive(serde::Deserialize, utoipa::ToSchema, Default)]
#[serde(deny_unknown_fields)]
struct PaperResendRequest {
    /// How and when it was sent on paper.
    note: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/deliveries/{id}/paper-resend", tag = "deliveries", request_body = PaperResendRequest,
    responses((status = 200, body = DeliveryView), (status = 404, body = ProblemBody), (status = 409, body = ProblemBody)))]
async fn paper_resend(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: bytes::Bytes,
) -> ApiResult<Json<DeliveryView>> {
    // The body is optional: an empty one records the resend without a note.
    let req: PaperResendRequest = if body.is_empty() {
        PaperResendRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| Problem::invalid_request(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?
    };
    let note = req.note;
    Ok(Json(lifecycle::paper_resend(&app, &caller, &id, note.as_deref()).await?.into()))
}
