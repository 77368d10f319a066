//! The HTML report of a job: its runs ranked by a metric in a sortable table, and for a parameter
//! sweep a heatmap of the metric over two parameters. Self-contained, like the backtest report.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use barwise_storage::{JobRow, Metric, RunRow};
use serde_json::Value;

use crate::table;

/// The value of `metric` (a report metric name, see [`Metric::parse`]) in a run row.
pub fn metric_value(run: &RunRow, metric: &str) -> Option<f64> {
    Metric::parse(metric).ok().and_then(|m| run.metric(m))
}

fn params_of(run: &RunRow) -> BTreeMap<String, Value> {
    serde_json::from_str(&run.params).unwrap_or_default()
}

/// Parameters that take more than one value across `runs`, in name order.
pub fn varying_params(runs: &[RunRow]) -> Vec<String> {
    let mut values: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for run in runs {
        for (k, v) in params_of(run) {
            values.entry(k).or_default().insert(v.to_string());
        }
    }
    values
        .into_iter()
        .filter(|(_, v)| v.len() > 1)
        .map(|(k, _)| k)
        .collect()
}

/// The heatmap: for each `(x, y)` pair of parameter values, the mean of the metric over the runs
/// with those values (all symbols and other parameters together) and how many runs that is.
#[derive(Debug, Clone, PartialEq)]
pub struct Heatmap {
    /// Parameter on the horizontal axis.
    pub x: String,
    /// Parameter on the vertical axis.
    pub y: String,
    /// Sorted values of `x` (as JSON text).
    pub xs: Vec<String>,
    /// Sorted values of `y`.
    pub ys: Vec<String>,
    /// `(mean, runs)` per `(y index, x index)`.
    pub cells: BTreeMap<(usize, usize), (f64, usize)>,
}

fn sorted_values(runs: &[RunRow], param: &str) -> Vec<String> {
    let mut values: Vec<Value> = runs
        .iter()
        .filter_map(|r| params_of(r).get(param).cloned())
        .collect();
    values.sort_by(|a, b| match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        _ => a.to_string().cmp(&b.to_string()),
    });
    values.dedup();
    values.iter().map(Value::to_string).collect()
}

/// Builds the heatmap of `metric` over parameters `x` and `y`.
pub fn heatmap(runs: &[RunRow], metric: &str, x: &str, y: &str) -> Heatmap {
    let xs = sorted_values(runs, x);
    let ys = sorted_values(runs, y);
    let mut sums: BTreeMap<(usize, usize), (f64, usize)> = BTreeMap::new();
    for run in runs {
        let params = params_of(run);
        let (Some(xv), Some(yv), Some(value)) =
            (params.get(x), params.get(y), metric_value(run, metric))
        else {
            continue;
        };
        let (xv, yv) = (xv.to_string(), yv.to_string());
        let (Some(xi), Some(yi)) = (
            xs.iter().position(|v| *v == xv),
            ys.iter().position(|v| *v == yv),
        ) else {
            continue;
        };
        let cell = sums.entry((yi, xi)).or_insert((0.0, 0));
        cell.0 += value;
        cell.1 += 1;
    }
    let cells = sums
        .into_iter()
        .map(|(k, (sum, count))| (k, (sum / count as f64, count)))
        .collect();
    Heatmap {
        x: x.to_owned(),
        y: y.to_owned(),
        xs,
        ys,
        cells,
    }
}

