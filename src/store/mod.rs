//! The one storage interface of the hub, over SQLite (default) or PostgreSQL.
//!
//! [`Store`] is an enum of the two connection pools. Every query is written
//! once, in SQL both databases accept (`$N` parameters, `RETURNING`,
//! `ON CONFLICT`), and [`with_pool!`] expands the same code for each pool, so
//! the two implementations cannot drift apart. Column types differ only in the
//! migrations. SQL lives in this module and nowhere else.

mod applications;
mod audit;
mod auth;
pub mod backup;
pub mod blobs;
pub mod c_memory;
mod calendar;
mod committer;
pub(crate) mod credentials;
mod deliveries;
mod documents;
pub mod events;
mod groups;
mod identity;
pub(crate) mod log;
pub(crate) mod participants;
pub mod plans;
mod retention;
pub(crate) mod sanctions;
pub mod schema;
mod seed;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool, Transaction};

pub use applications::{Application, ApplicationEvent, ApplicationFilter, Notification, NotificationTo};
pub use audit::Timeliness;
pub use auth::AuthRecord;
pub use calendar::{CalendarYearInfo, Closure, Deadlines, PendingDeadlines};
pub use credentials::{Credential, NewCredential};
pub use deliveries::{DeliveryChange, DeliveryRecord};
pub use documents::{DocumentRecord, NewDelivery, NewDocument, Part, SentSummary};
pub use groups::{GroupActor, GroupEdit, GroupVersion};
pub use log::{Checkpoint, LogFilter, LogReport};
pub use participants::{AllowlistEntry, NewParticipant, ParticipantUpdate};
pub use retention::{PURGE_BATCH, PurgeReport};
pub use sanctions::{Block, RosterChange};

use crate::domain::Invalid;

/// The database behind the hub.
#[derive(Clone, Debug)]
pub struct Store {
    pub db: Db,
    /// SQLite allows one writer at a time. Writers queue here, in order,
    /// instead of colliding on the database lock and sleeping in SQLite's
    /// busy handler. (PostgreSQL needs no such queue.)
    write_queue: Arc<tokio::sync::Mutex<()>>,
    /// Group commit of accepted documents, delivery changes and log entries.
    committer: Option<Arc<committer::Committer>>,
    /// Counts the changes to what authentication reads (participants,
    /// credentials, allowlists) made through this store, and those other
    /// nodes made (their notifications): a cached authentication is good
    /// while the count is what it was when it was read.
    auth_epoch: Arc<std::sync::atomic::AtomicU64>,
    /// Authentications read, kept for a moment on PostgreSQL.
    kept_auth: Arc<auth::KeptAuth>,
}

/// The connection pool of either database.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("already exists: {0}")]
    Conflict(String),
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// The database could not write for want of space: SQLite's
    /// `SQLITE_FULL` (13, with its extended codes), PostgreSQL's `53100
    /// disk_full`, or an I/O error saying the same.
    pub fn is_storage_full(&self) -> bool {
        match self {
            StoreError::Db(sqlx::Error::Database(d)) => {
                let code = d.code();
                let code = code.as_deref().unwrap_or("");
                code == "53100" || code.parse::<i32>().is_ok_and(|c| c & 0xff == 13)
            }
            StoreError::Db(sqlx::Error::Io(e)) => {
                matches!(e.kind(), std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded)
            }
            _ => false,
        }
    }
}

