//! What backup and restore (`tools::backup`) ask of the database: a
//! consistent snapshot and the facts it holds (the blobs kept as files, the
//! log head), whether a database is empty, and every blob to verify.

use std::path::Path;

use sqlx::Connection;

use super::{Result, Store, StoreError, with_pool};

/// What a snapshot holds that a backup needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotFacts {
    /// The blobs kept as files, by SHA-256, in order.
    pub files: Vec<String>,
    /// The exchange log's head: (sequence number, hash).
    pub log_head: (i64, String),
}

/// The facts of a snapshot, read on connection `$conn`.
macro_rules! snapshot_facts {
    ($conn:expr) => {{
        let files: Vec<(String,)> =
            sqlx::query_as("SELECT sha256 FROM blobs WHERE data IS NULL ORDER BY sha256").fetch_all($conn).await?;
        let log_head: (i64, String) =
            sqlx::query_as("SELECT seq, hash FROM log_head WHERE id = 1").fetch_one($conn).await?;
        SnapshotFacts { files: files.into_iter().map(|(s,)| s).collect(), log_head }
    }};
}

/// Copies the SQLite database `db` into the new file `into` as one
/// consistent snapshot (`VACUUM INTO`, while the hub writes), and reads the
/// snapshot's facts.
pub async fn sqlite_snapshot(db: &str, into: &Path) -> Result<SnapshotFacts> {
    let into_str = into.to_str().ok_or_else(|| StoreError::Corrupt("backup path is not UTF-8".into()))?.to_owned();
    let mut conn =
        sqlx::SqliteConnection::connect_with(&sqlx::sqlite::SqliteConnectOptions::new().filename(db).read_only(true))
            .await?;
    sqlx::query("VACUUM INTO $1").bind(&into_str).execute(&mut conn).await?;
    conn.close().await?;
    let mut snap =
        sqlx::SqliteConnection::connect_with(&sqlx::sqlite::SqliteConnectOptions::new().filename(into).read_only(true))
            .await?;
    let facts = snapshot_facts!(&mut snap);
    snap.close().await?;
    Ok(facts)
}

/// A PostgreSQL snapshot held open by a read-only transaction, so that
/// `pg_dump --snapshot` copies exactly what the facts describe.
pub struct PgSnapshot {
    tx: sqlx::Transaction<'static, sqlx::Postgres>,
    /// The exported snapshot's name, for `pg_dump --snapshot`.
    pub name: String,
    pub facts: SnapshotFacts,
}

impl PgSnapshot {
    pub async fn open(url: &str) -> Result<PgSnapshot> {
        let pool = sqlx::postgres::PgPoolOptions::new().max_connections(1).connect(url).await?;
        let mut tx = pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await?;
        let (name,): (String,) = sqlx::query_as("SELECT pg_export_snapshot()").fetch_one(&mut *tx).await?;
        let facts = snapshot_facts!(&mut *tx);
        Ok(PgSnapshot { tx, name, facts })
    }

    /// Ends the transaction (after the dump).
    pub async fn close(self) -> Result<()> {
        Ok(self.tx.rollback().await?)
    }
}

/// Whether the PostgreSQL database `url` has no tables yet.
pub async fn pg_is_empty(url: &str) -> Result<bool> {
    let mut conn = sqlx::PgConnection::connect(url).await?;
    let (tables,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'")
            .fetch_one(&mut conn)
            .await?;
    conn.close().await?;
    Ok(tables == 0)
}

/// Empties the PostgreSQL database `url` again after a failed restore into
/// it (it was empty before): every table, sequence and function of its
/// public schema is dropped.
pub async fn pg_empty_again(url: &str) -> Result<()> {
    let mut conn = sqlx::PgConnection::connect(url).await?;
    sqlx::query(
        "DO $$ DECLARE r record; BEGIN \
           FOR r IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' LOOP \
             EXECUTE 'DROP TABLE IF EXISTS public.' || quote_ident(r.tablename) || ' CASCADE'; END LOOP; \
           FOR r IN SELECT sequence_name FROM information_schema.sequences WHERE sequence_schema = 'public' LOOP \
             EXECUTE 'DROP SEQUENCE IF EXISTS public.' || quote_ident(r.sequence_name) || ' CASCADE'; END LOOP; \
           FOR r IN SELECT p.oid::regprocedure AS f FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
                    WHERE n.nspname = 'public' LOOP \
             EXECUTE 'DROP FUNCTION IF EXISTS ' || r.f || ' CASCADE'; END LOOP; \
         END $$",
    )
    .execute(&mut conn)
    .await?;
    conn.close().await?;
    Ok(())
}

/// A blob as the database knows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BlobRow {
    pub sha256: String,
    pub size: i64,
    /// The bytes, for a blob kept inline.
    pub data: Option<Vec<u8>>,
    pub damaged: bool,
}

impl Store {
    /// Up to `limit` blobs after the SHA-256 `after`, in order: their hash,
    /// size, bytes (for those kept inline) and whether they are marked damaged.
    pub async fn blobs_after(&self, after: &str, limit: i64) -> Result<Vec<BlobRow>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT sha256, size, data, damaged_at IS NOT NULL AS damaged FROM blobs \
                 WHERE sha256 > $1 ORDER BY sha256 LIMIT $2",
            )
            .bind(after)
            .bind(limit)
            .fetch_all(pool)
            .await?
        }))
    }

    /// The exchange log's head sequence number.
    pub async fn log_head_seq(&self) -> Result<i64> {
        let (seq,): (i64,) =
            with_pool!(self, |pool| { sqlx::query_as("SELECT seq FROM log_head WHERE id = 1").fetch_one(pool).await? });
        Ok(seq)
    }
}
