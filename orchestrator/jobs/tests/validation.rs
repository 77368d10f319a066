//! Validation: every problem of a job file reported at once with its path, limits, durations,
//! cron expressions and syntax errors.

mod common;

use std::path::Path;
use std::time::Instant;

use barwise_jobs::{JobError, Limits, load_job, parse_duration, parse_job, parse_schedule};
use common::{data_dir, parse_in, problems, registry};

/// A job file with sixteen mistakes, each of a different kind.
const MISTAKES: &str = r#"title = "x"

[job]
nmae = "typo"
timeout = 5
schedule = "61 * * * *"

[data]
start = "2018-01-20"
end = "2018-01-12"
[data.symbols]
"ETH/BTC" = "missing.csv"
"LTC/BTC" = "candles.txt"

[[strategies]]
plugin = "volume_zone_breakout"
[strategies.params]
volume_window = [10, 0]
top_percentile = []
colour = "red"

[[strategies]]
plugin = "nope"
parms = { fast = 1 }

[execution]
fee = -1
fill = "open"
leverage = 3
"#;

#[test]
fn every_mistake_is_reported_with_its_path() {
    let (_plugins, registry) = registry();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("candles.txt"), "").unwrap();
    let found = problems(MISTAKES, dir.path(), &registry);
    let missing = dir.path().join("missing.csv");
    let expected = [
        "data.end: must be after data.start".to_owned(),
        format!(
            "data.symbols.\"ETH/BTC\": file not found: {}",
            missing.display()
        ),
        "data.symbols.\"LTC/BTC\": unsupported file extension \".txt\" in \"candles.txt\" \
         (expected .csv, .json, .parquet or .pq)"
            .to_owned(),
        "execution.fee: must be >= 0 and < 1, got -1".to_owned(),
        "execution.fill: expected \"next_open\" or \"close\", got \"open\"".to_owned(),
        "execution.leverage: unknown key (expected one of: fill, fee, slippage, position_size, \
         allow_short, stop_loss, take_profit, trailing_stop, max_hold_bars, initial_cash)"
            .to_owned(),
        "job.name: missing (required)".to_owned(),
        "job.nmae: unknown key (expected one of: name, timeout, schedule)".to_owned(),
        "job.schedule: invalid cron expression \"61 * * * *\": Component error: Number out of \
         bounds."
            .to_owned(),
        "job.timeout: expected a duration like \"30m\" or \"2h\", got 5".to_owned(),
        "strategies[0].params.colour: unknown parameter".to_owned(),
        "strategies[0].params.top_percentile: an empty grid axis gives no runs".to_owned(),
        "strategies[0].params.volume_window: must be >= 1, got 0".to_owned(),
        "strategies[1].parms: unknown key (expected one of: plugin, params)".to_owned(),
        "strategies[1].plugin: unknown plugin \"nope\" (available: sma_cross, \
         volume_long_candle, volume_zone_breakout)"
            .to_owned(),
        "title: unknown key (expected one of: job, data, strategies, execution)".to_owned(),
    ];
    assert_eq!(found, expected);
}

#[test]
fn the_error_lists_every_problem_under_the_source() {
    let (_plugins, registry) = registry();
    let text = "[job]\nname = \"\"\n[data.symbols]\n[[strategies]]\nplugin = 5\n";
    let err = parse_job(
        text,
        "bad.toml",
        Path::new("."),
        &registry,
        &Limits::default(),
    )
    .unwrap_err();
    assert_eq!(err.source, "bad.toml");
    assert_eq!(
        err.to_string(),
        "bad.toml: 3 problem(s):\n  data.symbols: missing (at least one symbol)\n  \
         job.name: must not be empty\n  strategies[0].plugin: expected a plugin name, got 5"
    );
}

#[test]
fn missing_sections_and_wrong_shapes() {
    let (_plugins, registry) = registry();
    let base = data_dir();
    assert_eq!(
        problems("", &base, &registry),
        [
            "data.symbols: missing (at least one symbol)",
            "job.name: missing (required)",
            "strategies: missing (at least one strategy)",
        ]
    );
    assert_eq!(
        problems(
            "job = { name = \"x\" }\ndata = { symbols = [\"ETH\"] }\nexecution = 1\n\
             [strategies]\nplugin = \"sma_cross\"",
            &base,
            &registry
        ),
        [
            "data.symbols: expected a table of symbol = \"file or URL\", got an array",
            "execution: expected a table, got 1",
            "strategies: expected an array of tables ([[strategies]]), got a table",
        ]
    );
}

