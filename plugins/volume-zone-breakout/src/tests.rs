//! Tests of `volume_zone_breakout`: the worked example of `docs/strategies.md`, and the fast
//! computation checked against a literal bin-by-bin implementation of the specification.

use super::*;
use proptest::prelude::*;
use proptest::strategy::Strategy as _;

#[derive(Debug)]
struct Series {
    time: Vec<i64>,
    open: Vec<f64>,
    high: Vec<f64>,
    low: Vec<f64>,
    close: Vec<f64>,
    volume: Vec<f64>,
}

impl Series {
    fn view(&self) -> CandleView<'_> {
        CandleView {
            time_ms: &self.time,
            open: &self.open,
            high: &self.high,
            low: &self.low,
            close: &self.close,
            volume: &self.volume,
        }
    }

    /// Rows of (open, high, low, close, volume).
    fn new(rows: &[(f64, f64, f64, f64, f64)]) -> Self {
        Self {
            time: (0..rows.len() as i64).map(|t| t * 60_000).collect(),
            open: rows.iter().map(|r| r.0).collect(),
            high: rows.iter().map(|r| r.1).collect(),
            low: rows.iter().map(|r| r.2).collect(),
            close: rows.iter().map(|r| r.3).collect(),
            volume: rows.iter().map(|r| r.4).collect(),
        }
    }
}

fn run(s: &VolumeZoneBreakout, c: &CandleView<'_>) -> (Vec<u8>, Vec<u32>) {
    let mut intents = vec![0u8; c.len()];
    let mut hold = vec![0u32; c.len()];
    s.signals(c, &mut SignalsOut::new(&mut intents, &mut hold));
    (intents, hold)
}

/// The specification, literally: build every bin's volume by overlap, walk down from the top.
#[allow(
    clippy::needless_range_loop,
    reason = "indices mirror the specification's notation"
)]
fn reference(s: &VolumeZoneBreakout, c: &CandleView<'_>) -> Vec<u8> {
    let mut intents = vec![0u8; c.len()];
    let nb = s.num_bins;
    for i in s.volume_window..c.len() {
        let window = i - s.volume_window..i;
        let range = |j: usize| {
            if s.include_wicks {
                (c.low[j], c.high[j])
            } else {
                (c.open[j].min(c.close[j]), c.open[j].max(c.close[j]))
            }
        };
        let pmin = window
            .clone()
            .map(|j| range(j).0)
            .fold(f64::INFINITY, f64::min);
        let pmax = window
            .clone()
            .map(|j| range(j).1)
            .fold(f64::NEG_INFINITY, f64::max);
        if pmax == pmin {
            continue;
        }
        let edges: Vec<f64> = (0..=nb)
            .map(|k| {
                if k == nb {
                    pmax
                } else {
                    pmin + k as f64 * (pmax - pmin) / nb as f64
                }
            })
            .collect();
        let mut bins = vec![0.0; nb];
        for j in window {
            let (l, h) = range(j);
            if h > l {
                for k in 0..nb {
                    let overlap = (h.min(edges[k + 1]) - l.max(edges[k])).max(0.0);
                    bins[k] += c.volume[j] * overlap / (h - l);
                }
            } else {
                let k = (0..nb).rev().find(|&k| edges[k] <= l).unwrap_or(0);
                bins[k] += c.volume[j];
            }
        }
        let total: f64 = bins.iter().sum();
        if total <= 0.0 {
            continue;
        }
        let mut cumulative = 0.0;
        let mut resistance = None;
        for k in (0..nb).rev() {
            cumulative += bins[k];
            if cumulative >= s.top_percentile * total {
                resistance = Some(edges[k]);
                break;
            }
        }
        if let Some(r) = resistance
            && c.high[i] >= r * (1.0 + s.breakout_buffer)
        {
            intents[i] = 1;
        }
    }
    intents
}

/// The worked example in `docs/strategies.md`.
fn worked_example() -> Series {
    Series::new(&[
        (11.0, 14.0, 10.0, 13.0, 4.0),
        (13.0, 16.0, 12.0, 15.0, 8.0),
        (15.0, 15.0, 15.0, 15.0, 2.0),
        (13.5, 14.0, 13.0, 13.8, 5.0),
    ])
}

