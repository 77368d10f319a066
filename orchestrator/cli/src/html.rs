//! The self-contained HTML report of one backtest: charts (price with trade markers, equity
//! against buy-and-hold, drawdown), the metrics and a sortable trades table, in one file that
//! works offline (no CDN, no network) and stays small enough to mail, whatever the data size.

use std::fmt::Write as _;

use barwise_engine::{Candles, Direction, Report, metrics};
use serde::Serialize;

use crate::table;

/// Points per chart: a million bars are shown as this many buckets (low/high band and close).
pub const CHART_POINTS: usize = 2_000;
/// Trade markers and table rows embedded at most (the report says how many there are).
pub const MAX_TRADES: usize = 2_000;

/// The data embedded in the page (also what the tests snapshot).
#[derive(Debug, Serialize)]
pub struct ChartData {
    /// Downsampled price.
    pub price: PriceBuckets,
    /// Equity at the end of each bucket.
    pub equity: Vec<f64>,
    /// Buy-and-hold equity (initial cash x close / first close) at the end of each bucket.
    pub buy_and_hold: Vec<f64>,
    /// Largest drawdown within each bucket.
    pub drawdown: Vec<f64>,
    /// Trade entries and exits, by bucket.
    pub markers: Vec<Marker>,
}

/// Price per bucket.
#[derive(Debug, Serialize)]
pub struct PriceBuckets {
    /// Open time of the bucket's first bar.
    pub t: Vec<i64>,
    /// Lowest low.
    pub low: Vec<f64>,
    /// Highest high.
    pub high: Vec<f64>,
    /// Last close.
    pub close: Vec<f64>,
}

/// One trade marker.
#[derive(Debug, Serialize)]
pub struct Marker {
    /// Bucket index.
    pub i: usize,
    /// Fill price.
    pub price: f64,
    /// `entry_long`, `entry_short` or `exit`.
    pub kind: &'static str,
}

/// Buckets the series into at most [`CHART_POINTS`] points.
pub fn chart_data(candles: &Candles, equity: &[f64], report: &Report) -> ChartData {
    let n = candles.len();
    let buckets = n.clamp(1, CHART_POINTS);
    // The bucket whose bar range (k*n/B .. (k+1)*n/B) holds `bar`.
    let bucket_of = |bar: usize| ((bar + 1) * buckets).saturating_sub(1) / n.max(1);
    let drawdown = metrics::drawdown_curve(equity, report.execution.initial_cash);
    let first_close = candles.close().first().copied().unwrap_or(1.0);
    let mut data = ChartData {
        price: PriceBuckets {
            t: Vec::with_capacity(buckets),
            low: Vec::with_capacity(buckets),
            high: Vec::with_capacity(buckets),
            close: Vec::with_capacity(buckets),
        },
        equity: Vec::with_capacity(buckets),
        buy_and_hold: Vec::with_capacity(buckets),
        drawdown: Vec::with_capacity(buckets),
        markers: Vec::new(),
    };
    for k in 0..buckets {
        let (from, to) = (
            k * n / buckets,
            ((k + 1) * n / buckets).max(k * n / buckets + 1),
        );
        let to = to.min(n);
        if from >= to {
            continue;
        }
        let lows = &candles.low()[from..to];
        let highs = &candles.high()[from..to];
        data.price.t.push(candles.time_ms()[from]);
        data.price
            .low
            .push(lows.iter().copied().fold(f64::INFINITY, f64::min));
        data.price
            .high
            .push(highs.iter().copied().fold(f64::NEG_INFINITY, f64::max));
        let close = candles.close()[to - 1];
        data.price.close.push(close);
        data.equity.push(equity.get(to - 1).copied().unwrap_or(0.0));
        data.buy_and_hold
            .push(report.execution.initial_cash * close / first_close);
        data.drawdown
            .push(drawdown[from..to].iter().copied().fold(0.0, f64::max));
    }
    for t in report.trades.iter().take(MAX_TRADES) {
        data.markers.push(Marker {
            i: bucket_of(t.entry_index),
            price: t.entry_price,
            kind: match t.direction {
                Direction::Long => "entry_long",
                Direction::Short => "entry_short",
            },
        });
        data.markers.push(Marker {
            i: bucket_of(t.exit_index),
            price: t.exit_price,
            kind: "exit",
        });
    }
    data
}

