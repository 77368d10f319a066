//! Executing one queue task: the runs of a [`BatchTask`] that have no result yet, in a
//! `barwise-runner` process, each result recorded as it arrives.
//!
//! Delivery is at least once (a task is handed to another worker when its worker dies), so the
//! task first skips runs already recorded, and recording is idempotent per (job, run key).
//! Transient failures (database unreachable) are retried here with backoff, then handed back to
//! the queue, which tries the task again up to its attempt limit.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use barwise_jobs::PlannedRun;
use barwise_storage::{JobStatus, StorageError};

use super::{BatchTask, Daemon};
use crate::execute::{Executor, Progress, RunError, StopReason, now_ms, run_batches};

/// Retries of a task's transient failures inside one delivery, before handing it back.
const LOCAL_RETRIES: u32 = 4;

/// Why a task did not finish here.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// The results database failed (retried with backoff first).
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// This daemon is shutting down; the task goes back to the queue.
    #[error("the daemon is shutting down; task handed back to the queue")]
    HandedBack,
    /// A worker thread panicked.
    #[error("a worker thread panicked")]
    Panicked,
}

impl Daemon {
    /// Executes `task`, retrying transient failures with exponential backoff (0.5 s, 1 s, 2 s,
    /// 4 s) before giving up on this delivery.
    ///
    /// # Errors
    /// [`TaskError`] when the task must be tried again later.
    pub fn execute_task(&self, task: &BatchTask) -> Result<(), TaskError> {
        // Every log line of this task's work carries the job id and the task's run range.
        let first = task.runs.first().map_or(0, |r| r.index);
        let last = task.runs.last().map_or(0, |r| r.index);
        let _span = tracing::info_span!("task", job_id = %task.job_id, runs = %format!("{first}..={last}"), plugin = %task.plugin).entered();
        let mut delay = Duration::from_millis(500);
        let mut attempt = 0;
        loop {
            match self.execute_once(task) {
                Err(TaskError::Storage(e))
                    if attempt < LOCAL_RETRIES && !self.is_shutting_down() =>
                {
                    attempt += 1;
                    tracing::warn!(job_id = %task.job_id, error = %e, attempt, "task failed; retrying");
                    std::thread::sleep(delay);
                    delay *= 2;
                }
                other => return other,
            }
        }
    }

    fn fail_timed_out(&self, job_id: &str, timeout_ms: u64) -> Result<(), StorageError> {
        let message = format!("timed out after {timeout_ms} ms");
        self.store
            .transition_job(
                job_id,
                &[JobStatus::Running],
                JobStatus::Failed,
                now_ms(),
                Some(&message),
            )
            .map(|_| ())
    }

    /// Records every run of `task` that has no result yet as failed with `reason`.
    fn fail_unfinished(&self, task: &BatchTask, reason: &str) -> Result<(), TaskError> {
        let finished = self.store.finished_run_keys(&task.job_id)?;
        let runs: Vec<(usize, &PlannedRun)> = task
            .runs
            .iter()
            .filter(|r| !finished.contains(&r.run.run_key))
            .map(|r| (r.index, &r.run))
            .collect();
        let progress = Progress::default();
        let executor = Executor {
            store: &self.store,
            runner: &self.config.runner,
            job_id: &task.job_id,
            settings: task.settings,
            progress: &progress,
            on_progress: &|_, _| {},
            total: 0,
            spool_dir: None,
            on_record: &|ok, ms| self.metrics.observe_run(ok, ms),
        };
        executor.fail_all(&runs, reason, 0)?;
        Ok(())
    }

