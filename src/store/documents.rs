//! Documents, their parts and deliveries. A document and all its
//! deliveries and log entries are written in one transaction: an accepted
//! document is never half-routed.

use chrono::{DateTime, Utc};

use super::log::append_logs;
use super::{BeginWrite, Result, Store, StoreError, stored_time, values_sql, with_pool};
use crate::domain::ParticipantCode;
use crate::domain::delivery::DeliveryState;
use crate::domain::document::RecipientKind;
use crate::domain::log::NewLogEntry;

/// A part of the package as stored: its bytes are the blob `sha256`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Part {
    /// The multipart part name: envelope, signature, document or attachment.
    pub part: String,
    /// The envelope's file role (document, attachment, roster), if listed there.
    pub role: Option<String>,
    pub name: String,
    pub media_type: String,
    pub size: i64,
    pub sha256: String,
    /// The bytes, for a part kept inline in the database.
    #[serde(skip)]
    pub inline: Option<Vec<u8>>,
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
    /// The blob files (parts not kept inline) this document needs: checked
    /// to exist inside the accepting transaction.
    pub files: Vec<std::path::PathBuf>,
}

/// A stored document.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct DocumentRecord {
    pub id: String,
    pub sender_code: String,
    pub document_number: String,
    pub envelope_sha256: String,
    pub subject: String,
    pub speed: String,
    pub classification: String,
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

/// A delivery with the document facts a recipient's inbox shows.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct DeliveryRecord {
    pub id: String,
    pub document_id: String,
    pub recipient_code: String,
    pub recipient_unit: Option<String>,
    pub kind: String,
    pub via_group: Option<String>,
    pub state: String,
    pub delivered_at: DateTime<Utc>,
    pub fetched_at: Option<DateTime<Utc>>,
    pub fetched_by: Option<String>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub confirmed_by: Option<String>,
    pub returned_at: Option<DateTime<Utc>>,
    pub returned_by: Option<String>,
    pub return_reason: Option<String>,
    pub paper_resend_at: Option<DateTime<Utc>>,
    pub paper_resend_by: Option<String>,
    pub paper_resend_note: Option<String>,
    pub sender_deadline: Option<DateTime<Utc>>,
    pub receiver_deadline: Option<DateTime<Utc>>,
    pub immediate_deadline: Option<DateTime<Utc>>,
    pub sender_code: String,
    pub document_number: String,
    pub subject: String,
    pub speed: String,
    pub immediate_confirmation: bool,
    pub sender_name: Option<String>,
    pub recipient_name: Option<String>,
}

impl DeliveryRecord {
    pub fn state(&self) -> Result<DeliveryState> {
        Ok(self.state.parse()?)
    }
}

const DOCUMENT_COLUMNS: &str = "id, sender_code, document_number, envelope_sha256, subject, speed, classification, \
     immediate_confirmation, kind, document_date, signer_fingerprint, submitted_by, source_ip, accepted_at, receipt";

const DELIVERY_SELECT: &str = "SELECT d.id, d.document_id, d.recipient_code, d.recipient_unit, d.kind, d.via_group, \
     d.state, d.delivered_at, d.fetched_at, d.fetched_by, d.confirmed_at, d.confirmed_by, d.returned_at, \
     d.returned_by, d.return_reason, d.paper_resend_at, d.paper_resend_by, d.paper_resend_note, \
     d.sender_deadline, d.receiver_deadline, d.immediate_deadline, doc.sender_code, doc.document_number, doc.subject, \
     doc.speed, doc.immediate_confirmation, ps.name AS sender_name, pr.name AS recipient_name \
     FROM deliveries d JOIN documents doc ON doc.id = d.document_id \
     LEFT JOIN participants ps ON ps.code = doc.sender_code LEFT JOIN participants pr ON pr.code = d.recipient_code";

/// The SQLite group committer: documents accepted concurrently are written
/// together, one transaction and one fsync for all of them.
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
    id: String,
    sql: &'static str,
    from: DeliveryState,
    to: DeliveryState,
    by: String,
    text: Option<String>,
    /// Office minutes from delivery to confirmation, on a confirmation.
    minutes: Option<i64>,
    at: DateTime<Utc>,
    log: NewLogEntry,
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

