//! Every hot query is served by an index on both databases (issue 12): no
//! full scan and no sort of an inbox, a deadline list, the log, the
//! documents or the blobs, whatever their size. The queries are the store's
//! own (`gwx::store::plans`), explained by the database that runs them.

use crate::helpers::{Backend, drop_postgres_database, fresh_database};
use gwx::store::plans::{HotQuery, hot_queries};
use gwx::store::{Db, Store};
use gwx::tools::bench::{YearSize, seed_year};

/// The tables that grow with traffic, and the aliases the queries give them.
const LARGE: [&str; 8] = ["deliveries", "d", "documents", "doc", "exchange_log", "blobs", "document_parts", "part"];

/// What is wrong with an SQLite plan (`EXPLAIN QUERY PLAN` details).
fn sqlite_faults(q: &HotQuery, plan: &[String]) -> Vec<String> {
    let mut faults = Vec::new();
    for line in plan {
        if let Some(rest) = line.strip_prefix("SCAN ") {
            let table = rest.split_whitespace().next().unwrap_or("");
            // An audit over a period reads the period's rows, in the order
            // of a covering index it groups by.
            let covered = q.whole_period && rest.contains("USING COVERING INDEX");
            if LARGE.contains(&table) && !covered {
                faults.push(format!("full scan: {line}"));
            }
        }
        if line.contains("TEMP B-TREE") && !(q.whole_period && line.contains("count(DISTINCT)")) {
            faults.push(format!("sort: {line}"));
        }
    }
    faults
}

/// What is wrong with a PostgreSQL plan (`EXPLAIN`, sequential scans priced
/// out): a large table read whole (a sequential scan, or an index scan with
/// no index condition), or a sort of rows that neither a `Limit` nor a list
/// of values bounds.
fn postgres_faults(q: &HotQuery, plan: &[String]) -> Vec<String> {
    let depth = |l: &str| l.len() - l.trim_start().len();
    let node = |l: &str| l.trim_start().trim_start_matches("->").trim_start().to_owned();
    let mut faults = Vec::new();
    for (i, line) in plan.iter().enumerate() {
        let n = node(line);
        // The node's own details, then its children, are indented below it.
        let below: Vec<&String> = plan[i + 1..].iter().take_while(|l| depth(l) > depth(line)).collect();
        let details: Vec<&&String> = below.iter().take_while(|l| !l.contains("->")).collect();
        let scanned = ["Seq Scan on ", "Index Scan using ", "Index Only Scan using ", "Index Scan Backward using "]
            .iter()
            .find_map(|k| n.strip_prefix(k))
            .map(|rest| rest.split(" on ").last().unwrap_or(rest).split_whitespace().next().unwrap_or("").to_owned());
        if let Some(table) = scanned
            && LARGE.contains(&table.as_str())
        {
            let whole = n.starts_with("Seq Scan") || !details.iter().any(|l| l.contains("Index Cond"));
            if whole && !q.whole_period {
                faults.push(format!("full scan: {}", line.trim()));
            }
        }
        if (n.starts_with("Sort  (") || n.starts_with("Incremental Sort  ("))
            && !q.whole_period
            && !below.iter().any(|l| l.contains("Limit") || l.contains("Values Scan"))
        {
            faults.push(format!("sort: {}", line.trim()));
        }
    }
    faults
}

/// A hub with some traffic, so PostgreSQL plans by statistics of tables
/// that have rows (as its autovacuum keeps them), not of empty ones.
async fn with_traffic(backend: &Backend, dir: &std::path::Path) -> (String, Store) {
    let url = fresh_database(backend, dir).await;
    let database = matches!(backend, Backend::Postgres(_)).then_some(url.as_str());
    gwx::tools::demo::init(dir, database, false).await.unwrap();
    let size = YearSize { participants: 20, deliveries: 20_000, pending: 3_000, inbox: 1_000 };
    seed_year(&url, size).await.unwrap();
    let store = Store::open(&url).await.unwrap();
    if let Db::Postgres(pool) = &store.db {
        sqlx::query("ANALYZE").execute(pool).await.unwrap();
    }
    (url, store)
}

async fn every_hot_query_is_served_by_an_index(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (url, store) = with_traffic(&backend, dir.path()).await;
    let queries = hot_queries();
    assert!(queries.len() >= 20, "the hot queries: {}", queries.len());
    let mut report = Vec::new();
    for q in &queries {
        let plan = store.query_plan(q).await.unwrap_or_else(|e| panic!("{}: {e}\n{}", q.name, q.sql));
        let faults = match backend {
            Backend::Sqlite => sqlite_faults(q, &plan),
            Backend::Postgres(_) => postgres_faults(q, &plan),
        };
        if !faults.is_empty() {
            report.push(format!("{}:\n  {}\n  plan:\n    {}", q.name, faults.join("\n  "), plan.join("\n    ")));
        }
    }
    store.close().await;
    if let Backend::Postgres(server) = &backend {
        drop_postgres_database(server, &url).await;
    }
    assert!(report.is_empty(), "queries not served by an index:\n{}", report.join("\n"));
}

/// The checks themselves catch what they are for: a query that scans the
/// log or sorts an inbox is reported.
async fn a_scan_or_a_sort_is_reported(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database(&backend, dir.path()).await;
    let store = Store::open(&url).await.unwrap();
    let bad = [
        ("scan", "SELECT seq FROM exchange_log WHERE detail = $1 ORDER BY seq LIMIT 100"),
        ("sort", "SELECT id FROM deliveries d WHERE d.recipient_code = $1 ORDER BY d.returned_at"),
    ];
    for (what, sql) in bad {
        let q = HotQuery { name: what, sql: sql.into(), params: vec![Some("x".into())], whole_period: false };
        let plan = store.query_plan(&q).await.unwrap();
        let faults = match backend {
            Backend::Sqlite => sqlite_faults(&q, &plan),
            Backend::Postgres(_) => postgres_faults(&q, &plan),
        };
        assert!(faults.iter().any(|f| f.contains(what)), "{what} not reported: {faults:?}\n{plan:#?}");
    }
    store.close().await;
    if let Backend::Postgres(server) = &backend {
        drop_postgres_database(server, &url).await;
    }
}

crate::both_databases!(every_hot_query_is_served_by_an_index, a_scan_or_a_sort_is_reported);