    fn execute_once(&self, task: &BatchTask) -> Result<(), TaskError> {
        let store = &self.store;
        let job = match store.job(&task.job_id) {
            Ok(job) => job,
            // Deleted meanwhile: nothing to do.
            Err(StorageError::NotFound { .. }) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let status = JobStatus::parse(&job.status);
        let timeout_message = format!("timed out after {} ms", task.settings.timeout_ms);
        if status == Some(JobStatus::Failed)
            && job.error.as_deref() == Some(timeout_message.as_str())
        {
            // The job timed out before this task started: its runs fail with that reason too,
            // so every run of a timed-out job has a result.
            return self.fail_unfinished(task, &format!("job {timeout_message}"));
        }
        if !matches!(status, Some(JobStatus::Queued | JobStatus::Running)) {
            // Cancelled, failed or completed: a queued task of such a job never starts.
            return Ok(());
        }
        if self.is_shutting_down() {
            return Err(TaskError::HandedBack);
        }
        store.transition_job(
            &job.id,
            &[JobStatus::Queued],
            JobStatus::Running,
            now_ms(),
            None,
        )?;
        let started_ms = store.job(&job.id)?.started_ms.unwrap_or_else(now_ms);
        let timeout_ms = task.settings.timeout_ms;
        let deadline_ms = started_ms.saturating_add(i64::try_from(timeout_ms).unwrap_or(i64::MAX));
        let remaining = u64::try_from(deadline_ms - now_ms()).unwrap_or(0);
        if remaining == 0 {
            self.fail_timed_out(&job.id, timeout_ms)?;
            return self.fail_unfinished(task, &format!("job timed out after {timeout_ms} ms"));
        }
        let finished = store.finished_run_keys(&job.id)?;
        let mut runs: Vec<(usize, PlannedRun)> = task
            .runs
            .iter()
            .filter(|r| !finished.contains(&r.run.run_key))
            .map(|r| (r.index, r.run.clone()))
            .collect();
        if runs.is_empty() {
            store.complete_job_if_done(&job.id, now_ms())?;
            return Ok(());
        }
        let plugin_path = match self.catalog.get() {
            Ok(catalog) => match catalog.find(&task.plugin) {
                Some(plugin) => Ok(plugin.path().to_owned()),
                None => Err(format!(
                    "plugin {:?} is not in the plugin folder {} of worker {} (available: {})",
                    task.plugin,
                    self.catalog.dir().display(),
                    self.config.worker_name,
                    catalog.available()
                )),
            },
            Err(e) => Err(e),
        };
        let progress = Progress::default();
        let no_progress = |_: &Progress, _: usize| {};
        let executor = Executor {
            store,
            runner: &self.config.runner,
            job_id: &job.id,
            settings: task.settings,
            progress: &progress,
            on_progress: &no_progress,
            total: job.runs_total as usize,
            spool_dir: self
                .archive
                .as_ref()
                .map(|_| super::archiver::spool_dir(self, &job.id)),
            on_record: &|ok, ms| self.metrics.observe_run(ok, ms),
        };
        let plugin_path: PathBuf = match plugin_path {
            Ok(path) => path,
            Err(reason) => {
                let refs: Vec<(usize, &PlannedRun)> = runs.iter().map(|(i, r)| (*i, r)).collect();
                executor.fail_all(&refs, &reason, 0)?;
                store.complete_job_if_done(&job.id, now_ms())?;
                return Ok(());
            }
        };
        for (_, run) in &mut runs {
            run.plugin_path.clone_from(&plugin_path);
        }
        let batch: Vec<(usize, &PlannedRun)> = runs.iter().map(|(i, r)| (*i, r)).collect();
        let signal = self.register(&job.id);
        let deadline = Instant::now() + Duration::from_millis(remaining);
        tracing::debug!(job_id = %job.id, runs = batch.len(), plugin = %task.plugin, "task started");
        let result = run_batches(
            &executor,
            &[(plugin_path.as_path(), batch)],
            1,
            deadline,
            &signal,
        );
        self.unregister(&job.id, &signal);
        match result {
            Err(RunError::Storage(e)) => return Err(e.into()),
            Err(RunError::WorkerPanicked) => return Err(TaskError::Panicked),
            Ok(()) => {}
        }
        match signal.reason() {
            Some(StopReason::TimedOut) => {
                self.fail_timed_out(&job.id, timeout_ms)?;
                tracing::warn!(job_id = %job.id, "job timed out");
            }
            Some(StopReason::Cancelled) => {}
            Some(StopReason::ShuttingDown) => return Err(TaskError::HandedBack),
            None => {
                let job = store.complete_job_if_done(&job.id, now_ms())?;
                if job.status == JobStatus::Completed.as_str() {
                    tracing::info!(job_id = %job.id, succeeded = job.runs_succeeded, failed = job.runs_failed, "job completed");
                }
            }
        }
        Ok(())
    }
}

/// The apalis task function: runs the task on a blocking thread.
///
/// # Errors
/// The task's [`TaskError`], for the queue to record and retry.
pub async fn handle(
    task: BatchTask,
    daemon: apalis::prelude::Data<Arc<Daemon>>,
) -> Result<(), apalis::prelude::BoxDynError> {
    let daemon = Arc::clone(&daemon);
    let job_id = task.job_id.clone();
    let outcome = tokio::task::spawn_blocking(move || daemon.execute_task(&task)).await;
    match outcome {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            tracing::warn!(job_id, error = %e, "task not finished; the queue will retry it");
            Err(Box::new(e))
        }
        Err(e) => Err(Box::new(e)),
    }
}
