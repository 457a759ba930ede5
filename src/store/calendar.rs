//! The working-day calendar (DGPA years and closures) and the deadlines
//! stored on deliveries.

use chrono::{DateTime, NaiveDate, Utc};

use super::log::append_log;
use super::{BeginWrite, Result, Serialise, Store, stored_time, values_sql, with_pool};
use crate::domain::calendar::{Calendar, CalendarDay, CalendarYear, ClosurePart};
use crate::domain::log::NewLogEntry;

/// No deadline lies more than this many days after its delivery: the
/// longest run of days off plus the longest immediate-confirmation span
/// (five working days) is far shorter.
pub const DEADLINE_HORIZON_DAYS: i64 = 90;

/// A loaded calendar year, without its days.
#[derive(Debug, Clone, PartialEq, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct CalendarYearInfo {
    pub year: i32,
    /// `shipped` (generated into the hub) or `uploaded`.
    pub source: String,
    pub loaded_at: DateTime<Utc>,
    /// The participant that loaded it, or `gwx` for a shipped year.
    pub loaded_by: String,
}

/// An unplanned closure (停班).
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Closure {
    pub day: NaiveDate,
    pub part: ClosurePart,
    pub reason: String,
    pub declared_at: DateTime<Utc>,
    pub declared_by: String,
}

/// The deadlines of one document's deliveries (they share a delivery time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    pub sender: DateTime<Utc>,
    pub receiver: DateTime<Utc>,
    /// Only for documents that ask for immediate confirmation (§10).
    pub immediate: Option<DateTime<Utc>>,
}

/// A document whose deadlines a recomputation may move.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct PendingDeadlines {
    pub document_id: String,
    pub delivered_at: DateTime<Utc>,
    pub immediate_confirmation: bool,
}

impl Store {
    /// The calendar as stored: every loaded year and every closure.
    pub async fn calendar(&self) -> Result<Calendar> {
        let days: Vec<(NaiveDate, i32, bool)> = with_pool!(self, |pool| {
            sqlx::query_as("SELECT day, year, working FROM calendar_days").fetch_all(pool).await?
        });
        let closures: Vec<(NaiveDate, String)> = with_pool!(self, |pool| {
            sqlx::query_as("SELECT day, part FROM calendar_closures").fetch_all(pool).await?
        });
        let mut years: std::collections::BTreeMap<i32, CalendarYear> = Default::default();
        for (date, year, working) in days {
            years.entry(year).or_insert_with(|| CalendarYear { year, days: Vec::new() }).days.push(CalendarDay {
                date,
                working,
                note: String::new(),
            });
        }
        let mut cal = Calendar::weekends_only();
        for y in years.values() {
            cal.add_year(y);
        }
        for (day, part) in closures {
            cal.add_closure(day, part.parse()?);
        }
        Ok(cal)
    }

