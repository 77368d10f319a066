//! Barwise's results database: jobs, runs with every metric as a column, trades, schedules and
//! the backup catalog, on SQLite (the embedded default: a file, nothing to install) or
//! PostgreSQL (production), chosen from the URL.
//!
//! This is the only crate that knows diesel. Its API is small and typed: open a [`Store`],
//! create jobs, record run results idempotently, query. Writes of a run and its trades happen in
//! one transaction keyed by `(job, run key)`, so a task delivered twice leaves exactly one run
//! and one set of trades.

mod backup;
mod error;
mod lifecycle;
mod migrate;
mod models;
mod records;
pub mod schema;
mod store;
mod url;

pub use error::StorageError;
pub use migrate::{MigrationStatus, known_migrations};
pub use models::{BackupRow, JobRow, JobStatus, RunRow, RunStatus, ScheduleRow, TradeRow};
pub use records::{JobFilter, Metric, NewJob, RecordOutcome, RunRecord, RunResult};
pub use store::Store;
pub use url::{DATA_DIR_ENV, DATABASE_URL_ENV, DatabaseUrl, default_database_url, redact};
