//! Barwise job files: a batch of backtests (symbols x strategies x parameter grids) described in
//! TOML, parsed, validated and expanded into planned runs. This crate executes nothing.
//!
//! [`parse_job`] (or [`load_job`] for a file) checks **everything** before anything runs and
//! reports every problem at once, each with the path of its key (`job.timeout`,
//! `strategies[0].params.fast`, `data.symbols."ETH/BTC"`), sorted by path. The format is
//! documented in `docs/jobs.md`.
//!
//! The document is read as a [`toml::Table`] and walked by hand rather than deserialised with
//! `deny_unknown_fields`, which would stop at the first problem.

mod data;
mod error;
mod sections;
mod strategies;
mod time;

use std::path::{Path, PathBuf};

use barwise_engine::{ExecutionSettings, Params};
use barwise_plugin_host::Catalog;
use serde::{Deserialize, Serialize};

pub use data::URL_SCHEMES;
pub use error::{JobError, JobErrors};
pub use sections::{DEFAULT_TIMEOUT_MS, parse_schedule};
pub use time::parse_duration;

use error::{Problems, check_keys, line_column};

/// Top-level keys of a job file.
const TOP_KEYS: [&str; 4] = ["job", "data", "strategies", "execution"];

/// Bounds on what one job may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most runs one job may expand into.
    pub max_runs: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_runs: 10_000 }
    }
}

/// A validated job, expanded into its runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobPlan {
    /// `job.name`.
    pub name: String,
    /// `job.timeout` in milliseconds (default one hour).
    pub timeout_ms: u64,
    /// `job.schedule`, a cron expression (UTC) as written; `None` for a job run once.
    pub schedule: Option<String>,
    /// `data.timeframe` in milliseconds: informational, the candles are not resampled.
    pub timeframe_ms: Option<u64>,
    /// `data.start` as epoch milliseconds: candles before it are left out (inclusive bound).
    pub start_ms: Option<i64>,
    /// `data.end` as epoch milliseconds: candles at or after it are left out (exclusive bound).
    pub end_ms: Option<i64>,
    /// `[execution]`, defaults filled in, validated.
    pub execution: ExecutionSettings,
    /// Every run, in a deterministic order: by strategy as listed, then by symbol name, then by
    /// grid position (parameter axes in name order, the last varying fastest).
    pub runs: Vec<PlannedRun>,
    /// The job file's text as given.
    pub definition: String,
}

/// One backtest of a job: a strategy with fixed parameters on one symbol's candles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedRun {
    /// `{symbol}|{plugin}|{params as canonical JSON}`: deterministic, and unique within the job.
    pub run_key: String,
    /// Symbol, as named in `data.symbols`.
    pub symbol: String,
    /// Absolute path of the candle file, or its URL as written.
    pub data: String,
    /// Plugin name.
    pub plugin: String,
    /// The plugin's library file, from the registry.
    pub plugin_path: PathBuf,
    /// Parameters, validated, with defaults filled in.
    pub params: Params,
}

/// Parses, validates and expands a job definition. `source` names it in errors; relative data
/// paths are resolved against `base_dir`; plugins and their parameter schemas come from
/// `registry`.
///
/// # Errors
/// [`JobErrors`] with every problem found, sorted by path. A TOML syntax error is reported alone
/// (at `line L, column C`), since nothing else can be checked.
pub fn parse_job(
    text: &str,
    source: &str,
    base_dir: &Path,
    registry: &Catalog,
    limits: &Limits,
) -> Result<JobPlan, JobErrors> {
    let mut problems = Problems::default();
    let root = match text.parse::<toml::Table>() {
        Ok(root) => root,
        Err(e) => {
            let path = match e.span() {
                Some(span) => {
                    let (line, column) = line_column(text, span.start);
                    format!("line {line}, column {column}")
                }
                None => "syntax".to_owned(),
            };
            problems.add(path, e.message().trim_end());
            return Err(problems.into_errors(source));
        }
    };
    check_keys(&root, "", &TOP_KEYS, &mut problems);
    let job = sections::job(root.get("job"), &mut problems);
    let data = data::data(root.get("data"), base_dir, &mut problems);
    let execution = sections::execution(root.get("execution"), &mut problems);
    let runs = strategies::expand(
        root.get("strategies"),
        &data.symbols,
        data.symbol_count,
        registry,
        limits,
        &mut problems,
    );
    if !problems.is_empty() {
        return Err(problems.into_errors(source));
    }
    Ok(JobPlan {
        name: job.name,
        timeout_ms: job.timeout_ms,
        schedule: job.schedule,
        timeframe_ms: data.timeframe_ms,
        start_ms: data.start_ms,
        end_ms: data.end_ms,
        execution,
        runs,
        definition: text.to_owned(),
    })
}

/// The `[data]` time range of a stored job definition, `(start, end)` in epoch ms, without
/// checking anything else (data files, plugins): what re-running one of its runs needs.
///
/// # Errors
/// A message when the text is not TOML or a time is invalid.
pub fn time_range(text: &str) -> Result<(Option<i64>, Option<i64>), String> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| e.to_string())?;
    let data = table.get("data").and_then(toml::Value::as_table);
    let bound = |key: &str| -> Result<Option<i64>, String> {
        data.and_then(|d| d.get(key))
            .map(time::time_value)
            .transpose()
            .map_err(|e| format!("data.{key}: {e}"))
    };
    Ok((bound("start")?, bound("end")?))
}

/// Reads the job file at `path` and [`parse_job`]s it, with the file's folder as the base of
/// relative data paths and the path as the source in errors.
///
/// # Errors
/// A [`JobErrors`] with one error of empty path when the file cannot be read; otherwise those of
/// [`parse_job`].
pub fn load_job(path: &Path, registry: &Catalog, limits: &Limits) -> Result<JobPlan, JobErrors> {
    let source = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| JobErrors {
        source: source.clone(),
        errors: vec![JobError {
            path: String::new(),
            message: format!("cannot read job file: {e}"),
        }],
    })?;
    let base_dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    parse_job(&text, &source, base_dir, registry, limits)
}
