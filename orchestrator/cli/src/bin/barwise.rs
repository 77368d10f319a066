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
    /// Run the daemon: HTTP API, queue workers, cron scheduler and archiver (see docs/daemon.md).
    Serve(ServeArgs),
    /// Submit a job file to the daemon (relative data paths resolve against the file's folder).
    Submit(SubmitArgs),
    /// Show a job's status and progress.
    Status(JobIdArgs),
    /// List jobs, newest first.
    List(ListArgs),
    /// Cancel a queued or running job (finished runs are kept).
    Cancel(JobIdArgs),
    /// Show the best runs of a job.
    Results(ResultsArgs),
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Configuration file (TOML; every key optional, see config/barwise.toml).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Address of the HTTP API [default: `listen` of the config, else 127.0.0.1:8420].
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    /// Log lines as JSON objects instead of text.
    #[arg(long)]
    log_json: bool,
}

#[derive(Debug, clap::Args)]
struct SubmitArgs {
    /// The job file (TOML).
    job: PathBuf,
    /// Follow progress until the job ends; exit 1 unless it completed with no failed run.
    #[arg(long)]
    wait: bool,
    /// A key that makes a repeated submission return the first job instead of a new one.
    #[arg(long)]
    idempotency_key: Option<String>,
    #[command(flatten)]
    server: barwise::client::ServerArgs,
}

#[derive(Debug, clap::Args)]
struct JobIdArgs {
    /// Job id.
    id: String,
    #[command(flatten)]
    server: barwise::client::ServerArgs,
}

#[derive(Debug, clap::Args)]
struct ListArgs {
    /// Only jobs in this status (queued, running, completed, failed, cancelled).
    #[arg(long)]
    status: Option<String>,
    /// How many jobs.
    #[arg(long, default_value_t = 20)]
    limit: u32,
    #[command(flatten)]
    server: barwise::client::ServerArgs,
}

#[derive(Debug, clap::Args)]
struct ResultsArgs {
    /// Job id.
    id: String,
    /// Metric to rank by (best first; lowest first for max_drawdown).
    #[arg(long, default_value = "sharpe")]
    metric: String,
    /// How many runs.
    #[arg(long, default_value_t = 20)]
    top: u32,
    #[command(flatten)]
    server: barwise::client::ServerArgs,
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
    /// Archive for the runs' reports, trades and equity curves [default: file://DATA_DIR/archive,
    /// beside an explicit --database-url file]; `none` for no archive.
    #[arg(long)]
    archive_url: Option<String>,
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
    let metric = Metric::parse(&args.rank_by).map_err(|e| anyhow!("--rank-by: {e}"))?;
    let mut config = barwise::daemon::config::Config::load(None)?;
    if let Some(url) = &args.database_url {
        config.database_url = url.clone();
        // An explicit SQLite file keeps its spool and archive beside it.
        if let Some(dir) = url
            .strip_prefix("sqlite://")
            .and_then(|p| Path::new(p).parent())
            .filter(|d| !d.as_os_str().is_empty())
        {
            config.data_dir = dir.to_owned();
            config.archive_url = Some(format!(
                "file://{}",
                std::path::absolute(dir.join("archive"))
                    .unwrap_or_else(|_| dir.join("archive"))
                    .display()
            ));
        }
    }
    match args.archive_url.as_deref() {
        Some("none") => config.archive_url = None,
        Some(url) => config.archive_url = Some(url.to_owned()),
        None => {}
    }
    config.plugin_dir = plugin_dir::resolve(args.plugin_dir.clone());
    if let Some(workers) = args.workers {
        config.workers = workers.max(1);
    }
    // A private queue: nothing else picks up this run's tasks, and none are left behind.
    config.queue_url = format!("memory://barwise-run-{}", std::process::id());
    config.poll_interval = std::time::Duration::from_millis(20);
    if !config.runner.is_file() {
        bail!("barwise-runner not found next to barwise; build the workspace (cargo build)");
    }
    let started = std::time::Instant::now();
    let mut line = barwise::progress::ProgressLine::new();
    let mut on_progress = |job: &barwise_storage::JobRow| {
        let failed = job.runs_failed as usize;
        line.update(
            job.runs_succeeded as usize + failed,
            failed,
            job.runs_total as usize,
        );
    };
    let url = config.database_url.clone();
    let job = barwise::daemon::oneshot::run(config, &args.job, &mut on_progress)?;
    let store = Store::connect(&url)?;
    let total = job.runs_total;
    let descending = metric != Metric::MaxDrawdown;
    let best = store.runs_of_job(&job.id, metric, descending, args.top, 0)?;
    match args.format {
        OutputFormat::Json => {
            let value = serde_json::json!({
                "job_id": job.id,
                "status": job.status,
                "succeeded": job.runs_succeeded,
                "failed": job.runs_failed,
                "database": store.display_url(),
                "ranked_by": args.rank_by,
                "runs": best.iter().map(table::run_json).collect::<Vec<_>>(),
            });
            println!("{}", serde_json::to_string_pretty(&value)?);
        }
        OutputFormat::Table => {
            println!(
                "job {} {}: {} succeeded, {} failed in {:.1} s",
                job.id,
                job.status,
                job.runs_succeeded,
                job.runs_failed,
                started.elapsed().as_secs_f64()
            );
            println!("\nbest {} of {total} by {}:", best.len(), args.rank_by);
            print!("{}", table::ranked_runs(&best));
            println!("\nresults: {}", store.display_url());
        }
    }
    if job.runs_failed > 0 || job.status != barwise_storage::JobStatus::Completed.as_str() {
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

fn serve(args: ServeArgs) -> Result<()> {
    use barwise::daemon::{config::Config, serve};
    serve::init_logging(if args.log_json {
        serve::LogFormat::Json
    } else {
        serve::LogFormat::Text
    });
    let mut config = Config::load(args.config.as_deref())?;
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    serve::serve(config)
}

fn submit(args: SubmitArgs) -> Result<()> {
    let client = barwise::client::Client::new(&args.server)?;
    let job = barwise::client::submit(
        &client,
        &args.job,
        args.wait,
        args.idempotency_key.as_deref(),
    )?;
    barwise::client::print_job(&client, &job)?;
    let clean = job["status"] == "completed" && job["runs"]["failed"] == 0;
    if args.wait && !clean {
        std::process::exit(1);
    }
    Ok(())
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Backtest(args) => backtest(args),
        Command::Plugins(args) => plugins(args),
        Command::Run(args) => run_job(args),
        Command::Report(args) => job_report(args),
        Command::Serve(args) => serve(args),
        Command::Submit(args) => submit(args),
        Command::Status(args) => barwise::client::Client::new(&args.server).and_then(|c| {
            let job = c.get(&format!("/jobs/{}", args.id))?;
            barwise::client::print_job(&c, &job)
        }),
        Command::List(args) => barwise::client::Client::new(&args.server)
            .and_then(|c| barwise::client::list(&c, args.status.as_deref(), args.limit)),
        Command::Cancel(args) => barwise::client::Client::new(&args.server).and_then(|c| {
            let (_, job) = c.post(&format!("/jobs/{}/cancel", args.id), None)?;
            barwise::client::print_job(&c, &job)
        }),
        Command::Results(args) => barwise::client::Client::new(&args.server)
            .and_then(|c| barwise::client::results(&c, &args.id, &args.metric, args.top)),
    };
    if let Err(error) = result {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}
