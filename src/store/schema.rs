//! The database's schema as the migrations left it: tables, columns with
//! their nullability, primary keys and indexes, read from the database's
//! own catalogue. The two migration sets must give the same schema (the
//! store's SQL is written once for both); a test compares them.

use std::collections::{BTreeMap, BTreeSet};

use sqlx::Row;

use super::{Db, Result, Store};

/// Every table of the hub's schema (not the migration bookkeeping).
pub type Schema = BTreeMap<String, Table>;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    /// Column name → whether it may be NULL.
    pub columns: BTreeMap<String, bool>,
    pub primary_key: Vec<String>,
    /// The secondary indexes, by what they index (names differ by database).
    pub indexes: BTreeSet<Index>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Index {
    /// The indexed columns in order; `<expr>` for an expression.
    pub columns: Vec<String>,
    pub unique: bool,
    /// A partial index (`WHERE …`).
    pub partial: bool,
}

const EXPRESSION: &str = "<expr>";

impl Store {
    /// The schema of this database.
    pub async fn schema(&self) -> Result<Schema> {
        match &self.db {
            Db::Sqlite(pool) => sqlite_schema(pool).await,
            Db::Postgres(pool) => postgres_schema(pool).await,
        }
    }
}

async fn sqlite_schema(pool: &sqlx::SqlitePool) -> Result<Schema> {
    let tables: Vec<(String,)> = sqlx::query_as(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         AND name <> '_sqlx_migrations' ORDER BY name",
    )
    .fetch_all(pool)
    .await?;
    let mut schema = Schema::new();
    for (name,) in tables {
        let mut t = Table::default();
        let quoted = name.replace('"', "\"\"");
        let mut pk: Vec<(i64, String)> = Vec::new();
        for c in sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA table_info(\"{quoted}\")"))).fetch_all(pool).await? {
            let (column, notnull, key): (String, i64, i64) = (c.get("name"), c.get("notnull"), c.get("pk"));
            // A primary-key column is NOT NULL in PostgreSQL whatever it says.
            t.columns.insert(column.clone(), notnull == 0 && key == 0);
            if key > 0 {
                pk.push((key, column));
            }
        }
        pk.sort();
        t.primary_key = pk.into_iter().map(|(_, c)| c).collect();
        for i in sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA index_list(\"{quoted}\")"))).fetch_all(pool).await? {
            let (index, unique, origin, partial): (String, i64, String, i64) =
                (i.get("name"), i.get("unique"), i.get("origin"), i.get("partial"));
            if origin == "pk" {
                continue;
            }
            let index = index.replace('"', "\"\"");
            let mut columns: Vec<(i64, String)> = Vec::new();
            for c in sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA index_info(\"{index}\")"))).fetch_all(pool).await?
            {
                let name: Option<String> = c.get("name");
                columns.push((c.get("seqno"), name.unwrap_or_else(|| EXPRESSION.into())));
            }
            columns.sort();
            t.indexes.insert(Index {
                columns: columns.into_iter().map(|(_, c)| c).collect(),
                unique: unique != 0,
                partial: partial != 0,
            });
        }
        schema.insert(name, t);
    }
    Ok(schema)
}

async fn postgres_schema(pool: &sqlx::PgPool) -> Result<Schema> {
    let columns: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, is_nullable::text FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations' ORDER BY table_name, ordinal_position",
    )
    .fetch_all(pool)
    .await?;
    let mut schema = Schema::new();
    for (table, column, nullable) in columns {
        schema.entry(table).or_default().columns.insert(column, nullable == "YES");
    }
    // Each index with its columns in order (attribute 0: an expression).
    let indexes: Vec<(String, String, bool, bool, bool, Vec<String>)> = sqlx::query_as(
        "SELECT t.relname::text, i.relname::text, x.indisprimary, x.indisunique, x.indpred IS NOT NULL, \
           ARRAY(SELECT COALESCE(a.attname::text, '<expr>') FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, n) \
                 LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum ORDER BY k.n) \
         FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid \
         JOIN pg_namespace s ON s.oid = t.relnamespace \
         WHERE s.nspname = 'public' AND t.relname <> '_sqlx_migrations'",
    )
    .fetch_all(pool)
    .await?;
    for (table, _, primary, unique, partial, columns) in indexes {
        let t = schema.entry(table).or_default();
        if primary {
            t.primary_key = columns;
        } else {
            t.indexes.insert(Index { columns, unique, partial });
        }
    }
    Ok(schema)
}
