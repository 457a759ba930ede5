//! `documents`, `inbox` and `deliveries`: submitting packages and the life
//! of each delivery (DESIGN §3, §4). Thin: the rules are in `documents`.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use futures_util::StreamExt;
use http::{HeaderMap, HeaderValue, StatusCode, header};

use super::AppState;
use super::extract::{Body as JsonBody, Limit, OptionalBody, PageOf, Path, Query};
use super::problem::{ApiResult, Problem};
use crate::domain::delivery::{Action, DeliveryState};
use crate::formats::multipart;
use crate::service::caller::Caller;
use crate::service::documents::intake;
use crate::service::documents::lifecycle::{self, DeliveryView, DocumentStatus, PartBytes};
use crate::service::documents::submit::{self, Accepted, Submitted};
use crate::service::error::ServiceError;
use crate::store::Part;

pub fn routes(max_package_bytes: u64) -> Router<AppState> {
    // The whole request may be the package plus its small envelope parts.
    let body_limit = body_limit(max_package_bytes);
    let declared = move |req: Request, next: Next| refuse_declared_oversize(max_package_bytes, body_limit, req, next);
    Router::new()
        .route("/api/v1/documents", post(send).layer(middleware::from_fn(declared)))
        .route("/api/v1/documents/{id}", get(status))
        .route("/api/v1/documents/{id}/receipt", get(receipt))
        .route("/api/v1/inbox", get(inbox))
        .route("/api/v1/deliveries/{id}", get(delivery))
        .route("/api/v1/deliveries/{id}/package", get(package))
        .route("/api/v1/deliveries/{id}/confirm", post(confirm))
        .route("/api/v1/deliveries/{id}/return", post(return_))
        .route("/api/v1/deliveries/{id}/paper-resend", post(paper_resend))
}

/// The whole request may be the package plus its small envelope parts and framing.
fn body_limit(max_package_bytes: u64) -> usize {
    usize::try_from(max_package_bytes).unwrap_or(usize::MAX).saturating_add(4 * 1024 * 1024)
}

/// A request that announces a body over the limit is refused before a
/// byte of it is read (and its connection closed).
async fn refuse_declared_oversize(max_package: u64, body_limit: usize, req: Request, next: Next) -> Response {
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    match declared {
        Some(n) if n > body_limit as u64 => {
            let detail = format!("the request declares {n} bytes, over the package limit of {max_package} bytes");
            let mut resp = Problem::from(ServiceError::TooLarge(detail)).into_response();
            resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            resp
        }
        _ => next.run(req).await,
    }
}

/// multipart/form-data with parts `envelope`, `signature`, `document`, `attachment`…
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct PackageForm {
    /// The exchange envelope (schemas/envelope.xsd).
    #[schema(value_type = String, format = Binary)]
    envelope: Vec<u8>,
    /// Detached CMS signature (DER) over the exact envelope bytes.
    #[schema(value_type = String, format = Binary)]
    signature: Vec<u8>,
    /// The 公文 DI.
    #[schema(value_type = String, format = Binary)]
    document: Vec<u8>,
    /// Zero or more attachments (and the SW), each with its file name.
    #[schema(value_type = Option<Vec<String>>, format = Binary)]
    attachment: Vec<Vec<u8>>,
}

