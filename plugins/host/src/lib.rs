//! The plugin host: finds, loads and validates strategy plugins, checks parameters against their
//! schema, and runs backtests with them.
//!
//! All `unsafe` code that touches a plugin lives in [`loader`]. Libraries are never unloaded: a
//! plugin's code and statics stay mapped for the life of the process, which is what makes the
//! `'static` vtable sound. Plugin code runs in the calling process; the daemon never calls this
//! crate directly but goes through the `barwise-runner` process, so a crashing plugin kills only
//! the runner.

mod catalog;
mod error;
mod loader;
mod params;
mod registry;

pub use catalog::{Catalog, PluginInfo};
pub use error::HostError;
pub use loader::{Plugin, PluginManifest};
pub use params::{ParamKind, ParamSchema, ParamsError, RawParam};
pub use registry::{Registry, Rejected, is_library_file};

use barwise_engine::{Candles, ExecutionSettings, Params, Report};

/// Runs one backtest: validates `requested` parameters against the plugin's schema, lets the
/// strategy generate intents for `candles`, simulates them and assembles the report.
///
/// # Errors
/// [`HostError::InvalidParams`] listing every parameter problem; the strategy's own error or
/// panic; an engine error (invalid settings).
pub fn run_backtest(
    plugin: &Plugin,
    requested: &std::collections::BTreeMap<String, RawParam>,
    candles: &Candles,
    settings: &ExecutionSettings,
) -> Result<Report, HostError> {
    settings
        .validate()
        .map_err(barwise_engine::EngineError::from)?;
    let params = plugin.resolve_params(requested)?;
    run_resolved(plugin, params, candles, settings)
}

/// Like [`run_backtest`] with parameters already resolved by [`Plugin::resolve_params`].
///
/// # Errors
/// As [`run_backtest`], without the parameter validation.
pub fn run_resolved(
    plugin: &Plugin,
    params: Params,
    candles: &Candles,
    settings: &ExecutionSettings,
) -> Result<Report, HostError> {
    run_resolved_with_equity(plugin, params, candles, settings).map(|(report, _)| report)
}

/// Like [`run_resolved`], also returning the equity curve (one point per bar), for charts.
///
/// # Errors
/// As [`run_resolved`].
pub fn run_resolved_with_equity(
    plugin: &Plugin,
    params: Params,
    candles: &Candles,
    settings: &ExecutionSettings,
) -> Result<(Report, Vec<f64>), HostError> {
    let mut instance = plugin.instantiate(&params)?;
    let signals = instance.generate(candles, settings.allow_short)?;
    let mut backtest = barwise_engine::backtest(candles, &signals, settings)?;
    let equity = std::mem::take(&mut backtest.simulation.equity);
    let manifest = plugin.manifest();
    let report = Report::new(
        manifest.name.clone(),
        manifest.version.clone(),
        params,
        *settings,
        candles,
        backtest,
    );
    Ok((report, equity))
}
