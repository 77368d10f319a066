//! The daemon's configuration: a TOML file (`barwise serve --config FILE`), every key optional,
//! defaults chosen so that `barwise serve` alone runs on the embedded defaults (SQLite results
//! and queue under the data folder). Every key is documented in `docs/OPERATIONS.md` and
//! `config/barwise.toml`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Environment variable holding the API token (overrides `token` in the file).
pub const TOKEN_ENV: &str = "BARWISE_API_TOKEN";
/// Default address of the HTTP API.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8420";

/// The file as written: every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    queue_url: Option<String>,
    queue_name: Option<String>,
    archive_url: Option<String>,
    plugin_dir: Option<PathBuf>,
    runner: Option<PathBuf>,
    workers: Option<usize>,
    worker_name: Option<String>,
    token: Option<String>,
    base_dir: Option<PathBuf>,
    schedules_dir: Option<PathBuf>,
    max_body_bytes: Option<usize>,
    max_runs_per_job: Option<usize>,
    heartbeat: Option<String>,
    missed_heartbeats: Option<usize>,
    poll_interval: Option<String>,
    shutdown_grace: Option<String>,
    schedule_catch_up: Option<String>,
    backup_warn_age: Option<String>,
    backup_critical_age: Option<String>,
    disk_warn_free_percent: Option<f64>,
    disk_critical_free_percent: Option<f64>,
    queue_warn_depth: Option<u64>,
    archive_warn_waiting: Option<i64>,
    alert_webhooks: Option<Vec<String>>,
    alert_min_interval: Option<String>,
    health_interval: Option<String>,
}

/// Validated settings of one daemon.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address of the HTTP API.
    pub listen: SocketAddr,
    /// Folder of the embedded defaults (`results.db`, `queue.db`, `api-token`).
    pub data_dir: PathBuf,
    /// Results database URL (`sqlite://…` or `postgres://…`).
    pub database_url: String,
    /// Queue URL: `sqlite://FILE` (default `DATA_DIR/queue.db`) or `redis://HOST:PORT/DB`.
    pub queue_url: String,
    /// Namespace of this installation's tasks in the queue; daemons that cooperate share it.
    pub queue_name: String,
    /// Archive URL (`file:///…`, `s3://bucket/prefix?…`), default `file://DATA_DIR/archive`;
    /// `None` when set to `"none"`.
    pub archive_url: Option<String>,
    /// Plugin folder, rescanned when its contents change.
    pub plugin_dir: PathBuf,
    /// The `barwise-runner` executable.
    pub runner: PathBuf,
    /// Tasks executed at once (each in its own runner process).
    pub workers: usize,
    /// This daemon's worker name in the queue, unique across daemons.
    pub worker_name: String,
    /// Bearer token required by every API route except health.
    pub token: String,
    /// Where relative data paths of submitted jobs are resolved (unless the request names one).
    pub base_dir: PathBuf,
    /// Folder of job files with a `schedule`, registered as schedules at start.
    pub schedules_dir: Option<PathBuf>,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Largest grid a job may expand into.
    pub max_runs_per_job: usize,
    /// Worker heartbeat period in the queue.
    pub heartbeat: Duration,
    /// Heartbeats a worker may miss before its tasks are handed to others.
    pub missed_heartbeats: usize,
    /// How often an idle worker looks for tasks.
    pub poll_interval: Duration,
    /// On SIGTERM, how long running tasks may finish before their runners are killed and the
    /// tasks handed back to the queue.
    pub shutdown_grace: Duration,
    /// A tick missed while no daemon ran is still fired at start if it is at most this old.
    pub schedule_catch_up: Duration,
    /// Health thresholds and alerting.
    pub health: HealthConfig,
}

/// Thresholds of `barwise-ops health` and the daemon's alerts.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthConfig {
    /// The newest successful backup older than this is a warning.
    pub backup_warn_age: Duration,
    /// ... and older than this, critical.
    pub backup_critical_age: Duration,
    /// Free disk space under the data folder below this percentage is a warning.
    pub disk_warn_free_percent: f64,
    /// ... and below this, critical.
    pub disk_critical_free_percent: f64,
    /// More unfinished tasks in the queue than this is a warning.
    pub queue_warn_depth: u64,
    /// More runs waiting for the archive than this is a warning.
    pub archive_warn_waiting: i64,
    /// URLs that receive a JSON POST (Slack-compatible `{"text": …}`) on alerts.
    pub alert_webhooks: Vec<String>,
    /// The same alert is sent at most once per this interval.
    pub alert_min_interval: Duration,
    /// How often the daemon runs the health checks to alert on changes.
    pub health_interval: Duration,
}