#[test]
fn worked_example_bins_and_signals() {
    let data = worked_example();
    let base = VolumeZoneBreakout {
        volume_window: 3,
        num_bins: 4,
        hold_period_bars: 2,
        ..VolumeZoneBreakout::default()
    };
    // Bins 1.5, 3.5, 4, 5 (total 14). p = 0.25: the top bin alone (5 >= 3.5), resistance 14.5,
    // high 14 < 14.5: no signal. p = 0.5: 5 + 4 = 9 >= 7 at bin 2, resistance 13: signal.
    let p25 = VolumeZoneBreakout {
        top_percentile: 0.25,
        ..base
    };
    assert_eq!(run(&p25, &data.view()).0, [0, 0, 0, 0]);
    let p50 = VolumeZoneBreakout {
        top_percentile: 0.5,
        ..base
    };
    assert_eq!(
        run(&p50, &data.view()),
        (vec![0, 0, 0, 1], vec![0, 0, 0, 2])
    );
    // A 10 % buffer lifts the bar to 13 * 1.1 = 14.3 > 14: no signal.
    let buffered = VolumeZoneBreakout {
        breakout_buffer: 0.1,
        ..p50
    };
    assert_eq!(run(&buffered, &data.view()).0, [0, 0, 0, 0]);
    for s in [p25, p50, buffered] {
        assert_eq!(run(&s, &data.view()).0, reference(&s, &data.view()));
    }
}

#[test]
fn flat_window_and_zero_volume_give_no_signal() {
    let flat = Series::new(&[(1.0, 1.0, 1.0, 1.0, 5.0); 5]);
    let s = VolumeZoneBreakout {
        volume_window: 2,
        ..VolumeZoneBreakout::default()
    };
    assert_eq!(run(&s, &flat.view()).0, [0; 5]);
    let silent = Series::new(&[
        (1.0, 2.0, 0.5, 1.5, 0.0),
        (1.5, 2.5, 1.0, 2.0, 0.0),
        (2.0, 9.0, 1.0, 8.0, 0.0),
    ]);
    assert_eq!(run(&s, &silent.view()).0, [0; 3]);
}

/// Regression: the Python original froze the bins of the first window, so later prices outside
/// that range were never placed in the profile. A rally far above the first window must still
/// produce breakouts measured against the new windows.
#[test]
fn bins_follow_the_window() {
    let mut rows = vec![(10.0, 10.5, 9.5, 10.0, 1.0); 5];
    for k in 0..10 {
        let p = 100.0 + k as f64;
        rows.push((p, p + 1.0, p - 1.0, p + 0.5, 1.0));
    }
    let data = Series::new(&rows);
    let s = VolumeZoneBreakout {
        volume_window: 3,
        ..VolumeZoneBreakout::default()
    };
    let (intents, _) = run(&s, &data.view());
    assert_eq!(intents, reference(&s, &data.view()));
    assert!(intents[9..].iter().all(|&i| i == 1), "{intents:?}");
}

fn series_strategy() -> impl proptest::strategy::Strategy<Value = Series> {
    // Prices on a coarse grid so ties (zero-height bars, equal highs, bars on bin edges) occur.
    prop::collection::vec((1u32..40, 0u32..6, 0u32..6, 0u32..6, 0u32..50), 2..60).prop_map(|rows| {
        let rows: Vec<_> = rows
            .into_iter()
            .map(|(base, up, down, body, vol)| {
                let low = f64::from(base) * 0.25;
                let high = low + f64::from(up + down) * 0.25;
                let open = (low + f64::from(down) * 0.25).min(high);
                let close = (low + f64::from(body) * 0.25).min(high);
                (open, high, low, close, f64::from(vol))
            })
            .collect();
        Series::new(&rows)
    })
}

proptest! {
    #[test]
    fn fast_matches_reference(
        data in series_strategy(),
        window in 1usize..12,
        bins in 1usize..25,
        percentile in 0.0f64..=1.0,
        buffer in prop_oneof![Just(0.0), 0.0f64..0.05],
        wicks in any::<bool>(),
    ) {
        let s = VolumeZoneBreakout {
            volume_window: window,
            top_percentile: percentile,
            breakout_buffer: buffer,
            hold_period_bars: 1,
            num_bins: bins,
            include_wicks: wicks,
        };
        prop_assert_eq!(run(&s, &data.view()).0, reference(&s, &data.view()));
    }
}
