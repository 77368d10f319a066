//! Archiving: each succeeded run's objects (written by its runner into this daemon's spool
//! folder) are uploaded to the archive, recorded in the database with their checksums, and the
//! spool copy removed; when a job has ended and all its runs are archived, its
//! `summary.parquet` and `manifest.json` follow.
//!
//! A run is recorded in the database first and marked as waiting for the archive; if the store
//! is unreachable, it stays waiting (status shows how many) and this loop retries with
//! exponential backoff (1 s doubling to 60 s) until the store is back. The spool folder is on
//! disk, so a restart loses nothing either.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use barwise_archive::{
    Archive, ArchiveError, JobManifest, ObjectInfo, RUN_OBJECTS, SummaryRow, job_prefix,
    manifest_key, run_digest, run_prefix, summary_parquet,
};
use barwise_engine::TimeMs;
use barwise_storage::{JobRow, Metric, RunRow, StorageError};
use bytes::Bytes;
use tokio::sync::watch;

use super::Daemon;

const MAX_BACKOFF: Duration = Duration::from_secs(60);
const IDLE: Duration = Duration::from_secs(1);

/// Why one pass stopped.
#[derive(Debug, thiserror::Error)]
enum PassError {
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("{0}")]
    Other(String),
}

/// Where the runner of this daemon spools the objects of `job_id`'s runs.
pub fn spool_dir(daemon: &Daemon, job_id: &str) -> PathBuf {
    daemon.config.data_dir.join("spool").join(job_id)
}

fn run_spool(daemon: &Daemon, run: &RunRow) -> PathBuf {
    let index = run
        .id
        .strip_prefix(&format!("{}-", run.job_id))
        .unwrap_or(&run.id);
    spool_dir(daemon, &run.job_id).join(index)
}

async fn blocking<T: Send + 'static>(
    daemon: &Arc<Daemon>,
    work: impl FnOnce(&Daemon) -> Result<T, StorageError> + Send + 'static,
) -> Result<T, PassError> {
    let d = Arc::clone(daemon);
    tokio::task::spawn_blocking(move || work(&d))
        .await
        .map_err(|e| PassError::Other(e.to_string()))?
        .map_err(PassError::from)
}

/// Uploads one run's spooled objects; returns false when this daemon has no spool for it (it
/// ran elsewhere).
async fn archive_run(
    daemon: &Arc<Daemon>,
    archive: &Archive,
    run: RunRow,
) -> Result<bool, PassError> {
    let spool = run_spool(daemon, &run);
    if !spool.is_dir() {
        return Ok(false);
    }
    let prefix = run_prefix(&run.job_id, &run.id);
    let mut objects: Vec<ObjectInfo> = Vec::new();
    for name in RUN_OBJECTS {
        let bytes = tokio::fs::read(spool.join(name)).await.map_err(|e| {
            PassError::Other(format!("reading {}: {e}", spool.join(name).display()))
        })?;
        objects.push(
            archive
                .put_once(&format!("{prefix}/{name}"), Bytes::from(bytes))
                .await?,
        );
    }
    let digest = run_digest(&objects);
    let url = format!("{}/{prefix}", archive.url().trim_end_matches('/'));
    let json = serde_json::to_string(&objects).map_err(|e| PassError::Other(e.to_string()))?;
    let run_id = run.id.clone();
    blocking(daemon, move |d| {
        d.store.set_run_archived(&run_id, &url, &digest, &json)
    })
    .await?;
    let _ = tokio::fs::remove_dir_all(&spool).await;
    tracing::debug!(job_id = %run.job_id, run_id = %run.id, "run archived");
    Ok(true)
}