/// Hands the multipart body of a package, part by part and chunk by
/// chunk, to the service that checks and spools it. The framing is read by
/// [`multipart::Reader`], in linear time, within the limits on part headers
/// and parts; the whole body within the package limit.
pub(super) async fn receive_package(
    app: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> ApiResult<Vec<intake::ReceivedPart>> {
    let mut rx = intake::Receiver::new(app);
    let limits = &app.config.limits;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    // Not multipart/form-data, or no boundary: refused like any unreadable package.
    let boundary = multipart::boundary(content_type).map_err(|e| rx.unreadable(false, &e.0))?;
    let mut reader = multipart::Reader::new(
        &boundary,
        multipart::Limits {
            max_header_bytes: usize::try_from(limits.max_part_header_bytes).unwrap_or(usize::MAX),
            max_parts: limits.max_parts as usize,
        },
    );
    let body_limit = body_limit(limits.max_package_bytes) as u64;
    let (mut stream, mut received) = (body.into_data_stream(), 0u64);
    let mut part = None;
    loop {
        match reader.next_event().map_err(|e| rx.unreadable(false, &e.0))? {
            Some(multipart::Event::Part(head)) => {
                if let Some(done) = part.take() {
                    rx.finish(done).await?;
                }
                part = Some(rx.part(head.name.as_deref(), head.filename.as_deref(), head.content_type.as_deref())?);
            }
            Some(multipart::Event::Data(bytes)) => {
                rx.write(part.as_mut().expect("data follows a part"), &bytes).await?
            }
            Some(multipart::Event::End) => {
                if let Some(done) = part.take() {
                    rx.finish(done).await?;
                }
                return Ok(rx.parts());
            }
            None => match stream.next().await {
                Some(Ok(chunk)) => {
                    received += chunk.len() as u64;
                    if received > body_limit {
                        return Err(rx.unreadable(true, "").into());
                    }
                    reader.feed(&chunk);
                }
                Some(Err(e)) => return Err(rx.unreadable(false, &e.to_string()).into()),
                None => reader.finish_input(),
            },
        }
    }
}

/// The document id in a path.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
struct DocumentPath {
    /// The document's id (from the receipt).
    id: String,
}

#[utoipa::path(post, path = "/api/v1/documents", tag = "documents",
    request_body(content = PackageForm, content_type = "multipart/form-data"),
    responses((status = 201, body = Accepted, description = "Accepted; the signed receipt is included"),
        (status = 200, body = Accepted, description = "The same envelope was accepted before: the first result"),
        (status = 400, description = "problem: invalid-package"),
        (status = 403, description = "problem: sender-cannot-send, group-not-usable"),
        (status = 409, description = "problem: duplicate-document-number"),
        (status = 413, description = "problem: package-too-large"),
        (status = 422, description = "problem: invalid-envelope, sender-mismatch, unsafe-xml, unsafe-file-name, \
            bad-signature, weak-signature, signer-not-sender, missing-file, unlisted-file, file-mismatch, invalid-document, \
            document-mismatch, confidential-not-allowed, attachment-format, unknown-recipient, recipient-unreachable, \
            roster-mismatch, invalid-field")))]
async fn send(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let parts = receive_package(&app, &headers, body).await?;
    Ok(match submit::submit(&app, &caller, parts).await? {
        Submitted::Accepted(a) => (StatusCode::CREATED, Json(a)).into_response(),
        Submitted::Replayed(a) => (StatusCode::OK, Json(a)).into_response(),
    })
}

#[utoipa::path(get, path = "/api/v1/documents/{id}", tag = "documents", params(DocumentPath),
    responses((status = 200, body = DocumentStatus), (status = 404, description = "problem: not-found")))]
async fn status(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<DocumentStatus>> {
    Ok(Json(lifecycle::status(&app, &caller, &id).await?))
}

#[utoipa::path(get, path = "/api/v1/documents/{id}/receipt", tag = "documents", params(DocumentPath),
    responses((status = 200, content_type = "application/pkcs7-mime", body = Vec<u8>,
        description = "The hub-signed receipt, CMS DER"), (status = 404, description = "problem: not-found")))]
async fn receipt(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let receipt = lifecycle::receipt(&app, &caller, &id).await?;
    Ok(([(header::CONTENT_TYPE, "application/pkcs7-mime; smime-type=signed-data")], receipt).into_response())
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct InboxParams {
    /// Only deliveries in this state.
    state: Option<DeliveryState>,
    /// At most this many items (1–1000, default 100).
    limit: Option<Limit>,
    /// The `next_cursor` of the previous page (a delivery id).
    cursor: Option<String>,
    /// Long-poll: wait up to this many seconds for a delivery when there is none.
    wait: Option<Wait>,
}

/// Seconds of a long-poll, at most 60.
#[derive(Debug, Clone, Copy)]
pub(super) struct Wait(u64);

impl utoipa::PartialSchema for Wait {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        super::extract::integer_schema("Seconds to wait.", 0, lifecycle::MAX_WAIT.as_secs())
    }
}

