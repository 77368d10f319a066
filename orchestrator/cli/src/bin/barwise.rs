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
    /// Run a job file (symbols x strategies x parameter grids) on this machine, store every
    /// result in the results database and print the best runs.
    Run(RunArgs),
    /// Write the HTML report of a job from the results database: runs ranked by a metric, and a
    /// heatmap of the metric over two parameters for sweeps.
    Report(ReportArgs),
}

#[derive(Debug, clap::Args)]
struct ReportArgs {
    /// The job id (as printed by `barwise run`).
    #[arg(required_unless_present = "run")]
    job: Option<String>,
    /// Report one run instead (its id from the job report or `--format json`): the run is
    /// re-executed from its stored settings, which must reproduce the stored metrics exactly.
    #[arg(long, conflicts_with = "job")]
    run: Option<String>,
    /// Plugin folder for `--run` [default: $BARWISE_PLUGIN_DIR, else the folder of this executable].
    #[arg(long)]
    plugin_dir: Option<PathBuf>,
    /// Where to write the HTML file.
    #[arg(long)]
    html: PathBuf,
    /// Results database [default: as for `barwise run`].
    #[arg(long)]
    database_url: Option<String>,
    /// Metric to rank by and to show in the heatmap.
    #[arg(long, default_value = "sharpe")]
    metric: String,
    /// Heatmap axes as X,Y parameter names [default: the first two parameters that vary].
    #[arg(long, value_name = "X,Y")]
    heatmap: Option<String>,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// The job file (TOML); see docs/jobs.md and config/jobs/.
    job: PathBuf,
    /// Results database [default: $DATABASE_URL, else sqlite://$BARWISE_DATA_DIR/results.db,
    /// else sqlite://.barwise/results.db].
    #[arg(long)]
    database_url: Option<String>,
    /// Plugin folder [default: $BARWISE_PLUGIN_DIR, else the folder of this executable].
    #[arg(long)]
    plugin_dir: Option<PathBuf>,
    /// Runner processes at once [default: the number of cores].
    #[arg(long)]
    workers: Option<usize>,
    /// Metric to rank the results by (best first; lowest first for max_drawdown).
    #[arg(long, default_value = "sharpe")]
    rank_by: String,
    /// How many of the best runs to show.
    #[arg(long, default_value_t = 20)]
    top: i64,
    /// Output format of the results.
    #[arg(long, value_enum, default_value = "table")]
    format: OutputFormat,
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
    /// Also write a self-contained HTML report (charts, metrics, trades) to this file.
    #[arg(long)]
    html: Option<PathBuf>,
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
    let resolved = plugin.resolve_params(&params)?;
    let (report, equity) =
        barwise_plugin_host::run_resolved_with_equity(plugin, resolved, &candles, &settings)?;
    if let Some(path) = &args.html {
        let name = args.data.file_name().map_or_else(
            || args.data.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let page = barwise::html::render(&report, &name, &candles, &equity);
        atomic_write(path, page.as_bytes()).context("writing the HTML report")?;
    }
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

fn run_job(args: RunArgs) -> Result<()> {
    use barwise_storage::{Metric, Store};
    use std::io::IsTerminal as _;
    let metric = Metric::parse(&args.rank_by).map_err(|e| anyhow!("--rank-by: {e}"))?;
    let registry = load_registry(args.plugin_dir.clone())?;
    let plan = barwise_jobs::load_job(
        &args.job,
        &registry.catalog(),
        &barwise_jobs::Limits::default(),
    )?;
    let url = args
        .database_url
        .clone()
        .unwrap_or_else(barwise_storage::default_database_url);
    let store = Store::open(&url)?;
    let runner = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("barwise-runner")))
        .filter(|p| p.is_file())
        .ok_or_else(|| {
            anyhow!("barwise-runner not found next to barwise; build the workspace (cargo build)")
        })?;
    let workers = args
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let total = plan.runs.len();
    let terminal = std::io::stderr().is_terminal();
    eprintln!(
        "job {}: {total} run(s) on {workers} worker(s), results in {}",
        plan.name,
        store.display_url()
    );
    let started = std::time::Instant::now();
    let last_line = std::sync::Mutex::new(0usize);
    let on_progress = |p: &barwise::execute::Progress, total: usize| {
        use std::sync::atomic::Ordering;
        let ok = p.succeeded.load(Ordering::SeqCst);
        let failed = p.failed.load(Ordering::SeqCst);
        let done = ok + failed;
        if terminal {
            let width = 30;
            let filled = (done * width)
                .checked_div(total)
                .unwrap_or(width)
                .min(width);
            eprint!(
                "\r[{}{}] {done}/{total} runs ({failed} failed)",
                "=".repeat(filled),
                " ".repeat(width - filled)
            );
            if done == total {
                eprintln!();
            }
        } else if let Ok(mut last) = last_line.lock() {
            // Plain lines for logs: every 10 % and at the end.
            let step = (total / 10).max(1);
            if done == total || done >= *last + step {
                *last = done;
                eprintln!("progress: {done}/{total} runs ({failed} failed)");
            }
        }
    };
    let outcome = barwise::execute::execute(&plan, &store, &runner, workers, &on_progress)?;
    let descending = metric != Metric::MaxDrawdown;
    let best = store.runs_of_job(&outcome.job_id, metric, descending, args.top, 0)?;
    match args.format {
        OutputFormat::Json => {
            let value = serde_json::json!({
                "job_id": outcome.job_id,
                "status": outcome.status.as_str(),
                "succeeded": outcome.succeeded,
                "failed": outcome.failed,
                "database": store.display_url(),
                "ranked_by": args.rank_by,
                "runs": best.iter().map(run_json).collect::<Vec<_>>(),
            });
            println!("{}", serde_json::to_string_pretty(&value)?);
        }
        OutputFormat::Table => {
            println!(
                "job {} {}: {} succeeded, {} failed in {:.1} s",
                outcome.job_id,
                outcome.status,
                outcome.succeeded,
                outcome.failed,
                started.elapsed().as_secs_f64()
            );
            let parsed: Vec<BTreeMap<String, serde_json::Value>> = best
                .iter()
                .map(|r| serde_json::from_str(&r.params).unwrap_or_default())
                .collect();
            // Show the parameters that differ between the runs shown (all of them if none do).
            let varying: Vec<&String> = parsed
                .first()
                .map(|first| {
                    first
                        .keys()
                        .filter(|k| parsed.iter().any(|p| p.get(*k) != first.get(*k)))
                        .collect()
                })
                .unwrap_or_default();
            let rows: Vec<Vec<String>> = best
                .iter()
                .zip(&parsed)
                .enumerate()
                .map(|(i, (r, params))| {
                    let params: Vec<String> = params
                        .iter()
                        .filter(|(k, _)| varying.is_empty() || varying.contains(k))
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect();
                    vec![
                        (i + 1).to_string(),
                        r.symbol.clone(),
                        r.plugin_name.clone(),
                        params.join(" "),
                        table::percent(r.total_return),
                        table::number(r.sharpe, 3),
                        table::percent(r.max_drawdown),
                        r.trade_count.map_or_else(|| "-".into(), |t| t.to_string()),
                        if r.status == "succeeded" {
                            String::new()
                        } else {
                            r.error.clone().unwrap_or_default()
                        },
                    ]
                })
                .collect();
            println!("\nbest {} of {total} by {}:", rows.len(), args.rank_by);
            print!(
                "{}",
                table::render(
                    &[
                        "#",
                        "symbol",
                        "strategy",
                        "params",
                        "total_return",
                        "sharpe",
                        "max_drawdown",
                        "trades",
                        "error"
                    ],
                    &[
                        Align::Right,
                        Align::Left,
                        Align::Left,
                        Align::Left,
                        Align::Right,
                        Align::Right,
                        Align::Right,
                        Align::Right,
                        Align::Left
                    ],
                    &rows,
                )
            );
            println!("\nresults: {}", store.display_url());
        }
    }
    if outcome.failed > 0 || outcome.status != barwise_storage::JobStatus::Completed {
        std::process::exit(1);
    }
    Ok(())
}