/// The whole page.
pub fn render(report: &Report, data_name: &str, candles: &Candles, equity: &[f64]) -> String {
    let chart = chart_data(candles, equity, report);
    // `</` must not appear inside the script element.
    let json = serde_json::to_string(&chart)
        .unwrap_or_else(|_| "{}".into())
        .replace("</", "<\\/");
    let m = &report.metrics;
    let mut metrics_html = String::new();
    for (name, value) in table::metric_rows(m) {
        let _ = write!(
            metrics_html,
            "<tr><td>{name}</td><td class=\"num\">{value}</td></tr>"
        );
    }
    let mut trades_html = String::new();
    for (k, t) in report.trades.iter().take(MAX_TRADES).enumerate() {
        let reason = t.exit_reason.as_str();
        let _ = write!(
            trades_html,
            "<tr><td class=\"num\">{}</td><td data-v=\"{}\">{}</td><td data-v=\"{}\">{}</td><td>{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\" data-v=\"{}\">{}</td>\
             <td class=\"num\" data-v=\"{}\">{:.2}</td><td>{}</td></tr>",
            k + 1,
            t.entry_time.0,
            t.entry_time,
            t.exit_time.0,
            t.exit_time,
            if t.direction == Direction::Long {
                "long"
            } else {
                "short"
            },
            table::price(t.entry_price),
            table::price(t.exit_price),
            t.trade_return,
            table::percent(Some(t.trade_return)),
            t.pnl,
            t.pnl,
            reason
        );
    }
    let shown = report.trades.len().min(MAX_TRADES);
    let trades_note = if shown < report.trades.len() {
        format!("the first {shown} of {} trades", report.trades.len())
    } else {
        format!("{} trades", report.trades.len())
    };
    let params: Vec<String> = report
        .params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let d = &report.data;
    format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 24px auto; max-width: 1100px; color: #222; }}
h1 {{ font-size: 20px; margin: 0 0 4px; }} h2 {{ font-size: 16px; margin: 24px 0 8px; }}
.meta {{ color: #555; }} canvas {{ width: 100%; border: 1px solid #ddd; display: block; cursor: grab; }}
#price {{ height: 320px; }} #equity {{ height: 220px; }} #drawdown {{ height: 140px; }}
table {{ border-collapse: collapse; }} td, th {{ padding: 2px 10px; border-bottom: 1px solid #eee; }}
th {{ cursor: pointer; text-align: left; background: #f6f6f6; }} .num {{ text-align: right; }}
.legend span {{ margin-right: 16px; }}
</style></head>
<body>
<h1>{title}</h1>
<div class="meta">{data_name}: {bars} bars, {first} .. {last}, {gaps} gaps &middot; params: {params}</div>
<h2>Price and trades</h2>
<div class="legend"><span style="color:#1a8f3c">&#9650; long entry</span><span style="color:#c0392b">&#9660; short entry</span><span>&#9660; exit</span> (wheel: zoom, drag: pan, double-click: reset)</div>
<canvas id="price"></canvas>
<h2>Equity and buy-and-hold</h2>
<div class="legend"><span style="color:#1a8f3c">&#9473; equity</span><span style="color:#999">&#9473; buy and hold</span></div>
<canvas id="equity"></canvas>
<h2>Drawdown</h2>
<canvas id="drawdown"></canvas>
<h2>Metrics</h2>
<table id="metrics" class="sortable"><thead><tr><th>metric</th><th>value</th></tr></thead><tbody>{metrics_html}</tbody></table>
<h2>Trades ({trades_note})</h2>
<table id="trades" class="sortable"><thead><tr><th>#</th><th>entry time</th><th>exit time</th><th>dir</th><th>entry price</th><th>exit price</th><th>return</th><th>pnl</th><th>exit reason</th></tr></thead><tbody>{trades_html}</tbody></table>
<script id="barwise-data" type="application/json">{json}</script>
<script>{sortable}</script>
<script>{script}</script>
</body></html>
"#,
        title = table::escape_html(&format!("{} {}", report.strategy, report.plugin_version)),
        data_name = table::escape_html(data_name),
        bars = d.bars,
        first = d.first_time,
        last = d.last_time,
        gaps = d.gaps,
        params = table::escape_html(&params.join(" ")),
        sortable = include_str!("../assets/sortable.js"),
        script = include_str!("../assets/report.js"),
    )
}
