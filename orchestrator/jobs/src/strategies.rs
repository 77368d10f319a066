//! The `[[strategies]]` of a job file: plugins, parameter grids, and their expansion into runs.

use std::collections::{BTreeMap, HashMap};

use barwise_engine::{ParamValue, Params};
use barwise_plugin_host::{Catalog, ParamsError, PluginInfo, RawParam};
use toml::Value;

use crate::data::Symbol;
use crate::error::{Problems, check_keys, describe, key_path};
use crate::{Limits, PlannedRun};

/// Keys of one `[[strategies]]` entry.
pub(crate) const STRATEGY_KEYS: [&str; 2] = ["plugin", "params"];

/// One parameter's values: one for a scalar, several for a grid axis.
#[derive(Debug)]
struct Axis {
    name: String,
    values: Vec<RawParam>,
}

/// One checked `[[strategies]]` entry.
#[derive(Debug)]
struct Strategy<'r> {
    path: String,
    plugin: Option<&'r PluginInfo>,
    /// In parameter-name order; scalars are axes of one value.
    axes: Vec<Axis>,
}

impl Strategy<'_> {
    /// Number of parameter combinations, `None` on overflow.
    fn combinations(&self) -> Option<usize> {
        self.axes
            .iter()
            .try_fold(1usize, |n, axis| n.checked_mul(axis.values.len()))
    }
}

/// A parameter value as a requested parameter, or why it cannot be one.
fn raw_param(value: &Value) -> Result<RawParam, String> {
    match value {
        Value::Integer(i) => Ok(RawParam::Value(ParamValue::Int(*i))),
        Value::Float(x) => Ok(RawParam::Value(ParamValue::Float(*x))),
        Value::Boolean(b) => Ok(RawParam::Value(ParamValue::Bool(*b))),
        Value::String(text) => Ok(RawParam::Text(text.clone())),
        Value::Array(_) => {
            Err("nested arrays are not allowed (a grid axis is one flat array)".into())
        }
        other => Err(format!(
            "expected a number, true or false, or an array of them, got {}",
            describe(other)
        )),
    }
}

/// Checks one `[[strategies]]` entry.
fn strategy<'r>(
    index: usize,
    value: &Value,
    registry: &'r Catalog,
    problems: &mut Problems,
) -> Option<Strategy<'r>> {
    let path = format!("strategies[{index}]");
    let Value::Table(table) = value else {
        problems.add(&path, format!("expected a table, got {}", describe(value)));
        return None;
    };
    check_keys(table, &path, &STRATEGY_KEYS, problems);
    let plugin_path = format!("{path}.plugin");
    let plugin = match table.get("plugin") {
        None => {
            problems.add(&plugin_path, "missing (required)");
            None
        }
        Some(Value::String(name)) => {
            let plugin = registry.find(name);
            if plugin.is_none() {
                problems.add(
                    &plugin_path,
                    format!(
                        "unknown plugin {name:?} (available: {})",
                        registry.available()
                    ),
                );
            }
            plugin
        }
        Some(other) => {
            problems.add(
                &plugin_path,
                format!("expected a plugin name, got {}", describe(other)),
            );
            None
        }
    };
    let params_path = format!("{path}.params");
    let mut axes = Vec::new();
    match table.get("params") {
        None => {}
        Some(Value::Table(params)) => {
            // Sorted here, whatever order the TOML map keeps, so the grid order is by name.
            let mut params: Vec<(&String, &Value)> = params.iter().collect();
            params.sort_by(|a, b| a.0.cmp(b.0));
            for (name, value) in params {
                let name_path = key_path(&params_path, name);
                let values = match value {
                    Value::Array(items) if items.is_empty() => {
                        problems.add(&name_path, "an empty grid axis gives no runs");
                        continue;
                    }
                    Value::Array(items) => items
                        .iter()
                        .enumerate()
                        .filter_map(|(i, item)| {
                            raw_param(item)
                                .map_err(|e| problems.add(format!("{name_path}[{i}]"), e))
                                .ok()
                        })
                        .collect(),
                    scalar => match raw_param(scalar) {
                        Ok(raw) => vec![raw],
                        Err(e) => {
                            problems.add(&name_path, e);
                            continue;
                        }
                    },
                };
                // An axis whose every element was refused is left out (its parameter then
                // takes its default), so that the other parameters are still checked.
                if !values.is_empty() {
                    axes.push(Axis {
                        name: name.clone(),
                        values,
                    });
                }
            }
        }
        Some(other) => problems.add(
            &params_path,
            format!("expected a table, got {}", describe(other)),
        ),
    }
    Some(Strategy { path, plugin, axes })
}

