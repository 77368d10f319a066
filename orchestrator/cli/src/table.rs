//! Aligned plain-text tables and the human summary of a report.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use barwise_engine::{Report, Trade};

/// Column alignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Pad on the right.
    Left,
    /// Pad on the left (numbers).
    Right,
}

/// Renders rows under a header with every column as wide as its widest cell.
pub fn render(header: &[&str], align: &[Align], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: &mut dyn Iterator<Item = &str>| {
        let mut parts = Vec::new();
        for (i, cell) in cells.enumerate() {
            let pad = widths[i].saturating_sub(cell.chars().count());
            let a = align.get(i).copied().unwrap_or(Align::Left);
            parts.push(match a {
                Align::Left => format!("{cell}{}", " ".repeat(pad)),
                Align::Right => format!("{}{cell}", " ".repeat(pad)),
            });
        }
        let _ = writeln!(out, "{}", parts.join("  ").trim_end());
    };
    line(&mut out, &mut header.iter().copied());
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    line(&mut out, &mut rule.iter().map(String::as_str));
    for row in rows {
        line(&mut out, &mut row.iter().map(String::as_str));
    }
    out
}

/// A fraction as a percentage with two decimals, `-` when undefined.
pub fn percent(value: Option<f64>) -> String {
    value.map_or_else(|| "-".into(), |v| format!("{:.2} %", v * 100.0))
}

/// A plain number with `digits` decimals, `-` when undefined.
pub fn number(value: Option<f64>, digits: usize) -> String {
    value.map_or_else(|| "-".into(), |v| format!("{v:.digits$}"))
}

/// A duration in milliseconds as `5m`, `1h`, `1d` or `90s`.
pub fn interval(ms: i64) -> String {
    const UNITS: [(i64, &str); 4] = [
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "m"),
        (1000, "s"),
    ];
    UNITS
        .iter()
        .find(|(unit, _)| ms % unit == 0 && ms >= *unit)
        .map_or_else(
            || format!("{ms}ms"),
            |(unit, s)| format!("{}{s}", ms / unit),
        )
}

/// A price with eight significant digits, without exponent notation.
pub fn price(value: f64) -> String {
    if value == 0.0 || !value.is_finite() {
        return value.to_string();
    }
    let magnitude = value.abs().log10().floor() as i64;
    let decimals = (7 - magnitude).clamp(0, 15) as usize;
    format!("{value:.decimals$}")
}

fn trade_rows(trades: &[Trade]) -> Vec<Vec<String>> {
    trades
        .iter()
        .map(|t| {
            vec![
                t.entry_time.to_string(),
                t.exit_time.to_string(),
                t.direction.as_str().to_owned(),
                price(t.entry_price),
                price(t.exit_price),
                percent(Some(t.trade_return)),
                format!("{:.2}", t.pnl),
                t.exit_reason.as_str().to_owned(),
            ]
        })
        .collect()
}