#[test]
fn parameter_values_nested_or_mistyped() {
    let (_plugins, registry) = registry();
    let text = r#"
        [job]
        name = "p"
        [data.symbols]
        ETH = "ETH_BTC-5m.csv"
        [[strategies]]
        plugin = "sma_cross"
        params = { fast = [[1, 2], 3, 1.5], slow = { x = 1 } }
        [[strategies]]
        plugin = "volume_zone_breakout"
        params = { include_wicks = 1, num_bins = "abc", volume_window = "20", top_percentile = 2018-01-01 }
        [[strategies]]
        plugin = "sma_cross"
        params = { fast = [[1]], slow = 0 }
    "#;
    assert_eq!(
        problems(text, &data_dir(), &registry),
        [
            "strategies[0].params.fast: expected an integer, got 1.5",
            "strategies[0].params.fast[0]: nested arrays are not allowed (a grid axis is one \
             flat array)",
            "strategies[0].params.slow: expected a number, true or false, or an array of them, \
             got a table",
            "strategies[1].params.include_wicks: expected true or false, got 1",
            "strategies[1].params.num_bins: expected an integer, got \"abc\"",
            "strategies[1].params.top_percentile: expected a number, true or false, or an array \
             of them, got 2018-01-01",
            "strategies[2].params.fast[0]: nested arrays are not allowed (a grid axis is one \
             flat array)",
            "strategies[2].params.slow: must be >= 2, got 0",
        ]
    );
}

#[test]
fn repeated_runs_are_refused() {
    let (_plugins, registry) = registry();
    let text = r#"
        [job]
        name = "dup"
        [data.symbols]
        ETH = "ETH_BTC-5m.csv"
        [[strategies]]
        plugin = "sma_cross"
        params = { fast = [5, 5.0, "5"], slow = 30 }
        [[strategies]]
        plugin = "sma_cross"
        params = { fast = 5, slow = [30, 40] }
    "#;
    assert_eq!(
        problems(text, &data_dir(), &registry),
        [
            "strategies[0].params: 2 parameter combination(s) of sma_cross already appear \
             earlier in this grid, e.g. {\"fast\":5,\"slow\":30} (each run must be unique)",
            "strategies[1]: 1 parameter combination(s) of sma_cross already appear in \
             strategies[0], e.g. {\"fast\":5,\"slow\":30} (each run must be unique)",
        ]
    );
}

#[test]
fn grid_size_is_limited_before_expansion() {
    let (_plugins, registry) = registry();
    // 2 symbols x 20 x 30 x 10 = 12 000 runs.
    let axis = |n: usize, from: usize| {
        let values: Vec<String> = (from..from + n).map(|v| v.to_string()).collect();
        format!("[{}]", values.join(", "))
    };
    let text = format!(
        "[job]\nname = \"big\"\n[data.symbols]\nA = \"ETH_BTC-5m.csv\"\nB = \"LTC_BTC-5m.csv\"\n\
         [[strategies]]\nplugin = \"volume_zone_breakout\"\n[strategies.params]\n\
         volume_window = {}\nnum_bins = {}\nhold_period_bars = {}\n",
        axis(20, 1),
        axis(30, 1),
        axis(10, 1)
    );
    assert_eq!(
        problems(&text, &data_dir(), &registry),
        ["strategies: the job expands into 12000 runs, more than the limit of 10000"]
    );
    // Within a larger limit it expands.
    let plan = parse_job(
        &text,
        "big.toml",
        &data_dir(),
        &registry,
        &Limits { max_runs: 12_000 },
    )
    .unwrap();
    assert_eq!(plan.runs.len(), 12_000);

    // Five axes of 10 000 values and one of two: 2 x 10^20 combinations overflow usize. Reported
    // at once (never enumerated), and bad values in the grid are still found, each once.
    let mut text = "[job]\nname = \"huge\"\n[data.symbols]\nA = \"ETH_BTC-5m.csv\"\n\
                    [[strategies]]\nplugin = \"volume_zone_breakout\"\n[strategies.params]\n\
                    include_wicks = [true, false]\n"
        .to_owned();
    for name in ["volume_window", "hold_period_bars", "num_bins"] {
        text.push_str(&format!("{name} = {}\n", axis(10_000, 0)));
    }
    for name in ["top_percentile", "breakout_buffer"] {
        let values: Vec<String> = (0..10_000).map(|v| format!("{}.5", v / 1_000)).collect();
        text.push_str(&format!("{name} = [{}]\n", values.join(", ")));
    }
    let started = Instant::now();
    let found = problems(&text, &data_dir(), &registry);
    assert!(
        started.elapsed().as_secs() < 10,
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        found,
        [
            format!(
                "strategies: the job expands into more than {} runs, more than the limit of 10000",
                usize::MAX
            ),
            "strategies[0].params.hold_period_bars: must be >= 1, got 0".to_owned(),
            "strategies[0].params.num_bins: must be >= 1, got 0".to_owned(),
            "strategies[0].params.top_percentile: must be <= 1.0, got 1.5".to_owned(),
            "strategies[0].params.top_percentile: must be <= 1.0, got 2.5".to_owned(),
            "strategies[0].params.top_percentile: must be <= 1.0, got 3.5".to_owned(),
            "strategies[0].params.top_percentile: must be <= 1.0, got 4.5".to_owned(),
            "strategies[0].params.top_percentile: must be <= 1.0, got 5.5".to_owned(),
            "strategies[0].params.top_percentile: must be <= 1.0, got 6.5".to_owned(),
            "strategies[0].params.top_percentile: must be <= 1.0, got 7.5".to_owned(),
            "strategies[0].params.top_percentile: must be <= 1.0, got 8.5".to_owned(),
            "strategies[0].params.top_percentile: must be <= 1.0, got 9.5".to_owned(),
            "strategies[0].params.volume_window: must be >= 1, got 0".to_owned(),
        ]
    );
}