/// A configuration problem, naming the file and key.
#[derive(Debug, thiserror::Error)]
#[error("{source_name}: {message}")]
pub struct ConfigError {
    /// The file (or `defaults`).
    pub source_name: String,
    /// What is wrong.
    pub message: String,
}

impl Config {
    /// Reads `path` (or uses the defaults when `None`) and validates every key.
    ///
    /// # Errors
    /// [`ConfigError`] naming the file and the key.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let (text, source_name) = match path {
            Some(path) => (
                std::fs::read_to_string(path).map_err(|e| ConfigError {
                    source_name: path.display().to_string(),
                    message: format!("cannot read: {e}"),
                })?,
                path.display().to_string(),
            ),
            None => (String::new(), "defaults".to_owned()),
        };
        Config::parse(&text, &source_name)
    }

    /// Parses and validates configuration text; `source_name` names it in errors.
    ///
    /// # Errors
    /// [`ConfigError`] naming the key.
    pub fn parse(text: &str, source_name: &str) -> Result<Config, ConfigError> {
        let err = |message: String| ConfigError {
            source_name: source_name.to_owned(),
            message,
        };
        let file: File = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        // Every problem is collected and reported at once, each with its key.
        let problems = std::cell::RefCell::new(Vec::<String>::new());
        let problem = |message: String| problems.borrow_mut().push(message);
        let duration = |key: &str, value: &Option<String>, default: &str| {
            let text = value.as_deref().unwrap_or(default);
            barwise_jobs::parse_duration(text)
                .map(Duration::from_millis)
                .unwrap_or_else(|e| {
                    problem(format!("{key}: {e}"));
                    Duration::ZERO
                })
        };
        let percent = |key: &str, value: Option<f64>, default: f64| {
            let v = value.unwrap_or(default);
            if !(0.0..=100.0).contains(&v) {
                problem(format!(
                    "{key}: expected a percentage from 0 to 100, got {v}"
                ));
            }
            v
        };
        let at_least_one = |key: &str, value: usize| {
            if value == 0 {
                problem(format!("{key}: must be at least 1, got 0"));
            }
            value
        };
        if let Some(hooks) = &file.alert_webhooks
            && let Some(bad) = hooks
                .iter()
                .find(|h| !(h.starts_with("http://") || h.starts_with("https://")))
        {
            problem(format!(
                "alert_webhooks: expected http:// or https:// URLs, got {bad:?}"
            ));
        }
        let listen_text = file.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
        let listen = listen_text.parse().unwrap_or_else(|_| {
            problem(format!(
                "listen: expected an address like \"127.0.0.1:8420\", got {listen_text:?}"
            ));
            SocketAddr::from(([127, 0, 0, 1], 8420))
        });
        let data_dir = file
            .data_dir
            .or_else(|| std::env::var_os(barwise_storage::DATA_DIR_ENV).map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from(".barwise"));
        let database_url = file.database_url.unwrap_or_else(|| {
            if std::env::var_os(barwise_storage::DATABASE_URL_ENV).is_some() {
                barwise_storage::default_database_url()
            } else {
                format!("sqlite://{}", data_dir.join("results.db").display())
            }
        });
        let queue_url = file
            .queue_url
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("queue.db").display()));
        if !["sqlite://", "redis://", "memory://"]
            .iter()
            .any(|scheme| queue_url.starts_with(scheme))
        {
            problem(format!(
                "queue_url: expected sqlite://FILE, redis://HOST:PORT/DB or memory://NAME, got {queue_url:?}"
            ));
        }
        let workers = at_least_one("workers", file.workers.unwrap_or_else(default_workers));
        let max_runs_per_job =
            at_least_one("max_runs_per_job", file.max_runs_per_job.unwrap_or(10_000));
        let missed_heartbeats =
            at_least_one("missed_heartbeats", file.missed_heartbeats.unwrap_or(3));
        let token = std::env::var(TOKEN_ENV)
            .ok()
            .filter(|t| !t.is_empty())
            .or(file.token)
            .unwrap_or_default();
        let runner = file.runner.unwrap_or_else(default_runner);
        let archive_url = match file.archive_url.as_deref() {
            Some("none") => None,
            Some(url) => Some(url.to_owned()),
            None => Some(format!(
                "file://{}",
                std::path::absolute(data_dir.join("archive"))
                    .unwrap_or_else(|_| data_dir.join("archive"))
                    .display()
            )),
        };
        let config = Config {
            listen,
            database_url,
            queue_url,
            queue_name: file.queue_name.unwrap_or_else(|| "barwise".to_owned()),
            archive_url,
            plugin_dir: crate::plugin_dir::resolve(file.plugin_dir),
            runner,
            workers,
            worker_name: file.worker_name.unwrap_or_else(default_worker_name),
            token,
            base_dir: file.base_dir.unwrap_or_else(|| PathBuf::from(".")),
            schedules_dir: file.schedules_dir,
            max_body_bytes: file.max_body_bytes.unwrap_or(1 << 20),
            max_runs_per_job,
            heartbeat: duration("heartbeat", &file.heartbeat, "5s"),
            missed_heartbeats,
            poll_interval: duration("poll_interval", &file.poll_interval, "200ms"),
            shutdown_grace: duration("shutdown_grace", &file.shutdown_grace, "30s"),
            schedule_catch_up: duration("schedule_catch_up", &file.schedule_catch_up, "1h"),
            health: HealthConfig {
                backup_warn_age: duration("backup_warn_age", &file.backup_warn_age, "26h"),
                backup_critical_age: duration(
                    "backup_critical_age",
                    &file.backup_critical_age,
                    "50h",
                ),
                disk_warn_free_percent: percent(
                    "disk_warn_free_percent",
                    file.disk_warn_free_percent,
                    10.0,
                ),
                disk_critical_free_percent: percent(
                    "disk_critical_free_percent",
                    file.disk_critical_free_percent,
                    5.0,
                ),
                queue_warn_depth: file.queue_warn_depth.unwrap_or(10_000),
                archive_warn_waiting: file.archive_warn_waiting.unwrap_or(100),
                alert_webhooks: file.alert_webhooks.unwrap_or_default(),
                alert_min_interval: duration("alert_min_interval", &file.alert_min_interval, "5m"),
                health_interval: duration("health_interval", &file.health_interval, "30s"),
            },
            data_dir,
        };
        let problems = problems.into_inner();
        match problems.len() {
            0 => Ok(config),
            1 => Err(err(problems.concat())),
            n => Err(err(format!("{n} problems:\n  {}", problems.join("\n  ")))),
        }
    }

    /// Where a generated token is kept for local clients.
    pub fn token_file(&self) -> PathBuf {
        self.data_dir.join("api-token")
    }
}

