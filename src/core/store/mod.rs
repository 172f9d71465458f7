//! Persistence, private to the core: connections, entities and row conversions.
//!
//! Nothing outside `core` can name this module; dialects reach data only through the
//! [`Gateway`](super::Gateway) API.
//!
//! SQLite allows one writer at a time, so on SQLite every write goes through a pool of
//! exactly one connection (`writer`) while reads use their own pool (`reader`, WAL mode
//! lets them run beside the writer). On Postgres both are the same pool and row locks
//! (`SELECT … FOR UPDATE`) serialize what must be serialized.
//!
//! SQLite's WAL is checkpointed by a background task on a read connection
//! ([`Store::start_checkpointer`]) rather than inline by whichever write commits after
//! 1,000 pages, which kept the writer waiting; a high automatic threshold remains as a
//! backstop so the WAL cannot grow without bound.

mod direct;
pub(super) mod entities;
mod rows;

use std::time::Duration;

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, DatabaseTransaction, DbErr,
    EntityTrait, QuerySelect, Select, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

use super::SqliteSynchronous;

pub(super) use direct::sqlite_value;
pub(super) use rows::*;

/// The Postgres channel on which admin changes of merchants and credentials are
/// announced to every instance.
const ACCESS_CHANNEL: &str = "paybridge_access";

/// Connections to the database.
#[derive(Clone, Debug)]
pub(super) struct Store {
    /// For reads that need not see the caller's own uncommitted writes.
    pub reader: DatabaseConnection,
    /// For every write transaction.
    pub writer: DatabaseConnection,
}

impl Store {
    /// Connects to `url` (`sqlite://…` or `postgres://…`), with `max_connections` for
    /// the read pool; a SQLite commit is acknowledged once `synchronous` says.
    pub async fn connect(url: &str, max_connections: u32, synchronous: SqliteSynchronous) -> Result<Store, DbErr> {
        let store = if url.starts_with("sqlite:") {
            let writer = Database::connect(sqlite_options(url, 1, synchronous)).await?;
            let reader = Database::connect(sqlite_options(url, max_connections, synchronous)).await?;
            Store { reader, writer }
        } else {
            let mut opts = ConnectOptions::new(url.to_owned());
            opts.max_connections(max_connections).acquire_timeout(Duration::from_secs(30)).sqlx_logging(false);
            let pool = Database::connect(opts).await?;
            Store { reader: pool.clone(), writer: pool }
        };
        Ok(store)
    }

    /// Which database this is.
    pub fn backend(&self) -> DatabaseBackend {
        self.writer.get_database_backend()
    }

    /// True on Postgres, where row locks are needed for concurrent writers.
    pub fn locks_rows(&self) -> bool {
        self.backend() == DatabaseBackend::Postgres
    }

