//! `barwise`: run backtests of strategy plugins from the command line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow, bail};
use barwise::table::{self, Align};
use barwise::{plugin_dir, write::atomic_write};
use barwise_engine::{ExecutionSettings, Fill};
use barwise_plugin_host::{RawParam, Registry};
use clap::{Parser, Subcommand, ValueEnum};

/// Barwise: trading-strategy backtests with strategies as plugins.
#[derive(Debug, Parser)]
#[command(version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Backtest one strategy on one candle file and print the report.
    Backtest(BacktestArgs),
    /// List installed plugins with their versions and parameters.
    Plugins(PluginsArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OutputFormat {
    /// A readable summary: settings, metrics, first and last trades.
    Table,
    /// The full JSON report.
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FillArg {
    /// Fill at the next bar's open.
    NextOpen,
    /// Fill at the signal bar's close.
    Close,
}

#[derive(Debug, clap::Args)]
struct BacktestArgs {
    /// Candle file: .csv, .json (ccxt rows) or .parquet.
    #[arg(long)]
    data: PathBuf,
    /// Strategy (plugin) name; see `barwise plugins`.
    #[arg(long)]
    strategy: String,
    /// Strategy parameter as key=value (repeatable).
    #[arg(long = "param", value_name = "KEY=VALUE")]
    params: Vec<String>,
    /// When signals are filled.
    #[arg(long, value_enum, default_value = "next-open")]
    fill: FillArg,
    /// Fee per side as a fraction of notional.
    #[arg(long, default_value_t = 0.001)]
    fee: f64,
    /// Adverse slippage per fill as a fraction of price.
    #[arg(long, default_value_t = 0.0002)]
    slippage: f64,
    /// Fraction of equity committed per entry.
    #[arg(long, default_value_t = 1.0)]
    position_size: f64,
    /// Execute short entries (otherwise they are ignored and counted).
    #[arg(long)]
    allow_short: bool,
    /// Stop loss as a fraction of the entry price.
    #[arg(long)]
    stop_loss: Option<f64>,
    /// Take profit as a fraction of the entry price.
    #[arg(long)]
    take_profit: Option<f64>,
    /// Trailing stop as a fraction of the best price since entry.
    #[arg(long)]
    trailing_stop: Option<f64>,
    /// Close any position after this many bars.
    #[arg(long)]
    max_hold_bars: Option<u32>,
    /// Starting equity.
    #[arg(long, default_value_t = 10_000.0)]
    initial_cash: f64,
    /// Plugin folder [default: $BARWISE_PLUGIN_DIR, else the folder of this executable].
    #[arg(long)]
    plugin_dir: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: OutputFormat,
    /// Write the output to this file (atomically) instead of standard output.
    #[arg(long)]
    output: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct PluginsArgs {
    /// Plugin folder [default: $BARWISE_PLUGIN_DIR, else the folder of this executable].
    #[arg(long)]
    plugin_dir: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: OutputFormat,
}

fn parse_params(pairs: &[String]) -> Result<BTreeMap<String, RawParam>> {
    let mut params = BTreeMap::new();
    for pair in pairs {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| anyhow!("--param {pair:?}: expected KEY=VALUE"))?;
        if params
            .insert(key.trim().to_owned(), RawParam::Text(value.to_owned()))
            .is_some()
        {
            bail!("--param {key}: given more than once");
        }
    }
    Ok(params)
}

fn settings(args: &BacktestArgs) -> Result<ExecutionSettings> {
    let settings = ExecutionSettings {
        fill: match args.fill {
            FillArg::NextOpen => Fill::NextOpen,
            FillArg::Close => Fill::Close,
        },
        fee: args.fee,
        slippage: args.slippage,
        position_size: args.position_size,
        allow_short: args.allow_short,
        stop_loss: args.stop_loss,
        take_profit: args.take_profit,
        trailing_stop: args.trailing_stop,
        max_hold_bars: args.max_hold_bars,
        initial_cash: args.initial_cash,
    };
    settings.validate()?;
    Ok(settings)
}

fn load_registry(dir: Option<PathBuf>) -> Result<Registry> {
    let dir = plugin_dir::resolve(dir);
    Registry::scan(&dir).with_context(|| format!("loading plugins from {}", dir.display()))
}

fn emit(output: Option<&Path>, text: &str) -> Result<()> {
    match output {
        Some(path) => atomic_write(path, text.as_bytes()).context("writing the report"),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

fn backtest(args: BacktestArgs) -> Result<()> {
    let settings = settings(&args)?;
    let params = parse_params(&args.params)?;
    let registry = load_registry(args.plugin_dir.clone())?;
    let plugin = registry.get(&args.strategy).map_err(|e| anyhow!(e))?;
    let candles = barwise_data::load_candles(&args.data)?;
    let report = barwise_plugin_host::run_backtest(plugin, &params, &candles, &settings)?;
    let text = match args.format {
        OutputFormat::Json => serde_json::to_string_pretty(&report)? + "\n",
        OutputFormat::Table => {
            let name = args.data.file_name().map_or_else(
                || args.data.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            );
            table::report_summary(&report, &name, 5)
        }
    };
    emit(args.output.as_deref(), &text)
}

fn plugins(args: PluginsArgs) -> Result<()> {
    let dir = plugin_dir::resolve(args.plugin_dir.clone());
    let registry = load_registry(args.plugin_dir)?;
    match args.format {
        OutputFormat::Json => {
            let manifests: Vec<_> = registry.plugins.iter().map(|p| p.manifest()).collect();
            let value = serde_json::json!({
                "plugin_dir": dir,
                "plugins": manifests,
                "rejected": registry.rejected,
            });
            println!("{}", serde_json::to_string_pretty(&value)?);
        }
        OutputFormat::Table => {
            println!("plugins in {}:", dir.display());
            for p in &registry.plugins {
                let m = p.manifest();
                println!(
                    "\n{} {}  ({})\n  {}",
                    m.name,
                    m.version,
                    p.path().display(),
                    m.description
                );
                let rows: Vec<Vec<String>> = m
                    .params
                    .iter()
                    .map(|s| {
                        vec![
                            s.name.clone(),
                            s.kind.to_string(),
                            s.default.to_string(),
                            s.min.map_or_else(|| "-".into(), |v| v.to_string()),
                            s.max.map_or_else(|| "-".into(), |v| v.to_string()),
                            s.help.clone(),
                        ]
                    })
                    .collect();
                if !rows.is_empty() {
                    let text = table::render(
                        &["param", "type", "default", "min", "max", "help"],
                        &[
                            Align::Left,
                            Align::Left,
                            Align::Right,
                            Align::Right,
                            Align::Right,
                            Align::Left,
                        ],
                        &rows,
                    );
                    for line in text.lines() {
                        println!("  {line}");
                    }
                }
            }
            if registry.plugins.is_empty() {
                println!("  (none)");
            }
            for r in &registry.rejected {
                println!("\nrejected {}: {}", r.path.display(), r.reason);
            }
        }
    }
    Ok(())
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Backtest(args) => backtest(args),
        Command::Plugins(args) => plugins(args),
    };
    if let Err(error) = result {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}
