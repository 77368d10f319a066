//! Executing a job plan on this machine: runs grouped into batches, each batch in its own
//! `barwise-runner` process, as many at once as there are workers; every result recorded in the
//! results database as soon as its line arrives.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use barwise_engine::ExecutionSettings;
use barwise_jobs::{JobPlan, PlannedRun};
use barwise_plugin_host::RawParam;
use barwise_storage::{RecordOutcome, RunRecord, RunResult, StorageError, Store};
use serde::{Deserialize, Serialize};

use crate::runner::{ExitCode, RunOutcome, RunSpec, RunnerSpec};

/// Runs per runner process: small enough that a crash loses little and all workers stay busy,
/// large enough that a data file is loaded once for several runs.
pub const BATCH: usize = 8;

/// Counts shown while a job runs.
#[derive(Debug, Default)]
pub struct Progress {
    /// Runs finished with a report.
    pub succeeded: AtomicUsize,
    /// Runs finished with an error.
    pub failed: AtomicUsize,
}

/// Milliseconds since the epoch (the clock lives here, at the edge, not in the engine).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A job id: the job's name, the submission time and random bits, readable and unique across
/// machines.
pub fn new_job_id(name: &str, at_ms: i64) -> String {
    let mut random = [0u8; 4];
    if let Ok(mut urandom) = std::fs::File::open("/dev/urandom") {
        let _ = urandom.read_exact(&mut random);
    }
    let slug: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(40)
        .collect();
    format!("{slug}-{at_ms}-{:08x}", u32::from_le_bytes(random))
}

/// What every run of a job shares, and what a worker needs besides the runs themselves.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RunSettings {
    /// `[execution]` of the job.
    pub execution: ExecutionSettings,
    /// `data.start` (inclusive), epoch ms.
    pub start_ms: Option<i64>,
    /// `data.end` (exclusive), epoch ms.
    pub end_ms: Option<i64>,
    /// `job.timeout` in ms, counted from the job's start.
    pub timeout_ms: u64,
}

impl RunSettings {
    /// The settings of `plan`.
    pub fn of(plan: &JobPlan) -> RunSettings {
        RunSettings {
            execution: plan.execution,
            start_ms: plan.start_ms,
            end_ms: plan.end_ms,
            timeout_ms: plan.timeout_ms,
        }
    }
}

/// Why runs stop before they are all done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The job's timeout passed: the runs left fail with that reason.
    TimedOut = 1,
    /// The job was cancelled: the runs left get no result.
    Cancelled = 2,
    /// This process is shutting down: the runs left get no result here and are handed back.
    ShuttingDown = 3,
}

/// A flag, raised once with a reason, that makes every runner of a job be killed and no new
/// one start.
#[derive(Debug, Default)]
pub struct StopSignal(AtomicU8);

