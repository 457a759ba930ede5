//! Accepting a package: every check of DESIGN §3.4, in that order, each
//! refusal with its own type and nothing stored; then blobs (fsync), then
//! document + deliveries + log entries in one transaction, then the receipt.

use std::collections::{HashMap, HashSet};

use super::intake::{PartName, ReceivedPart};
use super::receipt::{ReceiptContent, ReceiptRecipient};
use crate::domain::document::{FileName, Sha256};
use crate::domain::log::{LogAction, NewLogEntry};
use crate::domain::routing::{self, Resolved};
use crate::domain::{ParticipantStatus, Role};
use crate::formats::attachment;
use crate::formats::document::{OfficialDocument, reading_text};
use crate::formats::envelope::{Envelope, FileRole, RecipientTarget};
use crate::formats::xml::{self, Limits};
use crate::formats::{FormatError, roster};
use crate::pki::{cms, fingerprint};
use crate::service::app::App;
use crate::service::caller::Caller;
use crate::service::error::ServiceError;
use crate::store::blobs::{INLINE_MAX, Known};
use crate::store::{DocumentRecord, NewDelivery, NewDocument, Part, StoreError};

/// The outcome of a submission.
#[derive(Debug, Clone)]
pub enum Submitted {
    /// Accepted now.
    Accepted(Accepted),
    /// The same envelope was accepted before: its original result.
    Replayed(Accepted),
}

/// What the sender gets back.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Accepted {
    #[serde(flatten)]
    pub content: ReceiptContent,
    /// The signed receipt: CMS SignedData (DER), base64.
    pub receipt: String,
}

impl Accepted {
    pub fn from_receipt(der: &[u8]) -> Result<Self, ServiceError> {
        // The hub reads back a receipt it signed itself: its signature is
        // checked, the chain need not be.
        let mut cms = openssl::cms::CmsContentInfo::from_der(der).map_err(|e| ServiceError::Internal(e.to_string()))?;
        let mut content = Vec::new();
        cms.verify(
            None,
            None,
            None,
            Some(&mut content),
            openssl::cms::CMSOptions::NO_SIGNER_CERT_VERIFY | openssl::cms::CMSOptions::BINARY,
        )
        .map_err(|e| ServiceError::Internal(format!("stored receipt: {e}")))?;
        let content = serde_json::from_slice(&content).map_err(|e| ServiceError::Internal(e.to_string()))?;
        use base64::Engine;
        Ok(Accepted { content, receipt: base64::engine::general_purpose::STANDARD.encode(der) })
    }
}

fn format_refusal(e: FormatError, invalid: fn(String) -> ServiceError) -> ServiceError {
    match e {
        FormatError::Unsafe(m) => ServiceError::UnsafeXml(m),
        FormatError::UnsafeName(m) => ServiceError::UnsafeFileName(m),
        FormatError::Invalid(m) => invalid(m),
    }
}

