//! The retention purge (DESIGN §9): entries older than the retention go,
//! with the documents accepted before it and the blobs nothing references
//! any more; a checkpoint keeps the rest of the chain verifiable.

use chrono::{DateTime, Utc};

use super::log::append_log;
use super::{BeginWrite, Result, Store, stored_time, with_pool};
use crate::domain::log::NewLogEntry;

/// What a purge removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct PurgeReport {
    pub cutoff: Option<DateTime<Utc>>,
    /// Log entries removed; the checkpoint is the last of them.
    pub entries: i64,
    pub checkpoint_seq: Option<i64>,
    pub documents: i64,
    pub deliveries: i64,
    pub blobs: i64,
    /// Blob files (or objects) removed from the blob store.
    pub files: i64,
}

/// Documents (with their deliveries and parts) or log entries removed per
/// transaction: each batch holds the write lock for milliseconds, so the
/// hub keeps accepting documents while a large purge runs.
pub const PURGE_BATCH: i64 = 500;

/// Whether anything is old enough ($1 the cutoff): one index probe each.
pub(crate) const LOG_DUE: &str = "SELECT (SELECT seq FROM exchange_log WHERE at < $1 ORDER BY at LIMIT 1)";
pub(crate) const DOCUMENTS_DUE: &str =
    "SELECT (SELECT id FROM documents WHERE accepted_at < $1 ORDER BY accepted_at LIMIT 1)";
/// One batch of the documents to purge, oldest first ($1 cutoff, $2 batch).
pub(crate) const OLD_DOCUMENTS: &str =
    "SELECT id FROM documents WHERE accepted_at < $1 ORDER BY accepted_at, id LIMIT $2";
/// Blobs no part refers to any more, among candidates (`{values}`).
pub(crate) const UNREFERENCED_BLOBS: &str = "DELETE FROM blobs WHERE sha256 IN (VALUES {values}) \
     AND NOT EXISTS (SELECT 1 FROM document_parts part WHERE part.sha256 = blobs.sha256) RETURNING sha256, data IS NULL";

