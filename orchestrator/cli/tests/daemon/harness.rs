//! A real `barwise serve` process for tests: its own data folder, a free port, a fixed token,
//! short heartbeats; HTTP helpers; backends (SQLite files, or the machine's PostgreSQL and
//! Redis with a fresh database and queue namespace per test).

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const TOKEN: &str = "test-token";

/// Where results and tasks go.
#[derive(Debug, Clone)]
pub struct Backend {
    pub database_url: String,
    pub queue_url: String,
    pub queue_name: String,
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        nanos % 1_000_000_000_000
    )
}

impl Backend {
    /// SQLite results and queue files in `dir`.
    pub fn sqlite(dir: &Path) -> Backend {
        Backend {
            database_url: format!("sqlite://{}", dir.join("results.db").display()),
            queue_url: format!("sqlite://{}", dir.join("queue.db").display()),
            queue_name: "barwise".to_owned(),
        }
    }

    /// A fresh PostgreSQL database (migrated) and a fresh Redis namespace, or `None` (after a
    /// loud skip message, or a panic under BARWISE_REQUIRE_SERVICES=1) when either is missing.
    pub fn postgres_redis() -> Option<Backend> {
        let admin = std::env::var("BARWISE_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
        let redis_url = std::env::var("BARWISE_TEST_REDIS_URL")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_owned());
        let redis_up = std::net::TcpStream::connect_timeout(
            &"127.0.0.1:6379".parse().unwrap(),
            Duration::from_secs(2),
        )
        .is_ok();
        if !barwise_test_support::require_or_skip("Redis at 127.0.0.1:6379", redis_up) {
            return None;
        }
        let name = unique("barwise_daemon");
        let created = Command::new("psql")
            .arg(&admin)
            .args(["-v", "ON_ERROR_STOP=1", "-q", "-c"])
            .arg(format!("CREATE DATABASE {name}"))
            .output()
            .is_ok_and(|o| o.status.success());
        if !barwise_test_support::require_or_skip("PostgreSQL (psql) at 127.0.0.1:5432", created) {
            return None;
        }
        let (base, _) = admin.rsplit_once('/').unwrap();
        let database_url = format!("{base}/{name}");
        barwise_storage::Store::connect(&database_url)
            .and_then(|s| s.migrate_run().map(|_| ()))
            .expect("migrating the test database");
        Some(Backend {
            database_url,
            queue_url: redis_url,
            queue_name: unique("barwise-test"),
        })
    }
}

/// A running daemon.
pub struct Daemon {
    pub child: Child,
    pub base: String,
    pub log: Arc<Mutex<String>>,
    pub config: PathBuf,
    http: reqwest::blocking::Client,
}

/// Writes the config of a daemon with data in `data_dir` and starts it.
pub fn start(data_dir: &Path, plugins: &Path, backend: &Backend, extra: &str) -> Daemon {
    std::fs::create_dir_all(data_dir).unwrap();
    let config = data_dir.join(format!("{}.toml", unique("barwise")));
    let runner = PathBuf::from(env!("CARGO_BIN_EXE_barwise-runner"));
    let mut table: toml::Table = toml::from_str(&format!(
        "listen = \"127.0.0.1:0\"\ntoken = \"{TOKEN}\"\nworkers = 2\nheartbeat = \"1s\"\n\
         missed_heartbeats = 2\npoll_interval = \"50ms\"\nshutdown_grace = \"2s\"\n"
    ))
    .unwrap();
    for (key, value) in [
        ("data_dir", data_dir.display().to_string()),
        ("plugin_dir", plugins.display().to_string()),
        ("runner", runner.display().to_string()),
        ("database_url", backend.database_url.clone()),
        ("queue_url", backend.queue_url.clone()),
        ("queue_name", backend.queue_name.clone()),
    ] {
        table.insert(key.to_owned(), toml::Value::String(value));
    }
    // `extra` overrides the test defaults.
    let extra: toml::Table = toml::from_str(extra).expect("extra daemon settings");
    table.extend(extra);
    std::fs::write(&config, toml::to_string(&table).unwrap()).unwrap();
    spawn(&config)
}

