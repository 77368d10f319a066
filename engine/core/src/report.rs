//! The report of one backtest: what was run, on what data, and what came out.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::candles::Candles;
use crate::metrics::{self, Metrics};
use crate::settings::ExecutionSettings;
use crate::signals::Signals;
use crate::simulate::{self, EngineError, SignalCounts, Simulation, Trade};
use crate::time::TimeMs;

/// A strategy parameter value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ParamValue {
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Bool(b) => write!(f, "{b}"),
            ParamValue::Int(i) => write!(f, "{i}"),
            ParamValue::Float(x) => write!(f, "{x:?}"),
        }
    }
}

/// Parameters by name; ordered so reports are deterministic.
pub type Params = BTreeMap<String, ParamValue>;

/// What the data looked like.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataSummary {
    /// Number of candles.
    pub bars: usize,
    /// Open time of the first candle.
    pub first_time: TimeMs,
    /// Open time of the last candle.
    pub last_time: TimeMs,
    /// Median spacing of candles in milliseconds (the inferred timeframe), if there are two.
    pub interval_ms: Option<i64>,
    /// Intervals longer than the median.
    pub gaps: u64,
    /// Candles missing in those gaps at the median spacing.
    pub missing_bars: u64,
}

impl DataSummary {
    /// Summarises a non-empty series.
    ///
    /// # Panics
    /// When `candles` is empty (every caller has already rejected empty data).
    pub fn of(candles: &Candles) -> Self {
        let times = candles.time_ms();
        let gaps = candles.gaps();
        Self {
            bars: candles.len(),
            first_time: TimeMs(times[0]),
            last_time: TimeMs(times[times.len() - 1]),
            interval_ms: candles.median_interval_ms(),
            gaps: gaps.gaps,
            missing_bars: gaps.missing_bars,
        }
    }
}

/// A full backtest report, as printed by `barwise backtest --format json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Strategy (plugin) name.
    pub strategy: String,
    /// Plugin version.
    pub plugin_version: String,
    /// Parameters, defaults filled in.
    pub params: Params,
    /// All execution settings.
    pub execution: ExecutionSettings,
    /// The data.
    pub data: DataSummary,
    /// Requested and ignored intents.
    pub signals: SignalCounts,
    /// Performance metrics.
    pub metrics: Metrics,
    /// Every closed trade.
    pub trades: Vec<Trade>,
}

/// A simulation with its metrics: the engine's whole output for one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Backtest {
    /// Trades, equity curve and signal counts.
    pub simulation: Simulation,
    /// Metrics derived from them.
    pub metrics: Metrics,
}

/// Simulates `signals` on `candles` and computes the metrics.
///
/// # Errors
/// See [`simulate::simulate`].
pub fn backtest(
    candles: &Candles,
    signals: &Signals,
    settings: &ExecutionSettings,
) -> Result<Backtest, EngineError> {
    let simulation = simulate::simulate(candles, signals, settings)?;
    let metrics = metrics::compute(candles, &simulation, settings.initial_cash);
    Ok(Backtest {
        simulation,
        metrics,
    })
}

impl Report {
    /// Assembles a report from a finished backtest.
    pub fn new(
        strategy: String,
        plugin_version: String,
        params: Params,
        execution: ExecutionSettings,
        candles: &Candles,
        backtest: Backtest,
    ) -> Self {
        Self {
            strategy,
            plugin_version,
            params,
            execution,
            data: DataSummary::of(candles),
            signals: backtest.simulation.signals,
            metrics: backtest.metrics,
            trades: backtest.simulation.trades,
        }
    }
}
