//! Rows as Rust types, and the statuses stored as text.

use diesel::prelude::*;
use serde::Serialize;

use crate::schema::{backups, jobs, runs, schedules, trades};

/// Lifecycle of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Accepted, no run started yet.
    Queued,
    /// At least one run started.
    Running,
    /// Every run ended (some may have failed).
    Completed,
    /// The job as a whole failed (e.g. its timeout passed).
    Failed,
    /// Cancelled on request; finished runs are kept.
    Cancelled,
}

/// Lifecycle of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Waiting for a worker.
    Queued,
    /// Being executed.
    Running,
    /// Finished with a report.
    Succeeded,
    /// Finished with an error.
    Failed,
    /// Will not run.
    Cancelled,
}

macro_rules! text_enum {
    ($ty:ident { $($variant:ident = $text:literal),* $(,)? }) => {
        impl $ty {
            /// Every value.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),*];

            /// The text stored in the database.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $text),*
                }
            }

            /// The value stored as `text`.
            pub fn parse(text: &str) -> Option<$ty> {
                match text {
                    $($text => Some($ty::$variant),)*
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum!(JobStatus {
    Queued = "queued",
    Running = "running",
    Completed = "completed",
    Failed = "failed",
    Cancelled = "cancelled",
});

text_enum!(RunStatus {
    Queued = "queued",
    Running = "running",
    Succeeded = "succeeded",
    Failed = "failed",
    Cancelled = "cancelled",
});

/// A job row.
#[derive(Debug, Clone, PartialEq, Serialize, Queryable, Selectable, Insertable)]
#[diesel(table_name = jobs, treat_none_as_default_value = false)]
pub struct JobRow {
    /// Job id (chosen by the caller, unique).
    pub id: String,
    /// Human name.
    pub name: String,
    /// The job definition as submitted (TOML or JSON text).
    pub definition: String,
    /// `queued`, `running`, `completed`, `failed` or `cancelled`.
    pub status: String,
    /// Submission time, epoch ms.
    pub submitted_ms: i64,
    /// First run start, epoch ms.
    pub started_ms: Option<i64>,
    /// End, epoch ms.
    pub finished_ms: Option<i64>,
    /// Runs the job expands into.
    pub runs_total: i32,
    /// Runs finished with a report.
    pub runs_succeeded: i32,
    /// Runs finished with an error.
    pub runs_failed: i32,
    /// Why the job failed.
    pub error: Option<String>,
    /// Caller's key making submission idempotent.
    pub idempotency_key: Option<String>,
    /// Timeout, ms.
    pub timeout_ms: Option<i64>,
    /// When the job's summary and manifest were archived, epoch ms.
    pub archived_ms: Option<i64>,
}

/// A run row: identity, settings, outcome and every metric as its own column.
#[derive(
    Debug, Clone, PartialEq, Serialize, serde::Deserialize, Queryable, Selectable, Insertable,
)]
#[diesel(table_name = runs, treat_none_as_default_value = false)]
pub struct RunRow {
    /// Run id.
    pub id: String,
    /// Owning job.
    pub job_id: String,
    /// Key of the run within its job (stable across redeliveries).
    pub run_key: String,
    /// Symbol.
    pub symbol: String,
    /// Where the candles came from (path or URL).
    pub data_source: String,
    /// Strategy plugin.
    pub plugin_name: String,
    /// Plugin version, once known.
    pub plugin_version: Option<String>,
    /// Parameters as JSON.
    pub params: String,
    /// Execution settings as JSON.
    pub execution: String,
    /// Run status.
    pub status: String,
    /// Deliveries so far.
    pub attempts: i32,
    /// Why it failed.
    pub error: Option<String>,
    /// Start, epoch ms.
    pub started_ms: Option<i64>,
    /// End, epoch ms.
    pub finished_ms: Option<i64>,
    /// Candles in the data.
    pub bars: Option<i64>,
    /// Metric.
    pub total_return: Option<f64>,
    /// Metric.
    pub cagr: Option<f64>,
    /// Metric.
    pub sharpe: Option<f64>,
    /// Metric.
    pub sortino: Option<f64>,
    /// Metric.
    pub max_drawdown: Option<f64>,
    /// Metric.
    pub calmar: Option<f64>,
    /// Metric: number of trades.
    pub trade_count: Option<i64>,
    /// Metric.
    pub win_rate: Option<f64>,
    /// Metric.
    pub avg_return: Option<f64>,
    /// Metric.
    pub profit_factor: Option<f64>,
    /// Metric.
    pub avg_hold_bars: Option<f64>,
    /// Metric.
    pub exposure: Option<f64>,
    /// Metric.
    pub final_equity: Option<f64>,
    /// Metric.
    pub buy_and_hold_return: Option<f64>,
    /// `none`, `pending` or `archived`.
    pub archive_status: String,
    /// Where the archive is.
    pub archive_url: Option<String>,
    /// Archive manifest checksum.
    pub archive_sha256: Option<String>,
}

/// A trade row.
#[derive(Debug, Clone, PartialEq, Serialize, Queryable, Selectable, Insertable)]
#[diesel(table_name = trades, treat_none_as_default_value = false)]
pub struct TradeRow {
    /// Owning run.
    pub run_id: String,
    /// Position of the trade in the run (0-based).
    pub seq: i32,
    /// See the engine's `Trade`.
    pub entry_index: i64,
    /// See the engine's `Trade`.
    pub exit_index: i64,
    /// Entry bar time, epoch ms.
    pub entry_time_ms: i64,
    /// Exit bar time, epoch ms.
    pub exit_time_ms: i64,
    /// `long` or `short`.
    pub direction: String,
    /// Entry fill.
    pub entry_price: f64,
    /// Exit fill.
    pub exit_price: f64,
    /// Units.
    pub quantity: f64,
    /// Fees.
    pub fees: f64,
    /// Profit or loss.
    pub pnl: f64,
    /// Net return.
    pub trade_return: f64,
    /// Why it closed.
    pub exit_reason: String,
}

/// A schedule row.
#[derive(Debug, Clone, PartialEq, Serialize, Queryable, Selectable, Insertable)]
#[diesel(table_name = schedules, treat_none_as_default_value = false)]
pub struct ScheduleRow {
    /// Unique name.
    pub name: String,
    /// Cron expression (UTC).
    pub cron: String,
    /// Job definition to enqueue on each tick.
    pub job_template: String,
    /// Whether it fires.
    pub enabled: bool,
    /// Creation time, epoch ms.
    pub created_ms: i64,
    /// Last tick that enqueued a job, epoch ms.
    pub last_fire_ms: Option<i64>,
    /// Next tick, epoch ms.
    pub next_fire_ms: Option<i64>,
    /// `api`, or `file:PATH` for a job file in a daemon's schedules folder.
    pub source: String,
    /// Folder that relative data paths of the template resolve against.
    pub base_dir: Option<String>,
}

/// A backup catalog row.
#[derive(Debug, Clone, PartialEq, Serialize, Queryable, Selectable, Insertable)]
#[diesel(table_name = backups, treat_none_as_default_value = false)]
pub struct BackupRow {
    /// Backup id.
    pub id: String,
    /// When it was taken, epoch ms.
    pub created_ms: i64,
    /// `postgres` or `sqlite`.
    pub source: String,
    /// Object-store URL.
    pub location: String,
    /// Size in bytes.
    pub size_bytes: i64,
    /// SHA-256 of the object.
    pub sha256: String,
    /// Newest migration applied when it was taken.
    pub schema_version: String,
    /// `complete`, `failed` or `pruned`.
    pub status: String,
    /// Last verified restore, epoch ms.
    pub verified_ms: Option<i64>,
}
