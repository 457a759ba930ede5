//! The life of a delivery (DESIGN §4): the recipient fetches, confirms or
//! returns; the sender watches every recipient and records paper resends.
//! Only the recipient sees a delivery, only the sender its document; to
//! anyone else they do not exist.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::domain::Role;
use crate::domain::delivery::{self, Action, DeliveryState};
use crate::domain::document::{Classification, PartName, RecipientKind, Sha256, Speed};
use crate::domain::log::{LogAction, NewLogEntry};
use crate::formats::document::OfficialDocument;
use crate::formats::envelope::FileRole;
use crate::formats::reading::Reading;
use crate::service::app::App;
use crate::service::caller::Caller;
use crate::service::error::ServiceError;
use crate::store::{DeliveryChange, DeliveryRecord, DocumentRecord, Part, SentSummary};

/// A delivery as its recipient or the sender sees it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct DeliveryView {
    pub id: String,
    pub document_id: String,
    pub sender: String,
    /// The sender's name as registered.
    pub sender_name: Option<String>,
    pub recipient: String,
    pub recipient_name: Option<String>,
    pub recipient_unit: Option<String>,
    pub document_number: String,
    pub subject: String,
    /// 速別
    pub speed: Speed,
    pub immediate_confirmation: bool,
    /// 正本 or 副本.
    pub kind: RecipientKind,
    pub via_group: Option<String>,
    pub state: DeliveryState,
    pub delivered_at: DateTime<Utc>,
    pub fetched_at: Option<DateTime<Utc>>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub returned_at: Option<DateTime<Utc>>,
    pub return_reason: Option<String>,
    pub paper_resend_at: Option<DateTime<Utc>>,
    pub paper_resend_note: Option<String>,
    /// The sender must have checked the result by then (14:00, next working day).
    pub sender_deadline: Option<DateTime<Utc>>,
    /// The recipient must have confirmed or returned it by then (10:00, next working day).
    pub receiver_deadline: Option<DateTime<Utc>>,
    /// For documents asking for immediate confirmation (§10).
    pub immediate_deadline: Option<DateTime<Utc>>,
}

impl From<DeliveryRecord> for DeliveryView {
    fn from(d: DeliveryRecord) -> Self {
        DeliveryView {
            id: d.id,
            document_id: d.document_id,
            sender: d.sender_code,
            sender_name: d.sender_name,
            recipient: d.recipient_code,
            recipient_name: d.recipient_name,
            recipient_unit: d.recipient_unit,
            document_number: d.document_number,
            subject: d.subject,
            speed: d.speed,
            immediate_confirmation: d.immediate_confirmation,
            kind: d.kind,
            via_group: d.via_group,
            state: d.state,
            delivered_at: d.delivered_at,
            fetched_at: d.fetched_at,
            confirmed_at: d.confirmed_at,
            returned_at: d.returned_at,
            return_reason: d.return_reason,
            paper_resend_at: d.paper_resend_at,
            paper_resend_note: d.paper_resend_note,
            sender_deadline: d.sender_deadline,
            receiver_deadline: d.receiver_deadline,
            immediate_deadline: d.immediate_deadline,
        }
    }
}

/// A sent document with every recipient's state (`GET /documents/{id}`).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct DocumentStatus {
    pub id: String,
    pub sender: String,
    pub document_number: String,
    pub subject: String,
    pub speed: Speed,
    pub classification: Classification,
    pub immediate_confirmation: bool,
    /// 函 or 書函.
    pub kind: String,
    /// 發文日期 (Gregorian).
    pub document_date: String,
    pub envelope_sha256: Sha256,
    pub accepted_at: DateTime<Utc>,
    pub parts: Vec<Part>,
    pub recipients: Vec<DeliveryView>,
}

/// The caller's own delivery, or `NotFound` (also for someone else's).
pub async fn own_delivery(app: &App, caller: &Caller, id: &str) -> Result<DeliveryRecord, ServiceError> {
    match app.store.delivery(id).await? {
        Some(d) if d.recipient_code == caller.participant.code.as_str() => Ok(d),
        _ => Err(ServiceError::NotFound(format!("no delivery {id} in the inbox of {}", caller.participant.code))),
    }
}

fn entry(caller: &Caller, action: LogAction, d: &DeliveryRecord, detail: String) -> NewLogEntry {
    caller.log_entry(action, detail).document(d.document_id.clone()).counterpart(
        if d.recipient_code == caller.participant.code.as_str() {
            d.sender_code.clone()
        } else {
            d.recipient_code.clone()
        },
    )
}

