//! Building a package the way an agency's system would: from a DI file as
//! exported (DOCTYPE naming the SW and attachments beside it), recipients
//! from the SW or the command line, the envelope hashed and signed with the
//! participant's own key (DESIGN §3.5).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use openssl::pkey::{PKeyRef, Private};
use openssl::x509::X509Ref;

use crate::domain::ParticipantCode;
use crate::domain::document::{Classification, FileName, RecipientCode, RecipientKind, Sha256};
use crate::formats::document::OfficialDocument;
use crate::formats::envelope::{Envelope, FileEntry, FileRole, RecipientEntry, RecipientTarget};
use crate::formats::roster;
use crate::pki::cms;

/// Where a file's bytes come from.
#[derive(Debug, Clone)]
pub enum Source {
    Path(PathBuf),
    Bytes(bytes::Bytes),
}

#[derive(Debug, Clone)]
pub struct OutgoingFile {
    pub entry: FileEntry,
    pub source: Source,
}

/// A signed package ready to upload.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub envelope: Envelope,
    pub envelope_xml: Vec<u8>,
    pub signature: Vec<u8>,
    pub document: OutgoingFile,
    pub attachments: Vec<OutgoingFile>,
}

impl Outgoing {
    pub fn total_bytes(&self) -> u64 {
        self.document.entry.size + self.attachments.iter().map(|a| a.entry.size).sum::<u64>()
    }
}

/// Recipients and options given on the command line.
#[derive(Debug, Clone, Default)]
pub struct SendOptions {
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub groups: Vec<String>,
    /// Files declared by the DI that are not beside it.
    pub attach: Vec<PathBuf>,
    pub immediate_confirmation: bool,
}

/// The media type the envelope states for a file name.
pub fn media_type(name: &FileName) -> &'static str {
    match name.extension().as_deref() {
        Some("di" | "sw" | "dm" | "xml") => "application/xml",
        Some("pdf") => "application/pdf",
        Some("odt") => "application/vnd.oasis.opendocument.text",
        Some("ods") => "application/vnd.oasis.opendocument.spreadsheet",
        Some("odp") => "application/vnd.oasis.opendocument.presentation",
        Some("odg") => "application/vnd.oasis.opendocument.graphics",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("tif" | "tiff") => "image/tiff",
        Some("txt" | "csv") => "text/plain",
        _ => "application/octet-stream",
    }
}

/// Size and SHA-256 of a file, read in chunks.
fn digest_file(path: &Path) -> anyhow::Result<(u64, Sha256)> {
    let (size, digest) = crate::pki::digest_file(path, None).with_context(|| format!("read {}", path.display()))?;
    Ok((size, Sha256::from_digest(digest)))
}

fn file(role: FileRole, name: FileName, source: Source) -> anyhow::Result<OutgoingFile> {
    let (size, sha256) = match &source {
        Source::Path(p) => digest_file(p)?,
        Source::Bytes(b) => (b.len() as u64, Sha256::of(b)),
    };
    let media_type = media_type(&name).to_owned();
    Ok(OutgoingFile { entry: FileEntry { role, name, media_type, size, sha256 }, source })
}

/// The recipients: those given on the command line; else the SW's (正本
/// and 副本 by 本別); else the one agency a DI's 受文者 names directly.
fn recipients(
    opts: &SendOptions,
    sw: Option<&[roster::RosterEntry]>,
    addressee: Option<&str>,
) -> anyhow::Result<Vec<RecipientEntry>> {
    let code = |c: &String| RecipientCode::parse(c).map(RecipientTarget::Participant).map_err(anyhow::Error::from);
    let mut out = Vec::new();
    for c in &opts.to {
        out.push(RecipientEntry { kind: RecipientKind::Original, target: code(c)? });
    }
    for c in &opts.cc {
        out.push(RecipientEntry { kind: RecipientKind::Copy, target: code(c)? });
    }
    for g in &opts.groups {
        out.push(RecipientEntry { kind: RecipientKind::Original, target: RecipientTarget::Group(g.clone()) });
    }
    if out.is_empty() {
        match (sw, addressee) {
            (Some(sw), _) => {
                for e in sw {
                    out.push(RecipientEntry { kind: e.kind, target: RecipientTarget::Participant(e.code.clone()) });
                }
            }
            (None, Some(code)) => out.push(RecipientEntry {
                kind: RecipientKind::Original,
                target: RecipientTarget::Participant(
                    RecipientCode::parse(code).with_context(|| format!("受文者's 機關代碼 {code}"))?,
                ),
            }),
            (None, None) => bail!(
                "no recipients: give --to/--cc/--group, or send a DI whose 受文者 names an SW 交換表單 or an agency code"
            ),
        }
    }
    Ok(out)
}

