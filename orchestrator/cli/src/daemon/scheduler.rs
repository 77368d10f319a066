//! Cron schedules: job definitions with a `schedule` (UTC cron expression), kept in the results
//! database so that every daemon sharing it sees the same schedules. Each daemon checks them
//! several times a second; a tick enqueues one job whose idempotency key is the schedule name
//! and the tick time, so when several daemons fire the same tick, the database lets exactly one
//! of them create (and queue) the job.
//!
//! Missed ticks: ticks that pass while no daemon runs are not replayed one by one. When a daemon
//! starts, the most recent tick of each schedule is fired if it is at most `schedule_catch_up`
//! old (default 1 h) and no job was created for it yet; older ones are skipped. A nightly job
//! whose daemon was restarted at 02:10 therefore still runs its 02:00 tick, once.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use barwise_engine::TimeMs;
use barwise_jobs::{JobError, JobErrors, Limits, parse_schedule};
use barwise_storage::{JobStatus, NewJob, ScheduleRow};
use chrono::{DateTime, Utc};

use super::{Daemon, SubmitError};
use crate::execute::{new_job_id, now_ms};

/// How often schedules are re-read from the database.
const RELOAD: Duration = Duration::from_secs(2);
/// How often ticks are checked.
const CHECK: Duration = Duration::from_millis(100);

fn datetime(ms: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
}

/// The first tick of `cron` strictly after `after_ms`.
pub fn next_tick(cron: &str, after_ms: i64) -> Option<i64> {
    let cron = parse_schedule(cron).ok()?;
    cron.find_next_occurrence(&datetime(after_ms)?, false)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// The last tick of `cron` at or before `at_ms`.
fn previous_tick(cron: &str, at_ms: i64) -> Option<i64> {
    let cron = parse_schedule(cron).ok()?;
    cron.find_previous_occurrence(&datetime(at_ms)?, true)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// Validates a job definition with a `schedule` and saves it as the schedule `name` (default:
/// the job's name), replacing one of the same name. Blocking.
///
/// # Errors
/// [`SubmitError::Invalid`] with every problem (including a missing `job.schedule`).
pub fn register(
    daemon: &Daemon,
    text: &str,
    source_name: &str,
    name: Option<String>,
    base_dir: &Path,
    source: &str,
) -> Result<ScheduleRow, SubmitError> {
    let (plan_name, plan_schedule) = match backup_template(text, source_name)? {
        Some(backup) => (backup.name, Some(backup.schedule)),
        None => {
            let catalog = daemon.catalog.get().map_err(SubmitError::Plugins)?;
            let limits = Limits {
                max_runs: daemon.config.max_runs_per_job,
            };
            let plan = barwise_jobs::parse_job(text, source_name, base_dir, &catalog, &limits)
                .map_err(SubmitError::Invalid)?;
            (plan.name, plan.schedule)
        }
    };
    let Some(cron) = plan_schedule else {
        return Err(SubmitError::Invalid(JobErrors {
            source: source_name.to_owned(),
            errors: vec![JobError {
                path: "job.schedule".to_owned(),
                message: "missing: a schedule needs a cron expression".to_owned(),
            }],
        }));
    };
    let now = now_ms();
    let row = ScheduleRow {
        name: name.unwrap_or(plan_name),
        next_fire_ms: next_tick(&cron, now),
        cron,
        job_template: text.to_owned(),
        enabled: true,
        created_ms: now,
        last_fire_ms: None,
        source: source.to_owned(),
        base_dir: Some(absolute(base_dir).display().to_string()),
    };
    daemon.store.upsert_schedule(&row)?;
    tracing::info!(schedule = %row.name, cron = %row.cron, source, "schedule saved");
    Ok(row)
}

fn absolute(path: &Path) -> std::path::PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

/// Registers every `*.toml` job file of the schedules folder (name: the file name without
/// extension) and removes schedules of files that were deleted from it. Invalid files are
/// reported and skipped. Blocking.
pub fn register_folder(daemon: &Daemon, dir: &Path) {
    let dir = absolute(dir);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) => {
            tracing::error!(dir = %dir.display(), error = %e, "cannot read the schedules folder");
            return;
        }
    };
    let mut files: Vec<std::path::PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    for file in &files {
        let name = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(e) => {
                tracing::error!(file = %file.display(), error = %e, "cannot read schedule file");
                continue;
            }
        };
        let source = format!("file:{}", file.display());
        if let Err(e) = register(
            daemon,
            &text,
            &file.display().to_string(),
            Some(name),
            &dir,
            &source,
        ) {
            tracing::error!(file = %file.display(), error = %e, "schedule file rejected");
        }
    }
    // Files removed from the folder: their schedules go too.
    let prefix = format!("file:{}/", dir.display());
    if let Ok(rows) = daemon.store.list_schedules() {
        for row in rows {
            if let Some(path) = row.source.strip_prefix("file:")
                && row.source.starts_with(&prefix)
                && !Path::new(path).exists()
                && daemon.store.delete_schedule(&row.name).is_ok()
            {
                tracing::info!(schedule = %row.name, "schedule file removed; schedule deleted");
            }
        }
    }
}

