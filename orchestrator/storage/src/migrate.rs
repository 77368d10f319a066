//! Schema migrations, embedded from `migrations/postgres` and `migrations/sqlite`.

use diesel::migration::MigrationSource;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use serde::Serialize;

use crate::store::with_conn;
use crate::{StorageError, Store};

const POSTGRES: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");
const SQLITE: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

/// Where a database stands against the migrations this binary embeds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MigrationStatus {
    /// Applied migrations known to this binary, oldest first.
    pub applied: Vec<String>,
    /// Known migrations not applied yet, oldest first.
    pub pending: Vec<String>,
    /// Applied versions this binary does not know (a newer Barwise migrated the database).
    pub unknown: Vec<String>,
}

fn names<DB: diesel::backend::Backend>(source: &EmbeddedMigrations) -> Vec<(String, String)>
where
    EmbeddedMigrations: MigrationSource<DB>,
{
    let mut all: Vec<(String, String)> = MigrationSource::<DB>::migrations(source)
        .unwrap_or_default()
        .iter()
        .map(|m| (m.name().version().to_string(), m.name().to_string()))
        .collect();
    all.sort();
    all
}

/// Names of the migrations this binary embeds for `backend` (`postgres` or `sqlite`), oldest
/// first.
pub fn known_migrations(backend: &str) -> Vec<String> {
    let all = if backend == "postgres" {
        names::<diesel::pg::Pg>(&POSTGRES)
    } else {
        names::<diesel::sqlite::Sqlite>(&SQLITE)
    };
    all.into_iter().map(|(_, name)| name).collect()
}

/// Name of the newest migration embedded for `backend`.
pub(crate) fn newest_known(backend: &str) -> String {
    let all = if backend == "postgres" {
        names::<diesel::pg::Pg>(&POSTGRES)
    } else {
        names::<diesel::sqlite::Sqlite>(&SQLITE)
    };
    all.last().map(|(_, name)| name.clone()).unwrap_or_default()
}

macro_rules! status_of {
    ($conn:ident, $source:expr, $db:ty, $store:expr) => {{
        let known = names::<$db>(&$source);
        let applied_versions: Vec<String> = $conn
            .applied_migrations()
            .map_err(|e| $store.migration_error(e))?
            .iter()
            .map(|v| v.to_string())
            .collect();
        let applied = known
            .iter()
            .filter(|(v, _)| applied_versions.contains(v))
            .map(|(_, n)| n.clone())
            .collect();
        let pending = known
            .iter()
            .filter(|(v, _)| !applied_versions.contains(v))
            .map(|(_, n)| n.clone())
            .collect();
        let unknown = applied_versions
            .iter()
            .filter(|v| !known.iter().any(|(k, _)| k == *v))
            .cloned()
            .collect();
        MigrationStatus {
            applied,
            pending,
            unknown,
        }
    }};
}

impl Store {
    fn migration_error(&self, e: impl std::fmt::Display) -> StorageError {
        StorageError::Migration {
            db: self.db.clone(),
            reason: e.to_string(),
        }
    }

    /// Applied, pending and unknown migrations.
    ///
    /// # Errors
    /// [`StorageError::Migration`] when the migration table cannot be read.
    pub fn migration_status(&self) -> Result<MigrationStatus, StorageError> {
        Ok(match &*self.pools {
            crate::store::Pools::Sqlite(pool) => {
                let mut pooled = self.checkout(pool)?;
                let conn: &mut diesel::SqliteConnection = &mut pooled;
                status_of!(conn, SQLITE, diesel::sqlite::Sqlite, self)
            }
            crate::store::Pools::Postgres(pool) => {
                let mut pooled = self.checkout(pool)?;
                let conn: &mut diesel::PgConnection = &mut pooled;
                status_of!(conn, POSTGRES, diesel::pg::Pg, self)
            }
        })
    }

    /// Applies every pending migration, each in its own transaction. Refuses a database with
    /// unknown (newer) migrations.
    ///
    /// # Errors
    /// [`StorageError::UnknownSchema`], [`StorageError::Migration`].
    pub fn migrate_run(&self) -> Result<Vec<String>, StorageError> {
        let status = self.migration_status()?;
        if !status.unknown.is_empty() {
            return Err(StorageError::UnknownSchema {
                db: self.db.clone(),
                unknown: status.unknown,
                newest: newest_known(self.backend()),
            });
        }
        let source = self.backend_source();
        match &*self.pools {
            // Two processes opening a new SQLite file at once must not both migrate it: the
            // write lock taken by BEGIN IMMEDIATE serialises them (migrations nest as savepoints).
            crate::store::Pools::Sqlite(pool) => {
                let mut pooled = self.checkout(pool)?;
                let conn: &mut diesel::SqliteConnection = &mut pooled;
                conn.immediate_transaction(|conn| {
                    conn.run_pending_migrations(source)
                        .map(|applied| applied.iter().map(|v| v.to_string()).collect())
                        .map_err(diesel::result::Error::QueryBuilderError)
                })
                .map_err(|e| self.migration_error(e))
            }
            crate::store::Pools::Postgres(pool) => {
                let mut pooled = self.checkout(pool)?;
                let conn: &mut diesel::PgConnection = &mut pooled;
                let applied = conn
                    .run_pending_migrations(source)
                    .map_err(|e| self.migration_error(e))?;
                Ok(applied.iter().map(|v| v.to_string()).collect())
            }
        }
    }

    /// Reverts the newest applied migration; returns its version, or `None` if none is applied.
    ///
    /// # Errors
    /// [`StorageError::Migration`].
    pub fn migrate_revert(&self) -> Result<Option<String>, StorageError> {
        if self.migration_status()?.applied.is_empty() {
            return Ok(None);
        }
        let source = self.backend_source();
        with_conn!(self, conn => {
            let reverted = conn
                .revert_last_migration(source)
                .map_err(|e| self.migration_error(e))?;
            Ok(Some(reverted.to_string()))
        })
    }

    /// Reverts and re-applies the newest migration (checks that `down.sql` really undoes
    /// `up.sql`).
    ///
    /// # Errors
    /// As [`Store::migrate_revert`] and [`Store::migrate_run`].
    pub fn migrate_redo(&self) -> Result<Option<String>, StorageError> {
        let reverted = self.migrate_revert()?;
        if reverted.is_some() {
            self.migrate_run()?;
        }
        Ok(reverted)
    }

    fn backend_source(&self) -> EmbeddedMigrations {
        match self.backend() {
            "postgres" => POSTGRES,
            _ => SQLITE,
        }
    }
}