/// Every metric of a report with its display text (percentages for fractions), in report order;
/// shared by the text summary and the HTML report.
pub fn metric_rows(m: &barwise_engine::Metrics) -> [(&'static str, String); 14] {
    [
        ("total_return", percent(Some(m.total_return))),
        ("buy_and_hold_return", percent(Some(m.buy_and_hold_return))),
        ("cagr", percent(m.cagr)),
        ("sharpe", number(m.sharpe, 3)),
        ("sortino", number(m.sortino, 3)),
        ("max_drawdown", percent(Some(m.max_drawdown))),
        ("calmar", number(m.calmar, 3)),
        ("trades", m.trades.to_string()),
        ("win_rate", percent(m.win_rate)),
        ("avg_return", percent(m.avg_return)),
        ("profit_factor", number(m.profit_factor, 3)),
        ("avg_hold_bars", number(m.avg_hold_bars, 2)),
        ("exposure", percent(Some(m.exposure))),
        ("final_equity", format!("{:.2}", m.final_equity)),
    ]
}

/// Text for HTML: `&`, `<`, `>` and `"` escaped.
pub fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The readable summary printed by `barwise backtest`: run, data, metrics, first and last trades.
pub fn report_summary(report: &Report, data_name: &str, trades_shown: usize) -> String {
    let mut out = String::new();
    let params: Vec<String> = report
        .params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let e = &report.execution;
    let opt = |v: Option<f64>| v.map_or_else(|| "off".into(), |x| x.to_string());
    let _ = writeln!(
        out,
        "{} {} on {data_name}",
        report.strategy, report.plugin_version
    );
    let _ = writeln!(out, "params:    {}", params.join(" "));
    let _ = writeln!(
        out,
        "execution: fill={} fee={} slippage={} position_size={} allow_short={} stop_loss={} take_profit={} trailing_stop={} max_hold_bars={} initial_cash={}",
        e.fill.as_str(),
        e.fee,
        e.slippage,
        e.position_size,
        e.allow_short,
        opt(e.stop_loss),
        opt(e.take_profit),
        opt(e.trailing_stop),
        e.max_hold_bars
            .map_or_else(|| "off".into(), |b| b.to_string()),
        e.initial_cash,
    );
    let d = &report.data;
    let _ = writeln!(
        out,
        "data:      {} bars, {} .. {}, interval {}, {} gaps ({} missing bars)",
        d.bars,
        d.first_time,
        d.last_time,
        d.interval_ms.map_or_else(|| "-".into(), interval),
        d.gaps,
        d.missing_bars,
    );
    let s = &report.signals;
    let _ = writeln!(
        out,
        "signals:   {} long entries, {} short entries, {} exits; ignored: {} short (shorts off), {} same direction, {} on last bar, {} no equity",
        s.long_entries,
        s.short_entries,
        s.exits,
        s.ignored_short_entries,
        s.ignored_same_direction,
        s.ignored_last_bar,
        s.ignored_no_equity,
    );
    out.push('\n');
    let m = &report.metrics;
    let rows: Vec<Vec<String>> = metric_rows(m)
        .into_iter()
        .map(|(k, v)| vec![k.to_owned(), v])
        .collect();
    out.push_str(&render(
        &["metric", "value"],
        &[Align::Left, Align::Right],
        &rows,
    ));
    if !report.trades.is_empty() {
        let header = [
            "entry_time",
            "exit_time",
            "dir",
            "entry_price",
            "exit_price",
            "return",
            "pnl",
            "exit_reason",
        ];
        let align = [
            Align::Left,
            Align::Left,
            Align::Left,
            Align::Right,
            Align::Right,
            Align::Right,
            Align::Right,
            Align::Left,
        ];
        let n = report.trades.len();
        out.push('\n');
        if n <= 2 * trades_shown {
            let _ = writeln!(out, "trades ({n}):");
            out.push_str(&render(&header, &align, &trade_rows(&report.trades)));
        } else {
            let _ = writeln!(out, "first {trades_shown} of {n} trades:");
            out.push_str(&render(
                &header,
                &align,
                &trade_rows(&report.trades[..trades_shown]),
            ));
            let _ = writeln!(out, "\nlast {trades_shown} trades:");
            out.push_str(&render(
                &header,
                &align,
                &trade_rows(&report.trades[n - trades_shown..]),
            ));
        }
    }
    out
}

/// The ranked-runs table of `barwise run` and `barwise results`: rank, symbol, strategy, the
/// parameters that vary between the runs shown, key metrics, and the error of failed runs.
pub fn ranked_runs(runs: &[barwise_storage::RunRow]) -> String {
    let parsed: Vec<BTreeMap<String, serde_json::Value>> = runs
        .iter()
        .map(|r| serde_json::from_str(&r.params).unwrap_or_default())
        .collect();
    // Show the parameters that differ between the runs shown (all of them if none do).
    let varying: Vec<&String> = parsed
        .first()
        .map(|first| {
            first
                .keys()
                .filter(|k| parsed.iter().any(|p| p.get(*k) != first.get(*k)))
                .collect()
        })
        .unwrap_or_default();
    let rows: Vec<Vec<String>> = runs
        .iter()
        .zip(&parsed)
        .enumerate()
        .map(|(i, (r, params))| {
            let params: Vec<String> = params
                .iter()
                .filter(|(k, _)| varying.is_empty() || varying.contains(k))
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            vec![
                (i + 1).to_string(),
                r.symbol.clone(),
                r.plugin_name.clone(),
                params.join(" "),
                percent(r.total_return),
                number(r.sharpe, 3),
                percent(r.max_drawdown),
                r.trade_count.map_or_else(|| "-".into(), |t| t.to_string()),
                if r.status == "succeeded" {
                    String::new()
                } else {
                    r.error.clone().unwrap_or_default()
                },
            ]
        })
        .collect();
    render(
        &[
            "#",
            "symbol",
            "strategy",
            "params",
            "total_return",
            "sharpe",
            "max_drawdown",
            "trades",
            "error",
        ],
        &[
            Align::Right,
            Align::Left,
            Align::Left,
            Align::Left,
            Align::Right,
            Align::Right,
            Align::Right,
            Align::Right,
            Align::Left,
        ],
        &rows,
    )
}

/// A run row as JSON, with its stored parameter and execution JSON texts as objects.
pub fn run_json(run: &barwise_storage::RunRow) -> serde_json::Value {
    let mut value = serde_json::to_value(run).unwrap_or_default();
    for key in ["params", "execution"] {
        if let Some(text) = value.get(key).and_then(serde_json::Value::as_str)
            && let Ok(parsed) = serde_json::from_str::<serde_json::Value>(text)
        {
            value[key] = parsed;
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align() {
        let t = render(
            &["a", "bb"],
            &[Align::Left, Align::Right],
            &[
                vec!["xxx".into(), "1".into()],
                vec!["y".into(), "22".into()],
            ],
        );
        assert_eq!(t, "a    bb\n---  --\nxxx   1\ny    22\n");
    }

    #[test]
    fn prices_keep_eight_significant_digits() {
        assert_eq!(price(0.09708058000000001), "0.097080580");
        assert_eq!(price(43_123.456_789), "43123.457");
        assert_eq!(price(1.5), "1.5000000");
    }

    #[test]
    fn intervals() {
        assert_eq!(interval(300_000), "5m");
        assert_eq!(interval(86_400_000), "1d");
        assert_eq!(interval(1500), "1500ms");
    }
}