impl From<Invalid> for StoreError {
    fn from(e: Invalid) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Runs `$body` with `$pool` bound to whichever pool the store holds. The body
/// is compiled once per database, from the same source.
macro_rules! with_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.db {
            $crate::store::Db::Sqlite($pool) => $body,
            $crate::store::Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

/// A transaction that writes, holding its place in the SQLite writer queue
/// until it ends. Statements run on `&mut **tx`.
pub(crate) struct WriteTx<DB: sqlx::Database> {
    tx: Transaction<'static, DB>,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl<DB: sqlx::Database> std::ops::Deref for WriteTx<DB> {
    type Target = Transaction<'static, DB>;
    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl<DB: sqlx::Database> std::ops::DerefMut for WriteTx<DB> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}

impl<DB: sqlx::Database> WriteTx<DB> {
    pub(crate) async fn commit(self) -> Result<()> {
        Ok(self.tx.commit().await?)
    }
}

/// Starting a transaction that will write. SQLite needs `BEGIN IMMEDIATE`
/// (a deferred transaction that reads first fails instead of waiting when it
/// later writes) and its turn in the writer queue.
pub(crate) trait BeginWrite<P> {
    type Db: sqlx::Database;
    async fn begin_write(&self, pool: &P) -> Result<WriteTx<Self::Db>>;
}

impl BeginWrite<SqlitePool> for Store {
    type Db = sqlx::Sqlite;
    async fn begin_write(&self, pool: &SqlitePool) -> Result<WriteTx<sqlx::Sqlite>> {
        let turn = self.write_queue.clone().lock_owned().await;
        Ok(WriteTx { tx: pool.begin_with("BEGIN IMMEDIATE").await?, _turn: Some(turn) })
    }
}

impl BeginWrite<PgPool> for Store {
    type Db = sqlx::Postgres;
    async fn begin_write(&self, pool: &PgPool) -> Result<WriteTx<sqlx::Postgres>> {
        Ok(WriteTx { tx: pool.begin().await?, _turn: None })
    }
}

/// Work that several nodes may start at the same moment on one database
/// (seeding the shipped calendars, say) takes its turn: on PostgreSQL a
/// transaction-scoped advisory lock named by `key`, held until the
/// transaction ends; on SQLite the transaction's `BEGIN IMMEDIATE` already
/// serialises every writer.
pub(crate) trait Serialise {
    async fn serialise(&mut self, key: &str) -> Result<()>;
}

impl Serialise for WriteTx<sqlx::Sqlite> {
    async fn serialise(&mut self, _key: &str) -> Result<()> {
        Ok(())
    }
}

impl Serialise for WriteTx<sqlx::Postgres> {
    async fn serialise(&mut self, key: &str) -> Result<()> {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))").bind(key).execute(&mut *self.tx).await?;
        Ok(())
    }
}

/// Maps a unique-constraint violation to [`StoreError::Conflict`].
pub(crate) fn conflict_on_unique(what: impl Into<String>) -> impl FnOnce(sqlx::Error) -> StoreError {
    let what = what.into();
    move |e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict(what),
        _ => StoreError::Db(e),
    }
}

/// How a database writes the parameters of a multi-row INSERT. SQLite gets
/// anonymous `?`: sqlx looks up every named parameter by scanning the list
/// of names, which makes `$N` quadratic in the number of parameters.
pub(crate) trait Dialect {
    const NUMBERED: bool;
}
impl Dialect for sqlx::Sqlite {
    const NUMBERED: bool = false;
}
impl Dialect for sqlx::Postgres {
    const NUMBERED: bool = true;
}

/// The dialect of whatever a statement runs on (a pool or a transaction).
pub(crate) trait OnDb {
    type Db: Dialect;
}
impl OnDb for SqlitePool {
    type Db = sqlx::Sqlite;
}
impl OnDb for PgPool {
    type Db = sqlx::Postgres;
}
impl<DB: sqlx::Database + Dialect> OnDb for WriteTx<DB> {
    type Db = DB;
}

/// `prefix` followed by `rows` groups of `columns` placeholders, `($1, $2),
/// ($3, $4)` or `(?, ?), (?, ?)` as `on`'s database wants them.
pub(crate) fn values_sql<T: OnDb>(_on: &T, prefix: &str, columns: usize, rows: usize) -> String {
    use std::fmt::Write;
    let mut sql = String::with_capacity(prefix.len() + rows * columns * 6);
    sql.push_str(prefix);
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..columns {
            if c > 0 {
                sql.push_str(", ");
            }
            if <T::Db as Dialect>::NUMBERED {
                let _ = write!(sql, "${}", r * columns + c + 1);
            } else {
                sql.push('?');
            }
        }
        sql.push(')');
    }
    sql
}

/// Times as stored: microseconds, the precision both databases keep.
pub fn stored_time(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(6)
}

