//! The retention purge (DESIGN §9): entries older than the retention go,
//! with the documents accepted before it and the blobs nothing references
//! any more; a checkpoint keeps the rest of the chain verifiable.

use std::path::PathBuf;

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
    /// Blob files removed from disk.
    pub files: i64,
}

impl Store {
    /// Purges everything older than `cutoff` in one transaction and logs it.
    /// Blob files are removed (via `blob_path`) inside the transaction, after
    /// their rows: an acceptance that re-uses a blob at that moment finds
    /// the file gone when it checks before committing, and fails instead
    /// of committing a document without its bytes.
    pub async fn purge(
        &self,
        cutoff: DateTime<Utc>,
        now: DateTime<Utc>,
        blob_path: impl Fn(&str) -> PathBuf,
        log: &NewLogEntry,
    ) -> Result<PurgeReport> {
        let (cutoff, now) = (stored_time(cutoff), stored_time(now));
        let mut r = PurgeReport { cutoff: Some(cutoff), ..Default::default() };
        with_pool!(self, |pool| {
            let mut tx = self.begin_write(pool).await?;

            // Entries strictly before the first one at or after the cutoff:
            // nothing newer than the cutoff goes, even if times interleave.
            let (first_kept,): (Option<i64>,) = sqlx::query_as("SELECT MIN(seq) FROM exchange_log WHERE at >= $1")
                .bind(cutoff)
                .fetch_one(&mut **tx)
                .await?;
            let last_purged: Option<(i64, String, DateTime<Utc>)> = sqlx::query_as(
                "SELECT seq, hash, at FROM exchange_log WHERE seq < COALESCE($1, (SELECT MAX(seq) + 1 FROM exchange_log)) \
                 ORDER BY seq DESC LIMIT 1",
            )
            .bind(first_kept)
            .fetch_optional(&mut **tx)
            .await?;
            if let Some((seq, _, _)) = &last_purged {
                r.entries = sqlx::query("DELETE FROM exchange_log WHERE seq <= $1")
                    .bind(seq)
                    .execute(&mut **tx)
                    .await?
                    .rows_affected() as i64;
                r.checkpoint_seq = Some(*seq);
            }

            let old = "SELECT id FROM documents WHERE accepted_at < $1";
            r.deliveries =
                sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM deliveries WHERE document_id IN ({old})")))
                    .bind(cutoff)
                    .execute(&mut **tx)
                    .await?
                    .rows_affected() as i64;
            sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM document_parts WHERE document_id IN ({old})")))
                .bind(cutoff)
                .execute(&mut **tx)
                .await?;
            r.documents = sqlx::query("DELETE FROM documents WHERE accepted_at < $1")
                .bind(cutoff)
                .execute(&mut **tx)
                .await?
                .rows_affected() as i64;
            let gone: Vec<(String, bool)> = sqlx::query_as(
                "DELETE FROM blobs WHERE NOT EXISTS (SELECT 1 FROM document_parts p WHERE p.sha256 = blobs.sha256) \
                 RETURNING sha256, data IS NULL",
            )
            .fetch_all(&mut **tx)
            .await?;
            r.blobs = gone.len() as i64;

            if let Some((seq, hash, at)) = &last_purged {
                sqlx::query(
                    "INSERT INTO log_checkpoints (seq, hash, last_at, purged_at, entries, documents, blobs) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(seq)
                .bind(hash)
                .bind(at)
                .bind(now)
                .bind(r.entries)
                .bind(r.documents)
                .bind(r.blobs)
                .execute(&mut **tx)
                .await?;
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
            append_log!(tx, now, &log);
            for (sha, is_file) in &gone {
                if *is_file {
                    match std::fs::remove_file(blob_path(sha)) {
                        Ok(()) => r.files += 1,
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => return Err(super::StoreError::Corrupt(format!("cannot remove blob {sha}: {e}"))),
                    }
                }
            }
            tx.commit().await?;
        });
        Ok(r)
    }
}
