//! The writes that accept documents, change deliveries and append to the
//! exchange log go through a group committer: writes made concurrently are
//! written together, one transaction and one fsync for all of them. On
//! PostgreSQL this matters as much as on SQLite: every write appends to the
//! log's hash chain, so each transaction holds the chain's head row from
//! its first entry to its commit, and one transaction a group takes that
//! lock once instead of once a write (each node has its own committer; the
//! nodes' groups queue on the row).

use chrono::{DateTime, Utc};

use super::blobs::BlobSync;
use super::documents::{DOCUMENT_COLUMNS, NewDelivery, NewDocument, Part};
use super::log::append_logs;
use super::{BeginWrite, Result, Store, StoreError, stored_time, values_sql, with_pool};
use crate::domain::delivery::DeliveryState;
use crate::domain::log::NewLogEntry;

/// The group committer: writes made concurrently are written together, one
/// transaction and one fsync for all of them.
#[derive(Debug)]
pub(crate) struct Committer {
    jobs: tokio::sync::mpsc::Sender<Job>,
}

#[derive(Debug)]
struct Job {
    write: Write,
    done: tokio::sync::oneshot::Sender<Result<bool>>,
}

/// A write the group committer can batch with others.
#[derive(Debug)]
pub(crate) enum Write {
    Document {
        doc: NewDocument,
        log: Vec<NewLogEntry>,
    },
    Delivery(DeliveryUpdate),
    /// An exchange-log entry on its own (a refusal, say).
    Log {
        at: DateTime<Utc>,
        entry: NewLogEntry,
    },
}

/// A conditional update of one delivery and its log entry.
#[derive(Debug)]
pub(crate) struct DeliveryUpdate {
    pub(super) id: String,
    pub(super) sql: &'static str,
    pub(super) from: DeliveryState,
    pub(super) to: DeliveryState,
    pub(super) by: String,
    pub(super) text: Option<String>,
    /// Office minutes from delivery to confirmation, on a confirmation.
    pub(super) minutes: Option<i64>,
    pub(super) at: DateTime<Utc>,
    pub(super) log: NewLogEntry,
}

/// At most this many documents go into one group commit.
const GROUP_COMMIT_MAX: usize = 64;

impl Committer {
    /// Starts the committer over `store` (which must not itself have one).
    pub(crate) fn start(store: Store) -> Committer {
        let (jobs, mut rx) = tokio::sync::mpsc::channel::<Job>(1024);
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                while batch.len() < GROUP_COMMIT_MAX {
                    match rx.try_recv() {
                        Ok(j) => batch.push(j),
                        Err(_) => break,
                    }
                }
                let (writes, dones): (Vec<Write>, Vec<_>) = batch.into_iter().map(|j| (j.write, j.done)).unzip();
                match store.apply_writes(&writes).await {
                    Ok(results) => {
                        for (done, ok) in dones.into_iter().zip(results) {
                            let _ = done.send(Ok(ok));
                        }
                    }
                    // One bad write must not sink the others: retry each alone.
                    Err(_) if writes.len() > 1 => {
                        for (done, w) in dones.into_iter().zip(writes) {
                            let r = store.apply_writes(std::slice::from_ref(&w)).await.map(|v| v[0]);
                            let _ = done.send(r);
                        }
                    }
                    Err(e) => {
                        if let Some(done) = dones.into_iter().next() {
                            let _ = done.send(Err(e));
                        }
                    }
                }
            }
        });
        Committer { jobs }
    }

    async fn submit(&self, write: Write) -> Result<bool> {
        let (done, wait) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Job { write, done })
            .await
            .map_err(|_| StoreError::Corrupt("the document committer has stopped".into()))?;
        wait.await.map_err(|_| StoreError::Corrupt("the document committer has stopped".into()))?
    }
}

