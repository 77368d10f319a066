//! Opening a database and dispatching work to the backend's connection pool.

use std::time::Duration;

use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};

use crate::url::DatabaseUrl;
use crate::{MigrationStatus, StorageError};

/// Pools of the two backends.
pub(crate) enum Pools {
    Sqlite(Pool<ConnectionManager<SqliteConnection>>),
    Postgres(Pool<ConnectionManager<PgConnection>>),
}

/// A handle on the results database: cheap to clone, safe to share between threads.
#[derive(Clone)]
pub struct Store {
    pub(crate) pools: std::sync::Arc<Pools>,
    pub(crate) url: DatabaseUrl,
    /// The URL for messages (no password).
    pub(crate) db: String,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("db", &self.db).finish()
    }
}

/// Runs `$body` with `$conn` bound to a pooled connection of whichever backend the store uses.
/// The body is compiled once per backend, so every query is type-checked against both.
macro_rules! with_conn {
    ($store:expr, $conn:ident => $body:expr) => {
        match &*$store.pools {
            $crate::store::Pools::Sqlite(pool) => {
                let mut pooled = $store.checkout(pool)?;
                let $conn: &mut diesel::SqliteConnection = &mut pooled;
                $body
            }
            $crate::store::Pools::Postgres(pool) => {
                let mut pooled = $store.checkout(pool)?;
                let $conn: &mut diesel::PgConnection = &mut pooled;
                $body
            }
        }
    };
}
pub(crate) use with_conn;

/// A transaction that will write. On SQLite it takes the write lock at `BEGIN IMMEDIATE`: a
/// deferred transaction that reads first and then writes cannot wait for a concurrent writer
/// (SQLite answers "database is locked" at once to avoid a deadlock), while an immediate one
/// waits up to the busy timeout. PostgreSQL's row locks need no such care.
pub(crate) trait WriteTransaction: Sized {
    fn write_transaction<T, E, F>(&mut self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Self) -> Result<T, E>,
        E: From<diesel::result::Error>;
}

impl WriteTransaction for SqliteConnection {
    fn write_transaction<T, E, F>(&mut self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Self) -> Result<T, E>,
        E: From<diesel::result::Error>,
    {
        self.immediate_transaction(f)
    }
}

impl WriteTransaction for PgConnection {
    fn write_transaction<T, E, F>(&mut self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Self) -> Result<T, E>,
        E: From<diesel::result::Error>,
    {
        self.transaction(f)
    }
}

/// Settings every SQLite connection gets: foreign keys enforced (SQLite's default is off), a
/// busy timeout instead of immediate "database is locked" errors, WAL for concurrent readers.
#[derive(Debug, Clone, Copy)]
struct SqliteSetup;

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for SqliteSetup {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        use diesel::connection::SimpleConnection;
        // One statement per call, the busy timeout first (it governs the others).
        for pragma in [
            "PRAGMA busy_timeout = 10000;",
            "PRAGMA foreign_keys = ON;",
            "PRAGMA journal_mode = WAL;",
            "PRAGMA synchronous = NORMAL;",
        ] {
            conn.batch_execute(pragma)
                .map_err(diesel::r2d2::Error::QueryError)?;
        }
        Ok(())
    }
}

impl Store {
    /// Opens the database at `url` (see [`DatabaseUrl::parse`]). An SQLite database is created
    /// if missing (with its folder) and migrated to the current schema. A PostgreSQL database is
    /// only connected to: run [`Store::ensure_current`] before using it, and migrate it with
    /// `barwise-ops migrate run`.
    ///
    /// # Errors
    /// [`StorageError::InvalidUrl`], [`StorageError::Unreachable`], and for SQLite the migration
    /// errors of [`Store::migrate_run`].
    pub fn open(url: &str) -> Result<Store, StorageError> {
        let store = Self::connect(url)?;
        if let DatabaseUrl::Sqlite(_) = store.url {
            store.migrate_run()?;
            store.ensure_current()?;
        }
        Ok(store)
    }

