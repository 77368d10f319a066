//! Load speed of 1,000,000 synthetic candles as CSV (RFC 3339 timestamps), Parquet and ccxt
//! JSON. Targets on one core in release mode: CSV < 0.5 s, Parquet < 0.1 s.

use std::fmt::Write as _;
use std::hint::black_box;

use barwise_data::{load_candles, write_candles_csv, write_candles_parquet};
use barwise_engine::{CandleColumns, Candles};
use criterion::{Criterion, criterion_group, criterion_main};

const ROWS: usize = 1_000_000;

/// A deterministic random walk: a 64-bit LCG drives returns of up to ±0.5 % per one-minute bar.
fn synthetic(n: usize) -> Candles {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        // Top 53 bits as a float in [0, 1).
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut columns = CandleColumns::with_capacity(n);
    let mut price = 0.05;
    for i in 0..n {
        let open = price;
        let close = open * (1.0 + (next() - 0.5) * 0.01);
        let high = open.max(close) * (1.0 + next() * 0.002);
        let low = open.min(close) * (1.0 - next() * 0.002);
        let volume = (next() * 5000.0 * 1e8).round() / 1e8;
        columns.push(
            1_515_560_100_000 + i as i64 * 60_000,
            open,
            high,
            low,
            close,
            volume,
        );
        price = close;
    }
    Candles::new(columns).expect("the synthetic walk is valid")
}

fn to_ccxt_json(candles: &Candles) -> String {
    let mut text = String::with_capacity(candles.len() * 110);
    text.push('[');
    for i in 0..candles.len() {
        if i > 0 {
            text.push(',');
        }
        let _ = write!(
            text,
            "[{},{},{},{},{},{}]",
            candles.time_ms()[i],
            candles.open()[i],
            candles.high()[i],
            candles.low()[i],
            candles.close()[i],
            candles.volume()[i]
        );
    }
    text.push(']');
    text
}

/// The first row where two series differ, if any.
fn first_difference(a: &Candles, b: &Candles) -> Option<usize> {
    if a.len() != b.len() {
        return Some(a.len().min(b.len()));
    }
    (0..a.len()).find(|&i| {
        a.time_ms()[i] != b.time_ms()[i]
            || a.open()[i].to_bits() != b.open()[i].to_bits()
            || a.high()[i].to_bits() != b.high()[i].to_bits()
            || a.low()[i].to_bits() != b.low()[i].to_bits()
            || a.close()[i].to_bits() != b.close()[i].to_bits()
            || a.volume()[i].to_bits() != b.volume()[i].to_bits()
    })
}

fn load(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let candles = synthetic(ROWS);
    let csv = dir.path().join("candles.csv");
    let parquet = dir.path().join("candles.parquet");
    let json = dir.path().join("candles.json");
    write_candles_csv(&candles, &csv).expect("write CSV");
    write_candles_parquet(&candles, &parquet).expect("write Parquet");
    std::fs::write(&json, to_ccxt_json(&candles)).expect("write JSON");
    for path in [&csv, &parquet, &json] {
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        eprintln!("{}: {:.1} MB", path.display(), size as f64 / 1e6);
        let loaded = load_candles(path).expect("loads");
        if let Some(row) = first_difference(&loaded, &candles) {
            panic!(
                "{} does not read back identically from row {row}",
                path.display()
            );
        }
    }

    let mut group = c.benchmark_group("load_1m_candles");
    group.sample_size(10);
    group.bench_function("csv", |b| b.iter(|| load_candles(black_box(&csv))));
    group.bench_function("parquet", |b| b.iter(|| load_candles(black_box(&parquet))));
    group.bench_function("ccxt_json", |b| b.iter(|| load_candles(black_box(&json))));
    group.finish();
}

criterion_group!(benches, load);
criterion_main!(benches);
