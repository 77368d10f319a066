//! Health checks of an installation, shared by `barwise-ops health|monitor` and the daemon
//! (which alerts when one changes state): database, queue, workers, stuck jobs, archive,
//! plugins, backups, disk. Each check is `ok`, `warning` or `critical`; the overall state is the
//! worst, and `barwise-ops health` exits 0, 1 or 2 accordingly (the monitoring-plugin
//! convention). Thresholds come from the daemon configuration.

use std::sync::Arc;

use barwise_storage::{JobStatus, Store};
use serde::Serialize;

use crate::daemon::catalog::PluginCatalog;
use crate::daemon::config::Config;
use crate::daemon::queue::Queue;
use crate::execute::now_ms;

/// How bad a check is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Fine.
    Ok = 0,
    /// Needs attention soon.
    Warning = 1,
    /// Needs attention now.
    Critical = 2,
}

impl Severity {
    /// `ok`, `warning`, `critical`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Ok => "ok",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// Short name (`database`, `queue`, …).
    pub name: &'static str,
    /// State.
    pub status: Severity,
    /// What was found, for people.
    pub detail: String,
    /// The measured number, when there is one (queue depth, backup age in hours, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
}

fn check(
    name: &'static str,
    status: Severity,
    detail: impl Into<String>,
    value: Option<f64>,
) -> Check {
    Check {
        name,
        status,
        detail: detail.into(),
        value,
    }
}

/// The worst state of `checks`.
pub fn overall(checks: &[Check]) -> Severity {
    checks
        .iter()
        .map(|c| c.status)
        .max()
        .unwrap_or(Severity::Ok)
}

/// The path of an `sqlite://` URL whose file does not exist.
fn sqlite_file_missing(url: &str) -> Option<String> {
    let path = url.strip_prefix("sqlite://")?;
    (!std::path::Path::new(path).exists()).then(|| path.to_owned())
}

async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    tokio::task::spawn_blocking(work).await.ok()
}

/// The daemon's own connections and plugin catalog, for checks run inside it.
#[derive(Debug, Clone)]
pub struct Own {
    /// Results database.
    pub store: Store,
    /// Task queue.
    pub queue: Queue,
    /// Plugin catalog (cached until the folder changes).
    pub catalog: Arc<PluginCatalog>,
}