#[test]
fn durations() {
    let ok = [
        ("250ms", 250),
        ("1s", 1_000),
        ("90s", 90_000),
        ("15m", 900_000),
        ("2h", 7_200_000),
        ("1d", 86_400_000),
        ("007m", 420_000),
        ("365d", 31_536_000_000),
    ];
    for (text, ms) in ok {
        assert_eq!(parse_duration(text), Ok(ms), "{text}");
    }
    let shape = |t: &str| format!("expected a duration like \"30m\" or \"2h\", got {t:?}");
    let bad = [
        ("", shape("")),
        ("5", shape("5")),
        ("h", shape("h")),
        ("1.5h", shape("1.5h")),
        ("2 h", shape("2 h")),
        (" 2h", shape(" 2h")),
        ("-1m", shape("-1m")),
        ("+1m", shape("+1m")),
        ("1w", shape("1w")),
        ("2H", shape("2H")),
        ("ms", shape("ms")),
        ("1 ms", shape("1 ms")),
        ("1mss", shape("1mss")),
        ("1hé", shape("1hé")),
        ("0ms", "must be greater than zero, got \"0ms\"".to_owned()),
        ("0s", "must be greater than zero, got \"0s\"".to_owned()),
        (
            "99999999999999999999d",
            "duration is too large, got \"99999999999999999999d\"".to_owned(),
        ),
        (
            "300000000000000d",
            "duration is too large, got \"300000000000000d\"".to_owned(),
        ),
    ];
    for (text, message) in bad {
        assert_eq!(parse_duration(text), Err(message), "{text:?}");
    }
}

#[test]
fn cron_schedules() {
    for ok in [
        "0 0 * * *",
        "0 2 * * *",
        "*/15 * * * *",
        "0 9 * * MON-FRI",
        "0 0 1 JAN *",
        "* * * * * *",
        "30 0 2 * * *",
        "@daily",
    ] {
        assert!(parse_schedule(ok).is_ok(), "{ok}: {:?}", parse_schedule(ok));
    }
    for bad in [
        "",
        "61 * * * *",
        "* 24 * * *",
        "* * * *",
        "* * * * * * *",
        "0 0 * * * 2030",
        "every day",
        "60 * * * * *",
    ] {
        let message = parse_schedule(bad).unwrap_err();
        assert!(
            message.starts_with(&format!("invalid cron expression {bad:?}: ")),
            "{message}"
        );
    }
    let (_plugins, registry) = registry();
    let job = |schedule: &str| {
        format!(
            "[job]\nname = \"c\"\nschedule = \"{schedule}\"\n[data.symbols]\n\
             ETH = \"ETH_BTC-5m.csv\"\n[[strategies]]\nplugin = \"sma_cross\"\n"
        )
    };
    let plan = parse_in(&job("* * * * * *"), &data_dir(), &registry).unwrap();
    assert_eq!(plan.schedule.as_deref(), Some("* * * * * *"));
    assert_eq!(
        problems(&job("* * * *"), &data_dir(), &registry),
        [
            "job.schedule: invalid cron expression \"* * * *\": Invalid pattern: Pattern must \
             have 5 or 6 fields when years are disallowed."
        ]
    );
}

