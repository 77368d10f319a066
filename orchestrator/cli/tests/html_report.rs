//! `barwise backtest --html`: a self-contained report that works offline, stays small for a
//! million bars, and renders in a real headless Chromium without errors.

use std::path::{Path, PathBuf};
use std::process::Command;

use barwise_test_support::{data_file, plugin_dir, require_or_skip};
use serde_json::Value;

fn html_report(plugins: &Path, data: &Path, out: &Path, extra: &[&str]) -> Value {
    let result = Command::new(env!("CARGO_BIN_EXE_barwise"))
        .args(["backtest", "--format", "json", "--data"])
        .arg(data)
        .arg("--html")
        .arg(out)
        .arg("--plugin-dir")
        .arg(plugins)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    serde_json::from_slice(&result.stdout).unwrap()
}

/// The JSON embedded in the page.
fn embedded_data(html: &str) -> Value {
    let start = html
        .find("<script id=\"barwise-data\" type=\"application/json\">")
        .unwrap();
    let rest = &html[start..];
    let body = &rest[rest.find('>').unwrap() + 1..rest.find("</script>").unwrap()];
    serde_json::from_str(&body.replace("<\\/", "</")).unwrap()
}

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser"]
        .iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .map(PathBuf::from)
}

fn headless(chromium: &Path, profile: &Path) -> Command {
    let mut cmd = Command::new(chromium);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        // Any attempt to reach a host fails: the report must not need one.
        "--host-resolver-rules=MAP * ~NOTFOUND",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    cmd
}

#[test]
fn report_is_self_contained_and_its_data_is_right() {
    let plugins = plugin_dir(&["sma_cross"]);
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    let report = html_report(
        plugins.path(),
        &data_file("XRP_ETH-1m.csv"),
        &page,
        &["--strategy", "sma_cross", "--allow-short"],
    );
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no external references"
    );
    assert!(
        !html.contains("<link") && !html.contains(" src="),
        "nothing loaded from outside"
    );
    let data = embedded_data(&html);
    let trades = report["trades"].as_array().unwrap();
    assert_eq!(data["markers"].as_array().unwrap().len(), 2 * trades.len());
    // 2,469 bars fit in 2,000 points: some buckets hold two bars.
    assert_eq!(data["price"]["t"].as_array().unwrap().len(), 2000);
    assert_eq!(data["price"]["t"][0], 1_570_752_000_000i64);
    assert_eq!(
        data["equity"].as_array().unwrap().last().unwrap(),
        &report["metrics"]["final_equity"]
    );
    let digest = serde_json::json!({
        "points": data["price"]["t"].as_array().unwrap().len(),
        "first_points": {
            "t": data["price"]["t"].as_array().unwrap()[..3],
            "low": data["price"]["low"].as_array().unwrap()[..3],
            "high": data["price"]["high"].as_array().unwrap()[..3],
            "close": data["price"]["close"].as_array().unwrap()[..3],
            "equity": data["equity"].as_array().unwrap()[..3],
            "buy_and_hold": data["buy_and_hold"].as_array().unwrap()[..3],
            "drawdown": data["drawdown"].as_array().unwrap()[..3],
        },
        "markers": data["markers"].as_array().unwrap().len(),
        "first_markers": data["markers"].as_array().unwrap()[..4],
        "max_drawdown_shown": data["drawdown"].as_array().unwrap().iter().filter_map(Value::as_f64).fold(0.0, f64::max),
    });
    insta::assert_json_snapshot!("html_report_data_xrp_sma", digest);
    // The largest drawdown drawn is the reported one.
    assert_eq!(
        digest["max_drawdown_shown"],
        report["metrics"]["max_drawdown"]
    );
}

#[test]
fn a_million_bars_make_a_small_file() {
    let plugins = plugin_dir(&["sma_cross"]);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("big.parquet");
    let candles = barwise_test_support::synthetic_candles(1_000_000, 5);
    barwise_data::write_candles_parquet(&candles, &data).unwrap();
    let page = dir.path().join("report.html");
    let report = html_report(plugins.path(), &data, &page, &["--strategy", "sma_cross"]);
    let size = std::fs::metadata(&page).unwrap().len();
    assert!(size < 2_000_000, "{size} bytes");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains(&format!(
        "the first 2000 of {} trades",
        report["metrics"]["trades"]
    )));
    assert_eq!(
        embedded_data(&html)["price"]["t"].as_array().unwrap().len(),
        2000
    );
}

#[test]
fn report_renders_in_headless_chromium_without_errors() {
    let browser = chromium();
    if !require_or_skip("chromium (apt-get install chromium)", browser.is_some()) {
        return;
    }
    let browser = browser.unwrap();
    let plugins = plugin_dir(&["volume_zone_breakout"]);
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    let report = html_report(
        plugins.path(),
        &data_file("ETH_BTC-5m.csv"),
        &page,
        &[
            "--strategy",
            "volume_zone_breakout",
            "--param",
            "volume_window=60",
            "--param",
            "breakout_buffer=0.002",
        ],
    );
    let url = format!("file://{}", page.display());
    let dom = headless(&browser, &dir.path().join("profile-dom"))
        .args(["--dump-dom", &url])
        .output()
        .unwrap();
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let dom = String::from_utf8_lossy(&dom.stdout);
    let body = &dom[dom.find("<body").unwrap()..];
    let body = &body[..body.find('>').unwrap()];
    assert!(!body.contains("data-error"), "script error: {body}");
    assert!(body.contains("data-rendered=\"ok\""), "{body}");
    assert!(body.contains("data-series=\"4\""), "{body}");
    let markers = 2 * report["trades"].as_array().unwrap().len().min(2000);
    assert!(
        body.contains(&format!("data-markers=\"{markers}\"")),
        "{body}"
    );

    let png = dir.path().join("report.png");
    let shot = headless(&browser, &dir.path().join("profile-shot"))
        .arg("--window-size=1200,1600")
        .arg(format!("--screenshot={}", png.display()))
        .arg(&url)
        .output()
        .unwrap();
    assert!(
        shot.status.success(),
        "{}",
        String::from_utf8_lossy(&shot.stderr)
    );
    let bytes = std::fs::read(&png).unwrap();
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() > 20_000,
        "a real screenshot"
    );
}