impl utoipa::ToSchema for Wait {}

impl<'de> serde::Deserialize<'de> for Wait {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = u64::deserialize(d)?;
        if Duration::from_secs(n) > lifecycle::MAX_WAIT {
            return Err(serde::de::Error::custom(format!("wait {n}: a long-poll waits at most 60 seconds")));
        }
        Ok(Wait(n))
    }
}

#[utoipa::path(get, path = "/api/v1/inbox", tag = "deliveries", params(InboxParams),
    responses((status = 200, body = PageOf<DeliveryView>)))]
async fn inbox(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<InboxParams>,
) -> ApiResult<Json<PageOf<DeliveryView>>> {
    let limit = Limit::or(q.limit, 100);
    let wait = Duration::from_secs(q.wait.map_or(0, |w| w.0));
    let items = lifecycle::inbox(&app, &caller, q.state, q.cursor.as_deref(), limit, wait).await?;
    let items: Vec<DeliveryView> = items.into_iter().map(DeliveryView::from).collect();
    Ok(Json(PageOf::new(items, limit, |d| d.id.clone())))
}

/// The delivery id in a path.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
struct DeliveryPath {
    /// The delivery's id (from the inbox).
    id: String,
}

#[utoipa::path(get, path = "/api/v1/deliveries/{id}", tag = "deliveries", params(DeliveryPath),
    responses((status = 200, body = DeliveryView), (status = 404, description = "problem: not-found")))]
async fn delivery(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<DeliveryView>> {
    Ok(Json(lifecycle::delivery(&app, &caller, &id).await?.into()))
}

#[utoipa::path(get, path = "/api/v1/deliveries/{id}/package", tag = "deliveries", params(DeliveryPath),
    responses((status = 200, content_type = "multipart/mixed", body = String,
        description = "The stored parts, byte for byte, as submitted"), (status = 404, description = "problem: not-found"),
        (status = 500, description = "problem: damaged-file")))]
async fn package(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let package = lifecycle::package(&app, &caller, &id).await?;
    Ok(multipart_mixed(app, caller, package))
}

/// Streams the parts as multipart/mixed; each part carries its part name,
/// file name, type, length and SHA-256. A file's bytes are hashed as they
/// go: a mismatch ends the response in an error (the client never gets a
/// whole package) and is reported. The fetch is recorded once every part
/// was produced, before the closing boundary: a client that has the whole
/// package may confirm it.
fn multipart_mixed(app: AppState, caller: Caller, package: lifecycle::Package) -> Response {
    let boundary = format!("gwx-{}", uuid::Uuid::now_v7().simple());
    let mut length: u64 = 0;
    let mut pieces = Vec::new();
    for (p, body) in package.parts {
        let name = p.name.replace(['"', '\\', '\r', '\n'], "_");
        let head = format!(
            "--{boundary}\r\nContent-Disposition: attachment; name=\"{}\"; filename=\"{name}\"\r\nContent-Type: {}\r\n\
             Content-Length: {}\r\nX-Gwx-Sha256: {}\r\n\r\n",
            p.part, p.media_type, p.size, p.sha256
        );
        length += head.len() as u64 + p.size as u64 + 2;
        pieces.push((p, head, body));
    }
    let tail = format!("--{boundary}--\r\n");
    length += tail.len() as u64;
    // One chunk in flight: a send completes once the previous chunk was taken.
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(1);
    let delivery = package.delivery;
    tokio::spawn(async move {
        for (p, head, body) in pieces {
            if tx.send(Ok(head.into())).await.is_err() {
                return; // the client went away
            }
            let sent = match body {
                PartBytes::Inline(b) => tx.send(Ok(b.into())).await.is_ok(),
                PartBytes::Stored(f) => match send_checked(&tx, f, &p).await {
                    Ok(sent) => sent,
                    Err(what) => {
                        lifecycle::damaged(&app, &delivery.document_id, &p, &what).await;
                        let _ = tx.send(Err(std::io::Error::other(what))).await;
                        return;
                    }
                },
            };
            if !sent || tx.send(Ok(bytes::Bytes::from_static(b"\r\n"))).await.is_err() {
                return;
            }
        }
        // Every byte of every part is out: the fetch counts, then the end.
        if tx.reserve().await.is_err() {
            return;
        }
        match lifecycle::fetched(&app, &caller, &delivery).await {
            Ok(()) => {
                let _ = tx.send(Ok(tail.into())).await;
            }
            Err(e) => {
                tracing::error!(%e, delivery = %delivery.id, "cannot record a fetch");
                let _ = tx.send(Err(std::io::Error::other("the fetch could not be recorded"))).await;
            }
        }
    });
    let mut resp = Response::new(Body::from_stream(super::report::received(rx)));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&format!("multipart/mixed; boundary={boundary}")).expect("ASCII"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    resp
}