/// Builds and signs a package from the DI at `di_path`.
pub fn from_di_file(
    di_path: &Path,
    opts: &SendOptions,
    sender: &ParticipantCode,
    cert: &X509Ref,
    key: &PKeyRef<Private>,
) -> anyhow::Result<Outgoing> {
    let di_bytes = std::fs::read(di_path).with_context(|| format!("read {}", di_path.display()))?;
    let dir = di_path.parent().unwrap_or(Path::new("."));
    let di_name = FileName::parse(di_path.file_name().and_then(|n| n.to_str()).unwrap_or("document.di"))?;
    let locate = |name: &str| -> anyhow::Result<PathBuf> {
        if let Some(p) = opts.attach.iter().find(|p| p.file_name().and_then(|n| n.to_str()) == Some(name)) {
            return Ok(p.clone());
        }
        let p = dir.join(name);
        if !p.exists() {
            bail!("the DI declares {name}, which is neither beside it nor given with --attach");
        }
        Ok(p)
    };
    build(di_name, di_bytes.into(), opts, sender, cert, key, |name| Ok(Source::Path(locate(name)?)))
}

/// Builds and signs a package; `source` finds each file the DI declares.
pub fn build(
    di_name: FileName,
    di: bytes::Bytes,
    opts: &SendOptions,
    sender: &ParticipantCode,
    cert: &X509Ref,
    key: &PKeyRef<Private>,
    source: impl Fn(&str) -> anyhow::Result<Source>,
) -> anyhow::Result<Outgoing> {
    let doc = OfficialDocument::parse(&di).map_err(|e| anyhow::anyhow!("{di_name} is not a valid 公文 DI: {e}"))?;
    if doc.classification.is_confidential() {
        bail!("密等 {}: confidential documents are not exchanged electronically (§6)", doc.classification);
    }
    for a in &opts.attach {
        let name = a.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !doc.entities.iter().any(|e| e.system_id == name) {
            bail!(
                "{name} is not declared in the DI's DOCTYPE; add <!ENTITY … SYSTEM \"{name}\" NDATA _X> and 附件檔名"
            );
        }
    }
    let mut attachments = Vec::new();
    let mut sw = None;
    if let Some(r) = doc.roster_file() {
        let name = FileName::parse(r)?;
        let f = file(FileRole::Roster, name, source(r)?)?;
        let bytes = match &f.source {
            Source::Path(p) => std::fs::read(p)?,
            Source::Bytes(b) => b.to_vec(),
        };
        sw = Some(roster::parse(&bytes).map_err(|e| anyhow::anyhow!("the SW {r}: {e}"))?);
        attachments.push(f);
    }
    if let Some(m) = doc.message_file() {
        attachments.push(file(FileRole::Message, FileName::parse(m)?, source(m)?)?);
    }
    for a in doc.attachment_files() {
        attachments.push(file(FileRole::Attachment, FileName::parse(a)?, source(a)?)?);
    }
    let document = file(FileRole::Document, di_name, Source::Bytes(di))?;
    let mut files = vec![document.entry.clone()];
    files.extend(attachments.iter().map(|a| a.entry.clone()));
    let envelope = Envelope {
        sender: sender.clone(),
        document_number: doc.number.to_string(),
        subject: doc.subject.clone(),
        speed: doc.speed,
        classification: Classification::Ordinary,
        immediate_confirmation: opts.immediate_confirmation,
        recipients: recipients(opts, sw.as_deref(), doc.addressee_code.as_deref())?,
        files,
    };
    let envelope_xml = envelope.to_xml().into_bytes();
    let signature = cms::sign_detached(&envelope_xml, cert, key)?;
    Ok(Outgoing { envelope, envelope_xml, signature, document, attachments })
}

impl Outgoing {
    /// Writes the signed package into `dir` (created): `envelope.xml`,
    /// `envelope.p7s`, the document and every attachment under their names,
    /// ready to upload from a browser (the console cannot sign).
    pub fn write_to(&self, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
        let mut written = Vec::new();
        let mut put = |name: &str, bytes: &[u8]| -> anyhow::Result<()> {
            let path = dir.join(name);
            std::fs::write(&path, bytes).with_context(|| format!("write {}", path.display()))?;
            written.push(path);
            Ok(())
        };
        put("envelope.xml", &self.envelope_xml)?;
        put("envelope.p7s", &self.signature)?;
        for f in std::iter::once(&self.document).chain(&self.attachments) {
            let bytes = match &f.source {
                Source::Bytes(b) => b.to_vec(),
                Source::Path(p) => std::fs::read(p).with_context(|| format!("read {}", p.display()))?,
            };
            put(f.entry.name.as_str(), &bytes)?;
        }
        Ok(written)
    }
}