/// A backup schedule: a `[job]` table with `name` and `schedule`, and a `[backup]` table
/// (optionally with `archive_url`, default the daemon's archive) instead of data and
/// strategies. `None` for an ordinary job definition.
///
/// # Errors
/// [`SubmitError::Invalid`] listing the problems of a backup template.
fn backup_template(text: &str, source_name: &str) -> Result<Option<BackupTemplate>, SubmitError> {
    let Ok(table) = text.parse::<toml::Table>() else {
        return Ok(None);
    };
    let Some(backup) = table.get("backup") else {
        return Ok(None);
    };
    let mut errors = Vec::new();
    let mut problem = |path: &str, message: String| {
        errors.push(JobError {
            path: path.to_owned(),
            message,
        });
    };
    for key in table
        .keys()
        .filter(|k| !["job", "backup"].contains(&k.as_str()))
    {
        problem(
            key,
            "unknown key in a backup schedule (expected job and backup)".to_owned(),
        );
    }
    let mut archive_url = None;
    match backup {
        toml::Value::Table(b) => {
            for (key, value) in b {
                match (key.as_str(), value) {
                    ("archive_url", toml::Value::String(url)) => archive_url = Some(url.clone()),
                    ("archive_url", _) => {
                        problem("backup.archive_url", "expected a URL string".to_owned());
                    }
                    _ => problem(
                        &format!("backup.{key}"),
                        "unknown key (expected archive_url)".to_owned(),
                    ),
                }
            }
        }
        _ => problem("backup", "expected a table".to_owned()),
    }
    let job = table.get("job").and_then(toml::Value::as_table);
    let name = job
        .and_then(|j| j.get("name"))
        .and_then(toml::Value::as_str);
    if name.is_none_or(str::is_empty) {
        problem("job.name", "missing (required)".to_owned());
    }
    let schedule = job
        .and_then(|j| j.get("schedule"))
        .and_then(toml::Value::as_str);
    match schedule {
        None => problem(
            "job.schedule",
            "missing: a schedule needs a cron expression".to_owned(),
        ),
        Some(cron) => {
            if let Err(e) = parse_schedule(cron) {
                problem("job.schedule", e);
            }
        }
    }
    if !errors.is_empty() {
        errors.sort();
        return Err(SubmitError::Invalid(JobErrors {
            source: source_name.to_owned(),
            errors,
        }));
    }
    Ok(Some(BackupTemplate {
        name: name.unwrap_or_default().to_owned(),
        schedule: schedule.unwrap_or_default().to_owned(),
        archive_url,
    }))
}

/// A validated backup schedule template.
#[derive(Debug, Clone, PartialEq, Eq)]
struct BackupTemplate {
    name: String,
    schedule: String,
    /// Where the backups go (default: the daemon's archive).
    archive_url: Option<String>,
}

/// One tick of a backup schedule: claims the tick (a job row with the tick's idempotency key,
/// so two daemons never back up twice), runs `barwise-ops backup create` next to this
/// executable, and records the outcome in that job; a failure is alerted.
fn fire_backup(daemon: &Daemon, schedule: &ScheduleRow, key: String, archive_url: Option<String>) {
    let now = now_ms();
    let claimed = daemon.store.create_job(&NewJob {
        id: new_job_id(&schedule.name, now),
        name: schedule.name.clone(),
        definition: schedule.job_template.clone(),
        runs_total: 0,
        submitted_ms: now,
        idempotency_key: Some(key),
        timeout_ms: None,
    });
    let job = match claimed {
        Ok((job, true)) => job,
        Ok((_, false)) => return,
        Err(e) => {
            tracing::error!(schedule = %schedule.name, error = %e, "backup schedule could not fire");
            return;
        }
    };
    let _ =
        daemon
            .store
            .transition_job(&job.id, &[JobStatus::Queued], JobStatus::Running, now, None);
    let ops = std::env::current_exe()
        .map(|exe| exe.with_file_name("barwise-ops"))
        .unwrap_or_else(|_| "barwise-ops".into());
    let archive = archive_url.or_else(|| daemon.config.archive_url.clone());
    let mut command = std::process::Command::new(&ops);
    command
        .args(["backup", "create", "--database-url"])
        .arg(&daemon.config.database_url);
    if let Some(archive) = &archive {
        command.arg("--archive-url").arg(archive);
    }
    let outcome = command.output();
    let (status, error) = match outcome {
        Ok(out) if out.status.success() => {
            tracing::info!(schedule = %schedule.name, job_id = %job.id, "scheduled backup done: {}", String::from_utf8_lossy(&out.stdout).trim());
            (JobStatus::Completed, None)
        }
        Ok(out) => (
            JobStatus::Failed,
            Some(String::from_utf8_lossy(&out.stderr).trim().to_owned()),
        ),
        Err(e) => (
            JobStatus::Failed,
            Some(format!("cannot run {}: {e}", ops.display())),
        ),
    };
    let _ = daemon.store.transition_job(
        &job.id,
        &[JobStatus::Running],
        status,
        now_ms(),
        error.as_deref(),
    );
    if let Some(error) = error {
        daemon.alerts.backup_failed(&schedule.name, &error);
    }
}

