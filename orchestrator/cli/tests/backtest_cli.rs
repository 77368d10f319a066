//! End-to-end tests of `barwise backtest` and `barwise plugins` through the real binary, with
//! real plugin libraries and the bundled real candles.

use std::path::Path;
use std::process::{Command, Output};

use barwise_test_support::{REAL_PLUGINS, data_file, plugin_dir};
use serde_json::Value;

fn barwise(plugin_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_barwise"))
        .args(args)
        .arg("--plugin-dir")
        .arg(plugin_dir)
        .env_remove("BARWISE_PLUGIN_DIR")
        .output()
        .expect("running barwise")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json_report(plugins: &Path, data: &Path, extra: &[&str]) -> Value {
    let data = data.to_str().unwrap();
    let mut args = vec!["backtest", "--data", data, "--format", "json"];
    args.extend_from_slice(extra);
    let out = barwise(plugins, &args);
    assert!(out.status.success(), "barwise failed: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("report is JSON")
}

/// 64-bit FNV-1a: a stable fingerprint of the full report for the golden files.
fn fingerprint(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The report with the trade list cut to its first and last three, plus a count and a
/// fingerprint of the whole report, so the golden file stays readable but pins every trade.
fn digest(report: &Value) -> Value {
    let mut d = report.clone();
    let trades = report["trades"].as_array().unwrap();
    let n = trades.len();
    let keep: Vec<Value> = if n <= 6 {
        trades.clone()
    } else {
        trades[..3]
            .iter()
            .chain(&trades[n - 3..])
            .cloned()
            .collect()
    };
    d["trades"] = Value::Array(keep);
    d["trade_count"] = n.into();
    d["fingerprint"] = fingerprint(serde_json::to_string(report).unwrap().as_bytes()).into();
    d
}

#[test]
fn golden_reports_on_real_candles() {
    let plugins = plugin_dir(&REAL_PLUGINS);
    let cases: [(&str, &str, &[&str]); 5] = [
        (
            "vzb_eth_btc_5m",
            "ETH_BTC-5m.csv",
            &["--strategy", "volume_zone_breakout"],
        ),
        (
            "vzb_xrp_eth_1m_window60",
            "XRP_ETH-1m.csv",
            &[
                "--strategy",
                "volume_zone_breakout",
                "--param",
                "volume_window=60",
                "--param",
                "top_percentile=0.1",
                "--param",
                "breakout_buffer=0.002",
                "--param",
                "hold_period_bars=5",
                "--param",
                "include_wicks=false",
                "--fill",
                "close",
            ],
        ),
        (
            "vlc_btc_1m",
            "BTC-1m.ccxt.json",
            &[
                "--strategy",
                "volume_long_candle",
                "--param",
                "body_pct=0.005",
                "--stop-loss",
                "0.01",
                "--take-profit",
                "0.02",
            ],
        ),
        (
            "sma_ltc_btc_5m_short",
            "LTC_BTC-5m.csv",
            &[
                "--strategy",
                "sma_cross",
                "--allow-short",
                "--trailing-stop",
                "0.03",
            ],
        ),
        (
            "sma_ada_btc_5m_gaps",
            "ADA_BTC-5m.csv",
            &[
                "--strategy",
                "sma_cross",
                "--param",
                "fast=12",
                "--param",
                "slow=48",
                "--position-size",
                "0.5",
            ],
        ),
    ];
    for (name, file, args) in cases {
        let report = json_report(plugins.path(), &data_file(file), args);
        insta::assert_json_snapshot!(name, digest(&report));
    }
}

#[test]
fn same_inputs_give_byte_identical_reports() {
    let plugins = plugin_dir(&REAL_PLUGINS);
    let data = data_file("ETH_BTC-5m.csv");
    let args = [
        "backtest",
        "--data",
        data.to_str().unwrap(),
        "--strategy",
        "sma_cross",
        "--format",
        "json",
    ];
    let a = barwise(plugins.path(), &args);
    let b = barwise(plugins.path(), &args);
    assert!(a.status.success(), "{}", stderr(&a));
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn report_has_the_documented_shape() {
    let plugins = plugin_dir(&REAL_PLUGINS);
    let report = json_report(
        plugins.path(),
        &data_file("BTC-1m.ccxt.json"),
        &["--strategy", "volume_zone_breakout"],
    );
    for key in [
        "strategy",
        "plugin_version",
        "params",
        "execution",
        "data",
        "metrics",
        "trades",
    ] {
        assert!(report.get(key).is_some(), "missing {key}");
    }
    // Defaults are filled in.
    assert_eq!(report["params"]["volume_window"], 10);
    assert_eq!(report["params"]["include_wicks"], true);
    assert_eq!(report["execution"]["fill"], "next_open");
    assert_eq!(report["execution"]["fee"], 0.001);
    assert_eq!(report["data"]["bars"], 13_681);
    assert_eq!(report["data"]["first_time"], "2017-11-04T23:02:00Z");
    // The ccxt file has minutes without trades.
    assert!(report["data"]["gaps"].as_u64().unwrap() > 0);
    for key in [
        "total_return",
        "cagr",
        "sharpe",
        "sortino",
        "max_drawdown",
        "calmar",
        "trades",
        "win_rate",
        "avg_return",
        "profit_factor",
        "avg_hold_bars",
        "exposure",
        "final_equity",
        "buy_and_hold_return",
    ] {
        assert!(report["metrics"].get(key).is_some(), "missing metric {key}");
    }
    let trade = &report["trades"][0];
    for key in [
        "entry_index",
        "exit_index",
        "entry_time",
        "exit_time",
        "direction",
        "entry_price",
        "exit_price",
        "quantity",
        "fees",
        "pnl",
        "return",
        "exit_reason",
    ] {
        assert!(trade.get(key).is_some(), "missing trade field {key}");
    }
    // With next_open, the entry fills one bar after the signal, on the next bar's open.
    let entry = trade["entry_index"].as_u64().unwrap();
    assert!(entry >= 11, "window of 10 bars plus the fill bar");
}

#[test]
fn table_summary_is_readable() {
    let plugins = plugin_dir(&REAL_PLUGINS);
    let data = data_file("ETH_BTC-5m.csv");
    let out = barwise(
        plugins.path(),
        &[
            "backtest",
            "--data",
            data.to_str().unwrap(),
            "--strategy",
            "sma_cross",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with("sma_cross 0.1.0 on ETH_BTC-5m.csv"),
        "{text}"
    );
    for needle in [
        "total_return",
        "max_drawdown",
        "sharpe",
        "first 5 of",
        "last 5 trades",
        "interval 5m",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
}

#[test]
fn parquet_and_csv_of_the_same_candles_give_the_same_report() {
    let plugins = plugin_dir(&REAL_PLUGINS);
    let csv = data_file("LTC_BTC-5m.csv");
    let dir = tempfile::tempdir().unwrap();
    let parquet = dir.path().join("LTC_BTC-5m.parquet");
    let candles = barwise_data::load_candles(&csv).unwrap();
    barwise_data::write_candles_parquet(&candles, &parquet).unwrap();
    let args = [
        "--strategy",
        "volume_zone_breakout",
        "--param",
        "volume_window=30",
    ];
    assert_eq!(
        json_report(plugins.path(), &csv, &args),
        json_report(plugins.path(), &parquet, &args)
    );
}

#[test]
fn output_file_is_written_whole() {
    let plugins = plugin_dir(&REAL_PLUGINS);
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("report.json");
    let data = data_file("ETH_BTC-5m.csv");
    let out = barwise(
        plugins.path(),
        &[
            "backtest",
            "--data",
            data.to_str().unwrap(),
            "--strategy",
            "sma_cross",
            "--format",
            "json",
            "--output",
            target.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    let report: Value = serde_json::from_slice(&std::fs::read(&target).unwrap()).unwrap();
    assert_eq!(report["strategy"], "sma_cross");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary files left behind");
}

#[test]
fn invalid_parameters_are_all_reported_with_the_valid_ones() {
    let plugins = plugin_dir(&REAL_PLUGINS);
    let data = data_file("ETH_BTC-5m.csv");
    let out = barwise(
        plugins.path(),
        &[
            "backtest",
            "--data",
            data.to_str().unwrap(),
            "--strategy",
            "volume_zone_breakout",
            "--param",
            "volume_window=0",
            "--param",
            "top_percentile=abc",
            "--param",
            "colour=blue",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("volume_window: must be >= 1, got 0"), "{err}");
    assert!(
        err.contains("top_percentile: expected a number, got \"abc\""),
        "{err}"
    );
    assert!(err.contains("colour: unknown parameter"), "{err}");
    assert!(
        err.contains("valid parameters of volume_zone_breakout"),
        "{err}"
    );
    assert!(err.contains("num_bins (int, default 20"), "{err}");
}

#[test]
fn strategy_rejecting_its_parameters_says_why() {
    let plugins = plugin_dir(&REAL_PLUGINS);
    let data = data_file("ETH_BTC-5m.csv");
    let out = barwise(
        plugins.path(),
        &[
            "backtest",
            "--data",
            data.to_str().unwrap(),
            "--strategy",
            "sma_cross",
            "--param",
            "fast=30",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("fast must be less than slow, got fast=30, slow=20"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn invalid_settings_are_all_reported() {
    let plugins = plugin_dir(&REAL_PLUGINS);
    let data = data_file("ETH_BTC-5m.csv");
    let out = barwise(
        plugins.path(),
        &[
            "backtest",
            "--data",
            data.to_str().unwrap(),
            "--strategy",
            "sma_cross",
            "--fee=-0.5",
            "--position-size",
            "2",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("fee: must be >= 0 and < 1, got -0.5"), "{err}");
    assert!(
        err.contains("position_size: must be > 0 and <= 1, got 2"),
        "{err}"
    );
}

#[test]
fn unknown_strategy_lists_the_available_ones() {
    let plugins = plugin_dir(&REAL_PLUGINS);
    let data = data_file("ETH_BTC-5m.csv");
    let out = barwise(
        plugins.path(),
        &[
            "backtest",
            "--data",
            data.to_str().unwrap(),
            "--strategy",
            "nope",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("unknown strategy \"nope\"; available: sma_cross, volume_long_candle, volume_zone_breakout"),
        "{err}"
    );
}

#[test]
fn bad_data_names_file_line_and_field() {
    let plugins = plugin_dir(&REAL_PLUGINS);
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "timestamp,open,high,low,close,volume\n\
         2018-01-10T04:55:00Z,1,2,0.5,1.5,10\n\
         2018-01-10T05:00:00Z,1,2,0.5,abc,10\n",
    )
    .unwrap();
    let out = barwise(
        plugins.path(),
        &[
            "backtest",
            "--data",
            bad.to_str().unwrap(),
            "--strategy",
            "sma_cross",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("bad.csv"), "{err}");
    assert!(err.contains("line 3"), "{err}");
    assert!(err.contains("close"), "{err}");
}

#[test]
fn panicking_plugin_is_an_error_not_a_crash() {
    let plugins = plugin_dir(&["test_plugin_panicking"]);
    let data = data_file("ETH_BTC-5m.csv");
    for (param, message) in [
        (
            "in_generate=true",
            "strategy test_panicking panicked: strategy panicked: boom at bar 2880",
        ),
        (
            "in_generate=false",
            "strategy test_panicking panicked: strategy panicked: boom in new",
        ),
    ] {
        let out = barwise(
            plugins.path(),
            &[
                "backtest",
                "--data",
                data.to_str().unwrap(),
                "--strategy",
                "test_panicking",
                "--param",
                param,
            ],
        );
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(stderr(&out).contains(message), "{}", stderr(&out));
    }
}

#[test]
fn plugins_lists_valid_and_rejected_libraries() {
    let plugins = plugin_dir(&[
        "volume_zone_breakout",
        "volume_long_candle",
        "sma_cross",
        "test_plugin_abi_mismatch",
        "test_plugin_not_a_plugin",
    ]);
    let out = barwise(plugins.path(), &["plugins", "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let listing: Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = listing["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["sma_cross", "volume_long_candle", "volume_zone_breakout"]
    );
    let vzb = &listing["plugins"][2];
    assert_eq!(vzb["params"][0]["name"], "volume_window");
    assert_eq!(vzb["params"][0]["kind"], "int");
    assert_eq!(vzb["params"][0]["default"], 10);
    let rejected = listing["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 2);
    let reasons: Vec<&str> = rejected
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert!(
        reasons[0].contains("libtest_plugin_abi_mismatch")
            && reasons[0]
                .contains("plugin ABI version 999 does not match the host's ABI version 1"),
        "{reasons:?}"
    );
    assert!(
        reasons[1].contains("does not export the `barwise_plugin_entry` symbol"),
        "{reasons:?}"
    );
    let table = barwise(plugins.path(), &["plugins"]);
    let text = stdout(&table);
    assert!(text.contains("volume_zone_breakout 0.1.0"), "{text}");
    assert!(text.contains("rejected"), "{text}");
}

#[test]
fn the_plugin_guide_example_is_the_built_plugin_and_runs() {
    let root = barwise_test_support::workspace_root();
    let guide = std::fs::read_to_string(root.join("docs/plugins.md")).unwrap();
    let source =
        std::fs::read_to_string(root.join("tests/plugins/breakout-high/src/lib.rs")).unwrap();
    assert!(
        guide.contains(&source),
        "docs/plugins.md must contain tests/plugins/breakout-high/src/lib.rs verbatim"
    );
    let plugins = plugin_dir(&["breakout_high"]);
    let report = json_report(
        plugins.path(),
        &data_file("ETH_BTC-5m.csv"),
        &[
            "--strategy",
            "breakout_high",
            "--param",
            "lookback=50",
            "--param",
            "hold=10",
        ],
    );
    assert_eq!(report["strategy"], "breakout_high");
    assert!(report["metrics"]["trades"].as_u64().unwrap() > 0);
    assert!(
        report["trades"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["exit_reason"] == "hold_period" || t["exit_reason"] == "end_of_data")
    );
}