/// What changes on a delivery, with who did it.
#[derive(Debug, Clone)]
pub enum DeliveryChange<'a> {
    Fetched {
        by: &'a str,
    },
    /// `minutes`: office time since delivery, for the timeliness audit.
    Confirmed {
        by: &'a str,
        minutes: i64,
    },
    Returned {
        by: &'a str,
        reason: &'a str,
    },
    PaperResend {
        by: &'a str,
        note: Option<&'a str>,
    },
}

impl Store {
    /// Inserts a document, its parts (registering their blobs), its
    /// deliveries and the log entries in one transaction. A second document
    /// with the same sender and number is a [`StoreError::Conflict`].
    ///
    /// On SQLite, concurrent calls are group-committed: the committer task
    /// writes every document waiting at that moment in one transaction (one
    /// fsync), and each call returns once its document is durable.
    pub async fn insert_document(&self, doc: NewDocument, log: Vec<NewLogEntry>) -> Result<()> {
        let conflict = StoreError::Conflict(format!(
            "document number {} of {}",
            doc.record.document_number, doc.record.sender_code
        ));
        if self.write(Write::Document { doc, log }).await? { Ok(()) } else { Err(conflict) }
    }

    /// Runs one write: through the group committer on SQLite, directly on PostgreSQL.
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
        let docs: Vec<(&NewDocument, &[NewLogEntry])> = writes
            .iter()
            .filter_map(|w| match w {
                Write::Document { doc, log } => Some((doc, log.as_slice())),
                Write::Delivery(_) | Write::Log { .. } => None,
            })
            .collect();
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
                        .bind(&r.envelope_sha256)
                        .bind(&r.subject)
                        .bind(&r.speed)
                        .bind(&r.classification)
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
            let blobs: Vec<(&Part, DateTime<Utc>)> = accepted
                .iter()
                .flat_map(|(d, _)| d.parts.iter().map(|p| (p, stored_time(d.record.accepted_at))))
                .filter(|(p, _)| seen.insert(p.sha256.as_str()))
                .collect();
            for chunk in blobs.chunks(200) {
                let sql = format!(
                    "{} ON CONFLICT (sha256) DO NOTHING",
                    values_sql(pool, "INSERT INTO blobs (sha256, size, data, created_at) VALUES ", 4, chunk.len())
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for (p, at) in chunk {
                    q = q.bind(&p.sha256).bind(p.size).bind(&p.inline).bind(*at);
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
                        .bind(&p.part)
                        .bind(&p.role)
                        .bind(&p.name)
                        .bind(&p.media_type)
                        .bind(p.size)
                        .bind(&p.sha256);
                }
                q.execute(&mut **tx).await?;
            }
            // The retention purge removes unreferenced blob files inside its
            // own transaction; a file gone now went with such a purge.
            for (d, _) in &accepted {
                if let Some(f) = d.files.iter().find(|f| !f.exists()) {
                    return Err(StoreError::Corrupt(format!(
                        "blob file {} vanished before the document was committed; send it again",
                        f.display()
                    )));
                }
            }
            let deliveries: Vec<(&NewDocument, &NewDelivery)> =
                accepted.iter().flat_map(|(d, _)| d.deliveries.iter().map(move |r| (*d, r))).collect();
            for chunk in deliveries.chunks(400) {
                let sql = values_sql(
                    pool,
                    "INSERT INTO deliveries (id, document_id, recipient_code, recipient_unit, kind, via_group, state, \
                     delivered_at, sender_deadline, receiver_deadline, immediate_deadline) VALUES ",
                    11,
                    chunk.len(),
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for (d, r) in chunk {
                    q = q
                        .bind(&r.id)
                        .bind(&d.record.id)
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
            let mut log: Vec<NewLogEntry> = accepted.iter().flat_map(|(_, l)| l.iter().cloned()).collect();
            let mut at = accepted.iter().map(|(d, _)| d.record.accepted_at).max();

            // Delivery changes, each conditional on the state it expects;
            // entries written on their own join the same append.
            let mut applied = Vec::new();
            for w in writes {
                if let Write::Log { at: t, entry } = w {
                    log.push(entry.clone());
                    at = at.max(Some(*t));
                    continue;
                }
                let Write::Delivery(u) = w else { continue };
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
                applied.push(n > 0);
                if n > 0 {
                    log.push(u.log.clone());
                    at = at.max(Some(u.at));
                }
            }
            if !log.is_empty() {
                append_logs!(tx, stored_time(at.unwrap_or_else(Utc::now)), &log);
            }
            tx.commit().await?;
            let mut applied = applied.into_iter();
            Ok(writes
                .iter()
                .map(|w| match w {
                    Write::Document { doc, .. } => inserted_ids.contains(&doc.record.id),
                    Write::Delivery(_) => applied.next().unwrap_or(false),
                    Write::Log { .. } => true,
                })
                .collect())
        })
    }

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
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT p.part, p.role, p.name, p.media_type, p.size, p.sha256, b.data AS inline FROM document_parts p \
                 JOIN blobs b ON b.sha256 = p.sha256 WHERE p.document_id = $1 ORDER BY p.seq",
            )
            .bind(id)
            .fetch_all(pool)
            .await?
        }))
    }

    /// How many blobs are stored: (all, kept inline in the database).
    pub async fn blob_counts(&self) -> Result<(i64, i64)> {
        Ok(with_pool!(self, |pool| sqlx::query_as("SELECT COUNT(*), COUNT(data) FROM blobs").fetch_one(pool).await?))
    }

    /// Every delivery of a document, by recipient code.
    pub async fn document_deliveries(&self, document_id: &str) -> Result<Vec<DeliveryRecord>> {
        let sql = format!("{DELIVERY_SELECT} WHERE d.document_id = $1 ORDER BY d.recipient_code");
        Ok(with_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(document_id).fetch_all(pool).await?))
    }

    pub async fn delivery(&self, id: &str) -> Result<Option<DeliveryRecord>> {
        let sql = format!("{DELIVERY_SELECT} WHERE d.id = $1");
        Ok(with_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await?))
    }

    /// A recipient's deliveries in arrival order (ids are time-ordered),
    /// optionally in one state, after the cursor `after` (a delivery id).
    pub async fn inbox(
        &self,
        recipient: &str,
        state: Option<&str>,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<DeliveryRecord>> {
        let sql = format!(
            "{DELIVERY_SELECT} WHERE d.recipient_code = $1 AND ($2 IS NULL OR d.state = $2) AND d.id > $3 \
             ORDER BY d.id LIMIT $4"
        );
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(recipient)
                .bind(state)
                .bind(after.unwrap_or(""))
                .bind(limit)
                .fetch_all(pool)
                .await?
        }))
    }

    /// A sender's documents, newest first.
    pub async fn sent_documents(&self, sender: &str, limit: i64) -> Result<Vec<SentSummary>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT doc.id, doc.document_number, doc.subject, doc.accepted_at, COUNT(*) AS recipients, \
                   SUM(CASE WHEN d.state = 'confirmed' THEN 1 ELSE 0 END) AS confirmed, \
                   SUM(CASE WHEN d.state = 'returned' THEN 1 ELSE 0 END) AS returned \
                 FROM documents doc JOIN deliveries d ON d.document_id = doc.id \
                 WHERE doc.sender_code = $1 \
                 GROUP BY doc.id, doc.document_number, doc.subject, doc.accepted_at \
                 ORDER BY doc.accepted_at DESC, doc.id DESC LIMIT $2",
            )
            .bind(sender)
            .bind(limit)
            .fetch_all(pool)
            .await?
        }))
    }

    /// The sender's paper resend list: deliveries of its documents returned,
    /// or unconfirmed at the sender deadline (passed at `now`), with no paper
    /// resend recorded; in delivery order after the cursor `after`.
    pub async fn paper_resend_list(
        &self,
        sender: &str,
        now: DateTime<Utc>,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<DeliveryRecord>> {
        let sql = format!(
            "{DELIVERY_SELECT} WHERE doc.sender_code = $1 AND d.state <> 'confirmed' AND d.paper_resend_at IS NULL \
             AND (d.state = 'returned' OR d.sender_deadline <= $2) AND d.id > $3 ORDER BY d.id LIMIT $4"
        );
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(sender)
                .bind(stored_time(now))
                .bind(after.unwrap_or(""))
                .bind(limit)
                .fetch_all(pool)
                .await?
        }))
    }

    /// The receiver's overdue list: its deliveries neither confirmed nor
    /// returned by the receiver (or immediate-confirmation) deadline.
    pub async fn overdue_list(
        &self,
        recipient: &str,
        now: DateTime<Utc>,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<DeliveryRecord>> {
        let sql = format!(
            "{DELIVERY_SELECT} WHERE d.recipient_code = $1 AND d.state IN ('delivered', 'fetched') \
             AND (d.receiver_deadline <= $2 OR d.immediate_deadline <= $2) AND d.id > $3 ORDER BY d.id LIMIT $4"
        );
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(recipient)
                .bind(stored_time(now))
                .bind(after.unwrap_or(""))
                .bind(limit)
                .fetch_all(pool)
                .await?
        }))
    }

    /// Applies `change` if the delivery is still in state `from` (so two
    /// concurrent clerks cannot both win), and logs it. Returns false when
    /// the state moved meanwhile.
    pub async fn change_delivery(
        &self,
        id: &str,
        from: DeliveryState,
        change: DeliveryChange<'_>,
        at: DateTime<Utc>,
        log: &NewLogEntry,
    ) -> Result<bool> {
        let at = stored_time(at);
        let mut minutes = None;
        let (sql, to, by, text): (&'static str, DeliveryState, &str, Option<&str>) = match change {
            DeliveryChange::Fetched { by } => (
                "UPDATE deliveries SET state = $3, fetched_at = COALESCE(fetched_at, $4), fetched_by = COALESCE(fetched_by, $5), \
                 return_reason = COALESCE($6, return_reason), confirm_minutes = COALESCE($7, confirm_minutes) \
                 WHERE id = $1 AND state = $2",
                if from == DeliveryState::Delivered { DeliveryState::Fetched } else { from },
                by,
                None,
            ),
            DeliveryChange::Confirmed { by, minutes: m } => {
                minutes = Some(m);
                (
                    "UPDATE deliveries SET state = $3, confirmed_at = $4, confirmed_by = $5, \
                     return_reason = COALESCE($6, return_reason), confirm_minutes = $7 WHERE id = $1 AND state = $2",
                    DeliveryState::Confirmed,
                    by,
                    None,
                )
            }
            DeliveryChange::Returned { by, reason } => (
                "UPDATE deliveries SET state = $3, returned_at = $4, returned_by = $5, return_reason = $6, \
                 confirm_minutes = COALESCE($7, confirm_minutes) WHERE id = $1 AND state = $2",
                DeliveryState::Returned,
                by,
                Some(reason),
            ),
            DeliveryChange::PaperResend { by, note } => (
                "UPDATE deliveries SET paper_resend_at = $4, paper_resend_by = $5, paper_resend_note = $6, \
                 confirm_minutes = COALESCE($7, confirm_minutes) \
                 WHERE id = $1 AND state = $2 AND state = $3 AND paper_resend_at IS NULL",
                from,
                by,
                note,
            ),
        };
        // Every statement takes the same seven parameters; `$6` is the text
        // (reason or note) and `$7` the minutes to confirm where there is
        // one, and NULL, a no-op, elsewhere.
        self.write(Write::Delivery(DeliveryUpdate {
            id: id.to_owned(),
            sql,
            from,
            to,
            by: by.to_owned(),
            text: text.map(str::to_owned),
            minutes,
            at,
            log: log.clone(),
        }))
        .await
    }
}
