//! `sma_cross` (10/20) on 1,000,000 candles: signals + simulation +
//! metrics + report, linked directly and through the plugin boundary, and the two parts alone.
//! Target: under 10 ms; the boundary adds under 5 %. Results: `docs/BENCHMARKS.md`.
//! Run: `cargo bench -p sma-cross --bench plugin_vs_direct`.

use std::hint::black_box;
use std::path::PathBuf;

use barwise_engine::{ExecutionSettings, ParamValue, Params, Report};
use barwise_plugin_host::Plugin;
use barwise_test_support::direct_signals;
use criterion::{Criterion, criterion_group, criterion_main};
use sma_cross::SmaCross;

const BARS: usize = 1_000_000;
const NAME: &str = "sma_cross";
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `cargo bench` leaves the plugin's cdylib next to the bench binary, in target/release/deps.
fn library() -> PathBuf {
    let exe = std::env::current_exe().expect("bench executable path");
    exe.parent().expect("bench binary folder").join(format!(
        "{}{NAME}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ))
}

fn bench(c: &mut Criterion) {
    let candles = barwise_test_support::synthetic_candles(BARS, 7);
    let settings = ExecutionSettings::default();
    let strategy = SmaCross { fast: 10, slow: 20 };
    let params: Params = [
        ("fast".to_owned(), ParamValue::Int(10)),
        ("slow".to_owned(), ParamValue::Int(20)),
    ]
    .into_iter()
    .collect();
    let generate = || {
        direct_signals(candles.len(), |out| {
            strategy.signals(candles.close(), false, out)
        })
    };
    let mut group = c.benchmark_group("sma_cross_1m_bars_10_20");
    group.sample_size(30);
    group.bench_function("direct", |b| {
        b.iter(|| {
            // The same work as the plugin path minus the boundary: parameters in, report out.
            let backtest = barwise_engine::backtest(&candles, &generate(), &settings).unwrap();
            black_box(Report::new(
                NAME.to_owned(),
                VERSION.to_owned(),
                params.clone(),
                settings,
                &candles,
                backtest,
            ))
        });
    });
    let plugin = Plugin::load(&library()).expect("build the plugin first (cargo bench builds it)");
    group.bench_function("plugin", |b| {
        b.iter(|| {
            black_box(
                barwise_plugin_host::run_resolved(&plugin, params.clone(), &candles, &settings)
                    .unwrap(),
            )
        });
    });
    // The parts, to see where the time goes.
    group.bench_function("signals_only", |b| b.iter(|| black_box(generate())));
    let signals = generate();
    group.bench_function("engine_only", |b| {
        b.iter(|| black_box(barwise_engine::backtest(&candles, &signals, &settings).unwrap()));
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