impl StopSignal {
    /// Raises the flag; the first reason wins. Returns whether this call raised it.
    pub fn stop(&self, reason: StopReason) -> bool {
        self.0
            .compare_exchange(0, reason as u8, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }

    /// The reason, once raised.
    pub fn reason(&self) -> Option<StopReason> {
        match self.0.load(Ordering::SeqCst) {
            1 => Some(StopReason::TimedOut),
            2 => Some(StopReason::Cancelled),
            3 => Some(StopReason::ShuttingDown),
            _ => None,
        }
    }
}

/// Runs of one plugin for one runner process, each with its index in the job.
pub type Batch<'a> = (&'a Path, Vec<(usize, &'a PlannedRun)>);

/// Groups runs into batches of at most `size` runs of one plugin, in plan order.
pub fn batches(runs: &[PlannedRun], size: usize) -> Vec<Batch<'_>> {
    let mut by_plugin: BTreeMap<&Path, Vec<(usize, &PlannedRun)>> = BTreeMap::new();
    for (index, run) in runs.iter().enumerate() {
        by_plugin
            .entry(run.plugin_path.as_path())
            .or_default()
            .push((index, run));
    }
    by_plugin
        .into_iter()
        .flat_map(|(plugin, runs)| {
            runs.chunks(size.max(1))
                .map(|chunk| (plugin, chunk.to_vec()))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Why [`run_batches`] could not give every run a result.
#[derive(Debug)]
pub enum RunError {
    /// Results could not be stored; execution was abandoned at the first such error.
    Storage(StorageError),
    /// A worker thread panicked (a bug): some runs may have no result.
    WorkerPanicked,
}

/// Executes `batches` on `workers` threads, each driving one runner process at a time. When
/// the deadline passes, or `stop` is raised, every runner is killed within 50 ms and no new
/// one starts: on a timeout the runs left are recorded as failed; on a cancel or shutdown they
/// are left without a result.
///
/// # Errors
/// [`RunError`]; failing runs are not errors (they are recorded as failed).
pub fn run_batches(
    executor: &Executor<'_>,
    batches: &[Batch<'_>],
    workers: usize,
    deadline: Instant,
    stop: &StopSignal,
) -> Result<(), RunError> {
    let next = AtomicUsize::new(0);
    let children: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());
    let first_error: Mutex<Option<StorageError>> = Mutex::new(None);
    let aborted = AtomicBool::new(false);
    let done = AtomicBool::new(false);
    let worker_panicked = AtomicBool::new(false);
    let keep_error = |e: StorageError| {
        aborted.store(true, Ordering::SeqCst);
        if let Ok(mut first) = first_error.lock() {
            first.get_or_insert(e);
        }
    };
    // The caller's span (job and runs) follows the work onto the worker threads.
    let span = tracing::Span::current();
    std::thread::scope(|scope| {
        // The watchdog kills every runner when the job must stop.
        scope.spawn(|| {
            while !done.load(Ordering::SeqCst) {
                if Instant::now() >= deadline {
                    stop.stop(StopReason::TimedOut);
                }
                if stop.reason().is_some() || aborted.load(Ordering::SeqCst) {
                    let pids: Vec<u32> = children
                        .lock()
                        .map(|c| c.iter().copied().collect())
                        .unwrap_or_default();
                    for pid in pids {
                        if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
                            let _ =
                                rustix::process::kill_process(pid, rustix::process::Signal::KILL);
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        let handles: Vec<_> = (0..workers.max(1))
            .map(|_| {
                scope.spawn(|| {
                    let _entered = span.enter();
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        let Some((plugin, runs)) = batches.get(i) else {
                            break;
                        };
                        if aborted.load(Ordering::SeqCst) {
                            break;
                        }
                        match stop.reason() {
                            Some(StopReason::TimedOut) => {
                                let reason = executor.timeout_message();
                                if let Err(e) = executor.fail_all(runs, &reason, 0) {
                                    keep_error(e);
                                }
                                continue;
                            }
                            Some(_) => break,
                            None => {}
                        }
                        if let Err(e) = executor.run_batch(plugin, runs, &children, stop) {
                            keep_error(e);
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            if h.join().is_err() {
                worker_panicked.store(true, Ordering::SeqCst);
            }
        }
        done.store(true, Ordering::SeqCst);
    });
    if let Some(e) = first_error.into_inner().ok().flatten() {
        return Err(RunError::Storage(e));
    }
    if worker_panicked.load(Ordering::SeqCst) {
        return Err(RunError::WorkerPanicked);
    }
    Ok(())
}

/// Where results go and how runners are started, for one job.
pub struct Executor<'a> {
    /// The results database.
    pub store: &'a Store,
    /// The `barwise-runner` executable.
    pub runner: &'a Path,
    /// The job the runs belong to.
    pub job_id: &'a str,
    /// Execution settings and time range of the job.
    pub settings: RunSettings,
    /// Counters of results recorded by this executor.
    pub progress: &'a Progress,
    /// Called after each recorded result with the counters and `total`.
    pub on_progress: &'a (dyn Fn(&Progress, usize) + Sync),
    /// Runs in the job.
    pub total: usize,
    /// Where runners write each succeeded run's archive objects (`None`: no archive).
    pub spool_dir: Option<PathBuf>,
    /// Called for each result recorded by this executor: succeeded or not, and milliseconds
    /// in the runner.
    pub on_record: &'a (dyn Fn(bool, u64) + Sync),
}

impl std::fmt::Debug for Executor<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("job_id", &self.job_id)
            .field("runner", &self.runner)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Executor<'_> {
    fn timeout_message(&self) -> String {
        format!("job timed out after {} ms", self.settings.timeout_ms)
    }

    fn record(
        &self,
        index: usize,
        run: &PlannedRun,
        result: RunResult<'_>,
        elapsed_ms: u64,
    ) -> Result<(), StorageError> {
        let now = now_ms();
        let record = RunRecord {
            id: format!("{}-{index}", self.job_id),
            job_id: self.job_id.to_owned(),
            run_key: run.run_key.clone(),
            symbol: run.symbol.clone(),
            data_source: run.data.clone(),
            plugin_name: run.plugin.clone(),
            params_json: serde_json::to_string(&run.params).unwrap_or_default(),
            execution_json: serde_json::to_string(&self.settings.execution).unwrap_or_default(),
            attempts: 1,
            started_ms: now - elapsed_ms as i64,
            finished_ms: now,
        };
        // Count what the database did: a result already recorded is not counted twice.
        let outcome =
            self.store
                .record_run_for_archive(&record, result, self.spool_dir.is_some())?;
        tracing::debug!(run_id = %record.id, run_key = %record.run_key, succeeded = matches!(result, RunResult::Succeeded(_)), elapsed_ms, "run recorded");
        if let RecordOutcome::Recorded(_) = outcome {
            (self.on_record)(matches!(result, RunResult::Succeeded(_)), elapsed_ms);
            let counter = match result {
                RunResult::Succeeded(_) => &self.progress.succeeded,
                RunResult::Failed(_) => &self.progress.failed,
            };
            counter.fetch_add(1, Ordering::SeqCst);
            (self.on_progress)(self.progress, self.total);
        }
        Ok(())
    }

    /// Records every run of `runs` as failed with `reason`.
    ///
    /// # Errors
    /// Database errors.
    pub fn fail_all(
        &self,
        runs: &[(usize, &PlannedRun)],
        reason: &str,
        elapsed_ms: u64,
    ) -> Result<(), StorageError> {
        for (index, run) in runs {
            self.record(*index, run, RunResult::Failed(reason), elapsed_ms)?;
        }
        Ok(())
    }

    /// Runs a batch in runner processes. When a runner dies by a signal, the run it was on (the
    /// first one it had not reported: a runner works through its runs in order) fails with that
    /// signal, and the runs after it go to a fresh runner, so one crashing run fails no other.
    fn run_batch(
        &self,
        plugin: &Path,
        runs: &[(usize, &PlannedRun)],
        children: &Mutex<BTreeSet<u32>>,
        stop: &StopSignal,
    ) -> Result<(), StorageError> {
        let mut pending: Vec<(usize, &PlannedRun)> = runs.to_vec();
        while !pending.is_empty() {
            match stop.reason() {
                Some(StopReason::TimedOut) => {
                    return self.fail_all(&pending, &self.timeout_message(), 0);
                }
                Some(_) => return Ok(()),
                None => {}
            }
            let (unreported, crash, elapsed) = self.run_once(plugin, &pending, children, stop)?;
            let Some(crash) = crash else {
                break;
            };
            let mut rest = unreported.into_iter();
            if let Some((index, run)) = rest.next() {
                self.record(index, run, RunResult::Failed(&crash), elapsed)?;
            }
            pending = rest.collect();
        }
        Ok(())
    }

    /// One runner process over `runs`. Returns the runs it did not report and, if it was killed
    /// by a signal, the reason; runs it could not do for other reasons are recorded as failed.
    #[allow(
        clippy::type_complexity,
        reason = "a private helper's tuple, named at its only call site"
    )]
    fn run_once<'r>(
        &self,
        plugin: &Path,
        runs: &[(usize, &'r PlannedRun)],
        children: &Mutex<BTreeSet<u32>>,
        stop: &StopSignal,
    ) -> Result<(Vec<(usize, &'r PlannedRun)>, Option<String>, u64), StorageError> {
        let spec = RunnerSpec {
            spool_dir: self.spool_dir.clone(),
            plugin: plugin.to_owned(),
            runs: runs
                .iter()
                .map(|(index, run)| RunSpec {
                    id: index.to_string(),
                    data: PathBuf::from(&run.data),
                    params: run
                        .params
                        .iter()
                        .map(|(k, v)| (k.clone(), RawParam::Value(*v)))
                        .collect(),
                    execution: self.settings.execution,
                    start_ms: self.settings.start_ms,
                    end_ms: self.settings.end_ms,
                })
                .collect(),
        };
        let started = Instant::now();
        let mut child = match spawn_runner(self.runner) {
            Ok(child) => child,
            Err(e) => {
                let reason = format!("cannot start {}: {e}", self.runner.display());
                self.fail_all(runs, &reason, 0)?;
                return Ok((Vec::new(), None, 0));
            }
        };
        let pid = child.id();
        if let Ok(mut c) = children.lock() {
            c.insert(pid);
        }
        let spec_json = serde_json::to_vec(&spec).unwrap_or_default();
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(&spec_json);
        }
        // Stderr is drained on its own thread (keeping the last 64 KiB for messages): a runner
        // that writes a lot there must never block while we read its results.
        let stderr_tail = child.stderr.take().map(|mut stderr| {
            std::thread::spawn(move || {
                let mut tail: Vec<u8> = Vec::new();
                let mut chunk = [0u8; 8192];
                while let Ok(n) = stderr.read(&mut chunk) {
                    if n == 0 {
                        break;
                    }
                    tail.extend_from_slice(&chunk[..n]);
                    if tail.len() > 65_536 {
                        tail.drain(..tail.len() - 65_536);
                    }
                }
                String::from_utf8_lossy(&tail).into_owned()
            })
        });
        let mut reported = vec![false; runs.len()];
        let mut storage_error = None;
        if let Some(stdout) = child.stdout.take() {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let Ok(outcome) = serde_json::from_str::<RunOutcome>(&line) else {
                    eprintln!(
                        "barwise: ignoring a line from barwise-runner that is not a result: {line:.200}"
                    );
                    continue;
                };
                let Some(position) = outcome
                    .id
                    .parse::<usize>()
                    .ok()
                    .and_then(|id| runs.iter().position(|(i, _)| *i == id))
                else {
                    continue;
                };
                if reported[position] {
                    continue;
                }
                let (index, run) = runs[position];
                reported[position] = true;
                let result = match (&outcome.report, &outcome.error) {
                    (Some(report), _) => RunResult::Succeeded(report.as_ref()),
                    (None, Some(error)) => RunResult::Failed(error),
                    (None, None) => {
                        RunResult::Failed("runner reported neither a report nor an error")
                    }
                };
                if let Err(e) = self.record(index, run, result, outcome.elapsed_ms.unwrap_or(0)) {
                    storage_error = Some(e);
                    break;
                }
            }
        }
        if storage_error.is_some() {
            let _ = child.kill();
        }
        let status = child.wait();
        let stderr_text = stderr_tail.and_then(|t| t.join().ok()).unwrap_or_default();
        let elapsed = started.elapsed().as_millis() as u64;
        if let Ok(mut c) = children.lock() {
            c.remove(&pid);
        }
        if let Some(e) = storage_error {
            return Err(e);
        }
        let unreported: Vec<(usize, &PlannedRun)> = runs
            .iter()
            .zip(&reported)
            .filter(|(_, done)| !**done)
            .map(|(run, _)| *run)
            .collect();
        if unreported.is_empty() {
            return Ok((unreported, None, elapsed));
        }
        let stderr_text = stderr_text.trim();
        let final_reason = match status {
            _ if stop.reason() == Some(StopReason::TimedOut) => self.timeout_message(),
            // Cancelled or shutting down: the runs left get no result here.
            _ if stop.reason().is_some() => return Ok((Vec::new(), None, elapsed)),
            // The spec or the plugin was refused: nothing in this batch can run.
            Ok(s)
                if matches!(
                    s.code(),
                    Some(c) if c == ExitCode::BadSpec as i32 || c == ExitCode::PluginRejected as i32
                ) =>
            {
                format!("runner refused the batch: {stderr_text}")
            }
            // Killed by a signal, or died another way (a panic outside the plugin exits with
            // 101): the run it was on fails, the runs after it get a fresh runner.
            Ok(s) => {
                let how = match (s.signal(), s.code()) {
                    (Some(signal), _) => {
                        format!("killed by signal {signal} ({})", signal_name(signal))
                    }
                    (None, Some(code)) => format!("exited with code {code}"),
                    (None, None) => "ended without a status".to_owned(),
                };
                let mut crash = format!("the strategy crashed its runner process: {how}");
                if !stderr_text.is_empty() {
                    let tail: String = stderr_text
                        .chars()
                        .rev()
                        .take(500)
                        .collect::<Vec<_>>()
                        .into_iter()
                        .rev()
                        .collect();
                    crash.push_str(&format!(" ({tail})"));
                }
                return Ok((unreported, Some(crash), elapsed));
            }
            Err(e) => format!("waiting for the runner failed: {e}"),
        };
        self.fail_all(&unreported, &final_reason, elapsed)?;
        Ok((Vec::new(), None, elapsed))
    }
}

fn spawn_runner(runner: &Path) -> std::io::Result<Child> {
    Command::new(runner)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
}

/// The conventional name of a signal number on Linux.
pub fn signal_name(signal: i32) -> &'static str {
    match signal {
        4 => "SIGILL",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        15 => "SIGTERM",
        _ => "signal",
    }
}
