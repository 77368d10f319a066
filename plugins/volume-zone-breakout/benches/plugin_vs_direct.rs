//! `volume_zone_breakout` (window 60, 20 bins) on 1,000,000 candles: signals + simulation +
//! metrics, linked directly and through the plugin boundary. Target: under 50 ms; the boundary
//! adds under 5 %. Run: `cargo bench -p volume-zone-breakout --bench plugin_vs_direct`.

use std::hint::black_box;
use std::path::PathBuf;

use barwise_engine::{ExecutionSettings, Intent, ParamValue, Params, Report, Signals};
use barwise_plugin_host::Plugin;
use barwise_plugin_sdk::{CandleView, SignalsOut};
use criterion::{Criterion, criterion_group, criterion_main};
use volume_zone_breakout::VolumeZoneBreakout;

const BARS: usize = 1_000_000;
const NAME: &str = "volume_zone_breakout";
const VERSION: &str = env!("CARGO_PKG_VERSION");

fn library() -> PathBuf {
    // `cargo bench` leaves the plugin's cdylib next to the bench binary, in target/release/deps.
    let exe = std::env::current_exe().expect("bench executable path");
    let dir = exe.parent().expect("bench binary folder");
    dir.join(format!(
        "{}volume_zone_breakout{}",
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
    let mut group = c.benchmark_group("volume_zone_breakout_1m_bars_w60_b20");
    group.sample_size(20);
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
    group.bench_function("direct", |b| {
        b.iter(|| {
            let n = candles.len();
            let (mut intents, mut hold) = (vec![0u8; n], vec![0u32; n]);
            let view = CandleView {
                time_ms: candles.time_ms(),
                open: candles.open(),
                high: candles.high(),
                low: candles.low(),
                close: candles.close(),
                volume: candles.volume(),
            };
            strategy.signals(&view, &mut SignalsOut::new(&mut intents, &mut hold));
            let signals = Signals {
                intents: intents
                    .iter()
                    .map(|&c| Intent::from_code(c).unwrap())
                    .collect(),
                hold_bars: hold,
            };
            // The same work as the plugin path minus the boundary: parameters in, report out.
            let backtest = barwise_engine::backtest(&candles, &signals, &settings).unwrap();
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
    // The parts, to see where the time goes: signal generation alone, then the engine alone
    // (simulation and metrics) on those signals.
    group.bench_function("signals_only", |b| {
        b.iter(|| {
            let n = candles.len();
            let (mut intents, mut hold) = (vec![0u8; n], vec![0u32; n]);
            let view = CandleView {
                time_ms: candles.time_ms(),
                open: candles.open(),
                high: candles.high(),
                low: candles.low(),
                close: candles.close(),
                volume: candles.volume(),
            };
            strategy.signals(&view, &mut SignalsOut::new(&mut intents, &mut hold));
            black_box((intents, hold))
        });
    });
    let signals = {
        let n = candles.len();
        let (mut intents, mut hold) = (vec![0u8; n], vec![0u32; n]);
        let view = CandleView {
            time_ms: candles.time_ms(),
            open: candles.open(),
            high: candles.high(),
            low: candles.low(),
            close: candles.close(),
            volume: candles.volume(),
        };
        strategy.signals(&view, &mut SignalsOut::new(&mut intents, &mut hold));
        Signals {
            intents: intents
                .iter()
                .map(|&c| Intent::from_code(c).unwrap())
                .collect(),
            hold_bars: hold,
        }
    };
    group.bench_function("engine_only", |b| {
        b.iter(|| black_box(barwise_engine::backtest(&candles, &signals, &settings).unwrap()));
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
