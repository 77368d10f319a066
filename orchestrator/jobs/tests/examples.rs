//! The example job files of `config/jobs`, and expansion: counts, order, run keys, defaults,
//! resolved paths and time ranges.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use barwise_engine::{CandleColumns, Candles, ExecutionSettings, Fill, ParamValue};
use barwise_jobs::{JobPlan, Limits, load_job};
use barwise_plugin_host::Catalog;
use common::{data_dir, examples_dir, parse_in, problems, registry};

fn example(name: &str, registry: &Catalog) -> JobPlan {
    let path = examples_dir().join(name);
    load_job(&path, registry, &Limits::default()).unwrap_or_else(|e| panic!("{e}"))
}

fn bundled(name: &str) -> String {
    std::fs::canonicalize(barwise_test_support::data_file(name))
        .unwrap()
        .display()
        .to_string()
}

#[test]
fn every_example_parses() {
    let (_plugins, registry) = registry();
    let mut files: Vec<PathBuf> = std::fs::read_dir(examples_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for expected in ["nightly.toml", "quickstart.toml", "sweep.toml"] {
        assert!(names.iter().any(|n| n == expected), "{names:?}");
    }
    for file in &files {
        let plan = load_job(file, &registry, &Limits::default())
            .unwrap_or_else(|e| panic!("example {} is invalid: {e}", file.display()));
        assert!(!plan.runs.is_empty(), "{}", file.display());
        assert_eq!(plan.definition, std::fs::read_to_string(file).unwrap());
    }
}

/// The candles of `path` within `[start, end)`.
fn candles_in(path: &str, start: Option<i64>, end: Option<i64>) -> Candles {
    let all = barwise_data::load_candles(Path::new(path)).unwrap();
    let mut columns = CandleColumns::with_capacity(all.len());
    for i in 0..all.len() {
        let t = all.time_ms()[i];
        if start.is_none_or(|s| t >= s) && end.is_none_or(|e| t < e) {
            columns.push(
                t,
                all.open()[i],
                all.high()[i],
                all.low()[i],
                all.close()[i],
                all.volume()[i],
            );
        }
    }
    Candles::new(columns).unwrap()
}

#[test]
fn examples_run_on_the_bundled_data() {
    let (plugins, registry) = registry();
    let loaded = barwise_plugin_host::Registry::scan(plugins.path()).unwrap();
    for name in ["quickstart.toml", "sweep.toml", "nightly.toml"] {
        let plan = example(name, &registry);
        let mut candles = BTreeMap::new();
        for run in &plan.runs {
            let data = candles
                .entry(run.data.clone())
                .or_insert_with(|| candles_in(&run.data, plan.start_ms, plan.end_ms));
            assert_eq!(registry.find(&run.plugin).unwrap().path(), run.plugin_path);
            let plugin = loaded.find(&run.plugin).unwrap();
            let report = barwise_plugin_host::run_resolved(
                plugin,
                run.params.clone(),
                data,
                &plan.execution,
            )
            .unwrap_or_else(|e| panic!("{name}: run {} failed: {e}", run.run_key));
            assert!(report.data.bars > 100, "{name}: {}", run.run_key);
        }
    }
}

#[test]
fn quickstart_expands_into_two_default_runs() {
    let (_plugins, registry) = registry();
    let plan = example("quickstart.toml", &registry);
    assert_eq!(plan.name, "quickstart");
    assert_eq!(plan.timeout_ms, 15 * 60_000);
    assert_eq!(plan.schedule, None);
    assert_eq!(plan.timeframe_ms, Some(300_000));
    assert_eq!(plan.execution, ExecutionSettings::default());
    let symbols: Vec<&str> = plan.runs.iter().map(|r| r.symbol.as_str()).collect();
    assert_eq!(symbols, ["ETH/BTC", "LTC/BTC"]);
    assert_eq!(plan.runs[0].data, bundled("ETH_BTC-5m.csv"));
    assert_eq!(plan.runs[1].data, bundled("LTC_BTC-5m.csv"));
    // Every parameter of the schema, at its default.
    let manifest = registry.find("volume_zone_breakout").unwrap().manifest();
    let defaults: BTreeMap<String, ParamValue> = manifest
        .params
        .iter()
        .map(|p| (p.name.clone(), p.default))
        .collect();
    assert_eq!(defaults.len(), 6);
    for run in &plan.runs {
        assert_eq!(run.plugin, "volume_zone_breakout");
        assert_eq!(run.params, defaults);
        let json = serde_json::to_string(&defaults).unwrap();
        assert_eq!(
            run.run_key,
            format!("{}|volume_zone_breakout|{json}", run.symbol)
        );
    }
}

#[test]
fn sweep_order_and_run_keys_are_deterministic() {
    let (_plugins, registry) = registry();
    let plan = example("sweep.toml", &registry);
    assert_eq!(plan.runs.len(), 36);
    assert!(plan.execution.allow_short);
    assert_eq!(plan.execution.fee, 0.0005);
    assert_eq!(plan.execution.fill, Fill::NextOpen);
    // Symbols in name order, then the grid: axes in name order, the last (slow) fastest.
    let keys: Vec<&str> = plan.runs.iter().map(|r| r.run_key.as_str()).collect();
    assert_eq!(
        &keys[..4],
        [
            "ADA/BTC|sma_cross|{\"fast\":5,\"slow\":30}",
            "ADA/BTC|sma_cross|{\"fast\":5,\"slow\":50}",
            "ADA/BTC|sma_cross|{\"fast\":5,\"slow\":100}",
            "ADA/BTC|sma_cross|{\"fast\":10,\"slow\":30}",
        ]
    );
    assert_eq!(keys[8], "ADA/BTC|sma_cross|{\"fast\":20,\"slow\":100}");
    assert_eq!(keys[9], "ETH/BTC|sma_cross|{\"fast\":5,\"slow\":30}");
    assert_eq!(keys[35], "XRP/ETH|sma_cross|{\"fast\":20,\"slow\":100}");
    let unique: BTreeSet<&str> = keys.iter().copied().collect();
    assert_eq!(unique.len(), 36);
    for run in &plan.runs {
        assert_eq!(run.params.len(), 2);
        assert!(
            run.run_key
                .starts_with(&format!("{}|sma_cross|", run.symbol))
        );
    }
    // The same text gives the same plan, whatever the order of keys in the file.
    assert_eq!(example("sweep.toml", &registry), plan);
    let reordered = r#"
        [[strategies]]
        params = { slow = [30, 50, 100], fast = [5, 10, 20] }
        plugin = "sma_cross"
        [execution]
        fee = 0.0005
        allow_short = true
        [data.symbols]
        "XRP/ETH" = "../../tests/data/XRP_ETH-1m.csv"
        "LTC/BTC" = "../../tests/data/LTC_BTC-5m.csv"
        "ETH/BTC" = "../../tests/data/ETH_BTC-5m.csv"
        "ADA/BTC" = "../../tests/data/ADA_BTC-5m.csv"
        [job]
        timeout = "30m"
        name = "sma-sweep"
    "#;
    let other = parse_in(reordered, &examples_dir(), &registry).unwrap();
    assert_eq!(other.runs, plan.runs);
    assert_eq!(other.execution, plan.execution);
}

#[test]
fn strategies_keep_their_order_and_fixed_values_apply_to_every_run() {
    let (_plugins, registry) = registry();
    let text = r#"
        [job]
        name = "two"
        [data.symbols]
        B = "LTC_BTC-5m.csv"
        A = "ETH_BTC-5m.csv"
        [[strategies]]
        plugin = "volume_zone_breakout"
        params = { volume_window = [10, 20], include_wicks = false, top_percentile = 0.25 }
        [[strategies]]
        plugin = "sma_cross"
        params = { fast = 3 }
    "#;
    let plan = parse_in(text, &data_dir(), &registry).unwrap();
    let summary: Vec<(String, String, Option<ParamValue>)> = plan
        .runs
        .iter()
        .map(|r| {
            (
                r.plugin.clone(),
                r.symbol.clone(),
                r.params.get("volume_window").copied(),
            )
        })
        .collect();
    let vzb = |s: &str, w| {
        (
            "volume_zone_breakout".to_owned(),
            s.to_owned(),
            Some(ParamValue::Int(w)),
        )
    };
    let sma = |s: &str| ("sma_cross".to_owned(), s.to_owned(), None);
    assert_eq!(
        summary,
        [
            vzb("A", 10),
            vzb("A", 20),
            vzb("B", 10),
            vzb("B", 20),
            sma("A"),
            sma("B")
        ]
    );
    for run in &plan.runs[..4] {
        assert_eq!(run.params["include_wicks"], ParamValue::Bool(false));
        assert_eq!(run.params["top_percentile"], ParamValue::Float(0.25));
    }
    assert_eq!(plan.runs[4].params["fast"], ParamValue::Int(3));
    assert_eq!(plan.runs[4].params["slow"], ParamValue::Int(20));
    assert_eq!(plan.timeout_ms, barwise_jobs::DEFAULT_TIMEOUT_MS);
}

#[test]
fn relative_paths_resolve_against_the_job_folder_and_urls_are_kept() {
    let (_plugins, registry) = registry();
    let text = format!(
        r#"
        [job]
        name = "paths"
        [data.symbols]
        REL = "ETH_BTC-5m.csv"
        DOT = "./../data/LTC_BTC-5m.csv"
        ABS = "{}"
        S3 = "s3://bucket/candles/ETH.parquet"
        WEB = "https://example.org/ETH.csv?token=1"
        LOCAL = "file:///srv/candles/ETH.json"
        [[strategies]]
        plugin = "sma_cross"
    "#,
        barwise_test_support::data_file("ADA_BTC-5m.csv").display()
    );
    let plan = parse_in(&text, &data_dir(), &registry).unwrap();
    let data: BTreeMap<&str, &str> = plan
        .runs
        .iter()
        .map(|r| (r.symbol.as_str(), r.data.as_str()))
        .collect();
    assert_eq!(data["REL"], bundled("ETH_BTC-5m.csv"));
    assert_eq!(data["DOT"], bundled("LTC_BTC-5m.csv"));
    assert_eq!(data["ABS"], bundled("ADA_BTC-5m.csv"));
    assert_eq!(data["S3"], "s3://bucket/candles/ETH.parquet");
    assert_eq!(data["WEB"], "https://example.org/ETH.csv?token=1");
    assert_eq!(data["LOCAL"], "file:///srv/candles/ETH.json");
    // The same relative paths from another folder are not found, and the messages show where
    // they were looked for (absolute, "." components dropped).
    let elsewhere = tempfile::tempdir().unwrap();
    let found = problems(&text, elsewhere.path(), &registry);
    assert_eq!(
        found,
        [
            format!(
                "data.symbols.DOT: file not found: {}",
                elsewhere.path().join("../data/LTC_BTC-5m.csv").display()
            ),
            format!(
                "data.symbols.REL: file not found: {}",
                elsewhere.path().join("ETH_BTC-5m.csv").display()
            ),
        ]
    );
}

#[test]
fn time_ranges() {
    let (_plugins, registry) = registry();
    let plan = example("quickstart.toml", &registry);
    assert_eq!(plan.start_ms, Some(1_515_715_200_000)); // 2018-01-12T00:00:00Z
    assert_eq!(plan.end_ms, Some(1_516_406_400_000)); // 2018-01-20T00:00:00Z

    let job = |range: &str| {
        format!(
            "[job]\nname = \"t\"\n[data]\n{range}\n[data.symbols]\nA = \"ETH_BTC-5m.csv\"\n\
             [[strategies]]\nplugin = \"sma_cross\"\n"
        )
    };
    let range =
        |text: &str| parse_in(&job(text), &data_dir(), &registry).map(|p| (p.start_ms, p.end_ms));
    assert_eq!(range(""), Ok((None, None)));
    assert_eq!(
        range("start = \"2018-01-12\""),
        Ok((Some(1_515_715_200_000), None))
    );
    assert_eq!(
        range("end = \"2018-01-12T01:30:00+01:00\""),
        Ok((None, Some(1_515_717_000_000)))
    );
    // TOML date-times without quotes are accepted too.
    assert_eq!(
        range("start = 2018-01-12\nend = 2018-01-12T00:00:00.5Z"),
        Ok((Some(1_515_715_200_000), Some(1_515_715_200_500)))
    );
    let bad = |text: &str| problems(&job(text), &data_dir(), &registry);
    assert_eq!(
        bad("start = \"2018-01-12\"\nend = \"2018-01-12\""),
        ["data.end: must be after data.start"]
    );
    assert_eq!(
        bad("start = \"2018-01-12T00:00:00\"\nend = 5"),
        [
            "data.end: expected an RFC 3339 time like \"2018-01-20T00:00:00Z\" or a date like \
             \"2018-01-20\", got 5",
            "data.start: expected an RFC 3339 time like \"2018-01-20T00:00:00Z\" or a date like \
             \"2018-01-20\", got \"2018-01-12T00:00:00\" (a time needs an offset such as \"Z\"; \
             times are UTC)",
        ]
    );
    assert_eq!(
        bad("start = \"12/01/2018\"\ntimeframe = \"5 minutes\""),
        [
            "data.start: expected an RFC 3339 time like \"2018-01-20T00:00:00Z\" or a date like \
             \"2018-01-20\", got \"12/01/2018\"",
            "data.timeframe: expected a duration like \"30m\" or \"2h\", got \"5 minutes\"",
        ]
    );
}

#[test]
fn nightly_is_scheduled() {
    let (_plugins, registry) = registry();
    let plan = example("nightly.toml", &registry);
    assert_eq!(plan.schedule.as_deref(), Some("0 2 * * *"));
    assert_eq!(plan.timeout_ms, 2 * 3_600_000);
    assert_eq!(plan.runs.len(), 4);
    assert!(plan.runs.iter().all(|r| r.symbol == "BTC"
        && r.data == bundled("BTC-1m.ccxt.json")
        && r.plugin == "volume_long_candle"));
    assert_eq!(plan.execution.stop_loss, Some(0.02));
    assert_eq!(plan.execution.max_hold_bars, Some(60));
}
