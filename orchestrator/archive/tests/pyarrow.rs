//! The archive's Parquet files as analysts read them: pyarrow (from PyPI) must see the
//! documented column names and types, and the same values.

use std::process::Command;

use barwise_archive::{SummaryRow, equity_parquet, summary_parquet, trades_parquet};
use barwise_engine::Report;

fn report() -> (Report, Vec<i64>, Vec<f64>) {
    let (report, equity) = barwise_test_support::sample_report(40, 3);
    let candles = barwise_test_support::synthetic_candles(40 * 5 + 10, 3);
    (report, candles.time_ms().to_vec(), equity)
}

const CHECK: &str = r#"
import json, sys
import pyarrow as pa, pyarrow.parquet as pq
folder, expected = sys.argv[1], json.loads(sys.argv[2])
ts = pa.timestamp("ms", tz="UTC")
schemas = {
    "trades": {"seq": pa.int64(), "entry_index": pa.int64(), "exit_index": pa.int64(),
               "entry_time": ts, "exit_time": ts, "direction": pa.string(),
               "entry_price": pa.float64(), "exit_price": pa.float64(), "quantity": pa.float64(),
               "fees": pa.float64(), "pnl": pa.float64(), "return": pa.float64(),
               "exit_reason": pa.string()},
    "equity": {"bar": pa.int64(), "time": ts, "equity": pa.float64(), "drawdown": pa.float64()},
    "summary": {"run_id": pa.string(), "run_key": pa.string(), "symbol": pa.string(),
                "plugin": pa.string(), "params": pa.string(), "status": pa.string(),
                "error": pa.string(), "bars": pa.int64(), "trades": pa.int64(),
                **{m: pa.float64() for m in ["total_return", "cagr", "sharpe", "sortino",
                   "max_drawdown", "calmar", "win_rate", "avg_return", "profit_factor",
                   "avg_hold_bars", "exposure", "final_equity", "buy_and_hold_return"]}},
}
for name, schema in schemas.items():
    table = pq.read_table(f"{folder}/{name}.parquet")
    got = {f.name: f.type for f in table.schema}
    assert list(got) == list(schema), (name, list(got))
    for col, typ in schema.items():
        assert got[col] == typ, (name, col, got[col], typ)
    assert table.num_rows == expected[name]["rows"], (name, table.num_rows)
t = pq.read_table(f"{folder}/trades.parquet").to_pylist()
assert abs(t[0]["pnl"] - expected["trades"]["first_pnl"]) < 1e-12, t[0]
assert t[0]["entry_time"].timestamp() * 1000 == expected["trades"]["first_entry_ms"]
e = pq.read_table(f"{folder}/equity.parquet").to_pylist()
assert abs(max(r["drawdown"] for r in e) - expected["equity"]["max_drawdown"]) < 1e-12
s = pq.read_table(f"{folder}/summary.parquet").to_pylist()
assert s[1]["error"] == "boom" and s[1]["sharpe"] is None and s[0]["sharpe"] == expected["summary"]["sharpe"]
print("ok")
"#;

#[test]
fn pyarrow_reads_the_documented_columns_and_values() {
    let has_pyarrow = Command::new("python3")
        .args(["-c", "import pyarrow"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !barwise_test_support::require_or_skip(
        "python3 with pyarrow (pip install pyarrow)",
        has_pyarrow,
    ) {
        return;
    }
    let (report, times, equity) = report();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("trades.parquet"),
        trades_parquet(&report).unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("equity.parquet"),
        equity_parquet(&times, &equity).unwrap(),
    )
    .unwrap();
    let mut metrics = [None; 13];
    metrics[2] = report.metrics.sharpe;
    let rows = vec![
        SummaryRow {
            run_id: "j-0".into(),
            run_key: "S|s|{}".into(),
            symbol: "S".into(),
            plugin: "s".into(),
            params: "{}".into(),
            status: "succeeded".into(),
            error: None,
            bars: Some(500),
            trades: Some(report.trades.len() as i64),
            metrics,
        },
        SummaryRow {
            run_id: "j-1".into(),
            run_key: "S|s|{\"x\":1}".into(),
            symbol: "S".into(),
            plugin: "s".into(),
            params: "{\"x\":1}".into(),
            status: "failed".into(),
            error: Some("boom".into()),
            bars: None,
            trades: None,
            metrics: [None; 13],
        },
    ];
    std::fs::write(
        dir.path().join("summary.parquet"),
        summary_parquet(&rows).unwrap(),
    )
    .unwrap();
    let expected = serde_json::json!({
        "trades": {
            "rows": report.trades.len(),
            "first_pnl": report.trades[0].pnl,
            "first_entry_ms": report.trades[0].entry_time.0,
        },
        "equity": { "rows": equity.len(), "max_drawdown": report.metrics.max_drawdown },
        "summary": { "rows": 2, "sharpe": report.metrics.sharpe },
    });
    let out = Command::new("python3")
        .args(["-c", CHECK])
        .arg(dir.path())
        .arg(expected.to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
