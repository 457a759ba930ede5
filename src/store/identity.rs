//! The blob store a database belongs with (DESIGN §11): recorded by the
//! first node that starts on the database, checked by every later one.

use chrono::{DateTime, Utc};

use super::blobs::StoreIdentity;
use super::{BeginWrite, Result, Serialise, Store, StoreError, stored_time, with_pool};

impl Store {
    /// The blob store recorded for this database, if any.
    pub async fn recorded_blob_store(&self) -> Result<Option<StoreIdentity>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_as::<_, (String, String)>("SELECT id, location FROM blob_store WHERE singleton = 1")
                .fetch_optional(pool)
                .await?
        })
        .map(|(id, location)| StoreIdentity { id, location }))
    }

    /// The blob store recorded for this database; when none is, the one
    /// `identify` returns (it reads the store's marker, or writes one) is
    /// recorded. Nodes starting at the same moment take turns, and only the
    /// one that records calls `identify`: two nodes never each write a
    /// marker of their own into a new store, one of them then refused for
    /// the other's.
    pub async fn claim_blob_store<E, F>(
        &self,
        now: DateTime<Utc>,
        identify: impl FnOnce() -> F,
    ) -> Result<StoreIdentity, E>
    where
        E: From<StoreError>,
        F: std::future::Future<Output = Result<StoreIdentity, E>>,
    {
        // Recorded already (every start but the first): no write transaction.
        if let Some(recorded) = self.recorded_blob_store().await? {
            return Ok(recorded);
        }
        let now = stored_time(now);
        Ok(with_pool!(self, |pool| {
            let mut tx = self.begin_write(pool).await.map_err(E::from)?;
            tx.serialise("gwx blob store").await.map_err(E::from)?;
            let found: Option<(String, String)> =
                sqlx::query_as("SELECT id, location FROM blob_store WHERE singleton = 1")
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err(|e| E::from(e.into()))?;
            let recorded = match found {
                Some((id, location)) => StoreIdentity { id, location },
                None => {
                    let ours = identify().await?;
                    sqlx::query("INSERT INTO blob_store (singleton, id, location, recorded_at) VALUES (1, $1, $2, $3)")
                        .bind(&ours.id)
                        .bind(&ours.location)
                        .bind(now)
                        .execute(&mut **tx)
                        .await
                        .map_err(|e| E::from(e.into()))?;
                    ours
                }
            };
            tx.commit().await.map_err(E::from)?;
            recorded
        }))
    }

    /// Records `store` as this database's blob store, replacing any (a
    /// restore into another store, or blobs moved by the operator).
    pub async fn record_blob_store(&self, store: &StoreIdentity, now: DateTime<Utc>) -> Result<()> {
        let now = stored_time(now);
        with_pool!(self, |pool| {
            let mut tx = self.begin_write(pool).await?;
            sqlx::query(
                "INSERT INTO blob_store (singleton, id, location, recorded_at) VALUES (1, $1, $2, $3) \
                 ON CONFLICT (singleton) DO UPDATE SET id = excluded.id, location = excluded.location, \
                 recorded_at = excluded.recorded_at",
            )
            .bind(&store.id)
            .bind(&store.location)
            .bind(now)
            .execute(&mut **tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }
}