/// Runs the checks and, when all pass, stores and routes the document.
pub async fn submit(app: &App, caller: &Caller, mut parts: Vec<ReceivedPart>) -> Result<Submitted, ServiceError> {
    // 1. The sender may send.
    let me = &caller.participant;
    if !caller.has(Role::Sender) {
        return Err(ServiceError::CannotSend(format!(
            "this credential has no 'sender' role ({})",
            caller.credential.roles.to_storage()
        )));
    }
    if !me.capabilities.send || me.status != ParticipantStatus::Active {
        return Err(ServiceError::CannotSend(format!("{} is not registered to send documents (發文功能)", me.code)));
    }

    // 2. The envelope, its schema, and who it says is sending.
    let single = |name: PartName| -> Result<usize, ServiceError> {
        let idx: Vec<usize> = parts.iter().enumerate().filter(|(_, p)| p.name == name).map(|(i, _)| i).collect();
        match idx.as_slice() {
            [i] => Ok(*i),
            [] => Err(ServiceError::InvalidPackage(format!("the package has no '{}' part", name.as_str()))),
            _ => Err(ServiceError::InvalidPackage(format!("the package has more than one '{}' part", name.as_str()))),
        }
    };
    let (env_i, sig_i, doc_i) =
        (single(PartName::Envelope)?, single(PartName::Signature)?, single(PartName::Document)?);
    let memory = &app.intake_memory;
    let envelope_bytes = parts[env_i].data.load(memory).await?.to_vec();
    let envelope = Envelope::parse(&envelope_bytes).map_err(|e| format_refusal(e, ServiceError::InvalidEnvelope))?;
    if envelope.sender != me.code {
        return Err(ServiceError::SenderMismatch(format!(
            "the envelope names sender {} but this certificate belongs to {}",
            envelope.sender, me.code
        )));
    }
    let envelope_sha256 = parts[env_i].data.sha256.clone();

    // 3. The signature: valid, by a certificate registered to the sender.
    let signature = parts[sig_i].data.load(memory).await?.to_vec();
    let signer = cms::verify_detached(&signature, &envelope_bytes, &app.tls.trust()).map_err(|e| match e {
        cms::SignatureError::Weak(why) => ServiceError::WeakSignature(format!("the envelope's signature: {why}")),
        other => ServiceError::BadSignature(format!("{other}")),
    })?;
    let signer_fp = fingerprint(&signer);
    // Usually the card that signs is the one that connected: no lookup then.
    let credential = if signer_fp == caller.credential.fingerprint {
        Some(caller.credential.clone())
    } else {
        app.store.credential_by_fingerprint(&signer_fp).await?
    };
    match &credential {
        Some(c) if c.participant == me.code && !c.is_disabled() => {}
        Some(c) if c.participant == me.code => {
            return Err(ServiceError::SignerNotSender(format!(
                "the signing certificate (credential {}) is disabled",
                c.id
            )));
        }
        Some(c) => {
            return Err(ServiceError::SignerNotSender(format!(
                "the envelope is signed by a certificate of {}, not of the sender {}",
                c.participant, me.code
            )));
        }
        None => {
            return Err(ServiceError::SignerNotSender(format!(
                "the signing certificate (SHA-256 {signer_fp}) is not registered to {}",
                me.code
            )));
        }
    }

    // 4. Every file present, as listed: names, sizes, hashes.
    let mut seen: HashSet<String> = HashSet::new();
    for p in parts.iter().filter(|p| p.name == PartName::Attachment) {
        let Some(raw) = &p.filename else {
            return Err(ServiceError::InvalidPackage("an attachment part has no file name".into()));
        };
        let name = FileName::parse(raw).map_err(|e| ServiceError::UnsafeFileName(e.to_string()))?;
        let Some(listed) = envelope.file(name.as_str()).filter(|f| f.role != FileRole::Document) else {
            return Err(ServiceError::UnlistedFile(format!("attachment {name} is not listed in the envelope")));
        };
        if !seen.insert(listed.name.to_string()) {
            return Err(ServiceError::InvalidPackage(format!("attachment {name} is sent twice")));
        }
    }
    if let Some(raw) = &parts[doc_i].filename
        && !raw.is_empty()
    {
        FileName::parse(raw).map_err(|e| ServiceError::UnsafeFileName(e.to_string()))?;
    }
    for f in envelope.files.iter().filter(|f| f.role != FileRole::Document) {
        if !seen.contains(f.name.as_str()) {
            return Err(ServiceError::MissingFile(format!(
                "{} is listed in the envelope but not in the package",
                f.name
            )));
        }
    }
    for p in parts.iter().filter(|p| matches!(p.name, PartName::Document | PartName::Attachment)) {
        let listed = match p.name {
            PartName::Document => envelope.document(),
            _ => envelope.file(p.filename.as_deref().unwrap_or("")).expect("checked above"),
        };
        if p.data.size != listed.size {
            return Err(ServiceError::FileMismatch(format!(
                "{} is {} bytes; the envelope says {}",
                listed.name, p.data.size, listed.size
            )));
        }
        if p.data.sha256 != listed.sha256 {
            return Err(ServiceError::FileMismatch(format!(
                "{} has SHA-256 {}; the envelope says {}",
                listed.name, p.data.sha256, listed.sha256
            )));
        }
    }

    // 5. The document: valid 公文, and consistent with the envelope.
    let doc_bytes = parts[doc_i].data.load(memory).await?.to_vec();
    let doc = OfficialDocument::parse(&doc_bytes).map_err(|e| format_refusal(e, ServiceError::InvalidDocument))?;
    check_consistency(&envelope, &doc)?;

    // 6. Classification (§6).
    if envelope.classification.is_confidential() || doc.classification.is_confidential() {
        let level = if doc.classification.is_confidential() { doc.classification } else { envelope.classification };
        return Err(ServiceError::Confidential(format!(
            "密等 {level}: confidential documents are not exchanged electronically (§6)"
        )));
    }

    // 7. Attachment formats, by content; the SW is a 交換表單.
    let mut sw = None;
    for p in parts.iter_mut().filter(|p| p.name == PartName::Attachment) {
        let name = FileName::parse(p.filename.as_deref().unwrap_or("")).expect("checked above");
        let listed = envelope.file(name.as_str()).expect("checked above");
        // The SW and the DM (文書訊息表單) are XML of their own, read as safely as the DI.
        let what = match listed.role {
            FileRole::Roster => "SW",
            FileRole::Message => "DM",
            _ => {
                let sniffed = attachment::sniff(&p.data.head, p.data.is_text);
                attachment::check(name.as_str(), name.extension().as_deref(), &sniffed)
                    .map_err(ServiceError::AttachmentFormat)?;
                continue;
            }
        };
        if p.data.size > roster::MAX_ROSTER_BYTES as u64 {
            return Err(ServiceError::InvalidDocument(format!(
                "the {what} {name} is larger than {} bytes",
                roster::MAX_ROSTER_BYTES
            )));
        }
        let bytes = p.data.load(memory).await?;
        if listed.role == FileRole::Roster {
            sw = Some(roster::parse(bytes).map_err(|e| format_refusal(e, ServiceError::InvalidDocument))?);
        } else if let Err(e) = xml::parse(bytes, Limits { max_bytes: roster::MAX_ROSTER_BYTES, ..Limits::default() }) {
            return Err(match FormatError::from_xml(e) {
                FormatError::Unsafe(m) => ServiceError::UnsafeXml(format!("the DM {name}: {m}")),
                other => ServiceError::InvalidDocument(format!("the DM (文書訊息表單) {name}: {other}")),
            });
        }
    }

    // 8. Recipients: exist, active, able to receive.
    let resolved = resolve(app, caller, &envelope).await?;
    if let Some(sw) = sw {
        let routed: HashSet<&str> = resolved.iter().map(|r| r.participant.as_str()).collect();
        let extra: Vec<String> =
            sw.iter().map(|e| e.code.participant.to_string()).filter(|c| !routed.contains(c.as_str())).collect();
        if !extra.is_empty() {
            return Err(ServiceError::RosterMismatch(format!(
                "the SW names {} which the envelope does not route to",
                extra.join(", ")
            )));
        }
    }

    // Idempotent resubmission: the same number and envelope give the first
    // result, but only for a package that passed every check above (the
    // envelope's hashes then vouch for every file being what was stored).
    if let Some(prev) = app.store.document_by_number(me.code.as_str(), &envelope.document_number).await? {
        if prev.envelope_sha256 == envelope_sha256 {
            return Ok(Submitted::Replayed(Accepted::from_receipt(&prev.receipt)?));
        }
        return Err(ServiceError::DuplicateNumber(format!(
            "{} already sent document {} (id {}) with a different envelope",
            me.code, envelope.document_number, prev.id
        )));
    }

    // 9. Store: blobs durable first, then one transaction, then the receipt.
    accept(app, caller, &envelope, &doc, envelope_sha256, signer_fp, &mut parts, resolved).await
}

