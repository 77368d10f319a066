//! What backups need from the database: an online-safe copy of an SQLite file, integrity
//! checks, emptiness checks before a restore, a checksum of every table's contents (to prove a
//! restore complete), and the backup catalog.

use diesel::prelude::*;
use sha2::{Digest as _, Sha256};

use crate::models::{BackupRow, JobRow, RunRow, ScheduleRow, TradeRow};
use crate::schema::{backups, jobs, run_archives, runs, schedules, trades};
use crate::store::with_conn;
use crate::url::DatabaseUrl;
use crate::{StorageError, Store};

#[derive(QueryableByName)]
struct Text {
    #[diesel(sql_type = diesel::sql_types::Text)]
    value: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Every table's rows except the backup catalog.
type Contents = (
    Vec<JobRow>,
    Vec<RunRow>,
    Vec<TradeRow>,
    Vec<ScheduleRow>,
    Vec<(String, String)>,
);

fn digest<T: serde::Serialize>(rows: &[T]) -> String {
    let mut hasher = Sha256::new();
    for row in rows {
        hasher.update(serde_json::to_vec(row).unwrap_or_default());
        hasher.update(b"\n");
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Store {
    /// The backend's URL kind and location: `Some(path)` for SQLite, `None` for PostgreSQL.
    pub fn sqlite_path(&self) -> Option<&std::path::Path> {
        match &self.url {
            DatabaseUrl::Sqlite(path) => Some(path),
            DatabaseUrl::Postgres(_) => None,
        }
    }

    /// The PostgreSQL connection URL (with its password), for `pg_dump` and `pg_restore`.
    pub fn postgres_url(&self) -> Option<&str> {
        match &self.url {
            DatabaseUrl::Postgres(url) => Some(url),
            DatabaseUrl::Sqlite(_) => None,
        }
    }

    /// Writes a consistent copy of an SQLite database to `target` with `VACUUM INTO` (safe while
    /// other connections write: the copy is one read transaction's snapshot).
    ///
    /// # Errors
    /// Not SQLite; database errors.
    pub fn sqlite_snapshot_into(&self, target: &std::path::Path) -> Result<(), StorageError> {
        let target = target.display().to_string().replace('\'', "''");
        match &*self.pools {
            crate::store::Pools::Sqlite(pool) => {
                let mut conn = self.checkout(pool)?;
                diesel::sql_query(format!("VACUUM INTO '{target}'"))
                    .execute(&mut *conn)
                    .map_err(|e| StorageError::query(&self.db, "copying the database", e))?;
                Ok(())
            }
            crate::store::Pools::Postgres(_) => Err(StorageError::query(
                &self.db,
                "copying the database",
                diesel::result::Error::QueryBuilderError("VACUUM INTO is SQLite only".into()),
            )),
        }
    }

    /// SQLite's `PRAGMA integrity_check` (`ok` when sound); PostgreSQL gives `ok` when it
    /// answers.
    ///
    /// # Errors
    /// Database errors.
    pub fn integrity_check(&self) -> Result<String, StorageError> {
        let rows: Vec<Text> = with_conn!(self, conn => {
            match self.url {
                DatabaseUrl::Sqlite(_) => diesel::sql_query("PRAGMA integrity_check")
                    .load::<IntegrityRow>(conn)
                    .map(|r| r.into_iter().map(|r| Text { value: r.integrity_check }).collect()),
                DatabaseUrl::Postgres(_) => diesel::sql_query("SELECT 'ok'::text AS value").load::<Text>(conn),
            }
            .map_err(|e| StorageError::query(&self.db, "checking integrity", e))?
        });
        Ok(rows
            .into_iter()
            .map(|r| r.value)
            .collect::<Vec<_>>()
            .join("; "))
    }

    /// Number of user tables in the database (0 for a fresh one).
    ///
    /// # Errors
    /// Database errors.
    pub fn table_count(&self) -> Result<i64, StorageError> {
        let count: Count = with_conn!(self, conn => {
            match self.url {
                DatabaseUrl::Sqlite(_) => diesel::sql_query(
                    "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
                )
                .get_result::<Count>(conn),
                DatabaseUrl::Postgres(_) => diesel::sql_query(
                    "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = 'public'",
                )
                .get_result::<Count>(conn),
            }
            .map_err(|e| StorageError::query(&self.db, "counting tables", e))?
        });
        Ok(count.n)
    }

    /// Row count and SHA-256 of the contents of every table except the backup catalog, rows in
    /// key order: equal on two databases exactly when they hold the same data.
    ///
    /// # Errors
    /// Database errors.
    pub fn content_checksums(&self) -> Result<Vec<(&'static str, usize, String)>, StorageError> {
        let err = |e| StorageError::query(&self.db, "reading every table", e);
        let (j, r, t, s, a): Contents = with_conn!(self, conn => {
            (
                jobs::table.order(jobs::id).select(JobRow::as_select()).load(conn).map_err(err)?,
                runs::table.order(runs::id).select(RunRow::as_select()).load(conn).map_err(err)?,
                trades::table
                    .order((trades::run_id, trades::seq))
                    .select(TradeRow::as_select())
                    .load(conn)
                    .map_err(err)?,
                schedules::table
                    .order(schedules::name)
                    .select(ScheduleRow::as_select())
                    .load(conn)
                    .map_err(err)?,
                run_archives::table
                    .order(run_archives::run_id)
                    .select((run_archives::run_id, run_archives::objects))
                    .load(conn)
                    .map_err(err)?,
            )
        });
        Ok(vec![
            ("jobs", j.len(), digest(&j)),
            ("runs", r.len(), digest(&r)),
            ("trades", t.len(), digest(&t)),
            ("schedules", s.len(), digest(&s)),
            ("run_archives", a.len(), digest(&a)),
        ])
    }

    /// Empties a PostgreSQL database's `public` schema (for a forced restore).
    ///
    /// # Errors
    /// Not PostgreSQL; database errors.
    pub fn reset_postgres_schema(&self) -> Result<(), StorageError> {
        match &*self.pools {
            crate::store::Pools::Postgres(pool) => {
                let mut conn = self.checkout(pool)?;
                diesel::connection::SimpleConnection::batch_execute(
                    &mut *conn,
                    "DROP SCHEMA public CASCADE; CREATE SCHEMA public;",
                )
                .map_err(|e| StorageError::query(&self.db, "emptying the database", e))
            }
            crate::store::Pools::Sqlite(_) => Err(StorageError::query(
                &self.db,
                "emptying the database",
                diesel::result::Error::QueryBuilderError("PostgreSQL only".into()),
            )),
        }
    }

    /// Adds a backup to the catalog.
    ///
    /// # Errors
    /// Database errors.
    pub fn insert_backup(&self, row: &BackupRow) -> Result<(), StorageError> {
        with_conn!(self, conn => {
            diesel::insert_into(backups::table)
                .values(row)
                .execute(conn)
                .map_err(|e| StorageError::query(&self.db, "recording a backup", e))?;
        });
        Ok(())
    }

    /// The backup catalog, newest first.
    ///
    /// # Errors
    /// Database errors.
    pub fn list_backups(&self) -> Result<Vec<BackupRow>, StorageError> {
        with_conn!(self, conn => {
            backups::table
                .order(backups::created_ms.desc())
                .select(BackupRow::as_select())
                .load(conn)
                .map_err(|e| StorageError::query(&self.db, "listing backups", e))
        })
    }

    /// Sets a backup's status (`complete`, `failed`, `pruned`) and, when given, its last
    /// verification time.
    ///
    /// # Errors
    /// Database errors.
    pub fn update_backup(
        &self,
        id: &str,
        status: &str,
        verified_ms: Option<i64>,
    ) -> Result<(), StorageError> {
        with_conn!(self, conn => {
            let target = backups::table.filter(backups::id.eq(id));
            let result = match verified_ms {
                Some(at) => diesel::update(target)
                    .set((backups::status.eq(status), backups::verified_ms.eq(Some(at))))
                    .execute(conn),
                None => diesel::update(target).set(backups::status.eq(status)).execute(conn),
            };
            result.map_err(|e| StorageError::query(&self.db, "updating a backup", e))?;
        });
        Ok(())
    }
}

#[derive(QueryableByName)]
struct IntegrityRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    integrity_check: String,
}
