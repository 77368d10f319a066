//! `barwise serve` end to end: the real daemon binary, real runner processes and plugins, real
//! signals, on the embedded SQLite defaults and on the machine's PostgreSQL and Redis.

mod harness;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use barwise_test_support::{REAL_PLUGINS, plugin_dir, workspace_root};
use harness::{Backend, Daemon, TOKEN, job_toml, start};
use reqwest::Method;
use serde_json::Value;

const LONG: Duration = Duration::from_secs(120);

fn cli(daemon: &Daemon, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_barwise"))
        .args(args)
        .args(["--server", &daemon.base, "--token", TOKEN])
        .output()
        .expect("running the barwise client")
}

fn out(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Every run of the job, best first by Sharpe.
fn runs_of(daemon: &Daemon, id: &str) -> Vec<Value> {
    daemon.get(&format!("/api/v1/jobs/{id}/runs?limit=10000"))["runs"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn quickstart_and_sweep_through_the_clients() {
    let plugins = plugin_dir(&REAL_PLUGINS);
    let dir = tempfile::tempdir().unwrap();
    let daemon = start(dir.path(), plugins.path(), &Backend::sqlite(dir.path()), "");
    let quickstart = workspace_root().join("config/jobs/quickstart.toml");
    let submitted = cli(&daemon, &["submit", quickstart.to_str().unwrap(), "--wait"]);
    assert!(
        submitted.status.success(),
        "{}\n{}",
        out(&submitted),
        daemon.log()
    );
    assert!(
        out(&submitted).contains("completed: 2/2 runs done (0 failed)"),
        "{}",
        out(&submitted)
    );

    let sweep = workspace_root().join("config/jobs/sweep.toml");
    let submitted = cli(&daemon, &["submit", sweep.to_str().unwrap(), "--json"]);
    assert!(submitted.status.success(), "{}", out(&submitted));
    let job: Value = serde_json::from_slice(&submitted.stdout).unwrap();
    let id = job["id"].as_str().unwrap().to_owned();
    assert_eq!(job["status"], "queued");
    let done = daemon.wait_final(&id, LONG);
    assert_eq!(done["status"], "completed", "{done}");
    let total = done["runs"]["total"].as_i64().unwrap();
    assert!(total >= 4 && done["runs"]["succeeded"] == total, "{done}");
    assert_eq!(done["progress"], 1.0);
    // Every log line of a run's work names its job and run.
    let log = daemon.log();
    let recorded: Vec<&str> = log.lines().filter(|l| l.contains("run recorded")).collect();
    assert!(recorded.len() as i64 >= total, "{log}");
    assert!(
        recorded
            .iter()
            .filter(|l| l.contains(&id))
            .all(|l| l.contains(&format!("job_id={id}")) && l.contains("run_id=")),
        "{recorded:?}"
    );

    let listed = cli(&daemon, &["list"]);
    assert!(listed.status.success(), "{}", out(&listed));
    assert!(
        out(&listed).contains(&id) && out(&listed).contains("quickstart"),
        "{}",
        out(&listed)
    );
    let status = cli(&daemon, &["status", &id]);
    assert!(
        out(&status).contains(&format!("{id} completed")),
        "{}",
        out(&status)
    );
    let results = cli(&daemon, &["results", &id, "--top", "3"]);
    assert!(results.status.success(), "{}", out(&results));
    assert!(
        out(&results).contains("best 3 by sharpe"),
        "{}",
        out(&results)
    );

    // Ranked, each run with its parameters; one run with its trades.
    let runs = runs_of(&daemon, &id);
    assert_eq!(runs.len() as i64, total);
    let sharpe: Vec<f64> = runs.iter().filter_map(|r| r["sharpe"].as_f64()).collect();
    assert!(sharpe.windows(2).all(|w| w[0] >= w[1]), "{sharpe:?}");
    let best = &runs[0];
    assert!(best["params"].is_object(), "{best}");
    let run = daemon.get(&format!("/api/v1/runs/{}", best["id"].as_str().unwrap()));
    assert_eq!(
        run["trades"].as_array().unwrap().len() as i64,
        run["trade_count"].as_i64().unwrap()
    );
    // The reports, served as HTML.
    for path in [
        format!("/api/v1/jobs/{id}/report"),
        format!("/api/v1/runs/{}/report", best["id"].as_str().unwrap()),
    ] {
        let (status, page) = daemon.request(Method::GET, &path, Some(TOKEN), None);
        let page = page.as_str().unwrap_or_default().to_owned();
        assert_eq!(status, 200, "{path}: {page}");
        assert!(page.starts_with("<!DOCTYPE html>"), "{path}");
    }
}

#[test]
fn the_api_requires_the_token_and_reports_errors_as_json() {
    let plugins = plugin_dir(&REAL_PLUGINS);
    let dir = tempfile::tempdir().unwrap();
    let daemon = start(
        dir.path(),
        plugins.path(),
        &Backend::sqlite(dir.path()),
        "max_body_bytes = 4096",
    );
    for token in [None, Some("wrong")] {
        for (method, path) in [
            (Method::GET, "/api/v1/jobs"),
            (Method::POST, "/api/v1/jobs"),
            (Method::GET, "/api/v1/plugins"),
            (Method::GET, "/api/v1/schedules"),
            (Method::POST, "/api/v1/jobs/x/cancel"),
        ] {
            let (status, body) = daemon.request(method.clone(), path, token, None);
            assert_eq!(status, 401, "{method} {path} with {token:?}");
            assert!(body["error"].as_str().unwrap().contains("token"), "{body}");
        }
    }
    // Only the document itself is open: a path that merely ends like it is not.
    let (status, _) = daemon.request(Method::DELETE, "/api/v1/schedules/openapi.json", None, None);
    assert_eq!(status, 401);
    let (status, _) = daemon.request(Method::GET, "/api/v1/jobs/openapi.json", None, None);
    assert_eq!(status, 401);
    // Health and the API description need no token.
    for path in ["/livez", "/readyz", "/api/v1/openapi.json"] {
        let (status, body) = daemon.request(Method::GET, path, None, None);
        assert_eq!(status, 200, "{path}: {body}");
    }
    // Every route the OpenAPI document describes exists, with its method.
    let (_, spec) = daemon.request(Method::GET, "/api/v1/openapi.json", None, None);
    let paths = spec["paths"].as_object().unwrap();
    assert!(paths.len() >= 14, "{} paths", paths.len());
    for (path, operations) in paths {
        for method in operations.as_object().unwrap().keys() {
            let concrete = path.replace("{id}", "nope").replace("{name}", "nope");
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let (status, body) = daemon.request(method.clone(), &concrete, Some(TOKEN), None);
            assert_ne!(status, 405, "{method} {path}");
            assert!(
                !(status == 404 && body["error"] == "no such route"),
                "{method} {path} is documented but not served"
            );
        }
    }
    let (_, ready) = daemon.request(Method::GET, "/readyz", None, None);
    assert_eq!(ready["checks"]["database"]["ok"], true);
    assert_eq!(ready["checks"]["queue"]["ok"], true);
    let (status, missing) = daemon.request(Method::GET, "/api/v1/jobs/nope", Some(TOKEN), None);
    assert_eq!(status, 404, "{missing}");
    assert!(missing["error"].as_str().unwrap().contains("nope"));
    let big = "#".repeat(10_000);
    let (status, too_big) = daemon.request(
        Method::POST,
        "/api/v1/jobs",
        Some(TOKEN),
        Some(("application/toml", &big)),
    );
    assert_eq!(status, 413, "{too_big}");
    assert!(
        too_big["error"]
            .as_str()
            .unwrap()
            .contains("max_body_bytes")
    );
    let (status, bad) = daemon.request(
        Method::GET,
        "/api/v1/jobs?status=sleeping",
        Some(TOKEN),
        None,
    );
    assert_eq!(status, 400);
    assert!(bad["error"].as_str().unwrap().contains("sleeping"));
}

#[test]
fn an_invalid_job_gets_every_problem_back_and_nothing_is_queued() {
    let plugins = plugin_dir(&REAL_PLUGINS);
    let dir = tempfile::tempdir().unwrap();
    let daemon = start(dir.path(), plugins.path(), &Backend::sqlite(dir.path()), "");
    let bad = "[job]\nname = \"bad\"\ntimeout = \"soon\"\ncolour = 1\n\n[data.symbols]\n\
               \"ETH/BTC\" = \"missing.csv\"\n\n[[strategies]]\nplugin = \"nope\"\n\n\
               [[strategies]]\nplugin = \"sma_cross\"\nparams = { fast = 0 }\n";
    let (status, body) = daemon.request(
        Method::POST,
        "/api/v1/jobs",
        Some(TOKEN),
        Some(("application/toml", bad)),
    );
    assert_eq!(status, 422, "{body}");
    let paths: Vec<&str> = body["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    for expected in [
        "data.symbols.\"ETH/BTC\"",
        "job.colour",
        "job.timeout",
        "strategies[0].plugin",
        "strategies[1].params.fast",
    ] {
        assert!(paths.contains(&expected), "{expected} missing in {paths:?}");
    }
    assert_eq!(
        daemon.get("/api/v1/jobs")["jobs"].as_array().unwrap().len(),
        0
    );
    // The client prints them all and fails.
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, bad).unwrap();
    let submitted = cli(&daemon, &["submit", file.to_str().unwrap()]);
    assert_eq!(submitted.status.code(), Some(1));
    assert!(
        out(&submitted).contains("strategies[1].params.fast: must be >= "),
        "{}",
        out(&submitted)
    );

    // The same job as JSON is accepted once fixed.
    let json = serde_json::json!({
        "job": { "name": "as-json" },
        "data": { "symbols": { "ETH/BTC": barwise_test_support::data_file("ETH_BTC-5m.csv") } },
        "strategies": [ { "plugin": "sma_cross", "params": { "fast": [5, 10], "slow": 30 } } ],
    });
    let (status, job) = daemon.request(
        Method::POST,
        "/api/v1/jobs",
        Some(TOKEN),
        Some(("application/json", &json.to_string())),
    );
    assert_eq!(status, 202, "{job}");
    let done = daemon.wait_final(job["id"].as_str().unwrap(), LONG);
    assert_eq!(done["runs"]["succeeded"], 2, "{done}");
}

#[test]
fn a_crashing_plugin_fails_only_its_runs() {
    let plugins = plugin_dir(&["sma_cross", "test_plugin_crashing"]);
    let dir = tempfile::tempdir().unwrap();
    let daemon = start(dir.path(), plugins.path(), &Backend::sqlite(dir.path()), "");
    let mut job = job_toml("crashes", "test_crashing", "mode = [0, 1, 2]", "");
    job.push_str("\n[[strategies]]\nplugin = \"sma_cross\"\n");
    let id = daemon.submit(&job, dir.path())["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let done = daemon.wait_final(&id, LONG);
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["runs"]["total"], 8);
    assert_eq!(
        done["runs"]["failed"], 4,
        "modes 1 and 2 on two symbols: {done}"
    );
    let runs = runs_of(&daemon, &id);
    let errors: Vec<String> = runs
        .iter()
        .filter(|r| r["status"] == "failed")
        .map(|r| r["error"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        errors.iter().filter(|e| e.contains("SIGSEGV")).count(),
        2,
        "{errors:?}"
    );
    assert_eq!(
        errors.iter().filter(|e| e.contains("SIGABRT")).count(),
        2,
        "{errors:?}"
    );
}

#[test]
fn cancel_kills_running_runners_within_a_second_and_keeps_finished_runs() {
    let plugins = plugin_dir(&["test_plugin_crashing"]);
    let dir = tempfile::tempdir().unwrap();
    let daemon = start(dir.path(), plugins.path(), &Backend::sqlite(dir.path()), "");
    // One quick run per symbol, then runs that hang for a minute.
    let job = job_toml("to-cancel", "test_crashing", "mode = [0, 3]", "");
    let id = daemon.submit(&job, dir.path())["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let running = daemon.wait_job(&id, LONG, |j| {
        j["status"] == "running" && j["runs"]["succeeded"].as_i64() >= Some(1)
    });
    assert_eq!(running["runs"]["failed"], 0);
    let deadline = Instant::now() + Duration::from_secs(30);
    while daemon.runner_children().is_empty() {
        assert!(
            Instant::now() < deadline,
            "no runner started\n{}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let cancelled_at = Instant::now();
    let cancel = cli(&daemon, &["cancel", &id]);
    assert!(cancel.status.success(), "{}", out(&cancel));
    assert!(out(&cancel).contains("cancelled"), "{}", out(&cancel));
    while !daemon.runner_children().is_empty() {
        assert!(
            cancelled_at.elapsed() < Duration::from_secs(1),
            "runners still alive 1 s after cancel: {:?}",
            daemon.runner_children()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(500));
    let job = daemon.get(&format!("/api/v1/jobs/{id}"));
    assert_eq!(job["status"], "cancelled", "{job}");
    let runs = runs_of(&daemon, &id);
    assert!(runs.iter().all(|r| r["status"] == "succeeded"), "{runs:?}");
    assert!(
        !runs.is_empty() && runs.len() < 4,
        "finished runs kept, hanging ones absent"
    );
    // Cancelling again is a conflict only if the job had ended otherwise.
    let (status, _) = daemon.request(
        Method::POST,
        &format!("/api/v1/jobs/{id}/cancel"),
        Some(TOKEN),
        None,
    );
    assert_eq!(status, 200);
}

#[test]
fn a_job_past_its_timeout_fails_and_its_runners_die() {
    let plugins = plugin_dir(&["test_plugin_crashing"]);
    let dir = tempfile::tempdir().unwrap();
    let daemon = start(dir.path(), plugins.path(), &Backend::sqlite(dir.path()), "");
    // 18 hanging runs: three tasks, two running when the timeout comes, one not started.
    let job = job_toml(
        "slow",
        "test_crashing",
        "mode = 3, sleep_ms = [0, 1, 2, 3, 4, 5, 6, 7, 8]",
        "timeout = \"2s\"",
    );
    let id = daemon.submit(&job, dir.path())["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let done = daemon.wait_final(&id, Duration::from_secs(30));
    assert_eq!(done["status"], "failed", "{done}");
    assert!(
        done["error"]
            .as_str()
            .unwrap()
            .contains("timed out after 2000 ms"),
        "{done}"
    );
    // Every run has a result, the timeout, including those of the task that never started.
    let done = daemon.wait_job(&id, Duration::from_secs(30), |j| j["runs"]["failed"] == 18);
    assert_eq!(done["runs"]["pending"], 0, "{done}");
    let runs = runs_of(&daemon, &id);
    assert!(
        runs.iter().all(|r| r["error"]
            .as_str()
            .unwrap()
            .contains("job timed out after 2000 ms")),
        "{runs:?}"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(daemon.runner_children().is_empty());
}

/// A job of `n` runs that take about 300 ms each.
fn slow_job(name: &str, n: usize) -> String {
    let sleeps: Vec<String> = (0..n / 2).map(|i| (300 + i).to_string()).collect();
    job_toml(
        name,
        "test_crashing",
        &format!("mode = 0, sleep_ms = [{}]", sleeps.join(", ")),
        "",
    )
}

/// Each run key of the job has exactly one result, and all succeeded.
fn assert_exactly_one_result_per_run(daemon: &Daemon, id: &str, n: usize) {
    let runs = runs_of(daemon, id);
    let mut keys: BTreeMap<String, usize> = BTreeMap::new();
    for run in &runs {
        *keys
            .entry(run["run_key"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    assert_eq!(keys.len(), n, "every run has a result");
    assert!(keys.values().all(|&c| c == 1), "{keys:?}");
    assert!(runs.iter().all(|r| r["status"] == "succeeded"), "{runs:?}");
    let job = daemon.get(&format!("/api/v1/jobs/{id}"));
    assert_eq!(job["runs"]["succeeded"], n, "{job}");
    assert_eq!(job["runs"]["failed"], 0, "{job}");
}

fn kill_nine_mid_job_then_restart(backend: &Backend) {
    let plugins = plugin_dir(&["test_plugin_crashing"]);
    let dir = tempfile::tempdir().unwrap();
    let mut daemon = start(dir.path(), plugins.path(), backend, "");
    let n = 24;
    let id = daemon.submit(&slow_job("crash-safety", n), dir.path())["id"]
        .as_str()
        .unwrap()
        .to_owned();
    daemon.wait_job(&id, LONG, |j| j["runs"]["succeeded"].as_i64() >= Some(3));
    daemon.kill9();
    // Killed mid-job: some runs recorded, not all.
    let store = barwise_storage::Store::connect(&backend.database_url).unwrap();
    let job = store.job(&id).unwrap();
    assert_eq!(job.status, "running");
    assert!(
        job.runs_succeeded >= 3 && (job.runs_succeeded as usize) < n,
        "{job:?}"
    );
    // A new process (a new worker name): the dead worker's tasks are handed over after its
    // heartbeats stop (1 s x 2).
    let config = daemon.config.clone();
    drop(daemon);
    let daemon = harness::spawn(&config);
    let done = daemon.wait_final(&id, LONG);
    assert_eq!(done["status"], "completed", "{done}\n{}", daemon.log());
    assert_exactly_one_result_per_run(&daemon, &id, n);
}

#[test]
fn kill_nine_mid_job_on_sqlite_leaves_exactly_one_result_per_run() {
    let dir = tempfile::tempdir().unwrap();
    kill_nine_mid_job_then_restart(&Backend::sqlite(dir.path()));
}

#[test]
fn kill_nine_mid_job_on_redis_and_postgres_leaves_exactly_one_result_per_run() {
    if let Some(backend) = Backend::postgres_redis() {
        kill_nine_mid_job_then_restart(&backend);
    }
}

#[test]
fn sigterm_stops_gracefully_and_the_job_finishes_after_restart() {
    let plugins = plugin_dir(&["test_plugin_crashing"]);
    let dir = tempfile::tempdir().unwrap();
    let mut daemon = start(dir.path(), plugins.path(), &Backend::sqlite(dir.path()), "");
    let n = 24;
    let id = daemon.submit(&slow_job("graceful", n), dir.path())["id"]
        .as_str()
        .unwrap()
        .to_owned();
    daemon.wait_job(&id, LONG, |j| j["runs"]["succeeded"].as_i64() >= Some(2));
    let status = daemon.terminate(Duration::from_secs(30));
    assert!(status.success(), "{status:?}\n{}", daemon.log());
    assert!(daemon.log().contains("shutting down"), "{}", daemon.log());
    let config = daemon.config.clone();
    drop(daemon);
    let daemon = harness::spawn(&config);
    let done = daemon.wait_final(&id, LONG);
    assert_eq!(done["status"], "completed", "{done}");
    assert_exactly_one_result_per_run(&daemon, &id, n);
}

#[test]
fn plugins_dropped_into_the_folder_are_usable_without_a_restart() {
    let plugins = plugin_dir(&["sma_cross"]);
    let dir = tempfile::tempdir().unwrap();
    let daemon = start(dir.path(), plugins.path(), &Backend::sqlite(dir.path()), "");
    let listed = daemon.get("/api/v1/plugins");
    assert_eq!(listed["plugins"].as_array().unwrap().len(), 1, "{listed}");
    let job = job_toml("vzb", "volume_zone_breakout", "", "");
    let (status, refused) = daemon.request(
        Method::POST,
        "/api/v1/jobs",
        Some(TOKEN),
        Some(("application/toml", &job)),
    );
    assert_eq!(status, 422, "{refused}");
    for name in ["volume_zone_breakout", "test_plugin_not_a_plugin"] {
        let file = barwise_test_support::library_file_name(name);
        std::fs::copy(
            barwise_test_support::built_plugins().join(&file),
            plugins.path().join(&file),
        )
        .unwrap();
    }
    let listed = daemon.get("/api/v1/plugins");
    assert_eq!(listed["plugins"].as_array().unwrap().len(), 2, "{listed}");
    let rejected = listed["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 1, "{listed}");
    assert!(!rejected[0]["reason"].as_str().unwrap().is_empty());
    let id = daemon.submit(&job, Path::new("."))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let done = daemon.wait_final(&id, LONG);
    assert_eq!(done["runs"]["succeeded"], 2, "{done}");
}

fn cron_with_two_daemons(backend: &Backend) {
    let plugins = plugin_dir(&REAL_PLUGINS);
    let dir = tempfile::tempdir().unwrap();
    let a = start(&dir.path().join("a"), plugins.path(), backend, "");
    let b = start(&dir.path().join("b"), plugins.path(), backend, "");
    let job = job_toml(
        "every-second",
        "sma_cross",
        "",
        "schedule = \"* * * * * *\"",
    );
    let (status, schedule) = a.request(
        Method::POST,
        "/api/v1/schedules?name=tick",
        Some(TOKEN),
        Some(("application/toml", &job)),
    );
    assert_eq!(status, 201, "{schedule}");
    assert!(schedule["next_fire_at"].is_string(), "{schedule}");
    std::thread::sleep(Duration::from_millis(5500));
    let (status, _) = b.request(Method::DELETE, "/api/v1/schedules/tick", Some(TOKEN), None);
    assert_eq!(status, 204);
    std::thread::sleep(Duration::from_secs(3));
    let jobs = a.get("/api/v1/jobs?limit=1000")["jobs"]
        .as_array()
        .unwrap()
        .clone();
    let mut ticks: BTreeMap<String, usize> = BTreeMap::new();
    for job in &jobs {
        let key = job["idempotency_key"].as_str().unwrap().to_owned();
        assert!(key.starts_with("schedule:tick@"), "{key}");
        *ticks.entry(key).or_default() += 1;
    }
    assert!(ticks.len() >= 4, "a tick per second: {ticks:?}");
    assert!(
        ticks.values().all(|&n| n == 1),
        "one job per tick: {ticks:?}"
    );
    // Consecutive seconds: no tick skipped between the first and the last.
    let seconds: Vec<i64> = ticks
        .keys()
        .map(|k| {
            let time = k.trim_start_matches("schedule:tick@");
            chrono::DateTime::parse_from_rfc3339(time)
                .unwrap()
                .timestamp()
        })
        .collect();
    assert!(seconds.windows(2).all(|w| w[1] == w[0] + 1), "{seconds:?}");
    // Both daemons took part: each saw ticks the other had fired, or fired some itself.
    for (name, daemon) in [("a", &a), ("b", &b)] {
        let log = daemon.log();
        assert!(
            log.contains("schedule fired") || log.contains("already fired by another daemon"),
            "daemon {name} never handled a tick:\n{log}"
        );
    }
    for job in &jobs {
        let done = a.wait_final(job["id"].as_str().unwrap(), LONG);
        assert_eq!(done["status"], "completed", "{done}");
    }
    let listed = a.get("/api/v1/schedules");
    assert_eq!(listed["schedules"].as_array().unwrap().len(), 0);
}

#[test]
fn a_cron_schedule_fires_once_per_tick_with_two_daemons_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    cron_with_two_daemons(&Backend::sqlite(dir.path()));
}

#[test]
fn a_cron_schedule_fires_once_per_tick_with_two_daemons_on_redis_and_postgres() {
    if let Some(backend) = Backend::postgres_redis() {
        cron_with_two_daemons(&backend);
    }
}

/// Waits until the job's summary and manifest are archived; returns the job.
fn wait_archived(daemon: &Daemon, id: &str, limit: Duration) -> Value {
    daemon.wait_job(id, limit, |j| {
        j["archived_at"].is_string() && j["waiting_for_archive"] == 0
    })
}

#[test]
fn every_run_is_archived_with_checksums_in_the_default_folder() {
    let plugins = plugin_dir(&REAL_PLUGINS);
    let dir = tempfile::tempdir().unwrap();
    let daemon = start(dir.path(), plugins.path(), &Backend::sqlite(dir.path()), "");
    let sweep = workspace_root().join("config/jobs/sweep.toml");
    let toml = std::fs::read_to_string(&sweep).unwrap();
    let id = daemon.submit(&toml, sweep.parent().unwrap())["id"]
        .as_str()
        .unwrap()
        .to_owned();
    daemon.wait_final(&id, LONG);
    let job = wait_archived(&daemon, &id, LONG);
    let archive =
        barwise_archive::Archive::open(&format!("file://{}", dir.path().join("archive").display()))
            .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (manifest, found) = runtime.block_on(archive.verify_job(&id)).unwrap();
    assert!(found.is_clean(), "{found:?}");
    let manifest = manifest.unwrap();
    let total = job["runs"]["total"].as_u64().unwrap() as usize;
    assert_eq!(manifest.runs, total);
    assert_eq!(
        manifest.objects.len(),
        3 * total + 1,
        "3 objects per run + summary"
    );
    // Each run row carries its archive location and digest; the report in the archive is the
    // stored result.
    let runs = runs_of(&daemon, &id);
    for run in &runs {
        assert_eq!(run["archive_status"], "archived", "{run}");
        assert_eq!(run["archive_sha256"].as_str().unwrap().len(), 64);
        let prefix = format!("jobs/{id}/runs/{}", run["id"].as_str().unwrap());
        assert!(
            run["archive_url"].as_str().unwrap().ends_with(&prefix),
            "{run}"
        );
        let report: Value = serde_json::from_slice(
            &runtime
                .block_on(archive.get(&format!("{prefix}/report.json")))
                .unwrap(),
        )
        .unwrap();
        assert_eq!(report["metrics"]["final_equity"], run["final_equity"]);
    }
    // The runner's spool is cleaned up.
    let spool = dir.path().join("spool");
    assert!(
        !spool.exists() || std::fs::read_dir(&spool).unwrap().next().is_none(),
        "spool left behind"
    );
}

#[test]
fn an_unreachable_archive_loses_nothing_and_catches_up_with_data_from_s3() {
    let Some(endpoint) = barwise_test_support::s3_endpoint() else {
        return;
    };
    // Candles read from the S3 server through a URL in the job file.
    let data_url = barwise_test_support::s3_url(&endpoint, "candles", "data");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let store = barwise_archive::Archive::open(&data_url).unwrap();
    for name in ["ETH_BTC-5m.csv", "LTC_BTC-5m.csv"] {
        let bytes = std::fs::read(barwise_test_support::data_file(name)).unwrap();
        runtime
            .block_on(store.put_once(name, bytes.into()))
            .unwrap();
    }
    let object = |name: &str| data_url.replacen("/data?", &format!("/data/{name}?"), 1);
    // The archive: an S3 server that is not running yet.
    let port = barwise_test_support::free_port().unwrap();
    let archive_endpoint = format!("http://127.0.0.1:{port}");
    let archive_url = format!(
        "s3://archive/barwise?endpoint={archive_endpoint}&region=us-east-1&path_style=true\
         &allow_http=true&access_key_id=test&secret_access_key=test&retries=0&timeout=2"
    );
    let plugins = plugin_dir(&REAL_PLUGINS);
    let dir = tempfile::tempdir().unwrap();
    let daemon = start(
        dir.path(),
        plugins.path(),
        &Backend::sqlite(dir.path()),
        &format!("archive_url = {archive_url:?}"),
    );
    let job = format!(
        "[job]\nname = \"from-s3\"\n\n[data.symbols]\n\"ETH/BTC\" = {:?}\n\"LTC/BTC\" = {:?}\n\n\
         [[strategies]]\nplugin = \"sma_cross\"\nparams = {{ fast = [5, 10] }}\n",
        object("ETH_BTC-5m.csv"),
        object("LTC_BTC-5m.csv"),
    );
    let id = daemon.submit(&job, dir.path())["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let done = daemon.wait_final(&id, LONG);
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["runs"]["succeeded"], 4, "{done}");
    // Recorded, waiting for the archive, and the daemon says it is not ready.
    let job = daemon.get(&format!("/api/v1/jobs/{id}"));
    assert_eq!(job["waiting_for_archive"], 4, "{job}");
    assert!(job["archived_at"].is_null());
    let (status, ready) = daemon.request(Method::GET, "/readyz", None, None);
    assert_eq!(status, 503, "{ready}");
    assert_eq!(ready["checks"]["archive"]["ok"], false, "{ready}");
    // The archiver tried and failed (and keeps retrying with backoff)...
    let deadline = Instant::now() + Duration::from_secs(30);
    while !daemon.log().contains("archiving failed") {
        assert!(Instant::now() < deadline, "{}", daemon.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    // ... then the store comes back: everything is archived, nothing lost.
    assert!(barwise_test_support::start_s3_server(port));
    let url = barwise_test_support::s3_url(&archive_endpoint, "archive", "barwise");
    wait_archived(&daemon, &id, LONG);
    let archive = barwise_archive::Archive::open(&url).unwrap();
    let (manifest, found) = runtime.block_on(archive.verify_job(&id)).unwrap();
    assert!(found.is_clean(), "{found:?}");
    assert_eq!(manifest.unwrap().objects.len(), 13);
    let (status, _) = daemon.request(Method::GET, "/readyz", None, None);
    assert_eq!(status, 200);
    // Logged once the pass that archived everything has ended.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !daemon.log().contains("archive reachable again") {
        assert!(Instant::now() < deadline, "{}", daemon.log());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `barwise-ops`, built beside `barwise` by `cargo test --workspace`.
fn ops_binary() -> Option<std::path::PathBuf> {
    let path = Path::new(env!("CARGO_BIN_EXE_barwise")).with_file_name("barwise-ops");
    barwise_test_support::require_or_skip(
        "the barwise-ops binary next to barwise (cargo test --workspace builds it)",
        path.is_file(),
    )
    .then_some(path)
}

/// A local HTTP receiver: every request body it gets, in order.
fn webhook_receiver() -> (String, std::sync::Arc<std::sync::Mutex<Vec<Value>>>) {
    use std::io::{BufRead as _, Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = std::sync::Arc::clone(&received);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = std::io::BufReader::new(stream);
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            if let Ok(value) = serde_json::from_slice(&body) {
                sink.lock().unwrap().push(value);
            }
            let _ = reader
                .get_mut()
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
        }
    });
    (url, received)
}

#[test]
fn alerts_metrics_and_health_report_what_goes_wrong() {
    let plugins = plugin_dir(&["sma_cross", "test_plugin_crashing"]);
    let dir = tempfile::tempdir().unwrap();
    let (hook, received) = webhook_receiver();
    let daemon = start(
        dir.path(),
        plugins.path(),
        &Backend::sqlite(dir.path()),
        &format!(
            "alert_webhooks = [{hook:?}]\nhealth_interval = \"1s\"\nalert_min_interval = \"1s\""
        ),
    );
    // A job that fails by its timeout.
    let job = job_toml("doomed", "test_crashing", "mode = 3", "timeout = \"1s\"");
    let id = daemon.submit(&job, dir.path())["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let done = daemon.wait_final(&id, LONG);
    assert_eq!(done["status"], "failed");
    // A plugin folder that loses its plugins: the plugins check turns critical.
    for entry in std::fs::read_dir(plugins.path()).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = received.lock().unwrap().clone();
        let job_alert = got
            .iter()
            .any(|a| a["event"] == "job_failed" && a["text"].as_str().unwrap_or("").contains(&id));
        let check_alert = got.iter().any(|a| {
            a["event"] == "check_changed"
                && a["details"]["check"]["name"] == "plugins"
                && a["details"]["check"]["status"] == "critical"
        });
        if job_alert && check_alert {
            assert!(
                got.iter().all(|a| a["text"].is_string()),
                "Slack-compatible: {got:?}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "alerts so far: {got:?}\n{}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Prometheus metrics, without a token.
    let (status, text) = daemon.request(Method::GET, "/metrics", None, None);
    assert_eq!(status, 200);
    let text = text.as_str().unwrap().to_owned();
    for expected in [
        "# TYPE barwise_runs_total counter",
        "barwise_jobs{status=\"failed\"} 1",
        "# TYPE barwise_run_duration_seconds histogram",
        "barwise_run_duration_seconds_bucket{le=\"+Inf\"}",
        "barwise_queue_depth ",
        "barwise_workers_busy 0",
        "barwise_archive_backlog_runs 0",
        "barwise_health_check_status{check=\"plugins\"} 2",
    ] {
        assert!(text.contains(expected), "{expected} missing in\n{text}");
    }
    // barwise-ops health against the same installation: critical, exit code 2, JSON.
    let Some(ops) = ops_binary() else { return };
    let health = Command::new(&ops)
        .args(["health", "--json", "--config"])
        .arg(&daemon.config)
        .output()
        .unwrap();
    assert_eq!(health.status.code(), Some(2), "{}", out(&health));
    let report: Value = serde_json::from_slice(&health.stdout).unwrap();
    assert_eq!(report["status"], "critical");
    let status_of = |name: &str| {
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .map(|c| c["status"].as_str().unwrap().to_owned())
    };
    assert_eq!(status_of("database").as_deref(), Some("ok"));
    assert_eq!(status_of("queue").as_deref(), Some("ok"));
    assert_eq!(status_of("workers").as_deref(), Some("ok"), "{report}");
    assert_eq!(status_of("plugins").as_deref(), Some("critical"));
    assert_eq!(
        status_of("backup").as_deref(),
        Some("warning"),
        "no backup yet"
    );
}

fn backup_while_jobs_run(backend: &Backend, restore_to: &str) {
    let Some(ops) = ops_binary() else { return };
    let plugins = plugin_dir(&["test_plugin_crashing"]);
    let dir = tempfile::tempdir().unwrap();
    let daemon = start(dir.path(), plugins.path(), backend, "");
    let n = 24;
    let id = daemon.submit(&slow_job("during-backup", n), dir.path())["id"]
        .as_str()
        .unwrap()
        .to_owned();
    daemon.wait_job(&id, LONG, |j| j["runs"]["succeeded"].as_i64() >= Some(2));
    let archive = format!("file://{}", dir.path().join("backups").display());
    let created = Command::new(&ops)
        .args([
            "backup",
            "create",
            "--database-url",
            &backend.database_url,
            "--archive-url",
            &archive,
        ])
        .output()
        .unwrap();
    assert!(created.status.success(), "{}", out(&created));
    let backup = String::from_utf8_lossy(&created.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_owned();
    let done = daemon.wait_final(&id, LONG);
    assert_eq!(done["status"], "completed");
    let restored_url = restore_to.to_owned();
    let restored = Command::new(&ops)
        .args([
            "backup",
            "restore",
            &backup,
            "--to",
            &restored_url,
            "--archive-url",
            &archive,
        ])
        .output()
        .unwrap();
    assert!(restored.status.success(), "{}", out(&restored));
    // The snapshot is consistent: the job's counters match its run rows, mid-job.
    let store = barwise_storage::Store::connect(&restored_url).unwrap();
    let job = store.job(&id).unwrap();
    let runs = store
        .runs_of_job(&id, barwise_storage::Metric::Sharpe, true, 1000, 0)
        .unwrap();
    assert_eq!((job.runs_succeeded + job.runs_failed) as usize, runs.len());
    assert!(
        runs.len() >= 2 && runs.len() < n,
        "taken mid-job: {} runs",
        runs.len()
    );
    let trades: usize = runs
        .iter()
        .map(|r| store.trades_of_run(&r.id).unwrap().len())
        .sum();
    let expected: i64 = runs.iter().filter_map(|r| r.trade_count).sum();
    assert_eq!(trades as i64, expected);
}

#[test]
fn a_backup_taken_while_jobs_run_restores_a_consistent_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    backup_while_jobs_run(
        &Backend::sqlite(dir.path()),
        &format!("sqlite://{}", dir.path().join("restored.db").display()),
    );
}

#[test]
fn a_backup_taken_while_jobs_run_on_postgres_restores_a_consistent_snapshot() {
    let (Some(backend), Some(target)) = (Backend::postgres_redis(), Backend::postgres_redis())
    else {
        return;
    };
    // The target database is fresh: drop the tables its migration created.
    let store = barwise_storage::Store::connect(&target.database_url).unwrap();
    store.reset_postgres_schema().unwrap();
    backup_while_jobs_run(&backend, &target.database_url);
}

#[test]
fn nightly_backups_are_scheduled_through_the_daemon() {
    if ops_binary().is_none() {
        return;
    }
    let plugins = plugin_dir(&["sma_cross"]);
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::sqlite(dir.path());
    let daemon = start(dir.path(), plugins.path(), &backend, "");
    let (status, bad) = daemon.request(
        Method::POST,
        "/api/v1/schedules",
        Some(TOKEN),
        Some((
            "application/toml",
            "[job]\nname = \"b\"\nschedule = \"never\"\n[backup]\nkeep = 3\n",
        )),
    );
    assert_eq!(status, 422, "{bad}");
    let paths: Vec<&str> = bad["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["backup.keep", "job.schedule"], "{bad}");
    let template = "[job]\nname = \"backups\"\nschedule = \"*/2 * * * * *\"\n\n[backup]\n";
    let (status, saved) = daemon.request(
        Method::POST,
        "/api/v1/schedules",
        Some(TOKEN),
        Some(("application/toml", template)),
    );
    assert_eq!(status, 201, "{saved}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let done = loop {
        let jobs = daemon.get("/api/v1/jobs?name=backups")["jobs"]
            .as_array()
            .unwrap()
            .clone();
        let done: Vec<Value> = jobs
            .into_iter()
            .filter(|j| j["status"] == "completed")
            .collect();
        if done.len() >= 2 {
            break done;
        }
        assert!(Instant::now() < deadline, "{}", daemon.log());
        std::thread::sleep(Duration::from_millis(200));
    };
    let (status, _) = daemon.request(
        Method::DELETE,
        "/api/v1/schedules/backups",
        Some(TOKEN),
        None,
    );
    assert_eq!(status, 204);
    assert!(done.iter().all(|j| {
        j["idempotency_key"]
            .as_str()
            .unwrap()
            .starts_with("schedule:backups@")
    }));
    let store = barwise_storage::Store::connect(&backend.database_url).unwrap();
    let backups = store.list_backups().unwrap();
    assert!(backups.len() >= 2, "{backups:?}");
    assert!(
        backups
            .iter()
            .all(|b| b.status == "complete" && b.source == "sqlite")
    );
    // They went to the daemon's archive store.
    assert!(dir.path().join("archive/backups").is_dir());
}
