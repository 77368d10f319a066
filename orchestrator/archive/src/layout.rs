//! Where things go in the archive and what they contain.
//!
//! ```text
//! jobs/{job_id}/runs/{run_id}/report.json      the full report (JSON, as `barwise backtest`)
//! jobs/{job_id}/runs/{run_id}/trades.parquet   one row per trade
//! jobs/{job_id}/runs/{run_id}/equity.parquet   one row per bar: time, equity, drawdown
//! jobs/{job_id}/summary.parquet                one row per run: parameters and metrics
//! jobs/{job_id}/manifest.json                  every object above with size and SHA-256
//! ```
//!
//! Column names and types are documented in `docs/archive.md` and checked by a test that reads
//! the files with pyarrow.

use barwise_engine::Report;
use parquet::errors::ParquetError;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::columns::{Column, parquet_bytes};
use crate::store::ObjectInfo;

/// The objects of one succeeded run, in the order they are written.
pub const RUN_OBJECTS: [&str; 3] = ["report.json", "trades.parquet", "equity.parquet"];

/// `jobs/{job_id}`.
pub fn job_prefix(job_id: &str) -> String {
    format!("jobs/{job_id}")
}

/// `jobs/{job_id}/runs/{run_id}`.
pub fn run_prefix(job_id: &str, run_id: &str) -> String {
    format!("jobs/{job_id}/runs/{run_id}")
}

/// `trades.parquet` of a report.
///
/// # Errors
/// Parquet encoding errors.
pub fn trades_parquet(report: &Report) -> Result<Vec<u8>, ParquetError> {
    let t = &report.trades;
    parquet_bytes(
        "trades",
        &[
            Column::Int("seq", (0..t.len() as i64).collect()),
            Column::Int(
                "entry_index",
                t.iter().map(|x| x.entry_index as i64).collect(),
            ),
            Column::Int(
                "exit_index",
                t.iter().map(|x| x.exit_index as i64).collect(),
            ),
            Column::Time("entry_time", t.iter().map(|x| x.entry_time.0).collect()),
            Column::Time("exit_time", t.iter().map(|x| x.exit_time.0).collect()),
            Column::Text(
                "direction",
                t.iter().map(|x| x.direction.as_str().to_owned()).collect(),
            ),
            Column::Float("entry_price", t.iter().map(|x| x.entry_price).collect()),
            Column::Float("exit_price", t.iter().map(|x| x.exit_price).collect()),
            Column::Float("quantity", t.iter().map(|x| x.quantity).collect()),
            Column::Float("fees", t.iter().map(|x| x.fees).collect()),
            Column::Float("pnl", t.iter().map(|x| x.pnl).collect()),
            Column::Float("return", t.iter().map(|x| x.trade_return).collect()),
            Column::Text(
                "exit_reason",
                t.iter()
                    .map(|x| x.exit_reason.as_str().to_owned())
                    .collect(),
            ),
        ],
    )
}

/// `equity.parquet`: per bar, its time, the equity marked to market at its close, and the
/// drawdown `1 - equity / max(equity so far)` (a fraction, 0 at a new high).
///
/// # Errors
/// Parquet encoding errors; `times` and `equity` of different lengths.
pub fn equity_parquet(times: &[i64], equity: &[f64]) -> Result<Vec<u8>, ParquetError> {
    let mut peak = f64::NEG_INFINITY;
    let drawdown: Vec<f64> = equity
        .iter()
        .map(|&e| {
            peak = peak.max(e);
            if peak > 0.0 { 1.0 - e / peak } else { 0.0 }
        })
        .collect();
    parquet_bytes(
        "equity",
        &[
            Column::Int("bar", (0..equity.len() as i64).collect()),
            Column::Time("time", times.to_vec()),
            Column::Float("equity", equity.to_vec()),
            Column::Float("drawdown", drawdown),
        ],
    )
}

/// Names of the metric columns of `summary.parquet`, in order.
pub const SUMMARY_METRICS: [&str; 13] = [
    "total_return",
    "cagr",
    "sharpe",
    "sortino",
    "max_drawdown",
    "calmar",
    "win_rate",
    "avg_return",
    "profit_factor",
    "avg_hold_bars",
    "exposure",
    "final_equity",
    "buy_and_hold_return",
];

/// One row of `summary.parquet`.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    /// Run id.
    pub run_id: String,
    /// Run key.
    pub run_key: String,
    /// Symbol.
    pub symbol: String,
    /// Plugin name.
    pub plugin: String,
    /// Parameters as JSON.
    pub params: String,
    /// `succeeded` or `failed`.
    pub status: String,
    /// Error of a failed run.
    pub error: Option<String>,
    /// Bars simulated.
    pub bars: Option<i64>,
    /// Number of trades.
    pub trades: Option<i64>,
    /// Metrics in the order of [`SUMMARY_METRICS`].
    pub metrics: [Option<f64>; 13],
}

/// `summary.parquet` of a job.
///
/// # Errors
/// Parquet encoding errors.
pub fn summary_parquet(rows: &[SummaryRow]) -> Result<Vec<u8>, ParquetError> {
    let text = |f: fn(&SummaryRow) -> &String| rows.iter().map(|r| f(r).clone()).collect();
    let mut columns = vec![
        Column::Text("run_id", text(|r| &r.run_id)),
        Column::Text("run_key", text(|r| &r.run_key)),
        Column::Text("symbol", text(|r| &r.symbol)),
        Column::Text("plugin", text(|r| &r.plugin)),
        Column::Text("params", text(|r| &r.params)),
        Column::Text("status", text(|r| &r.status)),
        Column::OptText("error", rows.iter().map(|r| r.error.clone()).collect()),
        Column::OptInt("bars", rows.iter().map(|r| r.bars).collect()),
        Column::OptInt("trades", rows.iter().map(|r| r.trades).collect()),
    ];
    for (i, name) in SUMMARY_METRICS.iter().enumerate() {
        columns.push(Column::OptFloat(
            name,
            rows.iter().map(|r| r.metrics[i]).collect(),
        ));
    }
    parquet_bytes("summary", &columns)
}

/// A run's digest, recorded in the database: the SHA-256 of its objects' `sha256  key` lines
/// (as `sha256sum` prints them), sorted by key.
pub fn run_digest(objects: &[ObjectInfo]) -> String {
    let mut lines: Vec<String> = objects
        .iter()
        .map(|o| format!("{}  {}\n", o.sha256, o.key))
        .collect();
    lines.sort();
    let digest = Sha256::digest(lines.concat().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// One object in a manifest.
pub type ManifestEntry = ObjectInfo;

/// `manifest.json` of a job: what its archive must contain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobManifest {
    /// The job.
    pub job_id: String,
    /// When the manifest was written (RFC 3339).
    pub created_at: String,
    /// Runs of the job with archived objects.
    pub runs: usize,
    /// Every object of the job except the manifest itself, sorted by key.
    pub objects: Vec<ManifestEntry>,
}
