//! `barwise serve`: the daemon. It accepts jobs over HTTP ([`api`]), validates them against the
//! plugin folder's [`catalog`], records them in the results database, and puts their runs on the
//! apalis [`queue`] in tasks of a few runs each; [`worker`]s (in this daemon or any other one
//! sharing the queue and database) execute each task in a `barwise-runner` process and record
//! every result idempotently; the [`scheduler`] enqueues cron jobs, once per tick across all
//! daemons.
//!
//! The results database is the source of truth for jobs and runs; the queue only carries work.
//! Plugin code never runs in this process.

pub mod api;
pub mod archiver;
pub mod catalog;
pub mod config;
pub mod metrics;
pub mod oneshot;
pub mod queue;
pub mod scheduler;
pub mod serve;
pub mod worker;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use barwise_jobs::{JobErrors, JobPlan, Limits, PlannedRun};
use barwise_storage::{JobRow, JobStatus, NewJob, StorageError, Store};
use serde::{Deserialize, Serialize};

use crate::execute::{BATCH, RunSettings, StopReason, StopSignal, batches, new_job_id, now_ms};
use catalog::PluginCatalog;
use config::Config;
use queue::Queue;

/// One queue task: a few runs of one job with one plugin, executed by one runner process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchTask {
    /// The job.
    pub job_id: String,
    /// What every run of the job shares.
    pub settings: RunSettings,
    /// Plugin name; each worker finds the library in its own plugin folder.
    pub plugin: String,
    /// The runs, each with its index in the job (which makes its run id).
    pub runs: Vec<TaskRun>,
}

/// One run of a task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRun {
    /// Position in the job's plan.
    pub index: usize,
    /// The run.
    pub run: PlannedRun,
}

/// The tasks of a job: its runs in batches of one plugin, in plan order.
pub fn tasks_of(job_id: &str, plan: &JobPlan) -> Vec<BatchTask> {
    let settings = RunSettings::of(plan);
    batches(&plan.runs, BATCH)
        .into_iter()
        .map(|(_, runs)| BatchTask {
            job_id: job_id.to_owned(),
            settings,
            plugin: runs
                .first()
                .map(|(_, r)| r.plugin.clone())
                .unwrap_or_default(),
            runs: runs
                .into_iter()
                .map(|(index, run)| TaskRun {
                    index,
                    run: run.clone(),
                })
                .collect(),
        })
        .collect()
}

/// Why a submission was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The job definition has problems (all of them listed).
    #[error("{0}")]
    Invalid(JobErrors),
    /// The plugin folder could not be read.
    #[error("plugin folder: {0}")]
    Plugins(String),
    /// The results database failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The job was recorded but its tasks could not be queued; it is marked failed.
    #[error("queue: {0}")]
    Queue(String),
}

/// Shared state of one daemon.
#[derive(Debug)]
pub struct Daemon {
    /// Settings.
    pub config: Config,
    /// Results database.
    pub store: Store,
    /// The plugin folder.
    pub catalog: Arc<PluginCatalog>,
    /// The task queue.
    pub queue: Queue,
    /// The archive (`None` when disabled).
    pub archive: Option<barwise_archive::Archive>,
    /// Alert sender.
    pub alerts: crate::alerts::Alerts,
    /// Counters and gauges for `/metrics`.
    pub metrics: metrics::Metrics,
    /// Stop signals of the tasks running here, by job.
    active: Mutex<HashMap<String, Vec<Arc<StopSignal>>>>,
    shutting_down: AtomicBool,
    /// When the daemon started.
    pub started: Instant,
}

impl Daemon {
    /// A daemon over an opened store and queue.
    pub fn new(
        config: Config,
        store: Store,
        queue: Queue,
        archive: Option<barwise_archive::Archive>,
        alerts: crate::alerts::Alerts,
    ) -> Daemon {
        let catalog = Arc::new(PluginCatalog::new(
            config.plugin_dir.clone(),
            config.runner.clone(),
        ));
        Daemon {
            config,
            store,
            catalog,
            queue,
            archive,
            alerts,
            metrics: metrics::Metrics::default(),
            active: Mutex::new(HashMap::new()),
            shutting_down: AtomicBool::new(false),
            started: Instant::now(),
        }
    }

    /// A daemon over an opened store and queue, with the archive of `config` opened and the
    /// alert sender started (within a tokio runtime).
    ///
    /// # Errors
    /// An invalid archive URL.
    pub fn assemble(
        config: Config,
        store: Store,
        queue: Queue,
    ) -> Result<Arc<Daemon>, barwise_archive::ArchiveError> {
        let archive = config
            .archive_url
            .as_deref()
            .map(barwise_archive::Archive::open)
            .transpose()?;
        let alerts = crate::alerts::Alerts::start(&config.health);
        Ok(Arc::new(Daemon::new(config, store, queue, archive, alerts)))
    }