/// Re-runs a stored run in this process and writes its backtest report.
fn run_report(store: &barwise_storage::Store, run_id: &str, args: &ReportArgs) -> Result<()> {
    let run = store.run(run_id)?;
    if run.status != "succeeded" {
        bail!(
            "run {run_id} did not succeed ({}): {}",
            run.status,
            run.error.as_deref().unwrap_or("no report")
        );
    }
    let job = store.job(&run.job_id)?;
    let (start_ms, end_ms) = barwise_jobs::time_range(&job.definition)
        .map_err(|e| anyhow!("job {}: stored definition: {e}", job.id))?;
    let registry = load_registry(args.plugin_dir.clone())?;
    let plugin = registry.get(&run.plugin_name).map_err(|e| anyhow!(e))?;
    let candles = std::sync::Arc::new(barwise_data::load_candles(Path::new(&run.data_source))?);
    let candles =
        barwise::runner::time_range(&candles, start_ms, end_ms).map_err(|e| anyhow!(e))?;
    let params: BTreeMap<String, RawParam> =
        serde_json::from_str(&run.params).context("stored parameters")?;
    let execution: ExecutionSettings =
        serde_json::from_str(&run.execution).context("stored execution settings")?;
    let resolved = plugin.resolve_params(&params)?;
    let (report, equity) =
        barwise_plugin_host::run_resolved_with_equity(plugin, resolved, &candles, &execution)?;
    // The engine is deterministic: anything but the stored numbers means the data file or the
    // plugin changed since the run, and the report would not show what was stored.
    let same = Some(report.metrics.final_equity) == run.final_equity
        && report.metrics.sharpe == run.sharpe
        && Some(report.metrics.trades as i64) == run.trade_count
        && Some(report.plugin_version.as_str()) == run.plugin_version.as_deref();
    if !same {
        bail!(
            "re-running run {run_id} does not reproduce its stored result (stored: final_equity {:?}, \
             {:?} trades, plugin {:?}; now: {}, {} trades, plugin {}); the data file or the plugin \
             changed since",
            run.final_equity,
            run.trade_count,
            run.plugin_version,
            report.metrics.final_equity,
            report.metrics.trades,
            report.plugin_version
        );
    }
    let name = format!("{} ({})", run.symbol, run.data_source);
    let page = barwise::html::render(&report, &name, &candles, &equity);
    atomic_write(&args.html, page.as_bytes()).context("writing the HTML report")?;
    eprintln!("wrote {} (run {run_id})", args.html.display());
    Ok(())
}

