//! SQLite's write connection itself, for the one path too hot to go statement by
//! statement through sqlx: the payment creator's batches (`core::create`).
//!
//! Why (measured, bench/RESULTS.md "A batch on the connection itself"): sqlx-sqlite runs
//! each connection on a thread of its own and hands every statement, and every row a
//! statement returns, across a channel to that thread and back. A batch of ~32 creates
//! (`BEGIN`, a multi-row `INSERT … RETURNING`, the outbox insert, `COMMIT`) took 2–6 ms
//! that way, with a third of the server's CPU in thread switches, and writing stayed the
//! bottleneck while a core sat idle. The same rows through two prepared statements on
//! the connection take a fraction of that.
//!
//! How: [`Store::sqlite_direct`] takes the writer pool's single connection, so the work
//! is serialized with every other write transaction exactly as theirs are with each
//! other; locks the SQLite handle out of sqlx's worker thread with `lock_handle`, sqlx's
//! own door for direct SQLite calls; and runs the work on a blocking thread with a
//! `rusqlite::Connection` that wraps the handle without owning it. Values are bound as
//! sqlx binds them ([`sqlite_value`]), so what is written here reads back like every
//! other row.

// The one `unsafe` of the crate: wrapping the handle sqlx lends (see the SAFETY note).
#![allow(unsafe_code)]

use chrono::SecondsFormat;
use rusqlite::Connection;
use sea_orm::DbErr;

use super::Store;

impl Store {
    /// Runs `work` on the SQLite write connection, on a blocking thread, once every write
    /// transaction before it has finished. `work` must leave no transaction open (a
    /// `rusqlite::Transaction` rolls back when dropped, a panic included). Only for a
    /// SQLite store.
    pub async fn sqlite_direct<R, F>(&self, work: F) -> Result<R, DbErr>
    where
        F: FnOnce(&mut Connection) -> R + Send + 'static,
        R: Send + 'static,
    {
        let pool = self.writer.get_sqlite_connection_pool().clone();
        let runtime = tokio::runtime::Handle::current();
        let task = tokio::task::spawn_blocking(move || {
            runtime.block_on(async move {
                let mut pooled = pool.acquire().await.map_err(|e| DbErr::Custom(format!("SQLite writer: {e}")))?;
                let mut locked =
                    pooled.lock_handle().await.map_err(|e| DbErr::Custom(format!("SQLite writer: {e}")))?;
                let handle = locked.as_raw_handle();
                // SAFETY: `handle` is the open connection sqlx owns, and `locked` keeps sqlx's
                // worker thread off it until it is dropped, after `db` below. `from_handle`
                // makes a wrapper that never closes the handle; the wrapper, and every
                // statement prepared through it, is dropped at the end of this block,
                // before `locked`, unwinding included. No transaction outlives `work`: its
                // `rusqlite::Transaction` commits or rolls back before returning.
                let mut db = unsafe { Connection::from_handle(handle.as_ptr()) }
                    .map_err(|e| DbErr::Custom(format!("SQLite writer: {e}")))?;
                let result = work(&mut db);
                drop(db);
                drop(locked);
                Ok(result)
            })
        });
        task.await.map_err(|e| DbErr::Custom(format!("SQLite writer task: {e}")))?
    }
}

/// A sea-orm value bound as sqlx binds it on SQLite: integers, text, JSON as its text,
/// a UTC time as RFC 3339 text (`2026-12-02T15:44:49.860121+00:00`, which the stored
/// rows and every time compared in SQL share). Kinds the core's rows do not use are
/// refused, not guessed.
pub(in crate::core) fn sqlite_value(value: sea_orm::Value) -> Result<rusqlite::types::Value, String> {
    use rusqlite::types::Value as Sql;
    use sea_orm::Value as V;
    let value = match value {
        V::Bool(b) => b.map(|b| Sql::Integer(b.into())),
        V::Int(i) => i.map(|i| Sql::Integer(i.into())),
        V::BigInt(i) => i.map(Sql::Integer),
        V::String(s) => s.map(Sql::Text),
        V::Json(j) => j.map(|j| Sql::Text(j.to_string())),
        V::ChronoDateTimeUtc(t) => t.map(|t| Sql::Text(t.to_rfc3339_opts(SecondsFormat::AutoSi, false))),
        other => return Err(format!("no SQLite binding for {other:?}")),
    };
    Ok(value.unwrap_or(Sql::Null))
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};

    use super::*;
    use crate::core::SqliteSynchronous;

    /// What is written directly reads back through sea-orm as what sea-orm wrote, text
    /// for text: the same time format, the same JSON.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn direct_rows_read_back_like_sqlx_rows() {
        let dir = std::env::temp_dir().join(format!("paybridge-direct-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.join("direct.db").display());
        let store = Store::connect(&url, 2, SqliteSynchronous::Full).await.unwrap();
        store.writer.execute_unprepared("CREATE TABLE t (n INTEGER, s TEXT, j TEXT, at TEXT)").await.unwrap();
        let at = Utc.with_ymd_and_hms(2026, 12, 2, 15, 44, 49).unwrap() + chrono::Duration::microseconds(860121);
        let json = serde_json::json!({"b": 1, "a": [1.50, "x"]});
        let values = || {
            vec![
                sea_orm::Value::BigInt(Some(7)),
                sea_orm::Value::String(None),
                sea_orm::Value::Json(Some(Box::new(json.clone()))),
                sea_orm::Value::ChronoDateTimeUtc(Some(at)),
            ]
        };
        let insert = "INSERT INTO t (n, s, j, at) VALUES (?, ?, ?, ?)";
        store
            .writer
            .execute_raw(Statement::from_sql_and_values(DatabaseBackend::Sqlite, insert, values()))
            .await
            .unwrap();
        let direct: Vec<rusqlite::types::Value> = values().into_iter().map(|v| sqlite_value(v).unwrap()).collect();
        let written = store
            .sqlite_direct(move |db| db.execute(insert, rusqlite::params_from_iter(direct)))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(written, 1);
        let rows = store
            .reader
            .query_all_raw(Statement::from_string(DatabaseBackend::Sqlite, "SELECT n, s, j, at FROM t"))
            .await
            .unwrap();
        let texts: Vec<(i64, Option<String>, String, String)> = rows
            .iter()
            .map(|r| {
                (
                    r.try_get("", "n").unwrap(),
                    r.try_get("", "s").unwrap(),
                    r.try_get("", "j").unwrap(),
                    r.try_get("", "at").unwrap(),
                )
            })
            .collect();
        assert_eq!(texts.len(), 2);
        assert_eq!(texts[0], texts[1]);
        assert_eq!(texts[1].3, "2026-12-02T15:44:49.860121+00:00");
        // The connection is sqlx's again, with no transaction left open.
        store.writer.execute_unprepared("BEGIN IMMEDIATE; COMMIT").await.unwrap();
        assert!(sqlite_value(sea_orm::Value::Double(Some(1.0))).is_err());
        let _ = std::fs::remove_dir_all(dir);
    }
}
