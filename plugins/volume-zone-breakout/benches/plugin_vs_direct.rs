//! `volume_zone_breakout` (window 60, 20 bins) on 1,000,000 candles: signals + simulation +
//! metrics + report, linked directly and through the plugin boundary, and the two parts alone.
//! Target: under 50 ms; the boundary adds under 5 %. Results: `docs/BENCHMARKS.md`.
//! Run: `cargo bench -p volume-zone-breakout --bench plugin_vs_direct`.

use std::hint::black_box;
use std::path::PathBuf;

use barwise_engine::{ExecutionSettings, ParamValue, Params, Report};
use barwise_plugin_host::Plugin;
use barwise_test_support::{candle_view, direct_signals};
use criterion::{Criterion, criterion_group, criterion_main};
use volume_zone_breakout::VolumeZoneBreakout;

const BARS: usize = 1_000_000;
const NAME: &str = "volume_zone_breakout";
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
    let strategy = VolumeZoneBreakout {
        volume_window: 60,
        num_bins: 20,
        ..VolumeZoneBreakout::default()
    };
    let params: Params = [
        ("volume_window".to_owned(), ParamValue::Int(60)),
        ("num_bins".to_owned(), ParamValue::Int(20)),
        ("top_percentile".to_owned(), ParamValue::Float(0.2)),
        ("breakout_buffer".to_owned(), ParamValue::Float(0.0)),
        ("hold_period_bars".to_owned(), ParamValue::Int(1)),
        ("include_wicks".to_owned(), ParamValue::Bool(true)),
    ]
    .into_iter()
    .collect();
    let view = candle_view(&candles);
    let generate = || direct_signals(candles.len(), |out| strategy.signals(&view, out));
    let mut group = c.benchmark_group("volume_zone_breakout_1m_bars_w60_b20");
    group.sample_size(20);
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
