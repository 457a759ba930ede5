//! Receiving `POST /api/v1/documents`: the multipart body streamed part by
//! part into spooled blobs, within the size limits. In memory stay only the
//! parts the hub parses and attachments small enough to be stored inline,
//! and only while the budget all uploads share has room. The transport
//! reads the multipart framing and hands each part's name and chunks to a
//! [`Receiver`].

pub use crate::domain::document::PartName;
use crate::formats::document::MAX_DOCUMENT_BYTES;
use crate::formats::envelope::MAX_ENVELOPE_BYTES;
use crate::runtime::config::LimitsConfig;
use crate::service::app::App;
use crate::service::error::ServiceError;
use crate::store::blobs::{ATTACHMENT_MEMORY, Blobs, MemoryBudget, Spooled};

/// The largest detached signature accepted (a few certificates at most).
pub const MAX_SIGNATURE_BYTES: u64 = 64 * 1024;

/// One received part.
#[derive(Debug)]
pub struct ReceivedPart {
    pub name: PartName,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub data: Spooled,
}

/// Receives the parts of one `POST /documents` body, in the order sent,
/// within the size limits: the transport hands each part's name and
/// chunks over, the receiver checks and spools them.
pub struct Receiver<'a> {
    blobs: &'a Blobs,
    memory: &'a MemoryBudget,
    limits: &'a LimitsConfig,
    parts: Vec<ReceivedPart>,
    files_total: u64,
}

/// A part being received.
pub struct Incoming {
    name: PartName,
    filename: Option<String>,
    content_type: Option<String>,
    /// (size limit, memory allowance)
    cap: u64,
    spool: crate::store::blobs::Spool,
}

impl<'a> Receiver<'a> {
    pub fn new(app: &'a App) -> Self {
        Receiver {
            blobs: &app.blobs,
            memory: &app.intake_memory,
            limits: &app.config.limits,
            parts: Vec::new(),
            files_total: 0,
        }
    }

    /// Starts a part; a name a package does not have is refused.
    pub fn part(
        &self,
        name: Option<&str>,
        filename: Option<&str>,
        content_type: Option<&str>,
    ) -> Result<Incoming, ServiceError> {
        let name = match name {
            Some("envelope") => PartName::Envelope,
            Some("signature") => PartName::Signature,
            Some("document") => PartName::Document,
            Some("attachment") => PartName::Attachment,
            other => {
                return Err(ServiceError::InvalidPackage(format!(
                    "unknown part '{}': a package has envelope, signature, document and attachment parts",
                    other.unwrap_or("")
                )));
            }
        };
        // (size limit, memory allowance): the parts the hub parses may stay in
        // memory; attachments spill to disk beyond their allowance (an SW
        // among them is read back to be parsed).
        let (cap, keep) = match name {
            PartName::Envelope => (MAX_ENVELOPE_BYTES as u64, MAX_ENVELOPE_BYTES),
            PartName::Signature => (MAX_SIGNATURE_BYTES, MAX_SIGNATURE_BYTES as usize),
            PartName::Document => (self.limits.max_file_bytes.min(MAX_DOCUMENT_BYTES as u64), MAX_DOCUMENT_BYTES),
            PartName::Attachment => (self.limits.max_file_bytes, ATTACHMENT_MEMORY),
        };
        Ok(Incoming {
            name,
            filename: filename.map(str::to_owned),
            content_type: content_type.map(str::to_owned),
            cap,
            spool: self.blobs.spool(keep, self.memory),
        })
    }

    /// The next chunk of `part`, within its limit and the package's.
    pub async fn write(&mut self, part: &mut Incoming, chunk: &[u8]) -> Result<(), ServiceError> {
        if matches!(part.name, PartName::Document | PartName::Attachment) {
            self.files_total += chunk.len() as u64;
            if self.files_total > self.limits.max_package_bytes {
                return Err(ServiceError::TooLarge(format!(
                    "the package exceeds the limit of {} bytes",
                    self.limits.max_package_bytes
                )));
            }
        }
        if part.spool.size() + chunk.len() as u64 > part.cap {
            let what = part.filename.as_deref().unwrap_or(part.name.as_str());
            return Err(ServiceError::TooLarge(format!(
                "part {} ({what}) exceeds the limit of {} bytes",
                part.name.as_str(),
                part.cap
            )));
        }
        Ok(part.spool.write(chunk).await?)
    }

    /// The part is complete.
    pub async fn finish(&mut self, part: Incoming) -> Result<(), ServiceError> {
        let Incoming { name, filename, content_type, spool, .. } = part;
        let data = spool.finish().await?;
        // A browser form's file input left empty sends an unnamed empty part.
        if matches!(name, PartName::Attachment) && filename.as_deref() == Some("") && data.size == 0 {
            return Ok(());
        }
        self.parts.push(ReceivedPart { name, filename, content_type, data });
        Ok(())
    }

    /// Every part received, in the order sent.
    pub fn parts(self) -> Vec<ReceivedPart> {
        self.parts
    }

    /// The body could not be read as multipart; `too_large` when the
    /// transport stopped it at its size limit.
    pub fn unreadable(&self, too_large: bool, why: &str) -> ServiceError {
        if too_large {
            ServiceError::TooLarge(format!(
                "the request exceeds the package limit of {} bytes",
                self.limits.max_package_bytes
            ))
        } else {
            ServiceError::InvalidPackage(format!("the multipart/form-data body cannot be read: {why}"))
        }
    }
}
