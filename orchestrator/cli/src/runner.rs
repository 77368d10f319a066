//! The runner protocol: a batch of backtests of one plugin, executed in a process of its own.
//!
//! Input (`barwise-runner --spec FILE`, or the same JSON on stdin):
//! `{"plugin": "/path/libsma_cross.so", "runs": [{"id": "r1", "data": "/path/BTC.csv",
//! "params": {"fast": 5}, "execution": {"fee": 0.0}}]}`.
//! Output: one JSON line per run on stdout, written and flushed as soon as the run ends, either
//! `{"id": "r1", "report": {...}}` or `{"id": "r1", "error": "..."}`. Data files are loaded once
//! per batch. See [`ExitCode`] for the process's exit codes.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use barwise_engine::{Candles, ExecutionSettings, Report};
use barwise_plugin_host::{Plugin, RawParam};
use serde::{Deserialize, Serialize};

/// A batch for one runner process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunnerSpec {
    /// The plugin library file.
    pub plugin: PathBuf,
    /// The backtests to run, in order.
    pub runs: Vec<RunSpec>,
    /// When set, each succeeded run's archive objects (`report.json`, `trades.parquet`,
    /// `equity.parquet`) are written to `SPOOL_DIR/{run id}/` before its line is printed, for
    /// the daemon to upload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spool_dir: Option<PathBuf>,
}

/// One backtest in a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSpec {
    /// Caller's identifier, echoed in the output line.
    pub id: String,
    /// Candle file (CSV, ccxt JSON or Parquet), or an object-store URL of one (`s3://…`,
    /// `file://…`).
    pub data: PathBuf,
    /// Strategy parameters; missing ones take their defaults.
    #[serde(default)]
    pub params: BTreeMap<String, RawParam>,
    /// Execution settings; missing ones take their defaults.
    #[serde(default)]
    pub execution: ExecutionSettings,
    /// Only candles at or after this time (epoch ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_ms: Option<i64>,
    /// Only candles before this time (epoch ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_ms: Option<i64>,
}

/// The candles of `candles` with `start_ms <= time < end_ms`.
///
/// # Errors
/// A message when no candle is in the range.
pub fn time_range(
    candles: &Arc<Candles>,
    start_ms: Option<i64>,
    end_ms: Option<i64>,
) -> Result<Arc<Candles>, String> {
    if start_ms.is_none() && end_ms.is_none() {
        return Ok(Arc::clone(candles));
    }
    let times = candles.time_ms();
    let from = start_ms.map_or(0, |s| times.partition_point(|&t| t < s));
    let to = end_ms.map_or(times.len(), |e| times.partition_point(|&t| t < e));
    if from >= to {
        return Err(format!(
            "no candles in the time range [{}, {}) (the data covers {} .. {})",
            start_ms.map_or_else(|| "start".into(), |t| barwise_engine::TimeMs(t).to_string()),
            end_ms.map_or_else(|| "end".into(), |t| barwise_engine::TimeMs(t).to_string()),
            times
                .first()
                .map_or_else(String::new, |&t| barwise_engine::TimeMs(t).to_string()),
            times
                .last()
                .map_or_else(String::new, |&t| barwise_engine::TimeMs(t).to_string()),
        ));
    }
    Ok(Arc::new(candles.slice(from, to)))
}

/// One output line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunOutcome {
    /// The run's identifier from the spec.
    pub id: String,
    /// The report, when the run succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<Box<Report>>,
    /// The error, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Wall-clock time of the run in the runner, milliseconds (loading data included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elapsed_ms: Option<u64>,
}

/// The runner's exit codes. A runner killed by a signal (a crashing plugin) has none: the parent
/// reports the signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Every run succeeded.
    Ok = 0,
    /// At least one run failed; each failure is on its output line.
    RunsFailed = 1,
    /// The spec could not be read or parsed.
    BadSpec = 2,
    /// The plugin could not be loaded or validated.
    PluginRejected = 3,
    /// Writing the output failed (the parent went away).
    OutputFailed = 4,
}

