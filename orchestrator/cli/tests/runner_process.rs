//! Tests of the `barwise-runner` process: the batch protocol, its exit codes, and that a plugin
//! that segfaults or aborts kills only the runner, after the runs before it were reported.

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use barwise_test_support::{data_file, plugin_library};
use serde_json::{Value, json};

fn run_runner(spec: &Value) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_barwise-runner"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting barwise-runner");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(spec.to_string().as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is a JSON object"))
        .collect()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn batch_reports_each_run_and_fails_only_the_bad_one() {
    let eth = data_file("ETH_BTC-5m.csv");
    let btc = data_file("BTC-1m.ccxt.json");
    let spec = json!({
        "plugin": path(&plugin_library("sma_cross")),
        "runs": [
            {"id": "a", "data": path(&eth), "params": {"fast": 5, "slow": 30}},
            {"id": "b", "data": path(&btc), "params": {"fast": 50}},
            {"id": "c", "data": path(&eth), "execution": {"fill": "close", "fee": 0.0}},
            {"id": "d", "data": "/nonexistent/candles.csv"},
        ]
    });
    let out = run_runner(&spec);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = lines(&out);
    let ids: Vec<&str> = lines.iter().map(|l| l["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["a", "b", "c", "d"]);
    assert_eq!(lines[0]["report"]["params"]["fast"], 5);
    assert!(lines[0].get("error").is_none());
    let b_error = lines[1]["error"].as_str().unwrap();
    assert!(b_error.contains("fast must be less than slow"), "{b_error}");
    assert_eq!(lines[2]["report"]["execution"]["fill"], "close");
    assert_eq!(lines[2]["report"]["execution"]["fee"], 0.0);
    assert!(
        lines[3]["error"]
            .as_str()
            .unwrap()
            .contains("/nonexistent/candles.csv")
    );
}

#[test]
fn runner_report_equals_the_cli_report() {
    let eth = data_file("ETH_BTC-5m.csv");
    let spec = json!({
        "plugin": path(&plugin_library("volume_zone_breakout")),
        "runs": [{"id": "x", "data": path(&eth), "params": {"volume_window": 20}}]
    });
    let out = run_runner(&spec);
    assert_eq!(out.status.code(), Some(0));
    let runner_report = lines(&out).remove(0)["report"].take();
    let plugins = barwise_test_support::plugin_dir(&["volume_zone_breakout"]);
    let cli = Command::new(env!("CARGO_BIN_EXE_barwise"))
        .args([
            "backtest",
            "--strategy",
            "volume_zone_breakout",
            "--format",
            "json",
        ])
        .args([
            "--param",
            "volume_window=20",
            "--data",
            path(&eth),
            "--plugin-dir",
        ])
        .arg(plugins.path())
        .output()
        .unwrap();
    let cli_report: Value = serde_json::from_slice(&cli.stdout).unwrap();
    assert_eq!(runner_report, cli_report);
}

#[test]
fn spec_from_a_file_and_bad_specs() {
    let dir = tempfile::tempdir().unwrap();
    let spec_file = dir.path().join("spec.json");
    let eth = data_file("ETH_BTC-5m.csv");
    std::fs::write(
        &spec_file,
        json!({"plugin": path(&plugin_library("sma_cross")), "runs": [{"id": "1", "data": path(&eth)}]})
            .to_string(),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_barwise-runner"))
        .arg("--spec")
        .arg(&spec_file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(lines(&out).len(), 1);

    let bad = run_runner(&json!({"plugin": "x.so", "runs": [], "surprise": 1}));
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("invalid runner spec") && err.contains("surprise"),
        "{err}"
    );

    let missing = run_runner(&json!({"plugin": "/nonexistent/libx.so", "runs": []}));
    assert_eq!(missing.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/libx.so"));

    let mismatch = run_runner(
        &json!({"plugin": path(&plugin_library("test_plugin_abi_mismatch")), "runs": []}),
    );
    assert_eq!(mismatch.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&mismatch.stderr).contains("ABI version 999"));
}

#[test]
fn crashing_plugin_kills_only_the_runner_after_reporting_earlier_runs() {
    let eth = data_file("ETH_BTC-5m.csv");
    for (mode, signal) in [(1, libc_signal::SIGSEGV), (2, libc_signal::SIGABRT)] {
        let spec = json!({
            "plugin": path(&plugin_library("test_plugin_crashing")),
            "runs": [
                {"id": "fine", "data": path(&eth), "params": {"mode": 0}},
                {"id": "crash", "data": path(&eth), "params": {"mode": mode}},
                {"id": "never", "data": path(&eth), "params": {"mode": 0}},
            ]
        });
        let out = run_runner(&spec);
        assert_eq!(
            out.status.signal(),
            Some(signal),
            "mode {mode}: {:?}",
            out.status
        );
        let lines = lines(&out);
        assert_eq!(lines.len(), 1, "only the run before the crash is reported");
        assert_eq!(lines[0]["id"], "fine");
        assert_eq!(lines[0]["report"]["metrics"]["trades"], 1);
    }
}

/// Signal numbers on Linux (avoids a libc dependency for two constants).
mod libc_signal {
    pub const SIGABRT: i32 = 6;
    pub const SIGSEGV: i32 = 11;
}