impl Store {
    /// Inserts a document, its parts (registering their blobs), its
    /// deliveries and the log entries in one transaction. A second document
    /// with the same sender and number is a [`StoreError::Conflict`].
    ///
    /// Concurrent calls are group-committed: the committer task writes every
    /// document waiting at that moment in one transaction (one fsync), and
    /// each call returns once its document is durable.
    pub async fn insert_document(&self, doc: NewDocument, log: Vec<NewLogEntry>) -> Result<()> {
        let conflict = StoreError::Conflict(format!(
            "document number {} of {}",
            doc.record.document_number, doc.record.sender_code
        ));
        if self.write(Write::Document { doc, log }).await? { Ok(()) } else { Err(conflict) }
    }

    /// Runs one write through the group committer (directly on a store without one).
    pub(crate) async fn write(&self, w: Write) -> Result<bool> {
        match &self.committer {
            Some(c) => c.submit(w).await,
            None => Ok(self.apply_writes(std::slice::from_ref(&w)).await?[0]),
        }
    }

    /// Applies several writes in one transaction; for each, whether it took
    /// effect (a document: not a duplicate number; a delivery change: the
    /// delivery was still in the expected state).
    pub(crate) async fn apply_writes(&self, writes: &[Write]) -> Result<Vec<bool>> {
        let mut docs: Vec<(&NewDocument, &[NewLogEntry])> = writes
            .iter()
            .filter_map(|w| match w {
                Write::Document { doc, log } => Some((doc, log.as_slice())),
                Write::Delivery(_) | Write::Log { .. } => None,
            })
            .collect();
        // Rows in the order of their keys (documents, blobs, delivery
        // changes): the groups of several nodes on one PostgreSQL database
        // wait for each other's rows in one order, never in a cycle (a
        // deadlock PostgreSQL would break only after a second).
        let key = |d: &NewDocument| (d.record.sender_code.clone(), d.record.document_number.clone());
        docs.sort_by_cached_key(|(d, _)| key(d));
        // The blob files of the group become durable first: one sync per
        // file system, not one per file.
        let mut syncs: Vec<BlobSync> = Vec::new();
        for s in docs.iter().filter_map(|(d, _)| d.blobs.as_ref().and_then(|b| b.syncer())) {
            if !syncs.contains(&s) {
                syncs.push(s);
            }
        }
        if !syncs.is_empty() {
            tokio::task::spawn_blocking(move || syncs.iter().try_for_each(BlobSync::sync))
                .await
                .map_err(|e| StoreError::Corrupt(format!("the blob sync stopped: {e}")))?
                .map_err(|e| StoreError::Db(sqlx::Error::Io(e)))?;
        }
        with_pool!(self, |pool| {
            let mut tx = self.begin_write(pool).await?;
            let mut inserted_ids = std::collections::HashSet::new();
            for chunk in docs.chunks(64) {
                let sql = format!(
                    "{} ON CONFLICT (sender_code, document_number) DO NOTHING RETURNING id",
                    values_sql(pool, &format!("INSERT INTO documents ({DOCUMENT_COLUMNS}) VALUES "), 15, chunk.len())
                );
                let mut q = sqlx::query_as::<_, (String,)>(sqlx::AssertSqlSafe(sql));
                for (d, _) in chunk {
                    let r = &d.record;
                    q = q
                        .bind(&r.id)
                        .bind(&r.sender_code)
                        .bind(&r.document_number)
                        .bind(r.envelope_sha256.as_str())
                        .bind(&r.subject)
                        .bind(r.speed.as_str())
                        .bind(r.classification.as_str())
                        .bind(r.immediate_confirmation)
                        .bind(&r.kind)
                        .bind(&r.document_date)
                        .bind(&r.signer_fingerprint)
                        .bind(&r.submitted_by)
                        .bind(&r.source_ip)
                        .bind(stored_time(r.accepted_at))
                        .bind(&r.receipt);
                }
                inserted_ids.extend(q.fetch_all(&mut **tx).await?.into_iter().map(|(id,)| id));
            }
            let accepted: Vec<&(&NewDocument, &[NewLogEntry])> =
                docs.iter().filter(|(d, _)| inserted_ids.contains(&d.record.id)).collect();

            // Blobs already stored (same content) keep their row.
            let mut seen = std::collections::HashSet::new();
            let mut blobs: Vec<(&Part, DateTime<Utc>)> = accepted
                .iter()
                .flat_map(|(d, _)| d.parts.iter().map(|p| (p, stored_time(d.record.accepted_at))))
                .filter(|(p, _)| seen.insert(p.sha256.as_str()))
                .collect();
            blobs.sort_by(|(a, _), (b, _)| a.sha256.as_str().cmp(b.sha256.as_str()));
            for chunk in blobs.chunks(200) {
                let sql = format!(
                    "{} ON CONFLICT (sha256) DO NOTHING",
                    values_sql(pool, "INSERT INTO blobs (sha256, size, data, created_at) VALUES ", 4, chunk.len())
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for (p, at) in chunk {
                    q = q.bind(p.sha256.as_str()).bind(p.size).bind(&p.inline).bind(*at);
                }
                q.execute(&mut **tx).await?;
            }
            let parts: Vec<(&str, usize, &Part)> = accepted
                .iter()
                .flat_map(|(d, _)| d.parts.iter().enumerate().map(|(i, p)| (d.record.id.as_str(), i, p)))
                .collect();
            for chunk in parts.chunks(500) {
                let sql = values_sql(
                    pool,
                    "INSERT INTO document_parts (document_id, seq, part, role, name, media_type, size, sha256) VALUES ",
                    8,
                    chunk.len(),
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for (id, i, p) in chunk {
                    q = q
                        .bind(*id)
                        .bind(*i as i64)
                        .bind(p.part.as_str())
                        .bind(p.role.map(|r| r.as_str()))
                        .bind(&p.name)
                        .bind(&p.media_type)
                        .bind(p.size)
                        .bind(p.sha256.as_str());
                }
                q.execute(&mut **tx).await?;
            }
            // The retention purge removes unreferenced blobs inside its own
            // transaction; a blob gone now went with such a purge.
            for (d, _) in &accepted {
                let Some(blobs) = &d.blobs else { continue };
                for sha in &d.files {
                    if !blobs.exists(sha.as_str()).await.map_err(|e| StoreError::Db(sqlx::Error::Io(e)))? {
                        return Err(StoreError::Corrupt(format!(
                            "blob {sha} vanished before the document was committed; send it again"
                        )));
                    }
                }
            }
            let deliveries: Vec<(&NewDocument, &NewDelivery)> =
                accepted.iter().flat_map(|(d, _)| d.deliveries.iter().map(move |r| (*d, r))).collect();
            for chunk in deliveries.chunks(400) {
                let sql = values_sql(
                    pool,
                    "INSERT INTO deliveries (id, document_id, sender_code, recipient_code, recipient_unit, kind, via_group, \
                     state, delivered_at, sender_deadline, receiver_deadline, immediate_deadline) VALUES ",
                    12,
                    chunk.len(),
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for (d, r) in chunk {
                    q = q
                        .bind(&r.id)
                        .bind(&d.record.id)
                        .bind(&d.record.sender_code)
                        .bind(r.recipient.as_str())
                        .bind(&r.unit)
                        .bind(r.kind.as_str())
                        .bind(&r.via_group)
                        .bind(DeliveryState::Delivered.as_str())
                        .bind(stored_time(d.record.accepted_at))
                        .bind(d.deadlines.sender)
                        .bind(d.deadlines.receiver)
                        .bind(d.deadlines.immediate);
                }
                q.execute(&mut **tx).await?;
            }
            // Every node's long-polls of these recipients wake when this commits.
            if self.is_postgres() && !deliveries.is_empty() {
                let mut codes: Vec<&str> = deliveries.iter().map(|(_, r)| r.recipient.as_str()).collect();
                codes.sort_unstable();
                codes.dedup();
                for chunk in codes.chunks(super::events::CODES_PER_NOTIFY) {
                    sqlx::query("SELECT pg_notify($1, $2)")
                        .bind(super::events::INBOX)
                        .bind(chunk.join(","))
                        .execute(&mut **tx)
                        .await?;
                }
            }
            let mut log: Vec<NewLogEntry> = accepted.iter().flat_map(|(_, l)| l.iter().cloned()).collect();
            let mut at = accepted.iter().map(|(d, _)| d.record.accepted_at).max();

            // Delivery changes, each conditional on the state it expects, by
            // id (a change's place among those of the same delivery kept);
            // entries written on their own join the same append.
            for w in writes {
                if let Write::Log { at: t, entry } = w {
                    log.push(entry.clone());
                    at = at.max(Some(*t));
                }
            }
            let mut applied = vec![false; writes.len()];
            for i in change_order(writes) {
                let Write::Delivery(u) = &writes[i] else { unreachable!("a delivery change") };
                let n = sqlx::query(u.sql)
                    .bind(&u.id)
                    .bind(u.from.as_str())
                    .bind(u.to.as_str())
                    .bind(u.at)
                    .bind(&u.by)
                    .bind(&u.text)
                    .bind(u.minutes)
                    .execute(&mut **tx)
                    .await?
                    .rows_affected();
                applied[i] = n > 0;
                if n > 0 {
                    log.push(u.log.clone());
                    at = at.max(Some(u.at));
                }
            }
            if !log.is_empty() {
                append_logs!(tx, stored_time(at.unwrap_or_else(Utc::now)), &log);
            }
            tx.commit().await?;
            Ok(writes
                .iter()
                .enumerate()
                .map(|(i, w)| match w {
                    Write::Document { doc, .. } => inserted_ids.contains(&doc.record.id),
                    Write::Delivery(_) => applied[i],
                    Write::Log { .. } => true,
                })
                .collect())
        })
    }

    /// Appends one entry (group-committed with other writes on SQLite).
    pub async fn append_log(&self, at: DateTime<Utc>, entry: &NewLogEntry) -> Result<()> {
        self.write(Write::Log { at, entry: entry.clone() }).await.map(|_| ())
    }
}

/// The delivery changes among `writes` (their indexes) in the order they
/// are applied: by delivery id, a change's place among those of the same
/// delivery kept.
fn change_order(writes: &[Write]) -> Vec<usize> {
    let mut changes: Vec<(usize, &str)> = writes
        .iter()
        .enumerate()
        .filter_map(|(i, w)| match w {
            Write::Delivery(u) => Some((i, u.id.as_str())),
            Write::Document { .. } | Write::Log { .. } => None,
        })
        .collect();
    changes.sort_by(|a, b| a.1.cmp(b.1));
    changes.into_iter().map(|(i, _)| i).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::log::LogAction;

    fn change(id: &str, from: DeliveryState, to: DeliveryState) -> Write {
        Write::Delivery(DeliveryUpdate {
            id: id.into(),
            sql: "",
            from,
            to,
            by: "fp".into(),
            text: None,
            minutes: None,
            at: Utc::now(),
            log: NewLogEntry::new(LogAction::DeliveryFetched, "x"),
        })
    }

    /// Two nodes' groups that change the same deliveries lock them in one
    /// order; two changes of one delivery keep theirs (fetched, then confirmed).
    #[test]
    fn delivery_changes_are_applied_by_id_keeping_each_deliverys_own_order() {
        use DeliveryState::*;
        let log = Write::Log { at: Utc::now(), entry: NewLogEntry::new(LogAction::DeliveryFetched, "y") };
        let writes = vec![
            change("c", Delivered, Fetched),
            log,
            change("a", Delivered, Fetched),
            change("c", Fetched, Confirmed),
            change("b", Delivered, Fetched),
            change("a", Fetched, Confirmed),
        ];
        assert_eq!(change_order(&writes), vec![2, 5, 4, 0, 3]);
        let reversed: Vec<Write> = writes.into_iter().rev().collect();
        let ids = |w: &[Write], order: Vec<usize>| -> Vec<String> {
            order
                .into_iter()
                .map(|i| match &w[i] {
                    Write::Delivery(u) => u.id.clone(),
                    _ => unreachable!(),
                })
                .collect()
        };
        assert_eq!(ids(&reversed, change_order(&reversed)), ["a", "a", "b", "c", "c"], "one order whatever came first");
    }
}
