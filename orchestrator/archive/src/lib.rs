//! Barwise's archive: the complete, immutable record of every run (`report.json`,
//! `trades.parquet`, `equity.parquet`) and of every job (`summary.parquet`, `manifest.json`),
//! in any object store, configured by URL:
//!
//! - `file:///path/to/folder` (the default is a folder under the data directory);
//! - `s3://bucket/prefix?endpoint=…&region=…&path_style=true&allow_http=true` (credentials from
//!   the usual `AWS_*` environment variables);
//! - `memory://name` (a store inside this process, for tests).
//!
//! Objects are written once: a second write of different bytes under a key is refused, a second
//! write of the same bytes (a retried upload) succeeds. Large objects go up in parts. Every
//! object's SHA-256 is computed here and recorded in the job's manifest and in the database.
//!
//! This is the only crate that knows `object_store`.

mod columns;
mod layout;
mod store;
mod verify;

pub use columns::{Column, parquet_bytes};
pub use layout::{
    JobManifest, ManifestEntry, RUN_OBJECTS, SUMMARY_METRICS, SummaryRow, equity_parquet,
    job_prefix, run_digest, run_prefix, summary_parquet, trades_parquet,
};
pub use parquet::errors::ParquetError;
pub use store::{Archive, ArchiveError, ObjectInfo, sha256_hex};
pub use verify::{Verification, manifest_key};
