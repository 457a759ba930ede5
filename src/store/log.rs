//! The exchange log: appending to the hash chain, querying, verifying.

use chrono::{DateTime, Utc};

use super::{Result, Store, stored_time, with_pool};
use crate::domain::log::{ChainBreak, ChainVerifier, LogEntry};

/// A row of [`LOG_COLUMNS`], read by position (an export reads a few
/// hundred thousand: looking each column up by name was a tenth of it).
type LogRow = (
    i64,
    DateTime<Utc>,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    String,
    String,
);

fn log_entry(r: LogRow) -> Result<LogEntry> {
    let (seq, at, action, participant, credential, source_ip, document, counterpart, problem, detail, prev_hash, hash) =
        r;
    Ok(LogEntry {
        seq,
        at,
        action: action.parse()?,
        participant,
        credential,
        source_ip,
        document,
        counterpart,
        problem,
        detail,
        prev_hash,
        hash,
    })
}

/// The columns of a [`LogRow`], in its order.
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

/// The first entry at or after a time ($1), by the index on `at`.
pub(crate) const LOG_FIRST_AT: &str = "SELECT seq FROM exchange_log WHERE at >= $1 ORDER BY at LIMIT 1";

enum LogValue<'a> {
    Text(&'a str),
    Time(DateTime<Utc>),
}

/// One page of a [`LogFilter`]: the query and the values it binds after
/// `$1` (the sequence number to start after) and `$2` (the limit), numbered
/// together so that they cannot drift apart.
pub(crate) struct LogQuery<'a> {
    pub sql: String,
    values: Vec<LogValue<'a>>,
}

impl<'a> LogQuery<'a> {
    /// The query of one page of `f`, read in sequence order from an index:
    /// the document's entries, or the participant's (as actor and as
    /// counterpart), or each action's, each an ordered index range cut at
    /// the limit, merged by sequence number; or the log itself in order.
    /// The other conditions filter those rows. Only the filters given are in
    /// the query, so each plan is the one for what is asked.
    pub fn of(f: &'a LogFilter) -> Self {
        let mut values = Vec::new();
        let mut bind = |v: LogValue<'a>| {
            values.push(v);
            format!("${}", values.len() + 2)
        };
        let participant = f.participant.as_deref().map(|p| bind(LogValue::Text(p)));
        let document = f.document.as_deref().map(|d| bind(LogValue::Text(d)));
        let mut filters = vec!["seq > $1".to_owned()];
        if let Some(d) = &document {
            filters.push(format!("document = {d}"));
        }
        // A period filters the rows read in sequence order; written so that
        // no index on `at` can serve it (`$n` is never NULL), or the planner
        // would read the whole period by time and sort it by sequence for
        // one page.
        if let Some(from) = f.from {
            let n = bind(LogValue::Time(stored_time(from)));
            filters.push(format!("(at >= {n} OR {n} IS NULL)"));
        }
        if let Some(to) = f.to {
            let n = bind(LogValue::Time(stored_time(to)));
            filters.push(format!("(at < {n} OR {n} IS NULL)"));
        }
        let actions: Vec<String> = f.actions.iter().map(|a| bind(LogValue::Text(a))).collect();
        if !actions.is_empty() {
            filters.push(format!("action IN ({})", actions.join(", ")));
        }
        let by_participant = participant.as_ref().map(|p| format!("(participant = {p} OR counterpart = {p})"));
        // The ordered index ranges to merge, each a condition of its own.
        let ranges: Vec<String> = match (&document, &participant) {
            (None, Some(p)) => vec![format!("participant = {p}"), format!("counterpart = {p}")],
            (None, None) if !actions.is_empty() => actions.iter().map(|a| format!("action = {a}")).collect(),
            _ => Vec::new(),
        };
        let sql = if ranges.is_empty() {
            filters.extend(by_participant);
            format!("SELECT {LOG_COLUMNS} FROM exchange_log WHERE {} ORDER BY seq LIMIT $2", filters.join(" AND "))
        } else {
            let filters = filters.join(" AND ");
            let keys: Vec<String> = ranges
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    format!(
                        "SELECT seq FROM (SELECT seq FROM exchange_log WHERE {r} AND {filters} ORDER BY seq LIMIT $2) AS k{i}"
                    )
                })
                .collect();
            format!(
                "SELECT {LOG_COLUMNS} FROM exchange_log WHERE seq IN ({}) ORDER BY seq LIMIT $2",
                keys.join(" UNION ALL ")
            )
        };
        LogQuery { sql, values }
    }
}

impl Store {
    /// Entries in sequence order, filtered.
    pub async fn log_entries(&self, f: &LogFilter) -> Result<Vec<LogEntry>> {
        // A period starts the scan near its first entry (by the index on
        // `at`), not at the start of the year's log. An hour of margin
        // covers entries whose times interleave (nodes, group commits). A
        // later page (`after_seq`, an entry of the period) is past it already.
        let mut after = f.after_seq.unwrap_or(0);
        if let (Some(from), None) = (f.from, f.after_seq) {
            let first: Option<(i64,)> = with_pool!(self, |pool| {
                sqlx::query_as(LOG_FIRST_AT)
                    .bind(stored_time(from - chrono::Duration::hours(1)))
                    .fetch_optional(pool)
                    .await?
            });
            match first {
                Some((seq,)) => after = after.max(seq - 1),
                None => return Ok(Vec::new()),
            }
        }
        let query = LogQuery::of(f);
        let rows: Vec<LogRow> = with_pool!(self, |pool| {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(query.sql.clone())).bind(after).bind(f.limit);
            for v in &query.values {
                q = match v {
                    LogValue::Text(t) => q.bind(*t),
                    LogValue::Time(t) => q.bind(*t),
                };
            }
            q.fetch_all(pool).await?
        });
        rows.into_iter().map(log_entry).collect()
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
