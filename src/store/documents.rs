//! Documents and their parts as stored. A document is written with all its
//! deliveries and log entries in one transaction (see `committer`): an
//! accepted document is never half-routed.

use chrono::{DateTime, Utc};

use super::blobs::Known;
use super::{Result, Store, StoreError, with_pool};
use crate::domain::ParticipantCode;
use crate::domain::document::{Classification, PartName, RecipientKind, Sha256, Speed};
use crate::formats::envelope::FileRole;

/// A part of the package as stored: its bytes are the blob `sha256`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Part {
    /// The multipart part name.
    pub part: PartName,
    /// The envelope's file role, if listed there (the envelope and the
    /// signature are not).
    pub role: Option<FileRole>,
    pub name: String,
    pub media_type: String,
    pub size: i64,
    pub sha256: Sha256,
    /// The bytes, for a part kept inline in the database.
    #[serde(skip)]
    pub inline: Option<Vec<u8>>,
    /// Its blob was found not to match its SHA-256.
    #[serde(skip)]
    pub damaged: bool,
}

impl Part {
    /// The document or an attachment: a file of the 公文 itself, as opposed
    /// to the envelope and its signature.
    pub fn is_file(&self) -> bool {
        matches!(self.part, PartName::Document | PartName::Attachment)
    }
}

#[derive(sqlx::FromRow)]
struct PartRow {
    part: String,
    role: Option<String>,
    name: String,
    media_type: String,
    size: i64,
    sha256: String,
    inline: Option<Vec<u8>>,
    damaged: bool,
}

impl TryFrom<PartRow> for Part {
    type Error = StoreError;
    fn try_from(r: PartRow) -> Result<Self> {
        Ok(Part {
            part: r.part.parse()?,
            role: r.role.map(FileRole::try_from).transpose()?,
            name: r.name,
            media_type: r.media_type,
            size: r.size,
            sha256: Sha256::parse(&r.sha256)?,
            inline: r.inline,
            damaged: r.damaged,
        })
    }
}

#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub id: String,
    pub recipient: ParticipantCode,
    pub unit: Option<String>,
    pub kind: RecipientKind,
    /// The send group that brought this recipient, if any.
    pub via_group: Option<String>,
}

/// A document to insert with everything that belongs to it.
#[derive(Debug, Clone)]
pub struct NewDocument {
    pub record: DocumentRecord,
    pub parts: Vec<Part>,
    pub deliveries: Vec<NewDelivery>,
    /// The deadlines of every delivery, computed at acceptance.
    pub deadlines: super::Deadlines,
    /// The blobs kept in the blob store (parts not kept inline) this
    /// document needs: checked to exist inside the accepting transaction.
    pub files: Vec<crate::domain::document::Sha256>,
    /// The store that holds them; its files are made durable (once per
    /// commit group and file system) before the transaction.
    pub blobs: Option<super::blobs::Blobs>,
}

/// A stored document.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct DocumentRecord {
    pub id: String,
    pub sender_code: String,
    pub document_number: String,
    #[sqlx(try_from = "String")]
    pub envelope_sha256: Sha256,
    pub subject: String,
    #[sqlx(try_from = "String")]
    pub speed: Speed,
    #[sqlx(try_from = "String")]
    pub classification: Classification,
    pub immediate_confirmation: bool,
    pub kind: String,
    pub document_date: String,
    pub signer_fingerprint: String,
    pub submitted_by: String,
    pub source_ip: String,
    pub accepted_at: DateTime<Utc>,
    pub receipt: Vec<u8>,
}

/// A sent document with its recipients counted by state.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct SentSummary {
    pub id: String,
    pub document_number: String,
    pub subject: String,
    pub accepted_at: DateTime<Utc>,
    pub recipients: i64,
    pub confirmed: i64,
    pub returned: i64,
}

/// A page of the sender's ($1) documents, newest first ($2 the limit).
pub(crate) const SENT_PAGE_SQL: &str = "SELECT doc.id, doc.document_number, doc.subject, doc.accepted_at, \
     (SELECT COUNT(*) FROM deliveries d WHERE d.document_id = doc.id) AS recipients, \
     (SELECT COUNT(*) FROM deliveries d WHERE d.document_id = doc.id AND d.state = 'confirmed') AS confirmed, \
     (SELECT COUNT(*) FROM deliveries d WHERE d.document_id = doc.id AND d.state = 'returned') AS returned \
     FROM documents doc WHERE doc.sender_code = $1 ORDER BY doc.accepted_at DESC, doc.id DESC LIMIT $2";