/// Creates the job of one tick (once across all daemons, by its idempotency key) and queues it.
/// A template that no longer validates (a plugin was removed, say) gives a failed job carrying
/// the problems, so the miss is visible. Blocking.
fn fire(daemon: &Daemon, schedule: &ScheduleRow, tick_ms: i64) {
    let _span =
        tracing::info_span!("schedule", name = %schedule.name, tick = %TimeMs(tick_ms)).entered();
    let key = format!(
        "schedule:{}@{}",
        schedule.name,
        TimeMs(tick_ms).to_rfc3339()
    );
    let base_dir = schedule
        .base_dir
        .as_deref()
        .map_or_else(|| daemon.config.base_dir.clone(), Into::into);
    let source = format!("schedule {}", schedule.name);
    if let Ok(Some(backup)) = backup_template(&schedule.job_template, &source) {
        fire_backup(daemon, schedule, key, backup.archive_url);
        let _ = daemon.store.set_schedule_fired(
            &schedule.name,
            tick_ms,
            next_tick(&schedule.cron, tick_ms),
        );
        return;
    }
    match daemon.submit(
        &schedule.job_template,
        &source,
        &base_dir,
        Some(key.clone()),
    ) {
        Ok((job, true)) => {
            tracing::info!(schedule = %schedule.name, tick = %TimeMs(tick_ms), job_id = %job.id, "schedule fired");
        }
        Ok((_, false)) => {
            tracing::debug!(schedule = %schedule.name, tick = %TimeMs(tick_ms), "tick already fired by another daemon");
        }
        Err(SubmitError::Invalid(errors)) => {
            let now = now_ms();
            let job = NewJob {
                id: new_job_id(&schedule.name, now),
                name: schedule.name.clone(),
                definition: schedule.job_template.clone(),
                runs_total: 0,
                submitted_ms: now,
                idempotency_key: Some(key),
                timeout_ms: None,
            };
            if let Ok((job, true)) = daemon.store.create_job(&job) {
                let _ = daemon.store.transition_job(
                    &job.id,
                    &[JobStatus::Queued],
                    JobStatus::Failed,
                    now,
                    Some(&errors.to_string()),
                );
                tracing::error!(schedule = %schedule.name, error = %errors, "scheduled job is invalid");
            }
        }
        Err(e) => {
            tracing::error!(schedule = %schedule.name, tick = %TimeMs(tick_ms), error = %e, "schedule could not fire");
        }
    }
    let _ = daemon.store.set_schedule_fired(
        &schedule.name,
        tick_ms,
        next_tick(&schedule.cron, tick_ms),
    );
}

/// Fires schedules until `stop` turns true.
pub async fn run(daemon: Arc<Daemon>, mut stop: tokio::sync::watch::Receiver<bool>) {
    // For each schedule, the time up to which its ticks are handled (inclusive).
    let mut handled: HashMap<String, i64> = HashMap::new();
    let mut schedules: Vec<ScheduleRow> = Vec::new();
    let mut loaded_at: Option<tokio::time::Instant> = None;
    loop {
        if *stop.borrow() {
            return;
        }
        if loaded_at.is_none_or(|t| t.elapsed() >= RELOAD) {
            let d = Arc::clone(&daemon);
            match tokio::task::spawn_blocking(move || d.store.list_schedules()).await {
                Ok(Ok(rows)) => schedules = rows,
                Ok(Err(e)) => tracing::warn!(error = %e, "cannot read schedules"),
                Err(e) => tracing::warn!(error = %e, "cannot read schedules"),
            }
            loaded_at = Some(tokio::time::Instant::now());
        }
        let now = now_ms();
        let catch_up =
            i64::try_from(daemon.config.schedule_catch_up.as_millis()).unwrap_or(i64::MAX);
        for schedule in schedules.iter().filter(|s| s.enabled) {
            let cursor = *handled.entry(schedule.name.clone()).or_insert_with(|| {
                // First sight: catch up the latest tick if recent and not fired yet.
                match previous_tick(&schedule.cron, now) {
                    Some(tick)
                        if tick >= now.saturating_sub(catch_up)
                            && schedule.last_fire_ms.is_none_or(|last| tick > last) =>
                    {
                        tick - 1
                    }
                    _ => now,
                }
            });
            let mut ticks = Vec::new();
            let mut at = cursor;
            while let Some(tick) = next_tick(&schedule.cron, at) {
                if tick > now || ticks.len() >= 100 {
                    break;
                }
                ticks.push(tick);
                at = tick;
            }
            handled.insert(schedule.name.clone(), now.max(at));
            for tick in ticks {
                let d = Arc::clone(&daemon);
                let s = schedule.clone();
                // A backup may take minutes: it runs on its own, not holding other schedules.
                let fire_one = tokio::task::spawn_blocking(move || fire(&d, &s, tick));
                if backup_template(&schedule.job_template, "").is_ok_and(|b| b.is_none()) {
                    let _ = fire_one.await;
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(CHECK) => {}
            _ = stop.changed() => {}
        }
    }
}