    /// Connects without touching the schema, on either backend: what migration tooling needs.
    ///
    /// # Errors
    /// [`StorageError::InvalidUrl`], [`StorageError::Unreachable`].
    pub fn connect(url: &str) -> Result<Store, StorageError> {
        let url = DatabaseUrl::parse(url)?;
        let db = url.display();
        let unreachable = |reason: String| StorageError::Unreachable {
            db: db.clone(),
            reason,
        };
        let pools = match &url {
            DatabaseUrl::Postgres(conn_url) => {
                // Check once directly: r2d2 would only report a generic timeout.
                PgConnection::establish(conn_url).map_err(|e| unreachable(e.to_string()))?;
                let pool = Pool::builder()
                    .max_size(8)
                    .connection_timeout(Duration::from_secs(10))
                    .build(ConnectionManager::<PgConnection>::new(conn_url))
                    .map_err(|e| unreachable(e.to_string()))?;
                Pools::Postgres(pool)
            }
            DatabaseUrl::Sqlite(path) => {
                // A `file:` URI (e.g. `sqlite:file:/data/r.db?mode=ro`) is passed to SQLite as is.
                let is_uri = path.to_string_lossy().starts_with("file:");
                if let Some(parent) = path
                    .parent()
                    .filter(|p| !is_uri && !p.as_os_str().is_empty())
                {
                    std::fs::create_dir_all(parent).map_err(|e| {
                        unreachable(format!("cannot create folder {}: {e}", parent.display()))
                    })?;
                }
                let path_text = path.to_string_lossy().into_owned();
                // Switch a new file to WAL once, on one connection: several pool connections
                // doing it at once on a fresh file would race for the lock it needs.
                let mut first = SqliteConnection::establish(&path_text)
                    .map_err(|e| unreachable(e.to_string()))?;
                SqliteSetup
                    .on_acquire(&mut first)
                    .map_err(|e| unreachable(e.to_string()))?;
                drop(first);
                let pool = Pool::builder()
                    .max_size(4)
                    .connection_timeout(Duration::from_secs(10))
                    .connection_customizer(Box::new(SqliteSetup))
                    .build(ConnectionManager::<SqliteConnection>::new(path_text))
                    .map_err(|e| unreachable(e.to_string()))?;
                Pools::Sqlite(pool)
            }
        };
        Ok(Store {
            pools: std::sync::Arc::new(pools),
            url,
            db,
        })
    }

    /// The database URL without password, for messages.
    pub fn display_url(&self) -> &str {
        &self.db
    }

    /// `postgres` or `sqlite`.
    pub fn backend(&self) -> &'static str {
        self.url.backend()
    }

    pub(crate) fn checkout<C>(
        &self,
        pool: &Pool<ConnectionManager<C>>,
    ) -> Result<PooledConnection<ConnectionManager<C>>, StorageError>
    where
        C: diesel::r2d2::R2D2Connection + 'static,
    {
        pool.get().map_err(|e| StorageError::Unreachable {
            db: self.db.clone(),
            reason: e.to_string(),
        })
    }

    /// Succeeds when the schema is exactly the one this binary knows.
    ///
    /// # Errors
    /// [`StorageError::PendingMigrations`] naming the command to run,
    /// [`StorageError::UnknownSchema`] when a newer Barwise migrated the database.
    pub fn ensure_current(&self) -> Result<(), StorageError> {
        let MigrationStatus {
            pending, unknown, ..
        } = self.migration_status()?;
        if !unknown.is_empty() {
            return Err(StorageError::UnknownSchema {
                db: self.db.clone(),
                unknown,
                newest: crate::migrate::newest_known(self.url.backend()),
            });
        }
        if !pending.is_empty() {
            return Err(StorageError::PendingMigrations {
                db: self.db.clone(),
                pending,
            });
        }
        Ok(())
    }
}
