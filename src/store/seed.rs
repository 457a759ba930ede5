//! Bulk paths for `gwx bench`'s year-sized hub: documents written many at a
//! time through the same statements the committer uses (log chain
//! included), and the bulk confirmation of what a year leaves confirmed.
//! Not used by the hub itself.

use chrono::{DateTime, Utc};

use super::committer::Write;
use super::documents::NewDocument;
use super::{BeginWrite, Db, Result, Store, stored_time, with_pool};
use crate::domain::log::NewLogEntry;

impl Store {
    /// Writes `docs` (with their deliveries, parts and log entries) in one
    /// transaction, as a group commit of that many would.
    pub async fn seed_documents(&self, docs: Vec<(NewDocument, Vec<NewLogEntry>)>) -> Result<()> {
        let writes: Vec<Write> = docs.into_iter().map(|(doc, log)| Write::Document { doc, log }).collect();
        self.apply_writes(&writes).await?;
        Ok(())
    }

    /// Marks confirmed (fetched and confirmed when delivered) every delivery
    /// delivered before `before`, except those to `pending`, with office
    /// minutes to confirm spread over 0–1499 (as the audit's percentiles
    /// meet them).
    pub async fn seed_confirm(&self, before: DateTime<Utc>, pending: &str) -> Result<u64> {
        let minutes = match self.db {
            Db::Sqlite(_) => "abs(random()) % 1500",
            Db::Postgres(_) => "floor(random() * 1500)",
        };
        let sql = format!(
            "UPDATE deliveries SET state = 'confirmed', fetched_at = delivered_at, confirmed_at = delivered_at, \
             confirm_minutes = {minutes} WHERE state = 'delivered' AND delivered_at < $1 AND recipient_code <> $2"
        );
        Ok(with_pool!(self, |pool| {
            let mut tx = self.begin_write(pool).await?;
            let n = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(stored_time(before))
                .bind(pending)
                .execute(&mut **tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            n
        }))
    }
}
