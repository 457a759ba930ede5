//! The exchange log: appending to the hash chain, querying, verifying.

use chrono::{DateTime, Utc};

use super::{Result, Store, StoreError, stored_time, with_pool};
use crate::domain::log::{ChainBreak, ChainVerifier, LogEntry};

#[derive(sqlx::FromRow)]
pub(super) struct LogRow {
    seq: i64,
    at: DateTime<Utc>,
    action: String,
    participant: Option<String>,
    credential: Option<String>,
    source_ip: Option<String>,
    document: Option<String>,
    counterpart: Option<String>,
    problem: Option<String>,
    detail: String,
    prev_hash: String,
    hash: String,
}

impl TryFrom<LogRow> for LogEntry {
    type Error = StoreError;
    fn try_from(r: LogRow) -> Result<Self> {
        Ok(LogEntry {
            seq: r.seq,
            at: r.at,
            action: r.action.parse()?,
            participant: r.participant,
            credential: r.credential,
            source_ip: r.source_ip,
            document: r.document,
            counterpart: r.counterpart,
            problem: r.problem,
            detail: r.detail,
            prev_hash: r.prev_hash,
            hash: r.hash,
        })
    }
}

const LOG_COLUMNS: &str =
    "seq, at, action, participant, credential, source_ip, document, counterpart, problem, detail, prev_hash, hash";

/// Appends `$entries` (a slice) at time `$at` inside the open transaction
/// `$tx`, returning the stored entries.
///
/// The first statement advances the chain head, which takes the write lock
/// (SQLite) or the row lock (PostgreSQL): concurrent appenders queue up and
/// each sees the hash its predecessor wrote. The rows go in multi-row
/// INSERTs, so a document to 10,000 recipients costs a few statements.
macro_rules! append_logs {
    ($tx:expr, $at:expr, $entries:expr) => {{
        let entries: &[$crate::domain::log::NewLogEntry] = $entries;
        let n = i64::try_from(entries.len()).expect("entry count");
        let (last, mut prev): (i64, String) =
            sqlx::query_as("UPDATE log_head SET seq = seq + $1 WHERE id = 1 RETURNING seq, hash")
                .bind(n)
                .fetch_one(&mut **$tx)
                .await?;
        let mut stored = Vec::with_capacity(entries.len());
        for (i, entry) in entries.iter().enumerate() {
            let e = $crate::domain::log::LogEntry::chain(last - n + 1 + i as i64, $at, entry, &prev)?;
            prev = e.hash.clone();
            stored.push(e);
        }
        for chunk in stored.chunks(500) {
            let sql = $crate::store::values_sql(
                &$tx,
                "INSERT INTO exchange_log (seq, at, action, participant, credential, source_ip, document, \
                 counterpart, problem, detail, prev_hash, hash) VALUES ",
                12,
                chunk.len(),
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for e in chunk {
                q = q
                    .bind(e.seq)
                    .bind(e.at)
                    .bind(e.action.as_str())
                    .bind(&e.participant)
                    .bind(&e.credential)
                    .bind(&e.source_ip)
                    .bind(&e.document)
                    .bind(&e.counterpart)
                    .bind(&e.problem)
                    .bind(&e.detail)
                    .bind(&e.prev_hash)
                    .bind(&e.hash);
            }
            q.execute(&mut **$tx).await?;
        }
        if n > 0 {
            sqlx::query("UPDATE log_head SET hash = $1 WHERE id = 1").bind(&prev).execute(&mut **$tx).await?;
        }
        stored
    }};
}
pub(crate) use append_logs;

/// Appends one entry inside the open transaction `$tx`.
macro_rules! append_log {
    ($tx:expr, $at:expr, $entry:expr) => {{
        let one: &$crate::domain::log::NewLogEntry = $entry;
        $crate::store::log::append_logs!($tx, $at, std::slice::from_ref(one)).pop().expect("one entry")
    }};
}
pub(crate) use append_log;

/// Which entries to list.
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    /// Entries about this participant only (as actor or counterpart).
    pub participant: Option<String>,
    /// Entries with one of these actions (all when empty).
    pub actions: Vec<String>,
    /// Entries about this document.
    pub document: Option<String>,
    /// Entries at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Entries before this time.
    pub to: Option<DateTime<Utc>>,
    /// Entries with a sequence number above this.
    pub after_seq: Option<i64>,
    pub limit: i64,
}

/// A retention checkpoint: the chain is verifiable from here.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Checkpoint {
    /// The last purged entry.
    pub seq: i64,
    pub hash: String,
    /// Its time.
    pub last_at: DateTime<Utc>,
    pub purged_at: DateTime<Utc>,
    pub entries: i64,
    pub documents: i64,
    pub blobs: i64,
}

/// The result of checking the whole chain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LogReport {
    pub checked: u64,
    pub head_seq: i64,
    pub head_hash: String,
    /// Where verification started, after a retention purge.
    pub checkpoint: Option<i64>,
}