fn heatmap_html(map: &Heatmap, metric: &str, lower_is_better: bool) -> String {
    let values: Vec<f64> = map.cells.values().map(|(v, _)| *v).collect();
    let (lo, hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let mut out = format!(
        "<table id=\"heatmap\" class=\"heatmap\"><thead><tr><th>{} \\ {}</th>",
        table::escape_html(&map.y),
        table::escape_html(&map.x)
    );
    for x in &map.xs {
        let _ = write!(out, "<th>{}</th>", table::escape_html(x));
    }
    out.push_str("</tr></thead><tbody>");
    for (yi, y) in map.ys.iter().enumerate() {
        let _ = write!(out, "<tr><th>{}</th>", table::escape_html(y));
        for xi in 0..map.xs.len() {
            match map.cells.get(&(yi, xi)) {
                Some((v, count)) => {
                    let mut t = if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
                    if lower_is_better {
                        t = 1.0 - t;
                    }
                    // Red (worst) to green (best).
                    let (r, g) = ((220.0 * (1.0 - t)) as u8 + 30, (180.0 * t) as u8 + 50);
                    let _ = write!(
                        out,
                        "<td class=\"num\" style=\"background:rgb({r},{g},90);color:#fff\" \
                         title=\"{metric}: mean of {count} run(s)\">{v:.3}</td>"
                    );
                }
                None => out.push_str("<td></td>"),
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

/// The whole page. `runs` are the job's runs ranked by `metric`; `axes` picks the heatmap's
/// parameters (default: the first two that vary).
pub fn render(job: &JobRow, runs: &[RunRow], metric: &str, axes: Option<(&str, &str)>) -> String {
    let varying = varying_params(runs);
    let axes: Option<(String, String)> = match axes {
        Some((x, y)) => Some((x.to_owned(), y.to_owned())),
        None => match varying.as_slice() {
            [x, y, ..] => Some((x.clone(), y.clone())),
            _ => None,
        },
    };
    let lower_is_better = metric == "max_drawdown";
    let heatmap_section = match &axes {
        Some((x, y)) => format!(
            "<h2>{metric} over {} and {} (mean over symbols and other parameters)</h2>{}",
            table::escape_html(x),
            table::escape_html(y),
            heatmap_html(&heatmap(runs, metric, x, y), metric, lower_is_better)
        ),
        None => {
            "<p class=\"meta\">No heatmap: fewer than two parameters vary in this job.</p>".into()
        }
    };
    // The ranking metric gets its own column unless it is one of the standard ones.
    let extra_metric = !["total_return", "sharpe", "max_drawdown", "trades"].contains(&metric);
    let mut rows = String::new();
    for (k, r) in runs.iter().enumerate() {
        let params: Vec<String> = params_of(r)
            .iter()
            .filter(|(name, _)| varying.is_empty() || varying.contains(name))
            .map(|(name, v)| format!("{name}={v}"))
            .collect();
        let cell = |v: Option<f64>, text: String| {
            format!(
                "<td class=\"num\" data-v=\"{}\">{text}</td>",
                v.map_or_else(|| "-1e308".to_owned(), |x| x.to_string())
            )
        };
        let _ = write!(
            rows,
            "<tr><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td>{}{}{}{}{}<td>{}</td></tr>",
            k + 1,
            table::escape_html(&r.symbol),
            table::escape_html(&r.plugin_name),
            table::escape_html(&params.join(" ")),
            if extra_metric {
                cell(
                    metric_value(r, metric),
                    table::number(metric_value(r, metric), 4),
                )
            } else {
                String::new()
            },
            cell(r.total_return, table::percent(r.total_return)),
            cell(r.sharpe, table::number(r.sharpe, 3)),
            cell(r.max_drawdown, table::percent(r.max_drawdown)),
            cell(
                r.trade_count.map(|t| t as f64),
                r.trade_count.map_or_else(|| "-".into(), |t| t.to_string())
            ),
            table::escape_html(r.error.as_deref().unwrap_or(""))
        );
    }
    format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 24px auto; max-width: 1100px; color: #222; }}
h1 {{ font-size: 20px; margin: 0 0 4px; }} h2 {{ font-size: 16px; margin: 24px 0 8px; }}
.meta {{ color: #555; }} table {{ border-collapse: collapse; }}
td, th {{ padding: 2px 10px; border-bottom: 1px solid #eee; }}
th {{ text-align: left; background: #f6f6f6; }} table.sortable th {{ cursor: pointer; }}
.num {{ text-align: right; }} .heatmap td {{ min-width: 60px; }}
</style></head>
<body>
<h1>{title}</h1>
<div class="meta">job {id}: {status}, {succeeded} succeeded, {failed} failed of {total} runs</div>
{heatmap_section}
<h2>Runs ranked by {metric}</h2>
<table id="runs" class="sortable"><thead><tr><th>#</th><th>symbol</th><th>strategy</th><th>params</th>{metric_header}<th>total_return</th><th>sharpe</th><th>max_drawdown</th><th>trades</th><th>error</th></tr></thead><tbody>{rows}</tbody></table>
<script>{sortable}</script>
<script>{hooks}</script>
</body></html>
"#,
        metric_header = if extra_metric {
            format!("<th>{metric}</th>")
        } else {
            String::new()
        },
        title = table::escape_html(&format!("Job {}", job.name)),
        id = table::escape_html(&job.id),
        status = table::escape_html(&job.status),
        succeeded = job.runs_succeeded,
        failed = job.runs_failed,
        total = job.runs_total,
        sortable = include_str!("../assets/sortable.js"),
        hooks = HOOKS_SCRIPT,
    )
}

/// Test hooks after the shared table script: rows and heatmap cells shown, render done.
const HOOKS_SCRIPT: &str = r##"
document.body.dataset.rows = String(document.querySelectorAll("#runs tbody tr").length);
document.body.dataset.cells = String(document.querySelectorAll("#heatmap tbody td[title]").length);
document.body.dataset.rendered = "ok";
"##;

#[cfg(test)]
mod tests {
    use super::*;

    fn run(params: &str, sharpe: Option<f64>) -> RunRow {
        RunRow {
            id: params.into(),
            job_id: "j".into(),
            run_key: params.into(),
            symbol: "X".into(),
            data_source: "x.csv".into(),
            plugin_name: "p".into(),
            plugin_version: None,
            params: params.into(),
            execution: "{}".into(),
            status: "succeeded".into(),
            attempts: 1,
            error: None,
            started_ms: None,
            finished_ms: None,
            bars: None,
            total_return: None,
            cagr: None,
            sharpe,
            sortino: None,
            max_drawdown: None,
            calmar: None,
            trade_count: None,
            win_rate: None,
            avg_return: None,
            profit_factor: None,
            avg_hold_bars: None,
            exposure: None,
            final_equity: None,
            buy_and_hold_return: None,
            archive_status: "none".into(),
            archive_url: None,
            archive_sha256: None,
        }
    }

    #[test]
    fn heatmap_cells_are_means_over_the_other_dimensions() {
        let runs = vec![
            run(r#"{"a":1,"b":10,"c":true}"#, Some(1.0)),
            run(r#"{"a":1,"b":10,"c":false}"#, Some(3.0)),
            run(r#"{"a":2,"b":10,"c":true}"#, Some(-1.0)),
            run(r#"{"a":10,"b":20,"c":true}"#, Some(5.0)),
            run(r#"{"a":10,"b":20,"c":false}"#, None),
        ];
        assert_eq!(varying_params(&runs), ["a", "b", "c"]);
        let map = heatmap(&runs, "sharpe", "a", "b");
        // Numbers sort by value, not as text: 1, 2, 10.
        assert_eq!(map.xs, ["1", "2", "10"]);
        assert_eq!(map.ys, ["10", "20"]);
        assert_eq!(map.cells[&(0, 0)], (2.0, 2), "mean of 1 and 3");
        assert_eq!(map.cells[&(0, 1)], (-1.0, 1));
        assert_eq!(
            map.cells[&(1, 2)],
            (5.0, 1),
            "the run without a value is left out"
        );
        assert_eq!(map.cells.len(), 3);
        let page = render(
            &JobRow {
                id: "j".into(),
                name: "<sweep>".into(),
                definition: String::new(),
                status: "completed".into(),
                submitted_ms: 0,
                started_ms: None,
                finished_ms: None,
                runs_total: 5,
                runs_succeeded: 5,
                runs_failed: 0,
                error: None,
                idempotency_key: None,
                timeout_ms: None,
                archived_ms: None,
            },
            &runs,
            "sharpe",
            None,
        );
        assert!(page.contains("Job &lt;sweep&gt;"), "names are escaped");
        assert!(page.contains("sharpe over a and b"));
        assert!(!page.contains("http://") && !page.contains("https://"));
    }
}
