//! Daemon throughput, end to end through the real binaries (optimised), on the embedded
//! defaults and on PostgreSQL + Redis:
//!
//! 1. a job of 1,000 small runs (10,000 candles each): wall time from submission to the job
//!    completed, and the queue and bookkeeping overhead per run (wall time x workers / runs,
//!    minus the mean time a run spends in its runner);
//! 2. a 100-run sweep over 1,000,000 candles: CPU used by the runner processes against wall
//!    time x cores, i.e. whether both cores are kept busy.
//!
//! `cargo bench -p barwise --bench daemon`. Results go to docs/BENCHMARKS.md.

#[path = "../tests/daemon/harness.rs"]
#[allow(
    dead_code,
    reason = "the test harness has helpers this benchmark does not use"
)]
mod harness;

use std::path::Path;
use std::time::{Duration, Instant};

use harness::{Backend, Daemon, start};

const LIMIT: Duration = Duration::from_secs(600);

/// Seconds of CPU used by the process (`children = false`) or its finished children (the
/// runners).
fn cpu_seconds(pid: u32, children: bool) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rfind(')').map_or("", |i| &stat[i + 2..]);
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime, stime (fields 14, 15 of stat) or cutime, cstime (16, 17), counted from 1 with pid
    // and comm first.
    let at = if children { [13, 14] } else { [11, 12] };
    let ticks: f64 = at
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|f| f.parse::<f64>().ok()))
        .sum();
    ticks / 100.0
}

fn write_candles(dir: &Path, name: &str, n: usize, seed: u64) -> String {
    let path = dir.join(name);
    let candles = barwise_test_support::synthetic_candles(n, seed);
    barwise_data::write_candles_csv(&candles, &path).expect("writing candles");
    path.display().to_string()
}

fn run_job(daemon: &Daemon, toml: &str, dir: &Path) -> (Duration, serde_json::Value) {
    let started = Instant::now();
    let id = daemon.submit(toml, dir)["id"].as_str().unwrap().to_owned();
    let done = daemon.wait_final(&id, LIMIT);
    (started.elapsed(), done)
}

fn small_runs(label: &str, backend: &Backend, plugins: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let data = write_candles(dir.path(), "small.csv", 10_000, 7);
    let daemon = start(
        &dir.path().join("daemon"),
        plugins,
        backend,
        // The production defaults, not the tests' short ones.
        "poll_interval = \"200ms\"\nheartbeat = \"5s\"\nmissed_heartbeats = 3",
    );
    let fast: Vec<String> = (2..42).map(|v| v.to_string()).collect();
    let slow: Vec<String> = (50..75).map(|v| v.to_string()).collect();
    let toml = format!(
        "[job]\nname = \"small-runs\"\n\n[data.symbols]\n\"SYN\" = {data:?}\n\n[[strategies]]\n\
         plugin = \"sma_cross\"\nparams = {{ fast = [{}], slow = [{}] }}\n",
        fast.join(", "),
        slow.join(", ")
    );
    let (wall, done) = run_job(&daemon, &toml, dir.path());
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["runs"]["succeeded"], 1000, "{done}");
    let id = done["id"].as_str().unwrap();
    let runs = daemon.get(&format!("/api/v1/jobs/{id}/runs?limit=10000"))["runs"]
        .as_array()
        .unwrap()
        .clone();
    let in_runner_ms: f64 = runs
        .iter()
        .map(|r| (r["finished_ms"].as_i64().unwrap() - r["started_ms"].as_i64().unwrap()) as f64)
        .sum::<f64>()
        / runs.len() as f64;
    let workers = 2.0;
    let per_run_ms = wall.as_secs_f64() * 1000.0 * workers / runs.len() as f64;
    println!(
        "{label}: 1,000 runs x 10,000 candles: {:.2} s end to end (target < 10 s); \
         {per_run_ms:.2} ms of worker time per run, of which {in_runner_ms:.2} ms in the runner: \
         overhead {:.2} ms per run (target < 5 ms)",
        wall.as_secs_f64(),
        per_run_ms - in_runner_ms
    );
}

fn big_sweep(plugins: &Path, workers: usize) {
    let dir = tempfile::tempdir().unwrap();
    let data = write_candles(dir.path(), "big.csv", 1_000_000, 11);
    let backend = Backend::sqlite(dir.path());
    let daemon = start(
        &dir.path().join("daemon"),
        plugins,
        &backend,
        &format!("workers = {workers}"),
    );
    let fast: Vec<String> = (2..12).map(|v| v.to_string()).collect();
    let slow: Vec<String> = (50..60).map(|v| v.to_string()).collect();
    let toml = format!(
        "[job]\nname = \"big-sweep\"\n\n[data.symbols]\n\"SYN\" = {data:?}\n\n[[strategies]]\n\
         plugin = \"sma_cross\"\nparams = {{ fast = [{}], slow = [{}] }}\n",
        fast.join(", "),
        slow.join(", ")
    );
    let pid = daemon.child.id();
    let (runners_before, daemon_before) = (cpu_seconds(pid, true), cpu_seconds(pid, false));
    let (wall, done) = run_job(&daemon, &toml, dir.path());
    let runners = cpu_seconds(pid, true) - runners_before;
    let own = cpu_seconds(pid, false) - daemon_before;
    let cpu = runners + own;
    assert_eq!(done["runs"]["succeeded"], 100, "{done}");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let trades: i64 = daemon.get(&format!(
        "/api/v1/jobs/{}/runs?limit=10000",
        done["id"].as_str().unwrap()
    ))["runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["trade_count"].as_i64())
        .sum();
    println!(
        "sqlite, {workers} workers: 100 runs x 1,000,000 candles ({trades} trades stored): {:.2} s; CPU {cpu:.2} s \
         (runners {runners:.2} s, daemon {own:.2} s) = {:.0} % of {cores} cores over the job",
        wall.as_secs_f64(),
        100.0 * cpu / (wall.as_secs_f64() * cores)
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this file too: skip there.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let plugins = barwise_test_support::built_plugins_release();
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("plugins");
    std::fs::create_dir_all(&folder).unwrap();
    for name in barwise_test_support::REAL_PLUGINS {
        let file = barwise_test_support::library_file_name(name);
        std::fs::copy(plugins.join(&file), folder.join(&file)).unwrap();
    }
    let sqlite_dir = tempfile::tempdir().unwrap();
    small_runs("sqlite", &Backend::sqlite(sqlite_dir.path()), &folder);
    if let Some(backend) = Backend::postgres_redis() {
        small_runs("postgres+redis", &backend, &folder);
    }
    big_sweep(&folder, 2);
    big_sweep(&folder, 3);
}