    pub async fn calendar_years(&self) -> Result<Vec<CalendarYearInfo>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_as("SELECT year, source, loaded_at, loaded_by FROM calendar_years ORDER BY year")
                .fetch_all(pool)
                .await?
        }))
    }

    /// A loaded year with its days, in date order.
    pub async fn calendar_year(&self, year: i32) -> Result<Option<CalendarYear>> {
        let days: Vec<(NaiveDate, bool, String)> = with_pool!(self, |pool| {
            sqlx::query_as("SELECT day, working, note FROM calendar_days WHERE year = $1 ORDER BY day")
                .bind(year)
                .fetch_all(pool)
                .await?
        });
        if days.is_empty() {
            return Ok(None);
        }
        let days = days.into_iter().map(|(date, working, note)| CalendarDay { date, working, note }).collect();
        Ok(Some(CalendarYear { year, days }))
    }

    /// Stores a year, replacing what was loaded for it unless `only_if_absent`
    /// (the shipped years never overwrite an upload). Returns whether it was stored.
    pub async fn put_calendar_year(
        &self,
        y: &CalendarYear,
        source: &str,
        by: &str,
        at: DateTime<Utc>,
        only_if_absent: bool,
        log: &NewLogEntry,
    ) -> Result<bool> {
        let at = stored_time(at);
        Ok(with_pool!(self, |pool| {
            let mut tx = self.begin_write(pool).await?;
            // Two nodes starting together on a fresh database both seed the
            // shipped years: the second waits, then finds them stored.
            tx.serialise("gwx calendar years").await?;
            let exists: Option<(i32,)> = sqlx::query_as("SELECT year FROM calendar_years WHERE year = $1")
                .bind(y.year)
                .fetch_optional(&mut **tx)
                .await?;
            if exists.is_some() && only_if_absent {
                false
            } else {
                sqlx::query("DELETE FROM calendar_days WHERE year = $1").bind(y.year).execute(&mut **tx).await?;
                sqlx::query(
                    "INSERT INTO calendar_years (year, source, loaded_at, loaded_by) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (year) DO UPDATE SET source = $2, loaded_at = $3, loaded_by = $4",
                )
                .bind(y.year)
                .bind(source)
                .bind(at)
                .bind(by)
                .execute(&mut **tx)
                .await?;
                for chunk in y.days.chunks(200) {
                    let sql =
                        values_sql(&tx, "INSERT INTO calendar_days (day, year, working, note) VALUES ", 4, chunk.len());
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for d in chunk {
                        q = q.bind(d.date).bind(y.year).bind(d.working).bind(&d.note);
                    }
                    q.execute(&mut **tx).await?;
                }
                append_log!(tx, at, log);
                tx.commit().await?;
                true
            }
        }))
    }

    pub async fn closures(&self) -> Result<Vec<Closure>> {
        let rows: Vec<(NaiveDate, String, String, DateTime<Utc>, String)> = with_pool!(self, |pool| {
            sqlx::query_as("SELECT day, part, reason, declared_at, declared_by FROM calendar_closures ORDER BY day")
                .fetch_all(pool)
                .await?
        });
        rows.into_iter()
            .map(|(day, part, reason, declared_at, declared_by)| {
                Ok(Closure { day, part: part.parse()?, reason, declared_at, declared_by })
            })
            .collect()
    }

    /// Records a closure (a second declaration for the same day replaces the first).
    pub async fn declare_closure(&self, c: &Closure, log: &NewLogEntry) -> Result<()> {
        let at = stored_time(c.declared_at);
        with_pool!(self, |pool| {
            let mut tx = self.begin_write(pool).await?;
            sqlx::query(
                "INSERT INTO calendar_closures (day, part, reason, declared_at, declared_by) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (day) DO UPDATE SET part = $2, reason = $3, declared_at = $4, declared_by = $5",
            )
            .bind(c.day)
            .bind(c.part.as_str())
            .bind(&c.reason)
            .bind(at)
            .bind(&c.declared_by)
            .execute(&mut **tx)
            .await?;
            append_log!(tx, at, log);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Documents with a deadline not yet passed at `now`, or with none
    /// computed. Only deliveries of the last [`DEADLINE_HORIZON_DAYS`] are
    /// looked at (through the index on `delivered_at`): no deadline lies
    /// further after its delivery than that.
    pub async fn pending_deadlines(&self, now: DateTime<Utc>) -> Result<Vec<PendingDeadlines>> {
        let since = stored_time(now - chrono::Duration::days(DEADLINE_HORIZON_DAYS));
        let now = stored_time(now);
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT doc.id AS document_id, doc.accepted_at AS delivered_at, doc.immediate_confirmation \
                 FROM documents doc WHERE doc.id IN (SELECT d.document_id FROM deliveries d \
                   WHERE d.delivered_at >= $2 AND (d.receiver_deadline IS NULL OR d.sender_deadline > $1 \
                     OR d.receiver_deadline > $1 OR d.immediate_deadline > $1)) \
                 ORDER BY doc.accepted_at",
            )
            .bind(now)
            .bind(since)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Sets new deadlines on the deliveries of each document, changing only
    /// the deadlines that had not passed at `now` (or were never set), and
    /// logs the recomputation. Returns how many deliveries changed.
    pub async fn recompute_deadlines(
        &self,
        docs: &[(String, Deadlines)],
        now: DateTime<Utc>,
        log: &NewLogEntry,
    ) -> Result<u64> {
        let now = stored_time(now);
        let changed = with_pool!(self, |pool| {
            let mut tx = self.begin_write(pool).await?;
            let mut changed = 0;
            for (id, dl) in docs {
                changed += sqlx::query(
                    "UPDATE deliveries SET \
                       sender_deadline = CASE WHEN sender_deadline IS NULL OR sender_deadline > $2 THEN $3 ELSE sender_deadline END, \
                       receiver_deadline = CASE WHEN receiver_deadline IS NULL OR receiver_deadline > $2 THEN $4 ELSE receiver_deadline END, \
                       immediate_deadline = CASE WHEN immediate_deadline IS NULL OR immediate_deadline > $2 THEN $5 ELSE immediate_deadline END \
                     WHERE document_id = $1 AND (sender_deadline IS DISTINCT FROM $3 OR receiver_deadline IS DISTINCT FROM $4 \
                       OR immediate_deadline IS DISTINCT FROM $5)",
                )
                .bind(id)
                .bind(now)
                .bind(dl.sender)
                .bind(dl.receiver)
                .bind(dl.immediate)
                .execute(&mut **tx)
                .await?
                .rows_affected();
            }
            let mut log = log.clone();
            log.detail = format!("{}: {changed} deliveries of {} documents", log.detail, docs.len());
            append_log!(tx, now, &log);
            tx.commit().await?;
            changed
        });
        Ok(changed)
    }
}
