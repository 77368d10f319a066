//! Starting and stopping the daemon: open the database and queue, start the HTTP API, the
//! worker, the scheduler and the watcher, and on SIGTERM (or SIGINT) shut down gracefully: stop
//! taking tasks and requests, let running tasks finish for `shutdown_grace`, then kill their
//! runners and hand the tasks back to the queue.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow};
use barwise_storage::{JobStatus, Store};
use tokio::sync::watch;

use super::config::Config;
use super::queue::Queue;
use super::{Daemon, api, scheduler};
use crate::execute::{StopReason, now_ms};

/// How often running tasks check whether their job was cancelled (by any daemon).
const WATCH: Duration = Duration::from_millis(200);
/// How often running jobs are checked against their timeout.
const SWEEP: Duration = Duration::from_secs(5);

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Installs the log subscriber: `RUST_LOG` filters (default `info`, quieter for libraries).
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("info,apalis=warn,apalis_core=warn,sqlx=warn")
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// Makes sure a token is configured; without one, generates one and keeps it in the data
/// folder (mode 0600) for local clients, which read it from there.
fn ensure_token(mut config: Config) -> Result<Config> {
    if !config.token.is_empty() {
        return Ok(config);
    }
    let path = config.token_file();
    if let Ok(existing) = std::fs::read_to_string(&path)
        && !existing.trim().is_empty()
    {
        config.token = existing.trim().to_owned();
        return Ok(config);
    }
    let token = format!(
        "{:08x}{:08x}{:08x}{:08x}",
        super::config::random_u32(),
        super::config::random_u32(),
        super::config::random_u32(),
        super::config::random_u32()
    );
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating {}", config.data_dir.display()))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&path)
        .with_context(|| format!("writing the API token to {}", path.display()))?;
    std::io::Write::write_all(&mut file, token.as_bytes())?;
    tracing::info!(file = %path.display(), "no API token configured; generated one");
    config.token = token;
    Ok(config)
}

/// Runs the daemon until SIGTERM or SIGINT.
///
/// # Errors
/// Start-up failures (database, queue, port), each with what was being done.
pub fn serve(config: Config) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("barwise-serve")
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(run(config))
}

async fn run(config: Config) -> Result<()> {
    let config = ensure_token(config)?;
    if !config.runner.is_file() {
        return Err(anyhow!(
            "barwise-runner not found at {}; build the workspace (cargo build) or set `runner`",
            config.runner.display()
        ));
    }
    if let Some(parent) = config
        .database_url
        .strip_prefix("sqlite://")
        .and_then(|p| std::path::Path::new(p).parent())
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let url = config.database_url.clone();
    let store = tokio::task::spawn_blocking(move || {
        let store = Store::open(&url)?;
        store.ensure_current()?;
        Ok::<Store, barwise_storage::StorageError>(store)
    })
    .await?
    .context("opening the results database")?;
    let queue = Queue::connect(&config)
        .await
        .context("connecting to the queue")?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    let daemon = Daemon::assemble(config, store, queue.clone()).context("opening the archive")?;
    let archive = daemon.archive.clone();
    {
        let d = Arc::clone(&daemon);
        tokio::task::spawn_blocking(move || {
            match d.catalog.get() {
                Ok(catalog) => {
                    for r in &catalog.rejected {
                        tracing::warn!(file = %r.path.display(), reason = %r.reason, "plugin rejected");
                    }
                    tracing::info!(dir = %d.catalog.dir().display(), plugins = %catalog.available(), "plugin folder");
                }
                Err(e) => tracing::error!(error = %e, "plugin folder unusable"),
            }
            if let Some(dir) = &d.config.schedules_dir {
                scheduler::register_folder(&d, dir);
            }
        })
        .await?;
    }
    tracing::info!(
        listen = %daemon.config.listen,
        worker = %daemon.config.worker_name,
        workers = daemon.config.workers,
        queue = %daemon.queue.url(),
        archive = %daemon.archive.as_ref().map_or("none", |a| a.url()),
        database = %daemon.store.display_url(),
        "barwise serve started"
    );
    // Machine-readable start line for scripts and tests (the address is known now even when
    // port 0 was asked for).
    eprintln!(
        "barwise serve: listening on http://{}",
        listener
            .local_addr()
            .map_or_else(|_| daemon.config.listen.to_string(), |a| a.to_string())
    );

    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let server = tokio::spawn({
        let app = api::router(Arc::clone(&daemon));
        let shutdown = stopped(stop_rx.clone());
        async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
        }
    });
    let schedules = tokio::spawn(scheduler::run(Arc::clone(&daemon), stop_rx.clone()));
    let watcher = tokio::spawn(watch_jobs(Arc::clone(&daemon), stop_rx.clone()));
    let health = tokio::spawn(watch_health(Arc::clone(&daemon), stop_rx.clone()));
    let archiver = archive.map(|a| {
        tokio::spawn(super::archiver::run(
            Arc::clone(&daemon),
            a,
            stop_rx.clone(),
        ))
    });
    let worker = tokio::spawn(queue.run_worker(Arc::clone(&daemon), stopped(stop_rx.clone())));

    let signal = wait_for_signal().await;
    tracing::info!(
        signal,
        "shutting down: no new tasks; running tasks may finish"
    );
    daemon.begin_shutdown();
    let _ = stop_tx.send(true);
    let grace = daemon.config.shutdown_grace;
    let hand_back = {
        let d = Arc::clone(&daemon);
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            if d.busy_workers() > 0 {
                tracing::warn!("grace period over: killing runners, handing tasks back");
                d.hand_back_all();
            }
        })
    };
    match tokio::time::timeout(grace + Duration::from_secs(15), worker).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => tracing::warn!(error = %e, "worker ended with an error"),
        Ok(Err(e)) => tracing::warn!(error = %e, "worker task failed"),
        Err(_) => tracing::warn!("worker did not stop in time"),
    }
    hand_back.abort();
    let _ = schedules.await;
    let _ = watcher.await;
    let _ = health.await;
    if let Some(archiver) = archiver {
        let _ = tokio::time::timeout(Duration::from_secs(10), archiver).await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    tracing::info!("stopped");
    Ok(())
}