/// Records that the caller received its delivery's package whole (the
/// API produced every byte of it, or the console showed it). Logged.
pub async fn fetched(app: &App, caller: &Caller, d: &DeliveryRecord) -> Result<(), ServiceError> {
    let log = entry(
        caller,
        LogAction::DeliveryFetched,
        d,
        format!("{} fetched by {}", d.document_number, caller.credential.holder),
    );
    let by = caller.credential.fingerprint.as_str();
    let changed = app.store.change_delivery(&d.id, d.state, DeliveryChange::Fetched { by }, app.now(), &log).await?;
    if !changed {
        // The state moved meanwhile, or it was already past `delivered`: the fetch is still logged.
        app.log(&log).await;
    }
    Ok(())
}

/// 確認 (or 退文 with `reason`).
pub async fn decide(
    app: &App,
    caller: &Caller,
    id: &str,
    action: Action,
    reason: Option<&str>,
) -> Result<DeliveryRecord, ServiceError> {
    caller.require(Role::Receiver)?;
    let reason = match action {
        Action::Return => {
            Some(delivery::check_reason(reason.unwrap_or("")).map_err(|e| ServiceError::InvalidField(e.to_string()))?)
        }
        _ => None,
    };
    for _ in 0..3 {
        let d = own_delivery(app, caller, id).await?;
        let from = d.state;
        let to = delivery::transition(from, action).map_err(|e| ServiceError::WrongState(e.to_string()))?;
        if from == to {
            return Ok(d); // confirming twice: the first confirmation stands
        }
        let by = caller.credential.fingerprint.as_str();
        let (change, log) = match (&reason, action) {
            (Some(r), Action::Return) => (
                DeliveryChange::Returned { by, reason: r },
                entry(caller, LogAction::DeliveryReturned, &d, format!("{} returned: {r}", d.document_number)),
            ),
            _ => (
                DeliveryChange::Confirmed {
                    by,
                    minutes: app.calendar().await?.working_time_between(d.delivered_at, app.now()).num_minutes(),
                },
                entry(
                    caller,
                    LogAction::DeliveryConfirmed,
                    &d,
                    format!("{} confirmed by {}", d.document_number, caller.credential.holder),
                ),
            ),
        };
        let now = crate::store::stored_time(app.now());
        if app.store.change_delivery(id, from, change, now, &log).await? {
            // What the update wrote, without reading it back.
            let mut d = d;
            d.state = to;
            let who = Some(caller.credential.fingerprint.clone());
            match action {
                Action::Confirm => (d.confirmed_at, d.confirmed_by) = (Some(now), who),
                _ => (d.returned_at, d.returned_by, d.return_reason) = (Some(now), who, reason.clone()),
            }
            return Ok(d);
        }
    }
    Err(ServiceError::WrongState("the delivery changed while you acted on it; look at it again".into()))
}

/// The sender's document, or `NotFound` (also for someone else's).
pub async fn own_document(app: &App, caller: &Caller, id: &str) -> Result<DocumentRecord, ServiceError> {
    match app.store.document(id).await? {
        Some(d) if d.sender_code == caller.participant.code.as_str() => Ok(d),
        _ => Err(ServiceError::NotFound(format!("{} sent no document {id}", caller.participant.code))),
    }
}

pub async fn status(app: &App, caller: &Caller, id: &str) -> Result<DocumentStatus, ServiceError> {
    caller.require(Role::Sender)?;
    let d = own_document(app, caller, id).await?;
    let parts = app.store.document_parts(id).await?;
    let recipients = app.store.document_deliveries(id).await?.into_iter().map(DeliveryView::from).collect();
    Ok(DocumentStatus {
        id: d.id,
        sender: d.sender_code,
        document_number: d.document_number,
        subject: d.subject,
        speed: d.speed,
        classification: d.classification,
        immediate_confirmation: d.immediate_confirmation,
        kind: d.kind,
        document_date: d.document_date,
        envelope_sha256: d.envelope_sha256,
        accepted_at: d.accepted_at,
        parts,
        recipients,
    })
}