/// Records the problems of one resolution under `strategies[i].params.NAME`.
fn report_params(path: &str, error: &ParamsError, problems: &mut Problems) {
    for (name, problem) in &error.problems {
        problems.add(key_path(&format!("{path}.params"), name), problem.clone());
    }
}

/// Every parameter combination of `strategy`, in odometer order (the last axis, by name,
/// varying fastest), resolved against the plugin's schema. Problems are reported once each.
fn resolve_grid(
    strategy: &Strategy<'_>,
    plugin: &PluginInfo,
    problems: &mut Problems,
) -> Vec<Params> {
    let mut resolved = Vec::new();
    let mut position = vec![0usize; strategy.axes.len()];
    loop {
        let requested: BTreeMap<String, RawParam> = strategy
            .axes
            .iter()
            .zip(&position)
            .map(|(axis, &i)| (axis.name.clone(), axis.values[i].clone()))
            .collect();
        match plugin.resolve_params(&requested) {
            Ok(params) => resolved.push(params),
            Err(e) => report_params(&strategy.path, &e, problems),
        }
        // Advance the odometer; done when every position wrapped around.
        let mut axis = strategy.axes.len();
        loop {
            if axis == 0 {
                return resolved;
            }
            axis -= 1;
            position[axis] += 1;
            if position[axis] < strategy.axes[axis].values.len() {
                break;
            }
            position[axis] = 0;
        }
    }
}

/// Checks each grid value on its own (other parameters at their first value), for a job too
/// large to enumerate: reports the same problems as [`resolve_grid`] without its cost.
fn check_values(strategy: &Strategy<'_>, plugin: &PluginInfo, problems: &mut Problems) {
    let first: BTreeMap<String, RawParam> = strategy
        .axes
        .iter()
        .filter_map(|a| Some((a.name.clone(), a.values.first()?.clone())))
        .collect();
    if let Err(e) = plugin.resolve_params(&first) {
        report_params(&strategy.path, &e, problems);
    }
    for axis in &strategy.axes {
        for value in axis.values.iter().skip(1) {
            let mut requested = first.clone();
            requested.insert(axis.name.clone(), value.clone());
            if let Err(e) = plugin.resolve_params(&requested) {
                report_params(&strategy.path, &e, problems);
            }
        }
    }
}

/// Parameters as canonical JSON: keys sorted, no spaces (`{"fast":5,"slow":30}`).
pub(crate) fn canonical_json(params: &Params) -> String {
    serde_json::to_string(params).unwrap_or_else(|_| format!("{params:?}"))
}

/// The run key of one run: `{symbol}|{plugin}|{params as canonical JSON}`.
pub(crate) fn run_key(symbol: &str, plugin: &str, params: &Params) -> String {
    format!("{symbol}|{plugin}|{}", canonical_json(params))
}

