//! Receiving `POST /api/v1/documents`: the multipart body streamed part by
//! part into spooled blobs, within the size limits, nothing kept in memory
//! but the small parts the hub parses.

use axum::extract::Multipart;

use crate::formats::document::MAX_DOCUMENT_BYTES;
use crate::formats::envelope::MAX_ENVELOPE_BYTES;
use crate::formats::roster::MAX_ROSTER_BYTES;
use crate::runtime::config::LimitsConfig;
use crate::service::error::ServiceError;
use crate::store::blobs::{Blobs, Spooled};

/// The largest detached signature accepted (a few certificates at most).
pub const MAX_SIGNATURE_BYTES: u64 = 64 * 1024;

/// The multipart part names of a package (DESIGN §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartName {
    Envelope,
    Signature,
    Document,
    Attachment,
}

impl PartName {
    pub fn as_str(self) -> &'static str {
        match self {
            PartName::Envelope => "envelope",
            PartName::Signature => "signature",
            PartName::Document => "document",
            PartName::Attachment => "attachment",
        }
    }
}

/// One received part.
#[derive(Debug)]
pub struct ReceivedPart {
    pub name: PartName,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub data: Spooled,
}

/// Reads every part of the body, in the order sent.
pub async fn receive(
    multipart: &mut Multipart,
    blobs: &Blobs,
    limits: &LimitsConfig,
) -> Result<Vec<ReceivedPart>, ServiceError> {
    let too_large = |what: String| ServiceError::TooLarge(what);
    let mut parts = Vec::new();
    let mut files_total: u64 = 0;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return Err(multipart_error(e, limits)),
        };
        let name = match field.name() {
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
        // (size limit, memory allowance): the parts the hub parses stay in
        // memory; attachments spill to disk beyond the inline size.
        let (cap, keep) = match name {
            PartName::Envelope => (MAX_ENVELOPE_BYTES as u64, MAX_ENVELOPE_BYTES),
            PartName::Signature => (MAX_SIGNATURE_BYTES, MAX_SIGNATURE_BYTES as usize),
            PartName::Document => (limits.max_file_bytes.min(MAX_DOCUMENT_BYTES as u64), MAX_DOCUMENT_BYTES),
            // The SW travels as an attachment and must be parsed: allow up to its own limit.
            PartName::Attachment => (limits.max_file_bytes, MAX_ROSTER_BYTES),
        };
        let filename = field.file_name().map(str::to_owned);
        let content_type = field.content_type().map(str::to_owned);
        let mut spool = blobs.spool(keep);
        let mut field = field;
        loop {
            let chunk = match field.chunk().await {
                Ok(Some(c)) => c,
                Ok(None) => break,
                Err(e) => return Err(multipart_error(e, limits)),
            };
            let counts = matches!(name, PartName::Document | PartName::Attachment);
            if counts {
                files_total += chunk.len() as u64;
                if files_total > limits.max_package_bytes {
                    return Err(too_large(format!(
                        "the package exceeds the limit of {} bytes",
                        limits.max_package_bytes
                    )));
                }
            }
            if spool.size() + chunk.len() as u64 > cap {
                let what = filename.as_deref().unwrap_or(name.as_str());
                return Err(too_large(format!("part {} ({what}) exceeds the limit of {cap} bytes", name.as_str())));
            }
            spool.write(&chunk).await?;
        }
        let data = spool.finish().await?;
        // A browser form's file input left empty sends an unnamed empty part.
        if matches!(name, PartName::Attachment) && filename.as_deref() == Some("") && data.size == 0 {
            continue;
        }
        parts.push(ReceivedPart { name, filename, content_type, data });
    }
    Ok(parts)
}

fn multipart_error(e: axum::extract::multipart::MultipartError, limits: &LimitsConfig) -> ServiceError {
    if e.status() == http::StatusCode::PAYLOAD_TOO_LARGE {
        ServiceError::TooLarge(format!("the request exceeds the package limit of {} bytes", limits.max_package_bytes))
    } else {
        ServiceError::InvalidPackage(format!("the multipart/form-data body cannot be read: {}", e.body_text()))
    }
}
