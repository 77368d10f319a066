//! Barwise's backtest engine: validated columnar candles and per-bar intents in, a deterministic
//! report out.
//!
//! The engine is pure: it performs no I/O, reads no clock, keeps no global state and uses no
//! randomness, so the same inputs always give a byte-identical report. Loading data, loading
//! plugins and storing results belong to other crates.

pub mod candles;
pub mod metrics;
pub mod report;
pub mod settings;
pub mod signals;
pub mod simulate;
pub mod time;

pub use candles::{CandleColumns, CandleError, Candles, Field, GapSummary};
pub use metrics::Metrics;
pub use report::{Backtest, DataSummary, ParamValue, Params, Report, backtest};
pub use settings::{ExecutionSettings, Fill, SettingError, SettingsError};
pub use signals::{Intent, Signals};
pub use simulate::{Direction, EngineError, ExitReason, SignalCounts, Simulation, Trade, simulate};
pub use time::TimeMs;