/// Candles from a file, or from an object-store URL.
fn load(data: &Path) -> Result<Candles, String> {
    let text = data.to_string_lossy();
    if !text.contains("://") {
        return barwise_data::load_candles(data).map_err(|e| e.to_string());
    }
    let without_query = text.split('?').next().unwrap_or_default();
    let format = barwise_data::Format::from_path(Path::new(without_query)).ok_or_else(|| {
        format!("{without_query}: unknown candle format (expected .csv, .json or .parquet)")
    })?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("starting the I/O runtime: {e}"))?;
    let bytes = runtime
        .block_on(barwise_archive::Archive::fetch_url(&text))
        .map_err(|e| e.to_string())?;
    barwise_data::load_candles_from_bytes(&bytes, format, without_query).map_err(|e| e.to_string())
}

/// One backtest; with a spool folder, its archive objects are written there first.
fn backtest(
    plugin: &Plugin,
    run: &RunSpec,
    candles: &Candles,
    spool: Option<&Path>,
) -> Result<Report, String> {
    let Some(spool) = spool else {
        return barwise_plugin_host::run_backtest(plugin, &run.params, candles, &run.execution)
            .map_err(|e| e.to_string());
    };
    let params = plugin
        .resolve_params(&run.params)
        .map_err(|e| e.to_string())?;
    let (report, equity) =
        barwise_plugin_host::run_resolved_with_equity(plugin, params, candles, &run.execution)
            .map_err(|e| e.to_string())?;
    spool_objects(spool, &run.id, &report, candles.time_ms(), &equity).map_err(|e| {
        format!(
            "writing the run's archive files to {}: {e}",
            spool.display()
        )
    })?;
    Ok(report)
}

/// Writes `report.json`, `trades.parquet` and `equity.parquet` to `SPOOL/ID.tmp`, then renames
/// the folder to `SPOOL/ID`, so the folder is complete whenever it exists.
fn spool_objects(
    spool: &Path,
    id: &str,
    report: &Report,
    times: &[i64],
    equity: &[f64],
) -> std::io::Result<()> {
    let other = |e: barwise_archive::ParquetError| std::io::Error::other(e.to_string());
    let temporary = spool.join(format!("{id}.tmp"));
    let done = spool.join(id);
    if done.is_dir() {
        std::fs::remove_dir_all(&done)?;
    }
    std::fs::create_dir_all(&temporary)?;
    let report_json = serde_json::to_vec(report).map_err(std::io::Error::other)?;
    std::fs::write(temporary.join("report.json"), report_json)?;
    std::fs::write(
        temporary.join("trades.parquet"),
        barwise_archive::trades_parquet(report).map_err(other)?,
    )?;
    std::fs::write(
        temporary.join("equity.parquet"),
        barwise_archive::equity_parquet(times, equity).map_err(other)?,
    )?;
    std::fs::rename(&temporary, &done)
}

/// Loads the plugin and executes every run, writing one line per run to `out`.
///
/// # Errors
/// The exit code and message for failures that stop the whole batch.
pub fn execute(spec: &RunnerSpec, out: &mut impl Write) -> Result<ExitCode, (ExitCode, String)> {
    let plugin =
        Plugin::load(&spec.plugin).map_err(|e| (ExitCode::PluginRejected, e.to_string()))?;
    let mut data: BTreeMap<PathBuf, Result<Arc<Candles>, String>> = BTreeMap::new();
    let mut failed = false;
    for run in &spec.runs {
        let started = std::time::Instant::now();
        let candles = match data.entry(run.data.clone()) {
            Entry::Occupied(e) => e.get().clone(),
            Entry::Vacant(e) => e.insert(load(&run.data).map(Arc::new)).clone(),
        };
        let result = candles
            .and_then(|c| time_range(&c, run.start_ms, run.end_ms))
            .and_then(|c| backtest(&plugin, run, &c, spec.spool_dir.as_deref()));
        failed |= result.is_err();
        let outcome = match result {
            Ok(report) => RunOutcome {
                id: run.id.clone(),
                report: Some(Box::new(report)),
                error: None,
                elapsed_ms: Some(started.elapsed().as_millis() as u64),
            },
            Err(error) => RunOutcome {
                id: run.id.clone(),
                report: None,
                error: Some(error),
                elapsed_ms: Some(started.elapsed().as_millis() as u64),
            },
        };
        let write = serde_json::to_writer(&mut *out, &outcome)
            .map_err(std::io::Error::from)
            .and_then(|()| out.write_all(b"\n"))
            .and_then(|()| out.flush());
        write.map_err(|e| (ExitCode::OutputFailed, format!("writing results: {e}")))?;
    }
    Ok(if failed {
        ExitCode::RunsFailed
    } else {
        ExitCode::Ok
    })
}