/// 補發紙本 (§12-2): the sender records that a recipient that did not
/// confirm, or returned the document, got it on paper.
pub async fn paper_resend(
    app: &App,
    caller: &Caller,
    id: &str,
    note: Option<&str>,
) -> Result<DeliveryRecord, ServiceError> {
    caller.require(Role::Sender)?;
    let d = match app.store.delivery(id).await? {
        Some(d) if d.sender_code == caller.participant.code.as_str() => d,
        _ => return Err(ServiceError::NotFound(format!("{} sent no delivery {id}", caller.participant.code))),
    };
    let state = d.state;
    if !delivery::paper_resend_allowed(state) {
        return Err(ServiceError::WrongState(format!(
            "{} confirmed the document; no paper resend is needed",
            d.recipient_code
        )));
    }
    if let Some(at) = d.paper_resend_at {
        return Err(ServiceError::WrongState(format!("a paper resend was already recorded at {at}")));
    }
    let note = note.map(str::trim).filter(|n| !n.is_empty());
    if note.is_some_and(|n| n.chars().count() > 1000) {
        return Err(ServiceError::InvalidField("the note is longer than 1000 characters".into()));
    }
    let log = entry(
        caller,
        LogAction::PaperResend,
        &d,
        format!("{} resent on paper to {} ({state})", d.document_number, d.recipient_code),
    );
    let by = caller.credential.fingerprint.as_str();
    if !app.store.change_delivery(id, state, DeliveryChange::PaperResend { by, note }, app.now(), &log).await? {
        return Err(ServiceError::WrongState("the delivery changed meanwhile; look at it again".into()));
    }
    Ok(app.store.delivery(id).await?.expect("just updated"))
}

/// Whether the delivery is in a state the sender must still act on.
pub fn needs_paper(d: &DeliveryRecord) -> bool {
    d.state != DeliveryState::Confirmed && d.paper_resend_at.is_none()
}

/// The longest a long-poll of the inbox waits.
pub const MAX_WAIT: Duration = Duration::from_secs(60);

