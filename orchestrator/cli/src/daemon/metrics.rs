//! `/metrics`: Prometheus text exposition of the daemon, hand-written (a few counters, gauges
//! and one histogram need no library). Names follow Prometheus conventions: `barwise_` prefix,
//! `_total` for counters, base units (seconds) in the name.

use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use super::Daemon;
use crate::health::Check;

/// Upper bounds (seconds) of the run duration histogram's buckets.
const BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0,
];

/// What this daemon counted since it started, and the last health round.
#[derive(Debug, Default)]
pub struct Metrics {
    runs_succeeded: AtomicU64,
    runs_failed: AtomicU64,
    buckets: [AtomicU64; BUCKETS.len()],
    duration_count: AtomicU64,
    duration_sum_ms: AtomicU64,
    /// The last health checks (for `barwise_health_check_status`).
    pub health: Mutex<Vec<Check>>,
}

impl Metrics {
    /// Counts one recorded run and its time in the runner.
    pub fn observe_run(&self, succeeded: bool, elapsed_ms: u64) {
        let counter = if succeeded {
            &self.runs_succeeded
        } else {
            &self.runs_failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let seconds = elapsed_ms as f64 / 1000.0;
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            if seconds <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.duration_count.fetch_add(1, Ordering::Relaxed);
        self.duration_sum_ms
            .fetch_add(elapsed_ms, Ordering::Relaxed);
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// The exposition text. Blocking (database queries).
pub fn render(daemon: &Daemon, queue_depth: Option<u64>) -> String {
    let m = &daemon.metrics;
    let mut out = String::new();
    family(
        &mut out,
        "barwise_jobs",
        "gauge",
        "Jobs in the results database by status.",
    );
    if let Ok(counts) = daemon.store.count_jobs_by_status() {
        for (status, n) in counts {
            let _ = writeln!(out, "barwise_jobs{{status=\"{}\"}} {n}", status.as_str());
        }
    }
    family(
        &mut out,
        "barwise_runs_total",
        "counter",
        "Runs recorded by this daemon's workers since it started, by outcome.",
    );
    let _ = writeln!(
        out,
        "barwise_runs_total{{outcome=\"succeeded\"}} {}",
        m.runs_succeeded.load(Ordering::Relaxed)
    );
    let _ = writeln!(
        out,
        "barwise_runs_total{{outcome=\"failed\"}} {}",
        m.runs_failed.load(Ordering::Relaxed)
    );
    family(
        &mut out,
        "barwise_run_duration_seconds",
        "histogram",
        "Time a run spent computing in its runner process.",
    );
    for (bound, bucket) in BUCKETS.iter().zip(&m.buckets) {
        let _ = writeln!(
            out,
            "barwise_run_duration_seconds_bucket{{le=\"{bound}\"}} {}",
            bucket.load(Ordering::Relaxed)
        );
    }
    let count = m.duration_count.load(Ordering::Relaxed);
    let _ = writeln!(
        out,
        "barwise_run_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
    );
    let _ = writeln!(
        out,
        "barwise_run_duration_seconds_sum {}",
        m.duration_sum_ms.load(Ordering::Relaxed) as f64 / 1000.0
    );
    let _ = writeln!(out, "barwise_run_duration_seconds_count {count}");
    if let Some(depth) = queue_depth {
        family(
            &mut out,
            "barwise_queue_depth",
            "gauge",
            "Unfinished tasks in the queue.",
        );
        let _ = writeln!(out, "barwise_queue_depth {depth}");
    }
    family(
        &mut out,
        "barwise_workers_busy",
        "gauge",
        "Tasks running in this daemon.",
    );
    let _ = writeln!(out, "barwise_workers_busy {}", daemon.busy_workers());
    family(
        &mut out,
        "barwise_workers",
        "gauge",
        "Tasks this daemon runs at once.",
    );
    let _ = writeln!(out, "barwise_workers {}", daemon.config.workers);
    family(
        &mut out,
        "barwise_archive_backlog_runs",
        "gauge",
        "Runs recorded but not yet archived.",
    );
    if let Ok(n) = daemon.store.count_runs_pending_archive(None) {
        let _ = writeln!(out, "barwise_archive_backlog_runs {n}");
    }
    family(
        &mut out,
        "barwise_health_check_status",
        "gauge",
        "Last health check result: 0 ok, 1 warning, 2 critical.",
    );
    if let Ok(checks) = m.health.lock() {
        for c in checks.iter() {
            let _ = writeln!(
                out,
                "barwise_health_check_status{{check=\"{}\"}} {}",
                c.name, c.status as u8
            );
        }
    }
    out
}