/// Serialises a value by its `Display` (addresses and CIDR blocks).
pub(crate) fn display<T: std::fmt::Display, S: serde::Serializer>(v: &T, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// One page of a keyset-paginated list.
#[derive(Debug, Clone)]
pub struct Page<C> {
    pub after: Option<C>,
    pub limit: i64,
}

/// Whether `url` names a PostgreSQL database (anything else is a SQLite file).
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

impl Store {
    /// Opens the database named by `url` and applies the migrations.
    /// `postgres://…` selects PostgreSQL; anything else is a SQLite file path
    /// (optionally prefixed `sqlite://`), created if missing.
    pub async fn open(url: &str) -> Result<Store> {
        let mut migrating = None;
        let db = if is_postgres_url(url) {
            let opts = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(30))
                .before_acquire(|conn, _| Box::pin(async move { Ok(still_usable(conn)) }))
                .connect_with(opts)
                .await?;
            Db::Postgres(pool)
        } else {
            let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
            let pool = open_sqlite(Path::new(path)).await?;
            migrating = Some(lock_exclusively(Path::new(path)).await?);
            Db::Sqlite(pool)
        };
        let mut store = Store::new(db);
        store.committer = Some(Arc::new(committer::Committer::start(store.clone())));
        // PostgreSQL: sqlx's migrator holds an advisory lock meanwhile.
        store.migrate().await?;
        drop(migrating);
        Ok(store)
    }

    fn new(db: Db) -> Store {
        Store {
            db,
            write_queue: Arc::default(),
            committer: None,
            auth_epoch: Arc::default(),
            kept_auth: Arc::default(),
        }
    }

    async fn migrate(&self) -> Result<()> {
        match &self.db {
            Db::Sqlite(pool) => sqlx::migrate!("./migrations/sqlite").run(pool).await?,
            Db::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    /// The count of changes to what authentication reads (see `auth_epoch`).
    pub fn auth_epoch(&self) -> u64 {
        self.auth_epoch.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// What authentication reads changed: made through this store, or
    /// announced by another node (or a lost connection may have hidden
    /// such an announcement).
    pub fn auth_changed(&self) {
        self.auth_epoch.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.db, Db::Postgres(_))
    }

    pub fn backend_name(&self) -> &'static str {
        match &self.db {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<()> {
        with_pool!(self, |pool| sqlx::query("SELECT 1").execute(pool).await.map(|_| ())?);
        Ok(())
    }

    /// A connection to a PostgreSQL server's maintenance database, for
    /// creating and dropping databases (setup and tests); no migrations.
    pub async fn open_admin(url: &str) -> Result<Store> {
        let opts = PgConnectOptions::from_str(url)?;
        Ok(Store::new(Db::Postgres(PgPoolOptions::new().max_connections(1).connect_with(opts).await?)))
    }

    /// Creates a PostgreSQL database (name: lower-case letters, digits, `_`).
    pub async fn create_database(&self, name: &str) -> Result<()> {
        self.database_ddl("CREATE DATABASE", name, "").await
    }

    /// Drops a PostgreSQL database, closing its connections. A background
    /// backend of another role (an autovacuum worker) that the caller may
    /// not terminate, or one still connecting, fails the drop for a moment:
    /// it is retried for a few seconds before the error is returned.
    pub async fn drop_database(&self, name: &str) -> Result<()> {
        let mut attempt = 0;
        loop {
            match self.database_ddl("DROP DATABASE IF EXISTS", name, " WITH (FORCE)").await {
                Err(StoreError::Db(sqlx::Error::Database(e)))
                    if attempt < 20 && matches!(e.code().as_deref(), Some("42501" | "55006")) =>
                {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                other => return other,
            }
        }
    }

    async fn database_ddl(&self, verb: &str, name: &str, suffix: &str) -> Result<()> {
        let Db::Postgres(pool) = &self.db else {
            return Err(StoreError::Corrupt("databases are created on PostgreSQL only".into()));
        };
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
            return Err(StoreError::Corrupt(format!("bad database name '{name}'")));
        }
        sqlx::query(sqlx::AssertSqlSafe(format!("{verb} {name}{suffix}"))).execute(pool).await?;
        Ok(())
    }

    /// Refreshes PostgreSQL's planner statistics of every table, as after
    /// any bulk load (a seeded year, a restore): autovacuum would get there
    /// minutes later, and a plan prepared meanwhile from the empty tables'
    /// statistics can read a whole index range for one page (measured: the
    /// sender's deadline list of a fresh year, 785 ms instead of 3 ms).
    /// SQLite keeps planning by its own rules, as the plan tests check it.
    pub async fn analyze(&self) -> Result<()> {
        if let Db::Postgres(pool) = &self.db {
            sqlx::query("ANALYZE").execute(pool).await?;
        }
        Ok(())
    }

    pub async fn close(&self) {
        with_pool!(self, |pool| pool.close().await)
    }
}

/// An exclusive `flock` of the SQLite file, for as long as the returned
/// file is open: processes opening one new database at the same moment
/// migrate it one after the other (sqlx's migrator locks nothing on
/// SQLite). SQLite's own locks are `fcntl` locks, which `flock` leaves alone.
async fn lock_exclusively(path: &Path) -> Result<std::fs::File> {
    let path = path.to_owned();
    let locked = tokio::task::spawn_blocking(move || -> std::io::Result<std::fs::File> {
        use std::os::fd::AsRawFd;
        let file = std::fs::File::open(&path)?;
        // SAFETY: the descriptor is open for as long as `file` lives.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(file)
    })
    .await
    .map_err(|e| StoreError::Corrupt(format!("the migration lock stopped: {e}")))?;
    locked.map_err(|e| StoreError::Db(sqlx::Error::Io(e)))
}

async fn open_sqlite(path: &Path) -> Result<SqlitePool> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Db(sqlx::Error::Io(e)))?;
    }
    let opts = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // An accepted document must survive a power cut: FULL syncs the WAL on commit.
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(30))
        // Rows handed to the async side in larger batches: the default (50)
        // makes a long read, the log's CSV export, a thread hand-off per few rows.
        .row_buffer_size(1024)
        // Statement journals (an INSERT … ON CONFLICT inside a transaction)
        // and sorts stay in memory instead of temporary files.
        .pragma("temp_store", "MEMORY")
        .pragma("cache_size", "-32768");
    // Each SQLite connection is a thread of its own in sqlx; a few suffice
    // (one writer at a time, readers share the WAL) and fewer threads mean
    // fewer context switches under load.
    Ok(SqlitePoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(30))
        .before_acquire(|conn, _| Box::pin(async move { Ok(still_usable(conn)) }))
        .connect_with(opts)
        .await?)
}