/// One page of the caller's inbox in arrival order, optionally in one
/// state, after the delivery id `after`. When it is empty, waits up to
/// `wait` (at most [`MAX_WAIT`]) for a delivery: woken by one accepted on
/// this node, and looking again each second for those of other nodes.
pub async fn inbox(
    app: &App,
    caller: &Caller,
    state: Option<DeliveryState>,
    after: Option<&str>,
    limit: i64,
    wait: Duration,
) -> Result<Vec<DeliveryRecord>, ServiceError> {
    caller.require(Role::Receiver)?;
    let me = caller.participant.code.to_string();
    let state = state.map(|s| s.as_str());
    let mut events = app.inbox_events.subscribe();
    let deadline = tokio::time::Instant::now() + wait.min(MAX_WAIT);
    loop {
        let items = app.store.inbox(&me, state, after, limit).await?;
        if !items.is_empty() || tokio::time::Instant::now() >= deadline {
            return Ok(items);
        }
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

/// The caller's delivery, as its recipient sees it.
pub async fn delivery(app: &App, caller: &Caller, id: &str) -> Result<DeliveryRecord, ServiceError> {
    caller.require(Role::Receiver)?;
    own_delivery(app, caller, id).await
}

/// The receipt the hub signed for the caller's document (CMS, DER).
pub async fn receipt(app: &App, caller: &Caller, id: &str) -> Result<Vec<u8>, ServiceError> {
    caller.require(Role::Sender)?;
    Ok(own_document(app, caller, id).await?.receipt)
}

/// Where the bytes of a stored part are.
pub enum PartBytes {
    /// Kept inline, and checked against the part's SHA-256.
    Inline(Vec<u8>),
    /// A file or object of the right size; its bytes are checked as they
    /// are read.
    Stored(crate::store::blobs::BlobReader),
}

/// A delivery's package, ready to be sent: nothing is recorded yet.
pub struct Package {
    pub delivery: DeliveryRecord,
    pub parts: Vec<(Part, PartBytes)>,
}

/// The package of the caller's delivery: every part opened and checked as
/// far as can be before sending (a part known or found damaged refuses the
/// whole package). The caller records the fetch with [`fetched`] once it
/// has produced every byte, each file's checked against its SHA-256 on the
/// way (a mismatch is reported with [`damaged`]).
pub async fn package(app: &App, caller: &Caller, id: &str) -> Result<Package, ServiceError> {
    caller.require(Role::Receiver)?;
    let d = own_delivery(app, caller, id).await?;
    let mut parts = Vec::new();
    for mut p in app.store.document_parts(&d.document_id).await? {
        let bytes = open_part(app, &d.document_id, &mut p).await?;
        parts.push((p, bytes));
    }
    Ok(Package { delivery: d, parts })
}

async fn open_part(app: &App, document: &str, p: &mut Part) -> Result<PartBytes, ServiceError> {
    if p.damaged && !heal(app, p).await? {
        return Err(damaged_refusal(document, p));
    }
    if let Some(bytes) = p.inline.take() {
        if Sha256::of(&bytes) != p.sha256 {
            return Err(damaged(app, document, p, "its bytes in the database do not match its SHA-256").await);
        }
        return Ok(PartBytes::Inline(bytes));
    }
    let noun = app.blobs.noun();
    let (reader, len) = match app.blobs.open_blob(p.sha256.as_str()).await {
        Ok(r) => r,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(damaged(app, document, p, &format!("its {noun} is missing")).await);
        }
        Err(e) => return Err(e.into()),
    };
    if len != p.size as u64 {
        return Err(damaged(app, document, p, &format!("its {noun} is {len} bytes, not {}", p.size)).await);
    }
    Ok(PartBytes::Stored(reader))
}

/// A part marked damaged whose file is whole again (restored from a
/// backup, or stored anew by a later document) loses its mark.
async fn heal(app: &App, p: &Part) -> Result<bool, ServiceError> {
    let whole = app
        .blobs
        .digest(p.sha256.as_str(), None)
        .await
        .is_ok_and(|(_, digest)| hex::encode(digest) == p.sha256.as_str());
    if whole {
        app.store.clear_blob_damage(&p.sha256).await?;
        tracing::warn!(sha256 = %p.sha256, "a damaged blob is whole again");
    }
    Ok(whole)
}

fn damaged_refusal(document: &str, p: &Part) -> ServiceError {
    ServiceError::Damaged(format!(
        "{} of document {document} is damaged on the hub (SHA-256 {}) and is not served; \
         the IT bureau restores it from a backup",
        p.name, p.sha256
    ))
}

/// `p`'s bytes were found not to be what was accepted (`what`): the blob is
/// marked damaged (never served again until whole) and the finding logged.
/// Returns the refusal to give.
pub async fn damaged(app: &App, document: &str, p: &Part, what: &str) -> ServiceError {
    tracing::error!(sha256 = %p.sha256, part = %p.name, %document, what, "damaged blob");
    metrics::counter!("gwx_damaged_blobs_total").increment(1);
    match app.store.mark_blob_damaged(&p.sha256, app.now()).await {
        Ok(true) => {
            let entry = NewLogEntry::new(
                LogAction::ServerError,
                format!("blob {} ({} of document {document}) is damaged: {what}", p.sha256, p.name),
            )
            .document(document.to_owned())
            .problem("urn:gwx:error:damaged-file");
            app.log(&entry).await;
        }
        Ok(false) => {}
        Err(e) => tracing::error!(%e, "cannot mark a damaged blob"),
    }
    damaged_refusal(document, p)
}

/// The stored bytes of a part of `document`, checked against its SHA-256.
pub async fn part_bytes(app: &App, document: &str, p: &Part) -> Result<Vec<u8>, ServiceError> {
    let mut p = p.clone();
    match open_part(app, document, &mut p).await? {
        PartBytes::Inline(b) => Ok(b),
        PartBytes::Stored(mut f) => {
            let mut bytes = Vec::with_capacity(p.size as usize);
            tokio::io::AsyncReadExt::read_to_end(&mut f, &mut bytes).await?;
            if Sha256::of(&bytes) != p.sha256 {
                let what = format!("its {}'s bytes do not match its SHA-256", app.blobs.noun());
                return Err(damaged(app, document, &p, &what).await);
            }
            Ok(bytes)
        }
    }
}

/// The caller's delivery for the console, which says plainly when a
/// delivery is someone else's (`forbidden`, an access decision for the
/// security view) rather than pretending it does not exist.
pub async fn addressed(app: &App, caller: &Caller, id: &str) -> Result<DeliveryRecord, ServiceError> {
    caller.require(Role::Receiver)?;
    match app.store.delivery(id).await? {
        Some(d) if d.recipient_code == caller.participant.code.as_str() => Ok(d),
        Some(_) => {
            Err(ServiceError::Forbidden(format!("delivery {id} is not addressed to {}", caller.participant.code)))
        }
        None => Err(ServiceError::NotFound(format!("no delivery {id}"))),
    }
}

/// Opens a delivery in the console: reading it counts (and is logged) as
/// a fetch, once every part was found whole. Returns the delivery as it is
/// now and its parts.
pub async fn open(app: &App, caller: &Caller, id: &str) -> Result<(DeliveryRecord, Vec<Part>), ServiceError> {
    addressed(app, caller, id).await?;
    let Package { delivery, parts } = package(app, caller, id).await?;
    fetched(app, caller, &delivery).await?;
    let d = app.store.delivery(id).await?.ok_or_else(|| ServiceError::NotFound(format!("no delivery {id}")))?;
    let parts = parts
        .into_iter()
        .map(|(mut p, bytes)| {
            if let PartBytes::Inline(b) = bytes {
                p.inline = Some(b);
            }
            p
        })
        .collect();
    Ok((d, parts))
}

/// A document file (the DI or an attachment, by its position in the
/// package) of the caller's delivery, with its bytes.
pub async fn file(app: &App, caller: &Caller, id: &str, seq: usize) -> Result<(Part, Vec<u8>), ServiceError> {
    let d = addressed(app, caller, id).await?;
    let parts = app.store.document_parts(&d.document_id).await?;
    let p = parts
        .into_iter()
        .nth(seq)
        .filter(Part::is_file)
        .ok_or_else(|| ServiceError::NotFound(format!("no file {seq} in delivery {id}")))?;
    let bytes = part_bytes(app, &d.document_id, &p).await?;
    Ok((p, bytes))
}

/// The package's 公文 as it reads on paper, with the names of its
/// attachments (not the SW or the DM); `None` when the stored DI cannot be
/// read as one (the page then offers the file itself).
pub async fn reading(app: &App, document: &str, parts: &[Part]) -> Option<Reading> {
    let di = parts.iter().find(|p| p.part == PartName::Document)?;
    let bytes = part_bytes(app, document, di).await.ok()?;
    let doc = OfficialDocument::parse(&bytes).ok()?;
    let attachments: Vec<String> =
        parts.iter().filter(|p| p.role == Some(FileRole::Attachment)).map(|p| p.name.clone()).collect();
    Some(Reading::of(&doc, &attachments))
}

/// What checking a stored envelope signature again found.
pub enum Signature {
    /// Valid today, by this signer (subject).
    Valid(String),
    /// It does not verify (against today's trust store): why.
    Invalid(String),
    /// The package lacks its envelope or signature.
    Incomplete,
    /// The stored bytes could not be read.
    Unreadable,
}

/// The envelope signature checked again against today's trust store.
pub async fn verify_signature(app: &App, document: &str, parts: &[Part]) -> Signature {
    let find = |name: PartName| parts.iter().find(|p| p.part == name);
    let (Some(env), Some(sig)) = (find(PartName::Envelope), find(PartName::Signature)) else {
        return Signature::Incomplete;
    };
    let (Ok(env), Ok(sig)) = (part_bytes(app, document, env).await, part_bytes(app, document, sig).await) else {
        return Signature::Unreadable;
    };
    match crate::pki::cms::verify_detached(&sig, &env, &app.tls.trust()) {
        Ok(signer) => Signature::Valid(crate::pki::name_to_string(signer.subject_name())),
        Err(e) => Signature::Invalid(e.to_string()),
    }
}

/// The console's inbox: open deliveries first (those asking for immediate
/// confirmation on top, then by deadline), then the last 50 handled.
pub async fn inbox_overview(app: &App, caller: &Caller) -> Result<Vec<DeliveryRecord>, ServiceError> {
    caller.require(Role::Receiver)?;
    let code = caller.participant.code.as_str();
    let mut open = Vec::new();
    for state in [DeliveryState::Delivered, DeliveryState::Fetched] {
        open.extend(app.store.inbox(code, Some(state.as_str()), None, 500).await?);
    }
    open.sort_by_key(|d| (!d.immediate_confirmation, d.immediate_deadline.or(d.receiver_deadline), d.id.clone()));
    let mut handled = Vec::new();
    for state in [DeliveryState::Confirmed, DeliveryState::Returned] {
        handled.extend(app.store.inbox(code, Some(state.as_str()), None, 1000).await?);
    }
    handled.sort_by(|a, b| b.id.cmp(&a.id));
    open.extend(handled.into_iter().take(50));
    Ok(open)
}

/// The caller's sent documents, newest first, with counts per state.
pub async fn sent(app: &App, caller: &Caller, limit: i64) -> Result<Vec<SentSummary>, ServiceError> {
    caller.require(Role::Sender)?;
    Ok(app.store.sent_documents(caller.participant.code.as_str(), limit).await?)
}