impl Store {
    /// Entries in sequence order, filtered.
    pub async fn log_entries(&self, f: &LogFilter) -> Result<Vec<LogEntry>> {
        // A period starts the scan near its first entry (by the index on
        // `at`), not at the start of the year's log. An hour of margin
        // covers entries whose times interleave (nodes, group commits).
        let mut after = f.after_seq.unwrap_or(0);
        if let Some(from) = f.from {
            let first: Option<(i64,)> = with_pool!(self, |pool| {
                sqlx::query_as("SELECT seq FROM exchange_log WHERE at >= $1 ORDER BY at LIMIT 1")
                    .bind(stored_time(from - chrono::Duration::hours(1)))
                    .fetch_optional(pool)
                    .await?
            });
            match first {
                Some((seq,)) => after = after.max(seq - 1),
                None => return Ok(Vec::new()),
            }
        }
        let actions: String = (0..f.actions.len()).map(|i| format!("${}", i + 7)).collect::<Vec<_>>().join(", ");
        let action_clause = if f.actions.is_empty() { String::new() } else { format!("AND action IN ({actions})") };
        let sql = format!(
            "SELECT {LOG_COLUMNS} FROM exchange_log \
             WHERE seq > $1 \
               AND ($2 IS NULL OR participant = $2 OR counterpart = $2) \
               AND ($3 IS NULL OR document = $3) \
               AND ($4 IS NULL OR at >= $4) AND ($5 IS NULL OR at < $5) {action_clause} \
             ORDER BY seq LIMIT $6"
        );
        let rows: Vec<LogRow> = with_pool!(self, |pool| {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(after)
                .bind(&f.participant)
                .bind(&f.document)
                .bind(f.from.map(stored_time))
                .bind(f.to.map(stored_time))
                .bind(f.limit);
            for a in &f.actions {
                q = q.bind(a);
            }
            q.fetch_all(pool).await?
        });
        rows.into_iter().map(LogEntry::try_from).collect()
    }

    /// The latest retention checkpoint, if the log was ever purged.
    pub async fn log_checkpoint(&self) -> Result<Option<Checkpoint>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT seq, hash, last_at, purged_at, entries, documents, blobs FROM log_checkpoints \
                 ORDER BY seq DESC LIMIT 1",
            )
            .fetch_optional(pool)
            .await?
        }))
    }

    /// The oldest entry still kept.
    pub async fn oldest_log_entry(&self) -> Result<Option<DateTime<Utc>>> {
        let row: Option<(DateTime<Utc>,)> = with_pool!(self, |pool| {
            sqlx::query_as("SELECT at FROM exchange_log ORDER BY seq LIMIT 1").fetch_optional(pool).await?
        });
        Ok(row.map(|(t,)| t))
    }

    /// Walks the whole chain in batches and checks every link, and that the
    /// head row agrees with the last entry.
    pub async fn verify_log(&self) -> Result<std::result::Result<LogReport, ChainBreak>> {
        self.verify_log_from(None).await
    }

    /// Checks the last `entries` links of the chain (taking the entry before
    /// them as known) and the head row: the cheap check of a start-up.
    pub async fn verify_log_tail(&self, entries: i64) -> Result<std::result::Result<LogReport, ChainBreak>> {
        self.verify_log_from(Some(entries)).await
    }

    async fn verify_log_from(&self, tail: Option<i64>) -> Result<std::result::Result<LogReport, ChainBreak>> {
        let checkpoint = self.log_checkpoint().await?;
        let mut start = checkpoint.as_ref().map(|c| (c.seq, c.hash.clone()));
        if let Some(n) = tail {
            let (head,): (i64,) = with_pool!(self, |pool| {
                sqlx::query_as("SELECT seq FROM log_head WHERE id = 1").fetch_one(pool).await?
            });
            let from = head - n;
            if from > start.as_ref().map_or(0, |s| s.0) {
                let filter = LogFilter { after_seq: Some(from - 1), limit: 1, ..Default::default() };
                if let Some(e) = self.log_entries(&filter).await?.into_iter().next().filter(|e| e.seq == from) {
                    start = Some((e.seq, e.hash));
                }
            }
        }
        let mut after = start.as_ref().map_or(0, |s| s.0);
        let mut verifier = ChainVerifier::new(start);
        loop {
            let batch =
                self.log_entries(&LogFilter { after_seq: Some(after), limit: 1000, ..Default::default() }).await?;
            let Some(last) = batch.last() else { break };
            after = last.seq;
            for e in &batch {
                if let Err(b) = verifier.check(e) {
                    return Ok(Err(b));
                }
            }
        }
        let (head_seq, head_hash): (i64, String) = with_pool!(self, |pool| {
            sqlx::query_as("SELECT seq, hash FROM log_head WHERE id = 1").fetch_one(pool).await?
        });
        let (last_seq, last_hash) =
            verifier.head().cloned().unwrap_or((0, crate::domain::log::GENESIS_HASH.to_owned()));
        if (last_seq, &last_hash) != (head_seq, &head_hash) {
            return Ok(Err(ChainBreak::Gap { seq: head_seq, prev: last_seq }));
        }
        Ok(Ok(LogReport { checked: verifier.checked, head_seq, head_hash, checkpoint: checkpoint.map(|c| c.seq) }))
    }
}
