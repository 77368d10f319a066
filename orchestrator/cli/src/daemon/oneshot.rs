//! `barwise run JOB.toml`: the daemon's own path without its HTTP API, for one job. The job is
//! validated against the plugin catalog, recorded, queued on a private in-memory apalis SQLite
//! queue, executed by this process's workers in runner processes, archived, and the process
//! ends when it has. Same code as `barwise serve`, so a job behaves the same either way.
//! Ctrl-C cancels the job (finished runs are kept).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow};
use barwise_jobs::Limits;
use barwise_storage::{JobRow, JobStatus, Store};
use tokio::sync::watch;

use super::catalog::PluginCatalog;
use super::config::Config;
use super::queue::Queue;
use super::{Daemon, SubmitError, archiver};

/// How long a finished job waits for its archive objects before the process ends anyway (they
/// stay in the spool, waiting for the next run or daemon on this data folder).
const ARCHIVE_WAIT: Duration = Duration::from_secs(60);

/// Runs the job file at `path` to its end; `on_progress(done, failed, total)` after each poll.
///
/// # Errors
/// An invalid job (every problem listed, nothing stored), or start-up failures.
pub fn run(config: Config, path: &Path, on_progress: &mut dyn FnMut(&JobRow)) -> Result<JobRow> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read job file", path.display()))?;
    let base_dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => std::path::PathBuf::from("."),
    };
    let source = path.display().to_string();
    // Validate before anything is created.
    let catalog = PluginCatalog::new(config.plugin_dir.clone(), config.runner.clone())
        .get()
        .map_err(|e| anyhow!(e))?;
    let limits = Limits {
        max_runs: config.max_runs_per_job,
    };
    barwise_jobs::parse_job(&text, &source, &base_dir, &catalog, &limits)?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let url = config.database_url.clone();
        let store = tokio::task::spawn_blocking(move || Store::open(&url)).await??;
        let queue = Queue::connect(&config).await.context("creating the queue")?;
        let daemon = Daemon::assemble(config, store, queue.clone()).context("opening the archive")?;
        let archive = daemon.archive.clone();
        let (stop_tx, stop_rx) = watch::channel(false);
        let stopped = |mut rx: watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let worker = tokio::spawn(queue.run_worker(Arc::clone(&daemon), stopped(stop_rx.clone())));
        let archiver = archive.map(|a| tokio::spawn(archiver::run(Arc::clone(&daemon), a, stop_rx.clone())));

        let d = Arc::clone(&daemon);
        let submitted = tokio::task::spawn_blocking(move || d.submit(&text, &source, &base_dir, None))
            .await?;
        let job = match submitted {
            Ok((job, _)) => job,
            Err(SubmitError::Invalid(errors)) => return Err(errors.into()),
            Err(e) => return Err(e.into()),
        };
        eprintln!(
            "job {} ({}): {} run(s) on {} worker(s), results in {}",
            job.name,
            job.id,
            job.runs_total,
            daemon.config.workers,
            daemon.store.display_url()
        );
        let mut interrupt = std::pin::pin!(tokio::signal::ctrl_c());
        let final_job = loop {
            let d = Arc::clone(&daemon);
            let id = job.id.clone();
            let now = tokio::task::spawn_blocking(move || d.store.job(&id)).await??;
            on_progress(&now);
            if matches!(
                JobStatus::parse(&now.status),
                Some(JobStatus::Completed | JobStatus::Failed | JobStatus::Cancelled)
            ) {
                break now;
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                _ = &mut interrupt => {
                    eprintln!("interrupted: cancelling job {}", job.id);
                    let d = Arc::clone(&daemon);
                    let id = job.id.clone();
                    let _ = tokio::task::spawn_blocking(move || d.cancel(&id)).await;
                }
            }
        };
        // Let the archiver upload this job's objects before leaving.
        if daemon.archive.is_some() {
            let deadline = tokio::time::Instant::now() + ARCHIVE_WAIT;
            loop {
                let d = Arc::clone(&daemon);
                let id = final_job.id.clone();
                let archived = tokio::task::spawn_blocking(move || d.store.job(&id).map(|j| j.archived_ms.is_some()))
                    .await?
                    .unwrap_or(true);
                if archived {
                    break;
                }
                if tokio::time::Instant::now() >= deadline {
                    eprintln!(
                        "warning: the archive did not take this job's objects in time; they wait in {} \
                         and are uploaded by the next barwise run or serve on this data folder",
                        daemon.config.data_dir.join("spool").display()
                    );
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        daemon.begin_shutdown();
        let _ = stop_tx.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(10), worker).await;
        if let Some(archiver) = archiver {
            let _ = tokio::time::timeout(Duration::from_secs(10), archiver).await;
        }
        Ok(final_job)
    })
}