/// One worker per core.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// `barwise-runner` next to the running executable.
pub fn default_runner() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("barwise-runner")))
        .unwrap_or_else(|| PathBuf::from("barwise-runner"))
}

/// `HOST-PID-RANDOM`: unique across daemons and across restarts of one daemon, so the queue
/// never confuses a restarted daemon with the dead one whose tasks it must take over.
pub fn default_worker_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{host}-{}-{:08x}", std::process::id(), random_u32())
}

/// Random bits from the kernel.
pub fn random_u32() -> u32 {
    let mut bytes = [0u8; 4];
    if let Ok(mut urandom) = std::fs::File::open("/dev/urandom") {
        let _ = std::io::Read::read_exact(&mut urandom, &mut bytes);
    }
    u32::from_le_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_embedded_setup() {
        let c = Config::parse("data_dir = \"/tmp/bw\"", "test").unwrap();
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(c.queue_url, "sqlite:///tmp/bw/queue.db");
        assert_eq!(c.heartbeat, Duration::from_secs(5));
        assert_eq!(c.poll_interval, Duration::from_millis(200));
        assert!(c.workers >= 1);
    }

    #[test]
    fn errors_name_the_file_and_key() {
        let e = Config::parse("heartbeat = \"5 s\"", "barwise.toml").unwrap_err();
        assert_eq!(
            e.to_string(),
            "barwise.toml: heartbeat: expected a duration like \"30m\" or \"2h\", got \"5 s\""
        );
        let e = Config::parse("colour = 1", "barwise.toml").unwrap_err();
        assert!(e.to_string().contains("unknown field `colour`"), "{e}");
        let e = Config::parse("queue_url = \"amqp://x\"", "b.toml").unwrap_err();
        assert!(
            e.to_string().starts_with("b.toml: queue_url: expected"),
            "{e}"
        );
        let e = Config::parse("workers = 0", "b.toml").unwrap_err();
        assert_eq!(e.to_string(), "b.toml: workers: must be at least 1, got 0");
        // Every problem at once.
        let e = Config::parse(
            "listen = \"x\"\nworkers = 0\nheartbeat = \"soon\"\ndisk_warn_free_percent = 120.0",
            "b.toml",
        )
        .unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("b.toml: 4 problems:\n  "), "{text}");
        for key in [
            "listen:",
            "workers:",
            "heartbeat:",
            "disk_warn_free_percent:",
        ] {
            assert!(text.contains(&format!("\n  {key}")), "{key} in {text}");
        }
    }
}