impl Store {
    /// Purges everything older than `cutoff`, batch by batch, and logs it.
    /// Nothing due (two indexed look-ups) means no write at all. Blob files
    /// or objects are removed from `blob_store` inside the batch's transaction, after
    /// their rows: an acceptance that re-uses a blob at that moment finds
    /// the file gone when it checks before committing, and fails instead
    /// of committing a document without its bytes.
    pub async fn purge(
        &self,
        cutoff: DateTime<Utc>,
        now: DateTime<Utc>,
        blob_store: &super::blobs::Blobs,
        log: &NewLogEntry,
    ) -> Result<PurgeReport> {
        let (cutoff, now) = (stored_time(cutoff), stored_time(now));
        let mut r = PurgeReport { cutoff: Some(cutoff), ..Default::default() };
        let due: (Option<i64>, Option<String>) = with_pool!(self, |pool| {
            let (entry,): (Option<i64>,) = sqlx::query_as(LOG_DUE).bind(cutoff).fetch_one(pool).await?;
            let (doc,): (Option<String>,) = sqlx::query_as(DOCUMENTS_DUE).bind(cutoff).fetch_one(pool).await?;
            (entry, doc)
        });
        if due == (None, None) {
            return Ok(r);
        }

        // Documents, oldest first, a batch at a time.
        let old = OLD_DOCUMENTS;
        loop {
            let (documents, deliveries, blobs, files) = with_pool!(self, |pool| {
                let mut tx = self.begin_write(pool).await?;
                let parts: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "DELETE FROM document_parts WHERE document_id IN ({old}) RETURNING sha256"
                )))
                .bind(cutoff)
                .bind(PURGE_BATCH)
                .fetch_all(&mut **tx)
                .await?;
                let deliveries =
                    sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM deliveries WHERE document_id IN ({old})")))
                        .bind(cutoff)
                        .bind(PURGE_BATCH)
                        .execute(&mut **tx)
                        .await?
                        .rows_affected() as i64;
                let documents = sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM documents WHERE id IN ({old})")))
                    .bind(cutoff)
                    .bind(PURGE_BATCH)
                    .execute(&mut **tx)
                    .await?
                    .rows_affected() as i64;
                // The blobs those parts used that nothing uses any more (by index).
                let mut candidates: Vec<String> = parts.into_iter().map(|(s,)| s).collect();
                candidates.sort();
                candidates.dedup();
                let mut gone: Vec<(String, bool)> = Vec::new();
                for chunk in candidates.chunks(500) {
                    let values = super::values_sql(&tx, "", 1, chunk.len());
                    let sql = UNREFERENCED_BLOBS.replace("{values}", &values);
                    let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
                    for sha in chunk {
                        q = q.bind(sha);
                    }
                    gone.extend(q.fetch_all(&mut **tx).await?);
                }
                let mut files = 0;
                for (sha, is_file) in &gone {
                    if *is_file {
                        blob_store
                            .remove(sha)
                            .await
                            .map_err(|e| super::StoreError::Corrupt(format!("cannot remove blob {sha}: {e}")))?;
                        files += 1;
                    }
                }
                tx.commit().await?;
                (documents, deliveries, gone.len() as i64, files)
            });
            r.documents += documents;
            r.deliveries += deliveries;
            r.blobs += blobs;
            r.files += files;
            if documents < PURGE_BATCH {
                break;
            }
        }

        // Log entries strictly before the first one at or after the cutoff
        // (nothing newer goes, even if times interleave), a batch at a time;
        // each batch leaves a checkpoint `verify_log` can start from.
        let (first_kept,): (Option<i64>,) = with_pool!(self, |pool| {
            sqlx::query_as("SELECT MIN(seq) FROM exchange_log WHERE at >= $1").bind(cutoff).fetch_one(pool).await?
        });
        loop {
            let batch: Option<(i64, i64)> = with_pool!(self, |pool| {
                let mut tx = self.begin_write(pool).await?;
                let last: Option<(i64, String, DateTime<Utc>)> = sqlx::query_as(
                    "SELECT seq, hash, at FROM exchange_log \
                     WHERE seq < COALESCE($1, (SELECT MAX(seq) + 1 FROM exchange_log)) \
                       AND seq <= (SELECT MIN(seq) FROM exchange_log) + $2 - 1 \
                     ORDER BY seq DESC LIMIT 1",
                )
                .bind(first_kept)
                .bind(PURGE_BATCH)
                .fetch_optional(&mut **tx)
                .await?;
                match last {
                    None => None,
                    Some((seq, hash, at)) => {
                        let n = sqlx::query("DELETE FROM exchange_log WHERE seq <= $1")
                            .bind(seq)
                            .execute(&mut **tx)
                            .await?
                            .rows_affected() as i64;
                        sqlx::query(
                            "INSERT INTO log_checkpoints (seq, hash, last_at, purged_at, entries, documents, blobs) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7)",
                        )
                        .bind(seq)
                        .bind(hash)
                        .bind(at)
                        .bind(now)
                        .bind(r.entries + n)
                        .bind(r.documents)
                        .bind(r.blobs)
                        .execute(&mut **tx)
                        .await?;
                        tx.commit().await?;
                        Some((seq, n))
                    }
                }
            });
            match batch {
                Some((seq, n)) => {
                    r.entries += n;
                    r.checkpoint_seq = Some(seq);
                    if n < PURGE_BATCH {
                        break;
                    }
                }
                None => break,
            }
        }

        let mut log = log.clone();
        log.detail = format!(
            "{}: {} log entries (checkpoint {}), {} documents, {} deliveries, {} blobs before {}",
            log.detail,
            r.entries,
            r.checkpoint_seq.map(|s| s.to_string()).unwrap_or_else(|| "none".into()),
            r.documents,
            r.deliveries,
            r.blobs,
            cutoff.to_rfc3339(),
        );
        with_pool!(self, |pool| {
            let mut tx = self.begin_write(pool).await?;
            append_log!(tx, now, &log);
            tx.commit().await?;
        });
        Ok(r)
    }
}
