//! `barwise run JOB.toml` end to end: the real binary, real runner processes, real plugins, the
//! embedded SQLite results database.

use std::path::Path;
use std::process::{Command, Output};

use barwise_test_support::{REAL_PLUGINS, plugin_dir, workspace_root};
use serde_json::Value;

fn barwise_run(job: &Path, plugins: &Path, db: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_barwise"))
        .arg("run")
        .arg(job)
        .arg("--plugin-dir")
        .arg(plugins)
        .arg("--database-url")
        .arg(format!("sqlite://{}", db.display()))
        .args(extra)
        .env_remove("DATABASE_URL")
        .output()
        .expect("running barwise run")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn quickstart_job_runs_and_ranks_its_results() {
    let plugins = plugin_dir(&REAL_PLUGINS);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("results.db");
    let job = workspace_root().join("config/jobs/quickstart.toml");
    let out = barwise_run(&job, plugins.path(), &db, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("2 succeeded, 0 failed"), "{t}");
    assert!(t.contains("ETH/BTC") && t.contains("LTC/BTC"), "{t}");
    assert!(t.contains("volume_zone_breakout"), "{t}");
    assert!(db.is_file(), "results are stored in the embedded database");
}

#[test]
fn sweep_results_match_single_backtests() {
    let plugins = plugin_dir(&REAL_PLUGINS);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("results.db");
    let job = workspace_root().join("config/jobs/sweep.toml");
    let out = barwise_run(
        &job,
        plugins.path(),
        &db,
        &["--format", "json", "--top", "1000"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    let runs = result["runs"].as_array().unwrap();
    assert_eq!(result["succeeded"].as_u64().unwrap() as usize, runs.len());
    assert!(runs.len() >= 4, "a real sweep");
    // Ranked best first by Sharpe.
    let sharpe: Vec<f64> = runs.iter().filter_map(|r| r["sharpe"].as_f64()).collect();
    assert!(sharpe.windows(2).all(|w| w[0] >= w[1]), "{sharpe:?}");
    // The best run's metrics equal a single `barwise backtest` with the same settings.
    let best = &runs[0];
    let params = best["params"].as_object().unwrap().clone();
    let execution = best["execution"].clone();
    let mut args = vec![
        "backtest".to_owned(),
        "--data".to_owned(),
        best["data_source"].as_str().unwrap().to_owned(),
        "--strategy".to_owned(),
        best["plugin_name"].as_str().unwrap().to_owned(),
        "--format".to_owned(),
        "json".to_owned(),
        format!("--fee={}", execution["fee"]),
    ];
    if execution["allow_short"] == true {
        args.push("--allow-short".into());
    }
    for (k, v) in params {
        args.push("--param".into());
        args.push(format!("{k}={v}"));
    }
    let single = Command::new(env!("CARGO_BIN_EXE_barwise"))
        .args(&args)
        .arg("--plugin-dir")
        .arg(plugins.path())
        .output()
        .unwrap();
    assert!(single.status.success(), "{}", text(&single));
    let report: Value = serde_json::from_slice(&single.stdout).unwrap();
    assert_eq!(report["metrics"]["sharpe"], best["sharpe"]);
    assert_eq!(report["metrics"]["total_return"], best["total_return"]);
    assert_eq!(report["metrics"]["trades"], best["trade_count"]);
}

#[test]
fn a_crashing_plugin_fails_only_its_own_runs() {
    let plugins = plugin_dir(&["sma_cross", "test_plugin_crashing"]);
    let dir = tempfile::tempdir().unwrap();
    let data = workspace_root().join("tests/data/ETH_BTC-5m.csv");
    let job = dir.path().join("crash.toml");
    std::fs::write(
        &job,
        format!(
            "[job]\nname = \"crash\"\n\n[data.symbols]\n\"ETH/BTC\" = \"{}\"\n\n\
             [[strategies]]\nplugin = \"test_crashing\"\nparams = {{ mode = [0, 1, 2] }}\n\n\
             [[strategies]]\nplugin = \"sma_cross\"\nparams = {{ fast = [5, 10] }}\n",
            data.display()
        ),
    )
    .unwrap();
    let db = dir.path().join("results.db");
    let out = barwise_run(
        &job,
        plugins.path(),
        &db,
        &["--format", "json", "--top", "100"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    // mode 0 and both sma_cross runs succeed; mode 1 segfaults, mode 2 aborts, each failing
    // only itself (the run after a crash goes to a fresh runner).
    assert_eq!(result["failed"], 2, "{result}");
    assert_eq!(result["succeeded"], 3, "{result}");
    let errors: Vec<&str> = result["runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["error"].as_str())
        .collect();
    assert_eq!(errors.len(), 2);
    assert!(
        errors
            .iter()
            .all(|e| e.contains("crashed its runner process")),
        "{errors:?}"
    );
    assert!(errors.iter().any(|e| e.contains("SIGSEGV")), "{errors:?}");
    assert!(errors.iter().any(|e| e.contains("SIGABRT")), "{errors:?}");
}

#[test]
fn an_invalid_job_file_reports_every_problem_and_runs_nothing() {
    let plugins = plugin_dir(&REAL_PLUGINS);
    let dir = tempfile::tempdir().unwrap();
    let job = dir.path().join("bad.toml");
    std::fs::write(
        &job,
        "[job]\nname = \"bad\"\ntimeout = \"soon\"\n\n[data.symbols]\n\"X\" = \"missing.csv\"\n\n\
         [[strategies]]\nplugin = \"volume_zone_breakout\"\nparams = { volume_window = 0 }\n\n\
         [[strategies]]\nplugin = \"nope\"\n",
    )
    .unwrap();
    let db = dir.path().join("results.db");
    let out = barwise_run(&job, plugins.path(), &db, &[]);
    assert_eq!(out.status.code(), Some(1));
    let t = text(&out);
    for needle in [
        "job.timeout",
        "data.symbols",
        "strategies[0].params.volume_window: must be >= 1, got 0",
        "strategies[1].plugin",
    ] {
        assert!(t.contains(needle), "missing {needle:?} in\n{t}");
    }
    assert!(!db.exists(), "nothing was queued or stored");
}

#[test]
fn the_job_timeout_kills_hanging_runners() {
    let plugins = plugin_dir(&["sma_cross", "test_plugin_crashing"]);
    let dir = tempfile::tempdir().unwrap();
    let data = workspace_root().join("tests/data/ETH_BTC-5m.csv");
    let job = dir.path().join("hang.toml");
    std::fs::write(
        &job,
        format!(
            "[job]\nname = \"hang\"\ntimeout = \"2s\"\n\n[data.symbols]\n\"ETH/BTC\" = \"{}\"\n\n\
             [[strategies]]\nplugin = \"test_crashing\"\nparams = {{ mode = 3 }}\n\n\
             [[strategies]]\nplugin = \"sma_cross\"\n",
            data.display()
        ),
    )
    .unwrap();
    let db = dir.path().join("results.db");
    let started = std::time::Instant::now();
    let out = barwise_run(
        &job,
        plugins.path(),
        &db,
        &["--format", "json", "--workers", "2"],
    );
    let elapsed = started.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        elapsed < std::time::Duration::from_secs(20),
        "took {elapsed:?}"
    );
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["status"], "failed", "{result}");
    assert_eq!(
        result["succeeded"], 1,
        "the quick run finished before the timeout"
    );
    let hung = result["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["plugin_name"] == "test_crashing")
        .unwrap();
    assert!(
        hung["error"]
            .as_str()
            .unwrap()
            .contains("job timed out after 2000 ms"),
        "{hung}"
    );
}

#[test]
fn job_report_ranks_runs_and_draws_the_heatmap() {
    let plugins = plugin_dir(&REAL_PLUGINS);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("results.db");
    let job = workspace_root().join("config/jobs/sweep.toml");
    let out = barwise_run(&job, plugins.path(), &db, &["--format", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    let job_id = result["job_id"].as_str().unwrap();
    let page = dir.path().join("job.html");
    let report = Command::new(env!("CARGO_BIN_EXE_barwise"))
        .args(["report", job_id, "--html"])
        .arg(&page)
        .arg("--database-url")
        .arg(format!("sqlite://{}", db.display()))
        .output()
        .unwrap();
    assert!(report.status.success(), "{}", text(&report));
    let html = std::fs::read_to_string(&page).unwrap();
    assert_eq!(
        html.matches("<tr><td class=\"num\">").count(),
        36,
        "one row per run"
    );
    assert!(
        html.contains("sharpe over fast and slow"),
        "the sweep's two axes"
    );
    assert_eq!(
        html.matches("title=\"sharpe: mean of 4 run(s)\"").count(),
        9,
        "3 x 3 cells, 4 symbols each"
    );
    let bad = Command::new(env!("CARGO_BIN_EXE_barwise"))
        .args(["report", job_id, "--heatmap", "fast,colour", "--html"])
        .arg(&page)
        .arg("--database-url")
        .arg(format!("sqlite://{}", db.display()))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        text(&bad).contains("\"colour\" does not vary"),
        "{}",
        text(&bad)
    );
    let missing = Command::new(env!("CARGO_BIN_EXE_barwise"))
        .args(["report", "no-such-job", "--html"])
        .arg(&page)
        .arg("--database-url")
        .arg(format!("sqlite://{}", db.display()))
        .output()
        .unwrap();
    assert!(
        text(&missing).contains("job no-such-job not found"),
        "{}",
        text(&missing)
    );
}

#[test]
fn plugins_printing_to_stdout_and_stderr_disturb_nothing() {
    let plugins = plugin_dir(&["test_plugin_crashing"]);
    let dir = tempfile::tempdir().unwrap();
    let data = workspace_root().join("tests/data/ETH_BTC-5m.csv");
    let job = dir.path().join("chatty.toml");
    std::fs::write(
        &job,
        format!(
            "[job]\nname = \"chatty\"\ntimeout = \"60s\"\n\n[data.symbols]\n\"ETH/BTC\" = \"{}\"\n\
             \"LTC/BTC\" = \"{}\"\n\n[[strategies]]\nplugin = \"test_crashing\"\nparams = {{ mode = [4, 0] }}\n",
            data.display(),
            workspace_root().join("tests/data/LTC_BTC-5m.csv").display()
        ),
    )
    .unwrap();
    let db = dir.path().join("results.db");
    let started = std::time::Instant::now();
    let out = barwise_run(&job, plugins.path(), &db, &["--format", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "no pipe deadlock"
    );
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["succeeded"], 4, "{result}");
    assert_eq!(result["failed"], 0, "{result}");
}

#[test]
fn a_stored_run_is_reported_by_re_running_it_exactly() {
    let plugins = plugin_dir(&REAL_PLUGINS);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("results.db");
    // The nightly example has a time range, stops and a ccxt JSON file: all must be reproduced.
    let data = dir.path().join("candles.csv");
    std::fs::copy(workspace_root().join("tests/data/ETH_BTC-5m.csv"), &data).unwrap();
    let job = dir.path().join("one.toml");
    std::fs::write(
        &job,
        "[job]\nname = \"one\"\n\n[data]\nstart = \"2018-01-12\"\nend = \"2018-01-25\"\n\
         [data.symbols]\n\"ETH/BTC\" = \"candles.csv\"\n\n[[strategies]]\nplugin = \"sma_cross\"\n\
         params = { fast = [5, 8] }\n\n[execution]\nstop_loss = 0.02\nallow_short = true\n",
    )
    .unwrap();
    let out = barwise_run(&job, plugins.path(), &db, &["--format", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    let best = &result["runs"][0];
    let run_id = best["id"].as_str().unwrap();
    let page = dir.path().join("run.html");
    let report = |page: &Path| {
        Command::new(env!("CARGO_BIN_EXE_barwise"))
            .args(["report", "--run", run_id, "--html"])
            .arg(page)
            .arg("--plugin-dir")
            .arg(plugins.path())
            .arg("--database-url")
            .arg(format!("sqlite://{}", db.display()))
            .output()
            .unwrap()
    };
    let out = report(&page);
    assert!(out.status.success(), "{}", text(&out));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("sma_cross") && html.contains("ETH/BTC"));
    assert!(
        html.contains(&format!("{} trades", best["trade_count"])),
        "the same trades"
    );
    // Change the data under the stored run: the report refuses to show something else.
    // One bar inside the job's time range moves 5 % up (still a valid candle).
    let edited: Vec<String> = std::fs::read_to_string(&data)
        .unwrap()
        .lines()
        .map(|line| {
            if !line.starts_with("2018-01-15T12:00:00Z") {
                return line.to_owned();
            }
            let f: Vec<&str> = line.split(',').collect();
            let up = |x: &str| (x.parse::<f64>().unwrap() * 1.05).to_string();
            format!(
                "{},{},{},{},{},{}",
                f[0],
                up(f[1]),
                up(f[2]),
                up(f[3]),
                up(f[4]),
                f[5]
            )
        })
        .collect();
    std::fs::write(&data, edited.join("\n") + "\n").unwrap();
    let changed = report(&dir.path().join("changed.html"));
    assert_eq!(changed.status.code(), Some(1));
    assert!(
        text(&changed).contains("does not reproduce its stored result"),
        "{}",
        text(&changed)
    );
}