fn summary_row(run: &RunRow) -> SummaryRow {
    let metric = |m: Metric| run.metric(m);
    SummaryRow {
        run_id: run.id.clone(),
        run_key: run.run_key.clone(),
        symbol: run.symbol.clone(),
        plugin: run.plugin_name.clone(),
        params: run.params.clone(),
        status: run.status.clone(),
        error: run.error.clone(),
        bars: run.bars,
        trades: run.trade_count,
        metrics: [
            metric(Metric::TotalReturn),
            metric(Metric::Cagr),
            metric(Metric::Sharpe),
            metric(Metric::Sortino),
            metric(Metric::MaxDrawdown),
            metric(Metric::Calmar),
            metric(Metric::WinRate),
            metric(Metric::AvgReturn),
            metric(Metric::ProfitFactor),
            metric(Metric::AvgHoldBars),
            metric(Metric::Exposure),
            metric(Metric::FinalEquity),
            metric(Metric::BuyAndHoldReturn),
        ],
    }
}

/// Writes a job's summary and manifest (deterministic from the database, so two daemons
/// racing write the same bytes and the write-once rule lets both succeed).
async fn archive_job(
    daemon: &Arc<Daemon>,
    archive: &Archive,
    job: JobRow,
) -> Result<(), PassError> {
    let job_id = job.id.clone();
    let (runs, records) = blocking(daemon, move |d| {
        let runs = d
            .store
            .runs_of_job(&job_id, Metric::Sharpe, true, 10_000, 0)?;
        Ok((runs, d.store.run_archives_of_job(&job_id)?))
    })
    .await?;
    let mut runs = runs;
    runs.sort_by(|a, b| a.id.cmp(&b.id));
    let rows: Vec<SummaryRow> = runs.iter().map(summary_row).collect();
    let summary = summary_parquet(&rows).map_err(|e| PassError::Other(e.to_string()))?;
    let mut objects: Vec<ObjectInfo> = Vec::new();
    for (_, json) in &records {
        let listed: Vec<ObjectInfo> =
            serde_json::from_str(json).map_err(|e| PassError::Other(e.to_string()))?;
        objects.extend(listed);
    }
    objects.push(
        archive
            .put_once(
                &format!("{}/summary.parquet", job_prefix(&job.id)),
                Bytes::from(summary),
            )
            .await?,
    );
    objects.sort_by(|a, b| a.key.cmp(&b.key));
    let manifest = JobManifest {
        job_id: job.id.clone(),
        created_at: TimeMs(job.finished_ms.unwrap_or(job.submitted_ms)).to_rfc3339(),
        runs: records.len(),
        objects,
    };
    let bytes =
        serde_json::to_vec_pretty(&manifest).map_err(|e| PassError::Other(e.to_string()))?;
    archive
        .put_once(&manifest_key(&job.id), Bytes::from(bytes))
        .await?;
    let job_id = job.id.clone();
    blocking(daemon, move |d| {
        d.store.set_job_archived(&job_id, crate::execute::now_ms())
    })
    .await?;
    let _ = tokio::fs::remove_dir_all(spool_dir(daemon, &job.id)).await;
    tracing::info!(job_id = %job.id, runs = manifest.runs, "job archived");
    Ok(())
}

async fn pass(daemon: &Arc<Daemon>, archive: &Archive) -> Result<usize, PassError> {
    let mut done = 0;
    let pending = blocking(daemon, |d| d.store.runs_pending_archive(200)).await?;
    for run in pending {
        if archive_run(daemon, archive, run).await? {
            done += 1;
        }
    }
    let jobs = blocking(daemon, |d| d.store.jobs_awaiting_archive(20)).await?;
    for job in jobs {
        archive_job(daemon, archive, job).await?;
        done += 1;
    }
    Ok(done)
}

/// Archives until `stop` turns true.
pub async fn run(daemon: Arc<Daemon>, archive: Archive, mut stop: watch::Receiver<bool>) {
    let mut delay = IDLE;
    let mut failing = false;
    loop {
        if *stop.borrow() {
            return;
        }
        match pass(&daemon, &archive).await {
            Ok(done) => {
                if failing {
                    tracing::info!(archive = %archive.url(), "archive reachable again");
                    failing = false;
                }
                delay = if done > 0 { Duration::ZERO } else { IDLE };
            }
            Err(e) => {
                if !failing {
                    tracing::warn!(archive = %archive.url(), error = %e, "archiving failed; runs wait and will be retried");
                    failing = true;
                }
                delay = (delay * 2).clamp(IDLE, MAX_BACKOFF);
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.changed() => {}
        }
    }
}