/// The DI must say what the envelope says (DESIGN §3.2).
fn check_consistency(envelope: &Envelope, doc: &OfficialDocument) -> Result<(), ServiceError> {
    let mismatch = |what: &str, env: &str, di: &str| {
        Err(ServiceError::DocumentMismatch(format!("{what}: the envelope says '{env}', the document says '{di}'")))
    };
    let number = doc.number.to_string();
    if number != envelope.document_number {
        return mismatch("發文字號", &envelope.document_number, &number);
    }
    // Compared as read: a pretty-printed DI may wrap its 主旨 over lines.
    if doc.subject != reading_text(&envelope.subject) {
        return mismatch(doc.kind.subject_label(), &envelope.subject, &doc.subject);
    }
    if doc.speed != envelope.speed {
        return mismatch("速別", envelope.speed.as_str(), doc.speed.as_str());
    }
    if !doc.issuer_code.is_empty() && doc.issuer_code != envelope.sender.as_str() {
        return mismatch("發文機關/機關代碼", envelope.sender.as_str(), &doc.issuer_code);
    }
    let listed = |role: FileRole| -> HashSet<&str> {
        envelope.files.iter().filter(|f| f.role == role).map(|f| f.name.as_str()).collect()
    };
    for (role, what, in_di) in [
        (FileRole::Roster, "the SW (交換表單)", doc.roster_file()),
        (FileRole::Message, "the DM (文書訊息表單)", doc.message_file()),
    ] {
        let listed: HashSet<&str> = listed(role);
        let named: HashSet<&str> = in_di.into_iter().collect();
        if listed != named {
            return Err(ServiceError::DocumentMismatch(format!(
                "{what}: the document names [{}], the envelope lists [{}] as role=\"{role}\"",
                named.into_iter().collect::<Vec<_>>().join(", "),
                listed.into_iter().collect::<Vec<_>>().join(", ")
            )));
        }
    }
    let declared: HashSet<&str> = doc.attachment_files().collect();
    let attachments = listed(FileRole::Attachment);
    if declared != attachments {
        let mut only_di: Vec<_> = declared.difference(&attachments).copied().collect();
        let mut only_env: Vec<_> = attachments.difference(&declared).copied().collect();
        only_di.sort_unstable();
        only_env.sort_unstable();
        return Err(ServiceError::DocumentMismatch(format!(
            "attachments differ: declared by the document only: [{}]; listed in the envelope only: [{}]",
            only_di.join(", "),
            only_env.join(", ")
        )));
    }
    Ok(())
}