/// Sends a part's file in chunks, hashing it: `Ok(false)` when the client
/// went away, `Err` with what was wrong when the bytes are not the part's.
async fn send_checked(
    tx: &tokio::sync::mpsc::Sender<std::io::Result<bytes::Bytes>>,
    mut file: crate::store::blobs::BlobReader,
    p: &Part,
) -> Result<bool, String> {
    use tokio::io::AsyncReadExt;
    let mut hasher = openssl::sha::Sha256::new();
    let mut sent = 0u64;
    let mut buf = bytes::BytesMut::with_capacity(64 * 1024);
    loop {
        buf.reserve(64 * 1024);
        match file.read_buf(&mut buf).await {
            Ok(0) => break,
            Ok(n) => {
                sent += n as u64;
                if sent > p.size as u64 {
                    return Err(format!("its file grew beyond {} bytes", p.size));
                }
                hasher.update(&buf[..n]);
                if tx.send(Ok(buf.split().freeze())).await.is_err() {
                    return Ok(false);
                }
            }
            Err(e) => return Err(format!("its file cannot be read: {e}")),
        }
    }
    if sent != p.size as u64 {
        return Err(format!("its file ended after {sent} of {} bytes", p.size));
    }
    let got = hex::encode(hasher.finish());
    if got != p.sha256.as_str() {
        return Err(format!("its file's bytes hash to {got}"));
    }
    Ok(true)
}

#[utoipa::path(post, path = "/api/v1/deliveries/{id}/confirm", tag = "deliveries", params(DeliveryPath),
    responses((status = 200, body = DeliveryView), (status = 404, description = "problem: not-found"),
        (status = 409, description = "problem: invalid-state")))]
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

#[utoipa::path(post, path = "/api/v1/deliveries/{id}/return", tag = "deliveries", params(DeliveryPath),
    request_body = ReturnRequest,
    responses((status = 200, body = DeliveryView), (status = 404, description = "problem: not-found"),
        (status = 409, description = "problem: invalid-state"), (status = 422, description = "problem: invalid-field")))]
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

#[utoipa::path(post, path = "/api/v1/deliveries/{id}/paper-resend", tag = "deliveries", params(DeliveryPath),
    request_body(content = PaperResendRequest, description = "Optional: an empty body records the resend without a note"),
    responses((status = 200, body = DeliveryView), (status = 404, description = "problem: not-found"),
        (status = 409, description = "problem: invalid-state"), (status = 422, description = "problem: invalid-field")))]
async fn paper_resend(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    OptionalBody(req): OptionalBody<PaperResendRequest>,
) -> ApiResult<Json<DeliveryView>> {
    Ok(Json(lifecycle::paper_resend(&app, &caller, &id, req.note.as_deref()).await?.into()))
}
