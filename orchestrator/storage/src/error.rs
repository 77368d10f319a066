//! The storage errors: what went wrong, with which database, and what to do about it.

/// Everything the results database can fail with. Every message names the database (URL with
/// any password removed) and, where there is one, the action that fixes it.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The URL is not a database URL this build understands.
    #[error(
        "invalid database URL {url:?}: {reason} (expected postgres://user@host:port/db, sqlite:///path/to/file.db, or a path ending in .db/.sqlite)"
    )]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The database server cannot be reached, or the file cannot be opened.
    #[error(
        "cannot connect to database {db}: {reason}; check that the server runs and the URL, user and password are right"
    )]
    Unreachable {
        /// The database.
        db: String,
        /// The driver's message.
        reason: String,
    },
    /// Migrations are waiting to be applied (PostgreSQL only: SQLite applies them itself).
    #[error(
        "database {db} has {} pending migration(s) ({}); run `barwise-ops migrate run --database-url <URL>` first",
        pending.len(),
        pending.join(", ")
    )]
    PendingMigrations {
        /// The database.
        db: String,
        /// Names of the pending migrations.
        pending: Vec<String>,
    },
    /// The database was migrated by a newer Barwise than this one.
    #[error(
        "database {db} has schema version(s) {} that this barwise does not know (newest known: {newest}); upgrade barwise, or restore a backup made with this version",
        unknown.join(", ")
    )]
    UnknownSchema {
        /// The database.
        db: String,
        /// Applied migration versions not embedded in this binary.
        unknown: Vec<String>,
        /// The newest migration this binary knows.
        newest: String,
    },
    /// The database refuses writes.
    #[error(
        "database {db} is read-only: {reason}; check file permissions or the server's read-only setting"
    )]
    ReadOnly {
        /// The database.
        db: String,
        /// The driver's message.
        reason: String,
    },
    /// The disk or quota is full.
    #[error("database {db} is full: {reason}; free disk space or raise the quota")]
    Full {
        /// The database.
        db: String,
        /// The driver's message.
        reason: String,
    },
    /// Applying or reverting migrations failed.
    #[error("migrating database {db} failed: {reason}")]
    Migration {
        /// The database.
        db: String,
        /// What failed.
        reason: String,
    },
    /// A referenced row does not exist.
    #[error("{what} {id} not found in database {db}")]
    NotFound {
        /// The database.
        db: String,
        /// Kind of row.
        what: &'static str,
        /// Its key.
        id: String,
    },
    /// Any other database error, with the operation that hit it.
    #[error("database {db}: {operation} failed: {source}")]
    Query {
        /// The database.
        db: String,
        /// What the store was doing.
        operation: &'static str,
        /// The driver's error.
        source: diesel::result::Error,
    },
}

impl StorageError {
    /// True for failures worth retrying with backoff (the database may come back).
    pub fn is_transient(&self) -> bool {
        match self {
            StorageError::Unreachable { .. } => true,
            StorageError::Query { source, .. } => matches!(
                source,
                diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::ClosedConnection
                        | diesel::result::DatabaseErrorKind::SerializationFailure,
                    _
                )
            ),
            _ => false,
        }
    }

    /// Classifies a diesel error from `operation` on `db`.
    pub(crate) fn query(db: &str, operation: &'static str, source: diesel::result::Error) -> Self {
        let text = source.to_string();
        let lower = text.to_lowercase();
        if lower.contains("readonly") || lower.contains("read-only") || lower.contains("read only")
        {
            return StorageError::ReadOnly {
                db: db.to_owned(),
                reason: text,
            };
        }
        if lower.contains("database or disk is full")
            || lower.contains("no space left")
            || lower.contains("disk full")
        {
            return StorageError::Full {
                db: db.to_owned(),
                reason: text,
            };
        }
        if let diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::ClosedConnection
            | diesel::result::DatabaseErrorKind::UnableToSendCommand,
            _,
        ) = source
        {
            return StorageError::Unreachable {
                db: db.to_owned(),
                reason: text,
            };
        }
        StorageError::Query {
            db: db.to_owned(),
            operation,
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::result::{DatabaseErrorKind, Error};

    fn database_error(kind: DatabaseErrorKind, message: &str) -> Error {
        Error::DatabaseError(kind, Box::new(message.to_owned()))
    }

    #[test]
    fn driver_messages_become_actionable_errors() {
        let full = StorageError::query(
            "sqlite://r.db",
            "recording a run",
            database_error(DatabaseErrorKind::Unknown, "database or disk is full"),
        );
        assert!(matches!(full, StorageError::Full { .. }), "{full}");
        assert!(full.to_string().contains("free disk space"));
        let read_only = StorageError::query(
            "sqlite://r.db",
            "creating a job",
            database_error(
                DatabaseErrorKind::Unknown,
                "attempt to write a readonly database",
            ),
        );
        assert!(
            matches!(read_only, StorageError::ReadOnly { .. }),
            "{read_only}"
        );
        let pg_read_only = StorageError::query(
            "postgres://h/db",
            "creating a job",
            database_error(
                DatabaseErrorKind::ReadOnlyTransaction,
                "cannot execute INSERT in a read-only transaction",
            ),
        );
        assert!(
            matches!(pg_read_only, StorageError::ReadOnly { .. }),
            "{pg_read_only}"
        );
        let closed = StorageError::query(
            "postgres://h/db",
            "ranking runs",
            database_error(
                DatabaseErrorKind::ClosedConnection,
                "server closed the connection",
            ),
        );
        assert!(matches!(closed, StorageError::Unreachable { .. }) && closed.is_transient());
        let other = StorageError::query(
            "postgres://h/db",
            "creating a job",
            database_error(DatabaseErrorKind::UniqueViolation, "duplicate key"),
        );
        assert!(matches!(other, StorageError::Query { .. }) && !other.is_transient());
        assert!(
            other.to_string().contains("creating a job failed"),
            "{other}"
        );
    }
}