pub(super) const DOCUMENT_COLUMNS: &str = "id, sender_code, document_number, envelope_sha256, subject, speed, classification, \
     immediate_confirmation, kind, document_date, signer_fingerprint, submitted_by, source_ip, accepted_at, receipt";

impl Store {
    pub async fn document(&self, id: &str) -> Result<Option<DocumentRecord>> {
        let sql = format!("SELECT {DOCUMENT_COLUMNS} FROM documents WHERE id = $1");
        Ok(with_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await?))
    }

    pub async fn document_by_number(&self, sender: &str, number: &str) -> Result<Option<DocumentRecord>> {
        let sql = format!("SELECT {DOCUMENT_COLUMNS} FROM documents WHERE sender_code = $1 AND document_number = $2");
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(sender).bind(number).fetch_optional(pool).await?
        }))
    }

    /// The parts of a document in submission order, with the bytes of
    /// those kept inline.
    pub async fn document_parts(&self, id: &str) -> Result<Vec<Part>> {
        let rows: Vec<PartRow> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT p.part, p.role, p.name, p.media_type, p.size, p.sha256, b.data AS inline, \
                 b.damaged_at IS NOT NULL AS damaged FROM document_parts p \
                 JOIN blobs b ON b.sha256 = p.sha256 WHERE p.document_id = $1 ORDER BY p.seq",
            )
            .bind(id)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(Part::try_from).collect()
    }

    /// How many documents are stored.
    pub async fn document_count(&self) -> Result<i64> {
        let (n,): (i64,) =
            with_pool!(self, |pool| sqlx::query_as("SELECT COUNT(*) FROM documents").fetch_one(pool).await?);
        Ok(n)
    }

    /// Marks a blob damaged (its bytes do not match its hash); `false` when
    /// it already was.
    pub async fn mark_blob_damaged(&self, sha256: &Sha256, at: DateTime<Utc>) -> Result<bool> {
        let done = with_pool!(self, |pool| {
            sqlx::query("UPDATE blobs SET damaged_at = $2 WHERE sha256 = $1 AND damaged_at IS NULL")
                .bind(sha256.as_str())
                .bind(super::stored_time(at))
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(done > 0)
    }

    /// A damaged blob is whole again (its file restored).
    pub async fn clear_blob_damage(&self, sha256: &Sha256) -> Result<()> {
        with_pool!(self, |pool| {
            sqlx::query("UPDATE blobs SET damaged_at = NULL WHERE sha256 = $1")
                .bind(sha256.as_str())
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(())
    }

    /// How many blobs are marked damaged.
    pub async fn damaged_blob_count(&self) -> Result<i64> {
        let (n,): (i64,) = with_pool!(self, |pool| {
            sqlx::query_as("SELECT COUNT(*) FROM blobs WHERE damaged_at IS NOT NULL").fetch_one(pool).await?
        });
        Ok(n)
    }

    /// How a blob is stored, if it is: [`Known::Inline`] in its database row
    /// or [`Known::File`] (bytes of an earlier threshold may be inline).
    pub async fn blob_stored(&self, sha: &Sha256) -> Result<Known> {
        let row: Option<(bool,)> = with_pool!(self, |pool| {
            sqlx::query_as("SELECT data IS NOT NULL FROM blobs WHERE sha256 = $1")
                .bind(sha.as_str())
                .fetch_optional(pool)
                .await?
        });
        Ok(match row {
            None => Known::No,
            Some((true,)) => Known::Inline,
            Some((false,)) => Known::File,
        })
    }

    /// How many blobs are stored: (all, kept inline in the database).
    pub async fn blob_counts(&self) -> Result<(i64, i64)> {
        Ok(with_pool!(self, |pool| sqlx::query_as("SELECT COUNT(*), COUNT(data) FROM blobs").fetch_one(pool).await?))
    }

    /// A page of a sender's documents, newest first, with each one's
    /// counts per state: the page from the index `documents_sent`, the counts
    /// from each document's own deliveries, so a sender with a year of
    /// documents costs what a sender with one page does.
    pub async fn sent_documents(&self, sender: &str, limit: i64) -> Result<Vec<SentSummary>> {
        Ok(with_pool!(self, |pool| { sqlx::query_as(SENT_PAGE_SQL).bind(sender).bind(limit).fetch_all(pool).await? }))
    }
}