/// Checks `strategies` and expands them into runs: for each strategy, for each symbol, each
/// parameter combination. The size of the job is checked against `limits` before any
/// combination is enumerated.
pub(crate) fn expand(
    value: Option<&Value>,
    symbols: &[Symbol],
    symbol_count: usize,
    registry: &Catalog,
    limits: &crate::Limits,
    problems: &mut Problems,
) -> Vec<PlannedRun> {
    let entries = match value {
        None => &Vec::new(),
        Some(Value::Array(entries)) => entries,
        Some(other) => {
            problems.add(
                "strategies",
                format!(
                    "expected an array of tables ([[strategies]]), got {}",
                    describe(other)
                ),
            );
            return Vec::new();
        }
    };
    if entries.is_empty() {
        problems.add("strategies", "missing (at least one strategy)");
        return Vec::new();
    }
    let strategies: Vec<Strategy<'_>> = entries
        .iter()
        .enumerate()
        .filter_map(|(i, entry)| strategy(i, entry, registry, problems))
        .collect();
    if !within_limit(&strategies, symbol_count, limits, problems) {
        for s in &strategies {
            if let Some(plugin) = s.plugin {
                check_values(s, plugin, problems);
            }
        }
        return Vec::new();
    }
    let mut runs = Vec::new();
    // (plugin, canonical params) -> path of the strategy that first produced them.
    let mut seen: HashMap<(String, String), String> = HashMap::new();
    for s in &strategies {
        let Some(plugin) = s.plugin else { continue };
        let name = &plugin.manifest().name;
        let grid = resolve_grid(s, plugin, problems);
        let mut repeats: BTreeMap<String, (usize, String)> = BTreeMap::new();
        let mut unique = Vec::with_capacity(grid.len());
        for params in grid {
            let json = canonical_json(&params);
            match seen.get(&(name.clone(), json.clone())) {
                Some(first) => {
                    let entry = repeats.entry(first.clone()).or_insert((0, json));
                    entry.0 += 1;
                }
                None => {
                    seen.insert((name.clone(), json), s.path.clone());
                    unique.push(params);
                }
            }
        }
        for (first, (count, example)) in repeats {
            let (path, what) = if first == s.path {
                (
                    format!("{}.params", s.path),
                    "earlier in this grid".to_owned(),
                )
            } else {
                (s.path.clone(), format!("in {first}"))
            };
            problems.add(
                path,
                format!(
                    "{count} parameter combination(s) of {name} already appear {what}, \
                     e.g. {example} (each run must be unique)"
                ),
            );
        }
        for symbol in symbols {
            for params in &unique {
                runs.push(PlannedRun {
                    run_key: run_key(&symbol.name, name, params),
                    symbol: symbol.name.clone(),
                    data: symbol.data.clone(),
                    plugin: name.clone(),
                    plugin_path: plugin.path().to_owned(),
                    params: params.clone(),
                });
            }
        }
    }
    runs
}

/// Checks the number of runs, `symbols x combinations` summed over strategies (at least one
/// symbol counted, so that a grid is never enumerated unbounded), against the limit.
fn within_limit(
    strategies: &[Strategy<'_>],
    symbol_count: usize,
    limits: &Limits,
    problems: &mut Problems,
) -> bool {
    let total = strategies.iter().try_fold(0usize, |total, s| {
        s.combinations()?
            .checked_mul(symbol_count.max(1))?
            .checked_add(total)
    });
    match total {
        Some(total) if total <= limits.max_runs => true,
        Some(total) => {
            problems.add(
                "strategies",
                format!(
                    "the job expands into {total} runs, more than the limit of {}",
                    limits.max_runs
                ),
            );
            false
        }
        None => {
            problems.add(
                "strategies",
                format!(
                    "the job expands into more than {} runs, more than the limit of {}",
                    usize::MAX,
                    limits.max_runs
                ),
            );
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_keys_use_canonical_json() {
        let params: Params = [
            ("slow".to_owned(), ParamValue::Int(30)),
            ("fast".to_owned(), ParamValue::Int(5)),
            ("ratio".to_owned(), ParamValue::Float(1.0)),
            ("wicks".to_owned(), ParamValue::Bool(true)),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            run_key("ETH/BTC", "sma_cross", &params),
            "ETH/BTC|sma_cross|{\"fast\":5,\"ratio\":1.0,\"slow\":30,\"wicks\":true}"
        );
    }

    #[test]
    fn nested_values_are_refused() {
        assert!(raw_param(&Value::Array(vec![])).is_err());
        assert_eq!(
            raw_param(&Value::Table(toml::Table::new())).unwrap_err(),
            "expected a number, true or false, or an array of them, got a table"
        );
        assert_eq!(
            raw_param(&Value::String("20".into())),
            Ok(RawParam::Text("20".into()))
        );
    }
}