/// Starts `barwise serve --config CONFIG` and waits until it listens.
pub fn spawn(config: &Path) -> Daemon {
    let mut child = Command::new(env!("CARGO_BIN_EXE_barwise"))
        .args(["serve", "--config"])
        .arg(config)
        .env("RUST_LOG", "info,barwise=debug")
        .env_remove("BARWISE_API_TOKEN")
        .env_remove("DATABASE_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting barwise serve");
    let log = Arc::new(Mutex::new(String::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    let sink = Arc::clone(&log);
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Some(addr) = line.strip_prefix("barwise serve: listening on ") {
                let _ = tx.send(addr.to_owned());
            }
            let mut log = sink.lock().unwrap();
            log.push_str(&line);
            log.push('\n');
        }
    });
    let base = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(addr) => addr,
        Err(_) => {
            let _ = child.kill();
            panic!("daemon did not start:\n{}", log.lock().unwrap());
        }
    };
    Daemon {
        child,
        base,
        log,
        config: config.to_owned(),
        http: reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap(),
    }
}

impl Daemon {
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    pub fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, &str)>,
    ) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some((content_type, body)) = body {
            request = request
                .header("content-type", content_type)
                .body(body.to_owned());
        }
        let response = request.send().expect("request to the daemon");
        let status = response.status().as_u16();
        let text = response.text().unwrap();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    pub fn get(&self, path: &str) -> Value {
        let (status, value) = self.request(reqwest::Method::GET, path, Some(TOKEN), None);
        assert_eq!(status, 200, "GET {path}: {value}");
        value
    }

    /// Submits a TOML job; relative data paths resolve against `base_dir`.
    pub fn submit(&self, toml: &str, base_dir: &Path) -> Value {
        let path = format!("/api/v1/jobs?base_dir={}", base_dir.display());
        let (status, value) = self.request(
            reqwest::Method::POST,
            &path,
            Some(TOKEN),
            Some(("application/toml", toml)),
        );
        assert_eq!(status, 202, "submit: {value}\n{}", self.log());
        value
    }

    /// Polls the job until `done` holds for it (at most `limit`).
    pub fn wait_job(&self, id: &str, limit: Duration, done: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        loop {
            let job = self.get(&format!("/api/v1/jobs/{id}"));
            if done(&job) {
                return job;
            }
            assert!(
                start.elapsed() < limit,
                "job {id} still {job} after {limit:?}\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Polls until the job is completed, failed or cancelled.
    pub fn wait_final(&self, id: &str, limit: Duration) -> Value {
        self.wait_job(id, limit, |j| {
            matches!(
                j["status"].as_str(),
                Some("completed" | "failed" | "cancelled")
            )
        })
    }

    /// `kill -9`.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for the exit (at most `limit`).
    pub fn terminate(&mut self, limit: Duration) -> ExitStatus {
        let pid = rustix::process::Pid::from_child(&self.child);
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                start.elapsed() < limit,
                "daemon did not stop within {limit:?}\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Runner processes that are children of this daemon.
    pub fn runner_children(&self) -> Vec<u32> {
        children_named(self.child.id(), "barwise-runner")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Pids of processes whose parent is `parent` and whose command name is `name`.
pub fn children_named(parent: u32, name: &str) -> Vec<u32> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = &stat[open + 1..close];
        let ppid = stat[close + 2..]
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(parent) && comm == &name[..name.len().min(15)] {
            found.push(pid);
        }
    }
    found
}

/// A job file with one strategy over the bundled ETH/BTC and LTC/BTC candles.
pub fn job_toml(name: &str, strategy: &str, params: &str, extra_job: &str) -> String {
    let eth = barwise_test_support::data_file("ETH_BTC-5m.csv");
    let ltc = barwise_test_support::data_file("LTC_BTC-5m.csv");
    format!(
        "[job]\nname = \"{name}\"\n{extra_job}\n\n[data.symbols]\n\"ETH/BTC\" = {:?}\n\"LTC/BTC\" = {:?}\n\n\
         [[strategies]]\nplugin = \"{strategy}\"\nparams = {{ {params} }}\n",
        eth.display().to_string(),
        ltc.display().to_string(),
    )
}