/// A run row as JSON, with its stored parameter and execution JSON texts as objects.
fn run_json(run: &barwise_storage::RunRow) -> serde_json::Value {
    let mut value = serde_json::to_value(run).unwrap_or_default();
    for key in ["params", "execution"] {
        if let Some(text) = value.get(key).and_then(serde_json::Value::as_str)
            && let Ok(parsed) = serde_json::from_str::<serde_json::Value>(text)
        {
            value[key] = parsed;
        }
    }
    value
}

fn job_report(args: ReportArgs) -> Result<()> {
    use barwise_storage::{Metric, Store};
    let metric = Metric::parse(&args.metric).map_err(|e| anyhow!("--metric: {e}"))?;
    let url = args
        .database_url
        .clone()
        .unwrap_or_else(barwise_storage::default_database_url);
    let store = Store::open(&url)?;
    if let Some(run_id) = &args.run {
        return run_report(&store, run_id, &args);
    }
    let job_id = args.job.clone().unwrap_or_default();
    let job = store.job(&job_id)?;
    let descending = metric != Metric::MaxDrawdown;
    let mut runs = Vec::new();
    loop {
        let page = store.runs_of_job(&job.id, metric, descending, 5_000, runs.len() as i64)?;
        let done = page.len() < 5_000;
        runs.extend(page);
        if done {
            break;
        }
    }
    let axes = match &args.heatmap {
        Some(text) => {
            let (x, y) = text
                .split_once(',')
                .ok_or_else(|| anyhow!("--heatmap: expected X,Y parameter names, got {text:?}"))?;
            let varying = barwise::job_html::varying_params(&runs);
            for axis in [x, y] {
                if !varying.iter().any(|v| v == axis) {
                    bail!(
                        "--heatmap: parameter {axis:?} does not vary in job {}; varying: {}",
                        job.id,
                        if varying.is_empty() {
                            "none".to_owned()
                        } else {
                            varying.join(", ")
                        }
                    );
                }
            }
            Some((x.to_owned(), y.to_owned()))
        }
        None => None,
    };
    let page = barwise::job_html::render(
        &job,
        &runs,
        &args.metric,
        axes.as_ref().map(|(x, y)| (x.as_str(), y.as_str())),
    );
    atomic_write(&args.html, page.as_bytes()).context("writing the HTML report")?;
    eprintln!("wrote {} ({} runs)", args.html.display(), runs.len());
    Ok(())
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Backtest(args) => backtest(args),
        Command::Plugins(args) => plugins(args),
        Command::Run(args) => run_job(args),
        Command::Report(args) => job_report(args),
    };
    if let Err(error) = result {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}
