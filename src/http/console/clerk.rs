//! The clerk's pages (收發文人員): inbox, a delivery with confirm and
//! return, sent documents with each recipient's state, sending a package
//! signed by the `gwx` client, and the two deadline lists.

use askama::Template;
use axum::Extension;
use axum::extract::{Form, Path, Query, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use http::header;

use super::{FlashQuery, Nav, done, flash_text, page};
use crate::domain::Role;
use crate::domain::delivery::{self, Action, DeliveryState};
use crate::domain::document::PartName;
use crate::formats::envelope::FileRole;
use crate::formats::reading::Reading;
use crate::http::AppState;
use crate::http::deadlines::Listing;
use crate::http::problem::{ApiResult, Problem};
use crate::http::report::{local_time, local_time_opt};
use crate::service::caller::Caller;
use crate::service::documents::lifecycle::{self, DeliveryView, Signature};
use crate::service::documents::submit::{self, Submitted};
use crate::store::{DeliveryRecord, Part};

/// A delivery as a row of the inbox.
pub struct InboxRow {
    pub d: DeliveryView,
    pub state: &'static str,
    pub delivered: String,
    pub deadline: String,
    pub overdue: bool,
    pub open: bool,
}

fn inbox_row(d: DeliveryRecord, now: DateTime<Utc>) -> InboxRow {
    let open = d.state.is_open();
    let overdue = delivery::is_overdue(d.state, d.receiver_deadline, d.immediate_deadline, now);
    let state = d.state.zh();
    // An immediate-confirmation delivery is due (and missed) at its own, earlier deadline.
    let deadline = match d.immediate_deadline {
        Some(t) => format!("立即確認期限 {}", local_time(t)),
        None => local_time_opt(d.receiver_deadline),
    };
    let delivered = local_time(d.delivered_at);
    InboxRow { d: d.into(), state, delivered, deadline, overdue, open }
}

#[derive(Template)]
#[template(path = "console/inbox.html")]
struct InboxPage {
    nav: Nav,
    flash: Option<&'static str>,
    rows: Vec<InboxRow>,
}

/// 收文匣: open deliveries first (immediate-confirmation ones on top, then
/// by deadline), then the last handled ones.
pub async fn inbox(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<FlashQuery>,
) -> ApiResult<Response> {
    let now = app.now();
    let rows = lifecycle::inbox_overview(&app, &caller).await?.into_iter().map(|d| inbox_row(d, now)).collect();
    Ok(page(InboxPage { nav: Nav::new(&app, &caller, "/console/inbox"), flash: flash_text(q.msg.as_deref()), rows }))
}

/// The signature check shown on a delivery page.
pub struct SignatureCheck {
    pub ok: bool,
    pub text: String,
}

pub struct PartRow {
    pub seq: usize,
    pub name: String,
    pub kind: &'static str,
    pub size: String,
}

fn part_rows(parts: &[Part]) -> Vec<PartRow> {
    parts
        .iter()
        .enumerate()
        .filter(|(_, p)| p.is_file())
        .map(|(seq, p)| PartRow {
            seq,
            name: p.name.clone(),
            kind: match (p.part, p.role) {
                (PartName::Document, _) => "公文",
                (_, Some(FileRole::Roster)) => "交換表單",
                (_, Some(FileRole::Message)) => "文書訊息表單",
                _ => "附件",
            },
            size: format!("{:.1} KiB", p.size as f64 / 1024.0),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "console/delivery.html")]
struct DeliveryPage {
    nav: Nav,
    flash: Option<&'static str>,
    row: InboxRow,
    reading: Option<Reading>,
    parts: Vec<PartRow>,
    signature: SignatureCheck,
    can_decide: bool,
}

/// Opening a delivery reads it: it counts (and is logged) as a fetch.
/// Another participant's delivery is a 403 page, an unknown id a 404.
pub async fn delivery(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(q): Query<FlashQuery>,
) -> ApiResult<Response> {
    let (d, parts) = lifecycle::open(&app, &caller, &id).await?;
    let signature = match lifecycle::verify_signature(&app, &d.document_id, &parts).await {
        Signature::Valid(subject) => SignatureCheck { ok: true, text: format!("電子簽章驗證通過：{subject}") },
        Signature::Invalid(e) => SignatureCheck { ok: false, text: format!("電子簽章驗證失敗：{e}") },
        Signature::Incomplete => SignatureCheck { ok: false, text: "封裝不完整".into() },
        Signature::Unreadable => SignatureCheck { ok: false, text: "無法讀取封裝".into() },
    };
    let reading = lifecycle::reading(&app, &d.document_id, &parts).await;
    let row = inbox_row(d, app.now());
    Ok(page(DeliveryPage {
        nav: Nav::new(&app, &caller, "/console/inbox"),
        flash: flash_text(q.msg.as_deref()),
        can_decide: row.open,
        row,
        reading,
        parts: part_rows(&parts),
        signature,
    }))
}

#[derive(Template)]
#[template(path = "console/print.html")]
struct PrintPage {
    id: String,
    hub: String,
    number: String,
    received: String,
    reading: Option<Reading>,
}

/// The print view: the 公文 as it reads on paper under the 電子公文交換戳記
/// (§13-4: the hub, the document number, when it was received), beside
/// which the clerk who prints it stamps their seal.
pub async fn print(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let (d, parts) = lifecycle::open(&app, &caller, &id).await?;
    let reading = lifecycle::reading(&app, &d.document_id, &parts).await;
    Ok(page(PrintPage {
        id: d.id,
        hub: app.config.server.name.clone(),
        number: d.document_number,
        received: format!("{}（臺北時間）", crate::domain::calendar::roc_minute(d.delivered_at)),
        reading,
    }))
}

/// Downloads the document or an attachment of the caller's delivery.
pub async fn part(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((id, seq)): Path<(String, usize)>,
) -> ApiResult<Response> {
    let (p, bytes) = lifecycle::file(&app, &caller, &id, seq).await?;
    let name: String =
        p.name.chars().map(|c| if c.is_ascii_alphanumeric() || ".-_".contains(c) { c } else { '_' }).collect();
    let encoded: String = p.name.bytes().map(|b| format!("%{b:02X}")).collect();
    let disposition = format!("attachment; filename=\"{name}\"; filename*=UTF-8''{encoded}");
    Ok((
        [
            (header::CONTENT_TYPE, p.media_type.clone()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        ],
        bytes,
    )
        .into_response())
}

pub async fn confirm(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    lifecycle::decide(&app, &caller, &id, Action::Confirm, None).await?;
    Ok(done(&format!("/console/deliveries/{id}"), "confirmed"))
}

#[derive(serde::Deserialize)]
pub struct ReasonForm {
    #[serde(default)]
    pub reason: String,
}

pub async fn return_(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Form(f): Form<ReasonForm>,
) -> ApiResult<Response> {
    lifecycle::decide(&app, &caller, &id, Action::Return, Some(&f.reason)).await?;
    Ok(done(&format!("/console/deliveries/{id}"), "returned"))
}

#[derive(serde::Deserialize)]
pub struct NoteForm {
    #[serde(default)]
    pub note: String,
    /// Where to go back to (the document page or the list).
    #[serde(default)]
    pub back: String,
}

pub async fn paper_resend(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Form(f): Form<NoteForm>,
) -> ApiResult<Response> {
    let d = lifecycle::paper_resend(&app, &caller, &id, Some(&f.note)).await?;
    let back = if f.back == "list" {
        "/console/deadlines/sender".to_owned()
    } else {
        format!("/console/sent/{}", d.document_id)
    };
    Ok(done(&back, "resent"))
}

pub struct SentRow {
    pub id: String,
    pub number: String,
    pub subject: String,
    pub accepted: String,
    pub recipients: i64,
    pub confirmed: i64,
    pub returned: i64,
    pub open: i64,
}

#[derive(Template)]
#[template(path = "console/sent.html")]
struct SentPage {
    nav: Nav,
    flash: Option<&'static str>,
    rows: Vec<SentRow>,
}

/// 已發公文: the caller's documents, newest first, with counts per state.
pub async fn sent(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<FlashQuery>,
) -> ApiResult<Response> {
    let rows = lifecycle::sent(&app, &caller, 200)
        .await?
        .into_iter()
        .map(|s| SentRow {
            accepted: local_time(s.accepted_at),
            open: s.recipients - s.confirmed - s.returned,
            id: s.id,
            number: s.document_number,
            subject: s.subject,
            recipients: s.recipients,
            confirmed: s.confirmed,
            returned: s.returned,
        })
        .collect();
    Ok(page(SentPage { nav: Nav::new(&app, &caller, "/console/sent"), flash: flash_text(q.msg.as_deref()), rows }))
}

pub struct RecipientRow {
    pub r: DeliveryView,
    pub state: &'static str,
    pub when: String,
    pub needs_paper: bool,
}

#[derive(Template)]
#[template(path = "console/sent_document.html")]
struct SentDocumentPage {
    nav: Nav,
    flash: Option<&'static str>,
    number: String,
    subject: String,
    speed: &'static str,
    accepted: String,
    sender_deadline: String,
    recipients: Vec<RecipientRow>,
}

/// One sent document: every recipient's state, paper resends.
pub async fn sent_document(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(q): Query<FlashQuery>,
) -> ApiResult<Response> {
    let s = lifecycle::status(&app, &caller, &id).await?;
    let sender_deadline = local_time_opt(s.recipients.first().and_then(|r| r.sender_deadline));
    let recipients = s
        .recipients
        .into_iter()
        .map(|r| RecipientRow {
            state: r.state.zh(),
            when: local_time_opt(r.confirmed_at.or(r.returned_at).or(r.fetched_at)),
            needs_paper: r.state != DeliveryState::Confirmed && r.paper_resend_at.is_none(),
            r,
        })
        .collect();
    Ok(page(SentDocumentPage {
        nav: Nav::new(&app, &caller, "/console/sent"),
        flash: flash_text(q.msg.as_deref()),
        number: s.document_number,
        subject: s.subject,
        speed: s.speed.as_str(),
        accepted: local_time(s.accepted_at),
        sender_deadline,
        recipients,
    }))
}

#[derive(Template)]
#[template(path = "console/send.html")]
struct SendPage {
    nav: Nav,
    flash: Option<&'static str>,
}

pub async fn send_form(State(app): State<AppState>, Extension(caller): Extension<Caller>) -> ApiResult<Response> {
    caller.require(Role::Sender)?;
    Ok(page(SendPage { nav: Nav::new(&app, &caller, "/console/send"), flash: None }))
}

/// Sends a package signed beforehand by `gwx sign` (the browser cannot sign
/// with the agency's card): the same checks as the API.
pub async fn send(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: http::HeaderMap,
    body: axum::body::Body,
) -> ApiResult<Response> {
    let parts = crate::http::documents::receive_package(&app, &headers, body).await?;
    let id = match submit::submit(&app, &caller, parts).await? {
        Submitted::Accepted(a) | Submitted::Replayed(a) => a.content.document_id,
    };
    Ok(done(&format!("/console/sent/{id}"), "sent"))
}

/// A row of a table page; its first cell links to `link` when given.
pub struct TableRow {
    pub link: Option<String>,
    pub cells: Vec<String>,
}

#[derive(Template)]
#[template(path = "console/table.html")]
pub struct TablePage {
    pub nav: Nav,
    pub flash: Option<&'static str>,
    pub title: String,
    pub subtitle: String,
    pub columns: Vec<&'static str>,
    pub rows: Vec<TableRow>,
    pub note: Option<String>,
    /// The same list as CSV.
    pub csv: Option<String>,
}

/// 應補發紙本 (`sender`) and 逾期未處理 (`receiver`), printable: the
/// API's printable list, each row linking to its document or delivery.
pub async fn deadlines(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(which): Path<String>,
    Query(q): Query<FlashQuery>,
) -> ApiResult<Response> {
    let listing = Listing::from_name(&which).ok_or_else(|| Problem::not_found(format!("no list {which}")))?;
    let (table, ids) = listing.printable(&app, &caller).await?;
    let rows = table
        .rows
        .into_iter()
        .zip(ids)
        .map(|(cells, (delivery, document))| TableRow {
            link: Some(match listing {
                Listing::PaperResend => format!("/console/sent/{document}"),
                Listing::Overdue => format!("/console/deliveries/{delivery}"),
            }),
            cells,
        })
        .collect();
    Ok(page(TablePage {
        nav: Nav::new(&app, &caller, &format!("/console/deadlines/{which}")),
        flash: flash_text(q.msg.as_deref()),
        title: table.title,
        subtitle: table.subtitle,
        columns: table.columns,
        rows,
        note: table.note,
        csv: Some(format!("/api/v1/deadlines/{which}?format=csv")),
    }))
}