    /// Validates a job definition against the current plugin folder, records the job and queues
    /// its tasks. With an idempotency key already used, returns that job (`false`) and queues
    /// nothing. Blocking: call from a blocking context.
    ///
    /// # Errors
    /// [`SubmitError`].
    pub fn submit(
        &self,
        text: &str,
        source: &str,
        base_dir: &Path,
        idempotency_key: Option<String>,
    ) -> Result<(JobRow, bool), SubmitError> {
        let catalog = self.catalog.get().map_err(SubmitError::Plugins)?;
        let limits = Limits {
            max_runs: self.config.max_runs_per_job,
        };
        let plan = barwise_jobs::parse_job(text, source, base_dir, &catalog, &limits)
            .map_err(SubmitError::Invalid)?;
        let submitted = now_ms();
        let job_id = new_job_id(&plan.name, submitted);
        let (job, created) = self.store.create_job(&NewJob {
            id: job_id.clone(),
            name: plan.name.clone(),
            definition: plan.definition.clone(),
            runs_total: plan.runs.len() as i32,
            submitted_ms: submitted,
            idempotency_key,
            timeout_ms: Some(i64::try_from(plan.timeout_ms).unwrap_or(i64::MAX)),
        })?;
        if !created {
            return Ok((job, false));
        }
        if let Err(e) = self.queue.push_blocking(tasks_of(&job_id, &plan)) {
            let message = format!("its tasks could not be queued: {e}");
            // Running already if a worker took one of the tasks that did get queued.
            self.store.transition_job(
                &job_id,
                &[JobStatus::Queued, JobStatus::Running],
                JobStatus::Failed,
                now_ms(),
                Some(&message),
            )?;
            return Err(SubmitError::Queue(e.to_string()));
        }
        tracing::info!(job_id = %job.id, runs = job.runs_total, "job queued");
        Ok((job, true))
    }

    /// Cancels a queued or running job: its queued tasks will not start and its runners here
    /// are killed at once (other daemons notice within their poll period). Returns the job
    /// afterwards, and whether this call cancelled it.
    ///
    /// # Errors
    /// [`StorageError::NotFound`], database errors.
    pub fn cancel(&self, job_id: &str) -> Result<(JobRow, bool), StorageError> {
        let cancelled = self.store.transition_job(
            job_id,
            &[JobStatus::Queued, JobStatus::Running],
            JobStatus::Cancelled,
            now_ms(),
            None,
        )?;
        if cancelled {
            self.stop_job(job_id, StopReason::Cancelled);
            tracing::info!(job_id, "job cancelled");
        }
        Ok((self.store.job(job_id)?, cancelled))
    }

    /// Raises the stop signal of every task of `job_id` running here.
    pub fn stop_job(&self, job_id: &str, reason: StopReason) {
        if let Ok(active) = self.active.lock()
            && let Some(signals) = active.get(job_id)
        {
            for signal in signals {
                signal.stop(reason);
            }
        }
    }

    /// Raises `ShuttingDown` on every running task: their runners are killed and the tasks go
    /// back to the queue.
    pub fn hand_back_all(&self) {
        if let Ok(active) = self.active.lock() {
            for signal in active.values().flatten() {
                signal.stop(StopReason::ShuttingDown);
            }
        }
    }

    /// Whether shutdown has begun (no new task starts).
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    /// Begins shutdown.
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }

    /// Jobs with tasks running here.
    pub fn active_jobs(&self) -> Vec<String> {
        self.active
            .lock()
            .map(|a| a.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Tasks running here.
    pub fn busy_workers(&self) -> usize {
        self.active
            .lock()
            .map(|a| a.values().map(Vec::len).sum())
            .unwrap_or(0)
    }

    fn register(&self, job_id: &str) -> Arc<StopSignal> {
        let signal = Arc::new(StopSignal::default());
        if let Ok(mut active) = self.active.lock() {
            active
                .entry(job_id.to_owned())
                .or_default()
                .push(Arc::clone(&signal));
        }
        signal
    }

    fn unregister(&self, job_id: &str, signal: &Arc<StopSignal>) {
        if let Ok(mut active) = self.active.lock()
            && let Some(signals) = active.get_mut(job_id)
        {
            signals.retain(|s| !Arc::ptr_eq(s, signal));
            if signals.is_empty() {
                active.remove(job_id);
            }
        }
    }
}