/// Whether a pooled connection may serve again. A transaction the
/// database ended by itself (SQLite rolls back on `SQLITE_FULL`; a failed
/// COMMIT) leaves sqlx counting it as open, and such a connection could
/// never begin another ("begin_with at non-zero transaction depth"): it is
/// closed instead, and the pool opens a new one. Checked as a connection is
/// taken from the pool, after the pool's own pings on release and on
/// acquire have carried out any rollback still queued for it.
fn still_usable<C: sqlx::Connection>(conn: &C) -> bool {
    if conn.is_in_transaction() {
        tracing::warn!("closing a database connection left inside a transaction it cannot end");
        return false;
    }
    true
}

/// A turn at work that one node of the hub does at a time (the daily
/// jobs): on PostgreSQL a session advisory lock, held by a connection of
/// its own until [`Turn::end`] (or, if the turn is dropped, until that
/// connection is closed); SQLite is one node.
pub struct Turn {
    held: Option<(sqlx::pool::PoolConnection<sqlx::Postgres>, String)>,
}

impl Store {
    /// The turn named `key`, unless another node has it now.
    pub async fn try_turn(&self, key: &str) -> Result<Option<Turn>> {
        let Db::Postgres(pool) = &self.db else { return Ok(Some(Turn { held: None })) };
        let mut conn = pool.acquire().await?;
        let (got,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_lock(hashtextextended($1, 0))")
            .bind(key)
            .fetch_one(&mut *conn)
            .await?;
        Ok(got.then(|| Turn { held: Some((conn, key.to_owned())) }))
    }
}

impl Turn {
    /// Gives the turn back.
    pub async fn end(mut self) {
        if let Some((mut conn, key)) = self.held.take() {
            let unlocked =
                sqlx::query("SELECT pg_advisory_unlock(hashtextextended($1, 0))").bind(&key).execute(&mut *conn).await;
            if unlocked.is_err() {
                conn.close_on_drop();
            }
        }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        // Not ended (a panic): the connection closes, and the lock with it.
        if let Some((conn, _)) = self.held.as_mut() {
            conn.close_on_drop();
        }
    }
}
