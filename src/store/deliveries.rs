//! Deliveries: one per (document, recipient), the inbox, the deadline
//! lists and the conditional state changes of DESIGN §4.

use chrono::{DateTime, Utc};

use super::committer::{DeliveryUpdate, Write};
use super::{Result, Store, stored_time, with_pool};
use crate::domain::delivery::DeliveryState;
use crate::domain::document::{RecipientKind, Speed};
use crate::domain::log::NewLogEntry;

/// A delivery with the document facts a recipient's inbox shows.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct DeliveryRecord {
    pub id: String,
    pub document_id: String,
    pub recipient_code: String,
    pub recipient_unit: Option<String>,
    #[sqlx(try_from = "String")]
    pub kind: RecipientKind,
    pub via_group: Option<String>,
    #[sqlx(try_from = "String")]
    pub state: DeliveryState,
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
    #[sqlx(try_from = "String")]
    pub speed: Speed,
    pub immediate_confirmation: bool,
    pub sender_name: Option<String>,
    pub recipient_name: Option<String>,
}

const DELIVERY_SELECT: &str = "SELECT d.id, d.document_id, d.recipient_code, d.recipient_unit, d.kind, d.via_group, \
     d.state, d.delivered_at, d.fetched_at, d.fetched_by, d.confirmed_at, d.confirmed_by, d.returned_at, \
     d.returned_by, d.return_reason, d.paper_resend_at, d.paper_resend_by, d.paper_resend_note, \
     d.sender_deadline, d.receiver_deadline, d.immediate_deadline, doc.sender_code, doc.document_number, doc.subject, \
     doc.speed, doc.immediate_confirmation, ps.name AS sender_name, pr.name AS recipient_name \
     FROM deliveries d JOIN documents doc ON doc.id = d.document_id \
     LEFT JOIN participants ps ON ps.code = doc.sender_code LEFT JOIN participants pr ON pr.code = d.recipient_code";

/// A document's deliveries ($1 the document).
pub(crate) fn document_deliveries_sql() -> String {
    format!("{DELIVERY_SELECT} WHERE d.document_id = $1 ORDER BY d.recipient_code")
}

/// A page of an inbox ($1 recipient, $2 state, $3 after, $4 limit). Two
/// shapes, so each walks its index in order (`$2 IS NULL OR …` would keep
/// the planner from using the state index).
pub(crate) fn inbox_sql(state: bool) -> String {
    if state {
        format!("{DELIVERY_SELECT} WHERE d.recipient_code = $1 AND d.state = $2 AND d.id > $3 ORDER BY d.id LIMIT $4")
    } else {
        format!("{DELIVERY_SELECT} WHERE d.recipient_code = $1 AND d.id > $3 AND ($2 IS NULL) ORDER BY d.id LIMIT $4")
    }
}

/// A page of the sender's paper resend list ($1 sender, $2 now, $3 after,
/// $4 limit), from the partial index of its open deliveries.
pub(crate) fn paper_resend_sql() -> String {
    format!(
        "{DELIVERY_SELECT} WHERE d.sender_code = $1 AND d.state <> 'confirmed' AND d.paper_resend_at IS NULL \
         AND (d.state = 'returned' OR d.sender_deadline <= $2) AND d.id > $3 ORDER BY d.id LIMIT $4"
    )
}

/// A page of the receiver's overdue list ($1 recipient, $2 now, $3 after,
/// $4 limit), from the partial index of its open deliveries.
pub(crate) fn overdue_sql() -> String {
    format!(
        "{DELIVERY_SELECT} WHERE d.recipient_code = $1 AND d.state IN ('delivered', 'fetched') \
         AND (d.receiver_deadline <= $2 OR d.immediate_deadline <= $2) AND d.id > $3 ORDER BY d.id LIMIT $4"
    )
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
    /// Every delivery of a document, by recipient code.
    pub async fn document_deliveries(&self, document_id: &str) -> Result<Vec<DeliveryRecord>> {
        Ok(with_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(document_deliveries_sql()))
            .bind(document_id)
            .fetch_all(pool)
            .await?))
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
        let sql = inbox_sql(state.is_some());
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
        let sql = paper_resend_sql();
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
        let sql = overdue_sql();
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
