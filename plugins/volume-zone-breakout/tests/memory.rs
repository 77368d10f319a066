//! Memory target: a whole backtest (signals, simulation, metrics, report) of
//! `volume_zone_breakout` allocates at its peak less than 3x the columnar size of its input.
//! Counted with a tracking global allocator, so the result is exact and repeatable.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use barwise_engine::ExecutionSettings;
use volume_zone_breakout::VolumeZoneBreakout;

struct Tracking;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts bytes.
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = CURRENT.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
        PEAK.fetch_max(now, Ordering::SeqCst);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Ordering::SeqCst);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Tracking = Tracking;

#[test]
fn peak_memory_of_a_backtest_is_under_three_times_the_input() {
    let candles = barwise_test_support::synthetic_candles(200_000, 3);
    let input = candles.columnar_bytes();
    let baseline = CURRENT.load(Ordering::SeqCst);
    PEAK.store(baseline, Ordering::SeqCst);
    let strategy = VolumeZoneBreakout {
        volume_window: 60,
        include_wicks: false,
        ..VolumeZoneBreakout::default()
    };
    let view = barwise_test_support::candle_view(&candles);
    let signals = barwise_test_support::direct_signals(candles.len(), |out| {
        strategy.signals(&view, out);
    });
    let backtest = barwise_engine::backtest(&candles, &signals, &ExecutionSettings::default());
    assert!(backtest.unwrap().metrics.trades > 100);
    let used = PEAK.load(Ordering::SeqCst) - baseline;
    let ratio = used as f64 / input as f64;
    eprintln!("peak {used} bytes for {input} bytes of candles: {ratio:.2}x");
    assert!(ratio < 3.0, "peak memory {ratio:.2}x the input");
}
