//! The query plans of the hot paths, as the database would run them, so
//! tests can hold every request path to an index (issue 12): no full scan
//! and no sort of an inbox, a deadline list, the log or the blobs.
//!
//! Each [`HotQuery`] is the SQL its store function runs, built by the same
//! function, with values of the kind it binds. SQLite explains it with the
//! values bound; PostgreSQL with the values written in (a custom plan, as
//! PostgreSQL makes for prepared statements) and with sequential scans
//! priced out, so a `Seq Scan` left in the plan means no index can serve
//! the query, whatever the size of the test's tables.

use sqlx::Row;

use super::audit::timeliness_sql;
use super::auth::auth_sql;
use super::deliveries::{document_deliveries_sql, inbox_sql, overdue_sql, paper_resend_sql};
use super::documents::SENT_PAGE_SQL;
use super::log::{LOG_FIRST_AT, LogFilter, LogQuery};
use super::retention::{DOCUMENTS_DUE, LOG_DUE, OLD_DOCUMENTS, UNREFERENCED_BLOBS};
use super::{Db, Result, Store};

/// One hot query and example values for its parameters (`None`: NULL).
#[derive(Debug, Clone)]
pub struct HotQuery {
    pub name: &'static str,
    pub sql: String,
    pub params: Vec<Option<String>>,
    /// Whether reading every row of the period is the point (an audit
    /// over a period): then an index scan in grouping order is allowed.
    pub whole_period: bool,
}

fn q(name: &'static str, sql: impl Into<String>, params: &[Option<&str>]) -> HotQuery {
    HotQuery {
        name,
        sql: sql.into(),
        params: params.iter().map(|p| p.map(str::to_owned)).collect(),
        whole_period: false,
    }
}

const CODE: Option<&str> = Some("376470000A");
const TIME: Option<&str> = Some("2026-06-01T00:00:00+00:00");
const LATER: Option<&str> = Some("2026-07-01T00:00:00+00:00");
const ID: Option<&str> = Some("0193a1b2-0000-7000-8000-000000000000");
const LIMIT: Option<&str> = Some("100");
const SEQ: Option<&str> = Some("1000");

/// Every hot query, named for the path that runs it.
pub fn hot_queries() -> Vec<HotQuery> {
    let log = |name, f: LogFilter, values: &[Option<&str>]| {
        let mut params = vec![SEQ, LIMIT];
        params.extend_from_slice(values);
        q(name, LogQuery::of(&f).sql, &params)
    };
    let who = || Some("376470000A".to_owned());
    let mut all = vec![
        q("auth: credential by fingerprint", auth_sql(), &[Some("ab12")]),
        q("inbox: one state", inbox_sql(true), &[CODE, Some("delivered"), ID, LIMIT]),
        q("inbox: every state", inbox_sql(false), &[CODE, None, ID, LIMIT]),
        q("deadlines: sender's paper resend list", paper_resend_sql(), &[CODE, TIME, ID, LIMIT]),
        q("deadlines: receiver's overdue list", overdue_sql(), &[CODE, TIME, ID, LIMIT]),
        q("document: its deliveries", document_deliveries_sql(), &[ID]),
        q("console: the sender's sent documents", SENT_PAGE_SQL, &[CODE, LIMIT]),
        q("log: first entry of a period", LOG_FIRST_AT, &[TIME]),
        log("log: whole log", LogFilter { limit: 100, ..Default::default() }, &[]),
        log(
            "log: a period",
            LogFilter { from: Some(chrono::Utc::now()), to: Some(chrono::Utc::now()), ..Default::default() },
            &[TIME, LATER],
        ),
        log("log: a participant's entries", LogFilter { participant: who(), ..Default::default() }, &[CODE]),
        log(
            "log: a participant's entries in a period",
            LogFilter { participant: who(), from: Some(chrono::Utc::now()), ..Default::default() },
            &[CODE, TIME],
        ),
        log("log: a document's entries", LogFilter { document: ID.map(str::to_owned), ..Default::default() }, &[ID]),
        log(
            "log: the security view's actions",
            LogFilter { actions: vec!["tls.refused".into(), "auth.refused".into()], ..Default::default() },
            &[Some("tls.refused"), Some("auth.refused")],
        ),
        q("retention: log due", LOG_DUE, &[TIME]),
        q("retention: documents due", DOCUMENTS_DUE, &[TIME]),
        q("retention: a batch of old documents", OLD_DOCUMENTS, &[TIME, LIMIT]),
        q(
            "retention: unreferenced blobs",
            UNREFERENCED_BLOBS.replace("{values}", "($1), ($2)"),
            &[Some("aa"), Some("bb")],
        ),
    ];
    for (one, name) in [(false, "audit: timeliness, everyone"), (true, "audit: timeliness, one participant")] {
        for sql in timeliness_sql(one) {
            let mut params = vec![TIME, LATER];
            if !sql.contains("FROM documents") {
                params.push(LATER);
            }
            if one {
                params.push(CODE);
            }
            all.push(HotQuery { whole_period: true, ..q(name, sql, &params) });
        }
    }
    all
}

/// `sql` with `$n` replaced by the values written as literals.
fn inline(sql: &str, params: &[Option<String>]) -> String {
    let mut out = sql.to_owned();
    // Highest first, so `$1` does not eat the start of `$10`.
    for (i, p) in params.iter().enumerate().rev() {
        let literal = match p {
            Some(v) => format!("'{}'", v.replace('\'', "''")),
            None => "NULL".into(),
        };
        out = out.replace(&format!("${}", i + 1), &literal);
    }
    out
}

impl Store {
    /// The plan the database makes for `query`, one line per step.
    pub async fn query_plan(&self, query: &HotQuery) -> Result<Vec<String>> {
        match &self.db {
            Db::Sqlite(pool) => {
                let sql = format!("EXPLAIN QUERY PLAN {}", query.sql);
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for p in &query.params {
                    q = q.bind(p);
                }
                let rows = q.fetch_all(pool).await?;
                rows.iter().map(|r| Ok(r.try_get::<String, _>("detail")?)).collect()
            }
            Db::Postgres(pool) => {
                let mut conn = pool.acquire().await?;
                let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                sqlx::query("SET LOCAL enable_seqscan = off").execute(&mut *tx).await?;
                let sql = format!("EXPLAIN {}", inline(&query.sql, &query.params));
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&mut *tx).await?;
                let plan = rows.iter().map(|r| Ok(r.try_get::<String, _>(0)?)).collect();
                tx.rollback().await?;
                plan
            }
        }
    }
}