/// Expands the envelope's recipients (groups as they are now: the
/// expansion is recorded with the deliveries) and checks each can receive.
async fn resolve(app: &App, caller: &Caller, envelope: &Envelope) -> Result<Vec<Resolved>, ServiceError> {
    let mut out = Vec::new();
    let mut index = HashMap::new();
    for r in &envelope.recipients {
        match &r.target {
            RecipientTarget::Participant(code) => routing::add(&mut out, &mut index, code, r.kind, None),
            RecipientTarget::Group(id) => {
                for code in crate::service::groups::recipients(app, caller, id).await? {
                    routing::add(&mut out, &mut index, &code, r.kind, Some(id));
                }
            }
        }
    }
    let codes: Vec<&str> = out.iter().map(|r| r.participant.as_str()).collect();
    let known = app.store.reachability(&codes).await?;
    let unknown: Vec<String> = codes.iter().filter(|c| !known.contains_key(**c)).map(|c| c.to_string()).collect();
    if !unknown.is_empty() {
        return Err(ServiceError::UnknownRecipient {
            detail: format!("not participants of the exchange: {}", unknown.join(", ")),
            codes: unknown,
        });
    }
    let unreachable: Vec<String> = codes
        .iter()
        .filter(|c| {
            known.get(**c).is_some_and(|(status, can_receive, _)| *status != ParticipantStatus::Active || !can_receive)
        })
        .map(|c| c.to_string())
        .collect();
    if !unreachable.is_empty() {
        let why: Vec<String> = unreachable
            .iter()
            .map(|c| {
                let (status, can_receive, name) = &known[c.as_str()];
                let reason = if *status != ParticipantStatus::Active {
                    status.as_str()
                } else if !can_receive {
                    "cannot receive"
                } else {
                    ""
                };
                format!("{c} {name} ({reason})")
            })
            .collect();
        return Err(ServiceError::RecipientUnreachable {
            detail: format!(
                "these recipients cannot receive now; send without them (and on paper): {}",
                why.join("; ")
            ),
            codes: unreachable,
        });
    }
    Ok(out)
}