#[test]
fn syntax_errors_point_at_line_and_column() {
    let (_plugins, registry) = registry();
    let text = "[job]\nname = \"x\"\ntimeout = 1h\n";
    let err = parse_in(text, Path::new("."), &registry).unwrap_err();
    assert_eq!(err.errors.len(), 1, "{err}");
    assert_eq!(
        err.to_string(),
        "test.toml: 1 problem(s):\n  line 3, column 11: string values must be quoted, expected \
         literal string"
    );

    let text = "[job]\nname = \"x\"\nname = \"y\"\n";
    let err = parse_in(text, Path::new("."), &registry).unwrap_err();
    assert_eq!(err.errors.len(), 1, "{err}");
    assert_eq!(err.errors[0].path, "line 3, column 1");
    assert_eq!(err.errors[0].message, "duplicate key");

    // Only the syntax error: the unknown key and the missing sections are not checked.
    let text = "colour = \"red\"\n[job\n";
    let err = parse_in(text, Path::new("."), &registry).unwrap_err();
    assert_eq!(err.errors.len(), 1, "{err}");
    assert!(err.errors[0].path.starts_with("line 2, column "), "{err}");
}

#[test]
fn an_unreadable_file_is_one_error_without_a_path() {
    let (_plugins, registry) = registry();
    let missing = Path::new("/nonexistent/job.toml");
    let err = load_job(missing, &registry, &Limits::default()).unwrap_err();
    assert_eq!(err.source, "/nonexistent/job.toml");
    assert_eq!(err.errors.len(), 1);
    let JobError { path, message } = &err.errors[0];
    assert_eq!(path, "");
    assert!(message.starts_with("cannot read job file: "), "{message}");
    assert!(
        err.to_string()
            .starts_with("/nonexistent/job.toml: 1 problem(s):\n  cannot read job file: ")
    );
}

#[test]
fn symbol_names_and_sources() {
    let (_plugins, registry) = registry();
    let text = r#"
        [job]
        name = "s"
        [data.symbols]
        "" = "ETH_BTC-5m.csv"
        "A|B" = "ETH_BTC-5m.csv"
        C = 5
        D = ""
        E = "ftp://host/x.csv"
        [[strategies]]
        plugin = "sma_cross"
    "#;
    assert_eq!(
        problems(text, &data_dir(), &registry),
        [
            "data.symbols.\"\": a symbol name must not be empty",
            "data.symbols.\"A|B\": a symbol name must not contain \"|\"",
            "data.symbols.C: expected a file path or URL, got 5",
            "data.symbols.D: expected a file path or URL, got \"\"",
            "data.symbols.E: unsupported URL scheme \"ftp\" in \"ftp://host/x.csv\" (expected \
             one of: s3, file, http, https)",
        ]
    );
}

/// The fenced block that follows `marker` in `text`.
fn block_after<'a>(text: &'a str, marker: &str) -> &'a str {
    let rest = &text[text
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} missing"))..];
    let open = rest.find("```").unwrap();
    let body = &rest[open..];
    let body = &body[body.find('\n').unwrap() + 1..];
    &body[..body.find("```").unwrap()]
}

#[test]
fn the_documented_example_is_what_is_reported() {
    let (_plugins, registry) = registry();
    let doc = std::fs::read_to_string(barwise_test_support::workspace_root().join("docs/jobs.md"))
        .unwrap();
    let file = block_after(&doc, "<!-- bad-job:file -->");
    let output = block_after(&doc, "<!-- bad-job:output -->");
    let err = parse_job(
        file,
        "/srv/barwise/jobs/bad.toml",
        Path::new("/srv/barwise/jobs"),
        &registry,
        &Limits::default(),
    )
    .unwrap_err();
    assert_eq!(format!("{err}\n"), output);
}