/// Runs every check against the installation `config` describes, with the daemon's own
/// connections when given, else connecting (and reading the plugin folder) afresh.
pub async fn run_checks(config: &Config, own: Option<Own>) -> Vec<Check> {
    let (store, queue, catalog) = match own {
        Some(own) => (Some(own.store), Some(own.queue), Some(own.catalog)),
        None => (None, None, None),
    };
    let h = &config.health;
    let mut checks = Vec::new();

    // Database: reachable and at the current schema.
    let url = config.database_url.clone();
    // Checking must not create anything: a missing SQLite file is reported, not made.
    let missing_db = sqlite_file_missing(&config.database_url);
    let store = match (store, &missing_db) {
        (Some(store), _) => Some(store),
        (None, Some(_)) => None,
        (None, None) => blocking(move || Store::connect(&url))
            .await
            .and_then(Result::ok),
    };
    let db = match &store {
        None => check(
            "database",
            Severity::Critical,
            match &missing_db {
                Some(path) => format!("{path}: no such database file"),
                None => format!(
                    "{}: unreachable",
                    barwise_storage::redact(&config.database_url)
                ),
            },
            None,
        ),
        Some(store) => {
            let s = store.clone();
            match blocking(move || s.ensure_current()).await {
                Some(Ok(())) => check(
                    "database",
                    Severity::Ok,
                    format!("{}: schema current", store.display_url()),
                    None,
                ),
                Some(Err(e)) => check("database", Severity::Critical, e.to_string(), None),
                None => check("database", Severity::Critical, "check panicked", None),
            }
        }
    };
    let db_ok = db.status == Severity::Ok;
    checks.push(db);

    // Queue: reachable, depth, live workers.
    let queue = match (queue, sqlite_file_missing(&config.queue_url)) {
        (Some(q), _) => Ok(q),
        (None, Some(path)) => Err(format!(
            "{path}: no such queue file (no daemon has run here yet)"
        )),
        (None, None) => Queue::connect(config).await.map_err(|e| e.to_string()),
    };
    match &queue {
        Err(e) => checks.push(check("queue", Severity::Critical, e.clone(), None)),
        Ok(queue) => {
            match queue.depth().await {
                Ok(depth) => {
                    let status = if depth > h.queue_warn_depth {
                        Severity::Warning
                    } else {
                        Severity::Ok
                    };
                    checks.push(check(
                        "queue",
                        status,
                        format!(
                            "{} {}: {depth} unfinished task(s)",
                            queue.backend(),
                            queue.url()
                        ),
                        Some(depth as f64),
                    ));
                }
                Err(e) => checks.push(check("queue", Severity::Critical, e.to_string(), None)),
            }
            let within = config.heartbeat * u32::try_from(config.missed_heartbeats).unwrap_or(3);
            match queue.live_workers(within).await {
                Ok(0) => checks.push(check(
                    "workers",
                    Severity::Warning,
                    format!(
                        "no worker sent a heartbeat in the last {} s: no daemon is running",
                        within.as_secs()
                    ),
                    Some(0.0),
                )),
                Ok(n) => checks.push(check(
                    "workers",
                    Severity::Ok,
                    format!("{n} worker(s) alive"),
                    Some(n as f64),
                )),
                Err(e) => checks.push(check("workers", Severity::Critical, e.to_string(), None)),
            }
        }
    }

    if let (Some(store), true) = (&store, db_ok) {
        // Jobs running past their timeout (plus a minute of slack for the sweeper).
        let s = store.clone();
        let stuck = blocking(move || s.jobs_in_status(JobStatus::Running)).await;
        if let Some(Ok(running)) = stuck {
            let now = now_ms();
            let late: Vec<String> = running
                .iter()
                .filter(|j| match (j.started_ms, j.timeout_ms) {
                    (Some(start), Some(timeout)) => {
                        now > start.saturating_add(timeout).saturating_add(60_000)
                    }
                    _ => false,
                })
                .map(|j| j.id.clone())
                .collect();
            let status = if late.is_empty() {
                Severity::Ok
            } else {
                Severity::Warning
            };
            let detail = if late.is_empty() {
                format!("{} running job(s), none past its timeout", running.len())
            } else {
                format!("past their timeout: {}", late.join(", "))
            };
            checks.push(check("stuck_jobs", status, detail, Some(late.len() as f64)));
        }
        // Runs waiting for the archive.
        let s = store.clone();
        if let Some(Ok(waiting)) = blocking(move || s.count_runs_pending_archive(None)).await {
            let status = if waiting > h.archive_warn_waiting {
                Severity::Warning
            } else {
                Severity::Ok
            };
            checks.push(check(
                "archive_backlog",
                status,
                format!("{waiting} run(s) waiting for the archive"),
                Some(waiting as f64),
            ));
        }
        // Last successful backup.
        let s = store.clone();
        if let Some(Ok(backups)) = blocking(move || s.list_backups()).await {
            match backups.iter().find(|b| b.status == "complete") {
                None => checks.push(check(
                    "backup",
                    Severity::Warning,
                    "no backup yet (barwise-ops backup create)",
                    None,
                )),
                Some(b) => {
                    let age_h = (now_ms() - b.created_ms) as f64 / 3_600_000.0;
                    let status = if age_h * 3_600_000.0 > h.backup_critical_age.as_millis() as f64 {
                        Severity::Critical
                    } else if age_h * 3_600_000.0 > h.backup_warn_age.as_millis() as f64 {
                        Severity::Warning
                    } else {
                        Severity::Ok
                    };
                    checks.push(check(
                        "backup",
                        status,
                        format!("newest backup {} is {age_h:.1} h old", b.id),
                        Some(age_h),
                    ));
                }
            }
        }
    }

    // Archive writable.
    match &config.archive_url {
        None => checks.push(check("archive", Severity::Ok, "not configured", None)),
        Some(url) => match barwise_archive::Archive::open(url) {
            Err(e) => checks.push(check("archive", Severity::Critical, e.to_string(), None)),
            Ok(archive) => match archive.check_writable().await {
                Ok(()) => checks.push(check(
                    "archive",
                    Severity::Ok,
                    format!("{}: writable", archive.url()),
                    None,
                )),
                Err(e) => checks.push(check("archive", Severity::Critical, e.to_string(), None)),
            },
        },
    }

    // Plugin folder.
    let catalog = catalog.unwrap_or_else(|| {
        Arc::new(PluginCatalog::new(
            config.plugin_dir.clone(),
            config.runner.clone(),
        ))
    });
    let c = Arc::clone(&catalog);
    match blocking(move || c.get()).await {
        Some(Ok(catalog)) if catalog.plugins.is_empty() => checks.push(check(
            "plugins",
            Severity::Critical,
            "no valid plugin in the plugin folder",
            Some(0.0),
        )),
        Some(Ok(found)) if !found.rejected.is_empty() => checks.push(check(
            "plugins",
            Severity::Warning,
            format!(
                "{} plugin(s); rejected: {}",
                found.plugins.len(),
                found
                    .rejected
                    .iter()
                    .map(|r| format!("{} ({})", r.path.display(), r.reason))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            Some(found.plugins.len() as f64),
        )),
        Some(Ok(found)) => checks.push(check(
            "plugins",
            Severity::Ok,
            format!("{}: {}", catalog.dir().display(), found.available()),
            Some(found.plugins.len() as f64),
        )),
        Some(Err(e)) => checks.push(check("plugins", Severity::Critical, e, None)),
        None => checks.push(check("plugins", Severity::Critical, "check panicked", None)),
    }

    // Disk space under the data folder.
    let dir = if config.data_dir.exists() {
        config.data_dir.clone()
    } else {
        std::path::PathBuf::from(".")
    };
    match rustix::fs::statvfs(&dir) {
        Ok(stat) if stat.f_blocks > 0 => {
            let free = 100.0 * stat.f_bavail as f64 / stat.f_blocks as f64;
            let status = if free < h.disk_critical_free_percent {
                Severity::Critical
            } else if free < h.disk_warn_free_percent {
                Severity::Warning
            } else {
                Severity::Ok
            };
            let free_gib = (stat.f_bavail * stat.f_frsize) as f64 / (1u64 << 30) as f64;
            checks.push(check(
                "disk",
                status,
                format!("{}: {free:.1} % free ({free_gib:.1} GiB)", dir.display()),
                Some(free),
            ));
        }
        Ok(_) => checks.push(check("disk", Severity::Ok, "size unknown", None)),
        Err(e) => checks.push(check(
            "disk",
            Severity::Warning,
            format!("{}: {e}", dir.display()),
            None,
        )),
    }
    checks
}

/// The checks as an aligned table.
pub fn render(checks: &[Check]) -> String {
    let rows: Vec<Vec<String>> = checks
        .iter()
        .map(|c| {
            vec![
                c.name.to_owned(),
                c.status.as_str().to_owned(),
                c.detail.clone(),
            ]
        })
        .collect();
    crate::table::render(
        &["check", "status", "detail"],
        &[
            crate::table::Align::Left,
            crate::table::Align::Left,
            crate::table::Align::Left,
        ],
        &rows,
    )
}