/// Stores a document that passed every check. If that fails, the blob
/// files it created are taken back (those a stored blob refers to stay).
#[allow(clippy::too_many_arguments)]
async fn accept(
    app: &App,
    caller: &Caller,
    envelope: &Envelope,
    doc: &OfficialDocument,
    envelope_sha256: Sha256,
    signer_fp: String,
    parts: &mut [ReceivedPart],
    resolved: Vec<Resolved>,
) -> Result<Submitted, ServiceError> {
    let mut created = Vec::new();
    let stored = store(app, caller, envelope, doc, envelope_sha256, signer_fp, parts, resolved, &mut created).await;
    if stored.is_err() {
        app.blobs.take_back(&app.store, &created).await;
    }
    stored
}

/// [`accept`]'s work; `created` collects the blob files it put in place.
#[allow(clippy::too_many_arguments)]
async fn store(
    app: &App,
    caller: &Caller,
    envelope: &Envelope,
    doc: &OfficialDocument,
    envelope_sha256: Sha256,
    signer_fp: String,
    parts: &mut [ReceivedPart],
    resolved: Vec<Resolved>,
    created: &mut Vec<Sha256>,
) -> Result<Submitted, ServiceError> {
    let me = caller.participant.code.clone();
    let now = crate::store::stored_time(app.now());
    let id = uuid::Uuid::now_v7().to_string();
    let deadlines =
        crate::service::deadlines::of_delivery(app, &*app.calendar().await?, now, envelope.immediate_confirmation);

    let mut stored_parts = Vec::with_capacity(parts.len());
    let mut files = Vec::new();
    for p in parts.iter_mut() {
        let known = if p.data.size > INLINE_MAX { app.store.blob_stored(&p.data.sha256).await? } else { Known::No };
        if known == Known::Inline {
            p.data.load(&app.intake_memory).await?;
        }
        let inline = match app.blobs.keep(&mut p.data, known).await? {
            crate::store::blobs::Kept::Inline(bytes) => Some(bytes),
            crate::store::blobs::Kept::File { created: new } => {
                files.push(p.data.sha256.clone());
                if new {
                    created.push(p.data.sha256.clone());
                }
                None
            }
        };
        let (name, role, media_type) = match p.name {
            PartName::Envelope => ("envelope.xml".to_owned(), None, "application/xml".to_owned()),
            PartName::Signature => ("envelope.p7s".to_owned(), None, "application/pkcs7-signature".to_owned()),
            PartName::Document => {
                let f = envelope.document();
                (f.name.to_string(), Some(FileRole::Document), f.media_type.clone())
            }
            PartName::Attachment => {
                let f = envelope.file(p.filename.as_deref().unwrap_or("")).expect("checked");
                (f.name.to_string(), Some(f.role), f.media_type.clone())
            }
        };
        stored_parts.push(Part {
            part: p.name,
            role,
            name,
            media_type,
            size: p.data.size as i64,
            sha256: p.data.sha256.clone(),
            inline,
            damaged: false,
        });
    }

    let deliveries: Vec<NewDelivery> = resolved
        .iter()
        .map(|r| NewDelivery {
            id: uuid::Uuid::now_v7().to_string(),
            recipient: r.participant.clone(),
            unit: r.unit.clone(),
            kind: r.kind,
            via_group: r.via_group.clone(),
        })
        .collect();
    let content = ReceiptContent {
        document_id: id.clone(),
        sender: me.to_string(),
        document_number: envelope.document_number.clone(),
        envelope_sha256: envelope_sha256.to_string(),
        accepted_at: ReceiptContent::accepted_at(now),
        recipients: resolved
            .iter()
            .map(|r| ReceiptRecipient {
                participant: r.participant.to_string(),
                kind: r.kind.as_str().to_owned(),
                via_group: r.via_group.clone(),
            })
            .collect(),
    };
    let receipt =
        content.sign(&app.receipts).map_err(|e| ServiceError::Internal(format!("cannot sign the receipt: {e}")))?;

    let ip = caller.source_ip.to_string();
    let fp = caller.credential.fingerprint.clone();
    let mut log = Vec::with_capacity(deliveries.len() + 1);
    log.push(
        NewLogEntry::new(
            LogAction::DocumentAccepted,
            format!(
                "{} {} to {} recipients: {}",
                envelope.document_number,
                doc.kind,
                deliveries.len(),
                envelope.subject
            ),
        )
        .participant(me.to_string())
        .credential(fp.clone())
        .source_ip(&ip)
        .document(id.clone()),
    );
    for d in &deliveries {
        let via = d.via_group.as_deref().map(|g| format!(" via group {g}")).unwrap_or_default();
        log.push(
            NewLogEntry::new(
                LogAction::DeliveryDelivered,
                format!("{} {} {}{via}", envelope.document_number, d.kind.zh(), d.recipient),
            )
            .participant(d.recipient.to_string())
            .counterpart(me.to_string())
            .document(id.clone()),
        );
    }
    let new = NewDocument {
        record: DocumentRecord {
            id: id.clone(),
            sender_code: me.to_string(),
            document_number: envelope.document_number.clone(),
            envelope_sha256: envelope_sha256.clone(),
            subject: envelope.subject.clone(),
            speed: envelope.speed,
            classification: envelope.classification,
            immediate_confirmation: envelope.immediate_confirmation,
            kind: doc.kind.as_str().to_owned(),
            document_date: doc.date.map(|d| d.to_string()).unwrap_or_default(),
            signer_fingerprint: signer_fp,
            submitted_by: fp,
            source_ip: ip,
            accepted_at: now,
            receipt: receipt.clone(),
        },
        parts: stored_parts,
        deliveries,
        deadlines,
        blobs: (!files.is_empty()).then(|| app.blobs.clone()),
        files,
    };
    match app.store.insert_document(new, log).await {
        Ok(()) => {}
        // A concurrent submission of the same number won the race.
        Err(StoreError::Conflict(_)) => {
            let prev = app
                .store
                .document_by_number(me.as_str(), &envelope.document_number)
                .await?
                .ok_or_else(|| ServiceError::Internal("lost document".into()))?;
            if prev.envelope_sha256 == envelope_sha256 {
                return Ok(Submitted::Replayed(Accepted::from_receipt(&prev.receipt)?));
            }
            return Err(ServiceError::DuplicateNumber(format!(
                "{me} already sent document {}",
                envelope.document_number
            )));
        }
        Err(e) => return Err(e.into()),
    }
    for r in &resolved {
        let _ = app.inbox_events.send(r.participant.to_string());
    }
    metrics::counter!("gwx_documents_accepted_total").increment(1);
    metrics::counter!("gwx_deliveries_total").increment(resolved.len() as u64);
    use base64::Engine;
    Ok(Submitted::Accepted(Accepted { content, receipt: base64::engine::general_purpose::STANDARD.encode(&receipt) }))
}