async fn wait_for_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).ok();
    let mut int = signal(SignalKind::interrupt()).ok();
    tokio::select! {
        _ = async { match term.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending().await } } => "SIGTERM",
        _ = async { match int.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending().await } } => "SIGINT",
    }
}

/// Runs the health checks every `health_interval`, keeps them for `/metrics`, and alerts when
/// one changes state.
async fn watch_health(daemon: Arc<Daemon>, mut stop: watch::Receiver<bool>) {
    let mut last: std::collections::BTreeMap<&'static str, crate::health::Severity> =
        std::collections::BTreeMap::new();
    loop {
        let own = crate::health::Own {
            store: daemon.store.clone(),
            queue: daemon.queue.clone(),
            catalog: Arc::clone(&daemon.catalog),
        };
        let checks = crate::health::run_checks(&daemon.config, Some(own)).await;
        for c in &checks {
            let before = last.insert(c.name, c.status);
            // The first round sets the baseline; only problems found then are alerted.
            if before != Some(c.status)
                && (before.is_some() || c.status != crate::health::Severity::Ok)
            {
                daemon.alerts.check_changed(c, before);
            }
        }
        if let Ok(mut kept) = daemon.metrics.health.lock() {
            *kept = checks;
        }
        tokio::select! {
            _ = tokio::time::sleep(daemon.config.health.health_interval) => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            return;
        }
    }
}

/// Stops local tasks of jobs cancelled or failed elsewhere (another daemon, the API of another
/// process), and fails running jobs past their timeout.
async fn watch_jobs(daemon: Arc<Daemon>, mut stop: watch::Receiver<bool>) {
    let mut last_sweep = tokio::time::Instant::now();
    let failed_since = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(now_ms()));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(WATCH) => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            return;
        }
        let sweep = last_sweep.elapsed() >= SWEEP;
        if sweep {
            last_sweep = tokio::time::Instant::now();
        }
        let d = Arc::clone(&daemon);
        let since = Arc::clone(&failed_since);
        let _ = tokio::task::spawn_blocking(move || {
            if sweep {
                // Alert on jobs that failed since the last sweep (whichever daemon failed them).
                let from = since.load(std::sync::atomic::Ordering::SeqCst);
                if let Ok(failed) = d.store.jobs_failed_after(from) {
                    let mut newest = from;
                    for job in &failed {
                        newest = newest.max(job.finished_ms.unwrap_or(from));
                        d.alerts.job_failed(
                            &job.id,
                            &job.name,
                            job.error.as_deref().unwrap_or("no error recorded"),
                        );
                    }
                    since.store(newest, std::sync::atomic::Ordering::SeqCst);
                }
            }
            for job_id in d.active_jobs() {
                let job = d.store.job(&job_id);
                match job
                    .as_ref()
                    .map(|j| (JobStatus::parse(&j.status), j.error.as_deref()))
                {
                    Ok((Some(JobStatus::Cancelled), _)) => {
                        d.stop_job(&job_id, StopReason::Cancelled)
                    }
                    // Timed out (seen by another daemon's sweeper): the runs here fail with it.
                    Ok((Some(JobStatus::Failed), Some(e))) if e.starts_with("timed out after") => {
                        d.stop_job(&job_id, StopReason::TimedOut);
                    }
                    // Failed otherwise (the queue refused its tasks): stop, record nothing more.
                    Ok((Some(JobStatus::Failed), _)) => d.stop_job(&job_id, StopReason::Cancelled),
                    _ => {}
                }
            }
            if sweep && let Ok(running) = d.store.jobs_in_status(JobStatus::Running) {
                let now = now_ms();
                for job in running {
                    let (Some(started), Some(timeout)) = (job.started_ms, job.timeout_ms) else {
                        continue;
                    };
                    if now > started.saturating_add(timeout) {
                        let message = format!("timed out after {timeout} ms");
                        if let Ok(true) = d.store.transition_job(
                            &job.id,
                            &[JobStatus::Running],
                            JobStatus::Failed,
                            now,
                            Some(&message),
                        ) {
                            tracing::warn!(job_id = %job.id, "job timed out");
                            d.stop_job(&job.id, StopReason::TimedOut);
                        }
                    }
                }
            }
        })
        .await;
    }
}