    /// Opens a write transaction. On SQLite it takes the write lock at `BEGIN`
    /// (`IMMEDIATE`), so a transaction never fails half-way for want of it.
    pub async fn begin_write(&self) -> Result<DatabaseTransaction, DbErr> {
        let options = TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        };
        self.writer.begin_with_options(options).await
    }

    /// Adds `FOR UPDATE` where it is needed (Postgres); SQLite's single writer already
    /// serializes write transactions.
    pub fn for_update<E: EntityTrait>(&self, query: Select<E>) -> Select<E> {
        if self.locks_rows() { query.lock_exclusive() } else { query }
    }

    /// On SQLite, starts checkpointing the WAL every [`CHECKPOINT_EVERY`] in the
    /// background (PASSIVE: it never blocks the writer); the task stops when the
    /// returned guard is dropped. Nothing to do on Postgres.
    pub fn start_checkpointer(&self) -> Option<AbortOnDrop> {
        if self.backend() != DatabaseBackend::Sqlite {
            return None;
        }
        let reader = self.reader.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
            loop {
                tick.tick().await;
                if let Err(err) = reader.execute_unprepared("PRAGMA wal_checkpoint(PASSIVE)").await {
                    tracing::warn!(error = %err, "WAL checkpoint failed");
                }
            }
        });
        Some(AbortOnDrop(task))
    }

    /// Announces, when `txn` commits, that merchants or credentials changed, so every
    /// instance on this database forgets the credentials it cached
    /// ([`Store::listen_for_access_changes`]). Postgres only: SQLite is one instance's.
    pub async fn announce_access_change(&self, txn: &DatabaseTransaction) -> Result<(), DbErr> {
        if self.backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        txn.execute_unprepared(&format!("NOTIFY {ACCESS_CHANNEL}")).await.map(|_| ())
    }

    /// On Postgres, calls `changed` whenever an instance announced a change of merchants
    /// or credentials (`LISTEN`), and whenever the listening connection was lost (one
    /// may have been missed meanwhile); the task ends with the returned guard.
    pub fn listen_for_access_changes(&self, changed: impl Fn() + Send + 'static) -> Option<AbortOnDrop> {
        if self.backend() != DatabaseBackend::Postgres {
            return None;
        }
        let pool = self.writer.get_postgres_connection_pool().clone();
        let task = tokio::spawn(async move {
            loop {
                match sea_orm::sqlx::postgres::PgListener::connect_with(&pool).await {
                    Ok(mut listener) => match listener.listen(ACCESS_CHANNEL).await {
                        Ok(()) => loop {
                            match listener.try_recv().await {
                                Ok(Some(_)) => changed(),
                                // The connection was lost (and is being made again).
                                Ok(None) => changed(),
                                Err(err) => {
                                    tracing::warn!(error = %err, "lost the credential-change listener");
                                    break;
                                }
                            }
                        },
                        Err(err) => tracing::warn!(error = %err, "cannot listen for credential changes"),
                    },
                    Err(err) => tracing::warn!(error = %err, "cannot listen for credential changes"),
                }
                changed();
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        Some(AbortOnDrop(task))
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), DbErr> {
        self.reader.execute_unprepared("SELECT 1").await.map(|_| ())
    }
}

/// How often the background task checkpoints SQLite's WAL.
pub const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// Aborts a background task when dropped.
pub struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn sqlite_options(url: &str, max_connections: u32, synchronous: SqliteSynchronous) -> ConnectOptions {
    use sea_orm::sqlx::sqlite::SqliteSynchronous as Pragma;
    let synchronous = match synchronous {
        SqliteSynchronous::Full => Pragma::Full,
        SqliteSynchronous::Normal => Pragma::Normal,
    };
    let mut opts = ConnectOptions::new(url.to_owned());
    // No ping before each acquire: a local file cannot go away between queries, and
    // the ping is a round trip to the driver's thread per transaction.
    opts.max_connections(max_connections)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(60))
        .test_before_acquire(false)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(move |o| {
            o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(synchronous)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                // Backstop only: the checkpointer task normally keeps the WAL short.
                .pragma("wal_autocheckpoint", "10000")
                .create_if_missing(true)
        });
    opts
}

#[cfg(test)]
mod tests {
    use sea_orm::{ConnectionTrait, Statement};

    use super::*;

    /// The pragma every connection of a SQLite store runs with: FULL (2) unless the
    /// configuration asks for NORMAL (1), on the writer and the readers alike.
    #[tokio::test]
    async fn sqlite_commits_are_fsynced_unless_asked_otherwise() {
        let dir = std::env::temp_dir().join(format!("paybridge-sync-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        for (synchronous, pragma) in [(SqliteSynchronous::default(), 2), (SqliteSynchronous::Normal, 1)] {
            let url = format!("sqlite://{}?mode=rwc", dir.join(format!("{pragma}.db")).display());
            let store = Store::connect(&url, 2, synchronous).await.unwrap();
            for connection in [&store.writer, &store.reader] {
                let statement = Statement::from_string(DatabaseBackend::Sqlite, "PRAGMA synchronous");
                let row = connection.query_one_raw(statement).await.unwrap().unwrap();
                assert_eq!(row.try_get_by_index::<i32>(0).unwrap(), pragma, "{synchronous:?}");
            }
        }
        assert_eq!(crate::config::Config::default().sqlite_synchronous, SqliteSynchronous::Full);
        let _ = std::fs::remove_dir_all(dir);
    }
}
