//! IP blocks (§15, terms §11) and the roster's change list (§5-4).

use chrono::{DateTime, Utc};

use super::log::append_log;
use super::{BeginWrite, Result, Store, StoreError, conflict_on_unique, stored_time, with_pool};
use crate::domain::IpRange;
use crate::domain::log::NewLogEntry;

/// A blocked address or CIDR block.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Block {
    pub id: i64,
    #[schema(value_type = String)]
    #[serde(serialize_with = "crate::store::display")]
    pub ip_range: IpRange,
    pub reason: String,
    pub created_at: DateTime<Utc>,
    /// The participant whose credential placed the block.
    pub created_by: String,
}

/// One entry of the published roster's history.
#[derive(Debug, Clone, PartialEq, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct RosterChange {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub code: String,
    /// registered, changed, suspended, reinstated, activated, terminated.
    pub change: String,
    pub detail: String,
}

impl Store {
    pub async fn blocks(&self) -> Result<Vec<Block>> {
        let rows: Vec<(i64, String, String, DateTime<Utc>, String)> = with_pool!(self, |pool| {
            sqlx::query_as("SELECT id, ip_range, reason, created_at, created_by FROM blocks ORDER BY id")
                .fetch_all(pool)
                .await?
        });
        rows.into_iter()
            .map(|(id, r, reason, created_at, created_by)| {
                Ok(Block { id, ip_range: IpRange::parse(&r)?, reason, created_at, created_by })
            })
            .collect()
    }

    pub async fn add_block(
        &self,
        range: IpRange,
        reason: &str,
        by: &str,
        at: DateTime<Utc>,
        log: &NewLogEntry,
    ) -> Result<Block> {
        let at = stored_time(at);
        let id: i64 = with_pool!(self, |pool| {
            let mut tx = self.begin_write(pool).await?;
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO blocks (ip_range, reason, created_at, created_by) VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(range.to_string())
            .bind(reason)
            .bind(at)
            .bind(by)
            .fetch_one(&mut **tx)
            .await
            .map_err(conflict_on_unique(format!("{range} is already blocked")))?;
            append_log!(tx, at, log);
            tx.commit().await?;
            id
        });
        Ok(Block { id, ip_range: range, reason: reason.to_owned(), created_at: at, created_by: by.to_owned() })
    }

    pub async fn remove_block(&self, id: i64, at: DateTime<Utc>, log: &NewLogEntry) -> Result<()> {
        let at = stored_time(at);
        let n = with_pool!(self, |pool| {
            let mut tx = self.begin_write(pool).await?;
            let n = sqlx::query("DELETE FROM blocks WHERE id = $1").bind(id).execute(&mut **tx).await?.rows_affected();
            if n > 0 {
                append_log!(tx, at, log);
            }
            tx.commit().await?;
            n
        });
        if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    /// Roster changes after `since`, oldest first, a page after id `after`.
    pub async fn roster_changes(
        &self,
        since: Option<DateTime<Utc>>,
        after: i64,
        limit: i64,
    ) -> Result<Vec<RosterChange>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, at, code, change, detail FROM roster_changes \
                 WHERE ($1 IS NULL OR at >= $1) AND id > $2 ORDER BY id LIMIT $3",
            )
            .bind(since.map(stored_time))
            .bind(after)
            .bind(limit)
            .fetch_all(pool)
            .await?
        }))
    }
}

/// Records a roster change inside the open transaction `$tx`.
macro_rules! roster_change {
    ($tx:expr, $at:expr, $code:expr, $change:expr, $detail:expr) => {
        sqlx::query("INSERT INTO roster_changes (at, code, change, detail) VALUES ($1, $2, $3, $4)")
            .bind($at)
            .bind($code)
            .bind($change)
            .bind($detail)
            .execute(&mut **$tx)
            .await?
    };
}
pub(crate) use roster_change;
