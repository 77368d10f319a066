//! Property tests of the simulator and the metrics over random valid candle series, random
//! intents and holding times, and random execution settings (both fill modes, with and without
//! shorts, random stops).

use barwise_engine::{
    CandleColumns, Candles, Direction, ExecutionSettings, ExitReason, Fill, Intent, Signals,
    Simulation, backtest, simulate,
};
use proptest::prelude::*;

/// One random bar relative to the previous close: gap to the open, move to the close, then how
/// far the high and low reach beyond the body, and the spacing to the next bar in minutes.
type BarShape = (f64, f64, f64, f64, i64);

fn bar_shape() -> impl Strategy<Value = BarShape> {
    (
        -0.05f64..0.05,
        -0.2f64..0.2,
        0.0f64..0.1,
        0.0f64..0.1,
        1i64..5,
    )
}

/// Builds a valid series: positive prices, `low <= min(open, close)`, `high >= max(open, close)`,
/// strictly increasing times.
fn build_candles(start: f64, shapes: &[BarShape]) -> Candles {
    let mut columns = CandleColumns::with_capacity(shapes.len());
    let (mut previous_close, mut time) = (start, 1_600_000_000_000i64);
    for &(gap, change, up, down, minutes) in shapes {
        let open = previous_close * (1.0 + gap);
        let close = open * (1.0 + change);
        let high = open.max(close) * (1.0 + up);
        let low = open.min(close) * (1.0 - down);
        columns.push(time, open, high, low, close, 1.0);
        time += minutes * 60_000;
        previous_close = close;
    }
    Candles::new(columns).expect("generated candles are valid")
}

/// `n` bars all trading at `price`.
fn flat_candles(price: f64, n: usize) -> Candles {
    let mut columns = CandleColumns::with_capacity(n);
    for i in 0..n {
        columns.push(i as i64 * 60_000, price, price, price, price, 1.0);
    }
    Candles::new(columns).expect("flat candles are valid")
}

/// Random intents (entries and exits fairly frequent) and holding times for `n` bars.
fn signals(n: usize) -> impl Strategy<Value = Signals> {
    (
        prop::collection::vec(
            prop_oneof![
                4 => Just(Intent::None),
                2 => Just(Intent::EnterLong),
                2 => Just(Intent::EnterShort),
                1 => Just(Intent::Exit),
            ],
            n,
        ),
        prop::collection::vec(prop_oneof![2 => Just(0u32), 1 => 1u32..6], n),
    )
        .prop_map(|(intents, hold_bars)| Signals { intents, hold_bars })
}

fn settings() -> impl Strategy<Value = ExecutionSettings> {
    (
        (
            prop_oneof![Just(Fill::NextOpen), Just(Fill::Close)],
            0.0f64..0.01,
            0.0f64..0.01,
            0.05f64..=1.0,
            any::<bool>(),
            1.0f64..1e6,
        ),
        (
            prop::option::of(0.01f64..0.5),
            prop::option::of(0.01f64..1.0),
            prop::option::of(0.01f64..0.5),
            prop::option::of(1u32..10),
        ),
    )
        .prop_map(
            |(
                (fill, fee, slippage, position_size, allow_short, initial_cash),
                (stop_loss, take_profit, trailing_stop, max_hold_bars),
            )| ExecutionSettings {
                fill,
                fee,
                slippage,
                position_size,
                allow_short,
                stop_loss,
                take_profit,
                trailing_stop,
                max_hold_bars,
                initial_cash,
            },
        )
}

/// A random series with matching random signals, and random settings.
fn scenario() -> impl Strategy<Value = (Candles, Signals, ExecutionSettings)> {
    (1usize..60)
        .prop_flat_map(|n| {
            (
                1.0f64..1000.0,
                prop::collection::vec(bar_shape(), n),
                signals(n),
                settings(),
            )
        })
        .prop_map(|(start, shapes, signals, settings)| {
            (build_candles(start, &shapes), signals, settings)
        })
}

fn run(candles: &Candles, signals: &Signals, settings: &ExecutionSettings) -> Simulation {
    simulate(candles, signals, settings).expect("valid inputs")
}

/// `|a - b| <= rel * max(|a|, |b|, floor)`.
fn near(a: f64, b: f64, rel: f64, floor: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()).max(floor)
}

proptest! {
    #[test]
    fn runs_are_well_formed((candles, signals, settings) in scenario()) {
        let n = candles.len();
        let sim = run(&candles, &signals, &settings);

        prop_assert_eq!(sim.equity.len(), n);
        prop_assert!(sim.equity.iter().all(|e| e.is_finite()), "equity {:?}", sim.equity);
        prop_assert!(sim.bars_in_position <= n as u64);

        let mut previous_exit = 0;
        for (k, t) in sim.trades.iter().enumerate() {
            // One position at a time, in order.
            prop_assert!(t.entry_index >= previous_exit, "trade {} overlaps: {:?}", k, t);
            prop_assert!(t.exit_index >= t.entry_index, "{:?}", t);
            prop_assert!(t.exit_index < n);
            // No entry fills on the last bar; next_open never fills on the first.
            prop_assert!(t.entry_index + 1 < n, "{:?}", t);
            if settings.fill == Fill::NextOpen {
                prop_assert!(t.entry_index >= 1, "{:?}", t);
            }
            previous_exit = t.exit_index;

            prop_assert!(t.quantity > 0.0 && t.quantity.is_finite(), "{:?}", t);
            prop_assert!(t.entry_price > 0.0 && t.exit_price > 0.0, "{:?}", t);
            prop_assert!(t.fees >= 0.0, "{:?}", t);
            prop_assert!(t.pnl.is_finite() && t.trade_return.is_finite(), "{:?}", t);
            let times = candles.time_ms();
            prop_assert_eq!(t.entry_time.0, times[t.entry_index]);
            prop_assert_eq!(t.exit_time.0, times[t.exit_index]);
            if !settings.allow_short {
                prop_assert_eq!(t.direction, Direction::Long);
            }
            // Fees are charged on both sides' notional.
            let fees = settings.fee * t.quantity * (t.entry_price + t.exit_price);
            prop_assert!(near(t.fees, fees, 1e-9, 1e-12), "fees {} vs {}", t.fees, fees);
            // The committed budget, quantity * entry * (1 + fee), earns the trade's return.
            let budget = t.quantity * t.entry_price * (1.0 + settings.fee);
            prop_assert!(
                near(t.pnl, budget * t.trade_return, 1e-9, budget * 1e-9),
                "pnl {} vs {}", t.pnl, budget * t.trade_return
            );
            // Only the last trade can be closed by the end of the data, at the last bar.
            if t.exit_reason == ExitReason::EndOfData {
                prop_assert_eq!(k + 1, sim.trades.len());
                prop_assert_eq!(t.exit_index, n - 1);
            }
            // Stops and targets fill at their level or worse/better, slippage included.
            let sign = match t.direction {
                Direction::Long => 1.0,
                Direction::Short => -1.0,
            };
            let slip = 1.0 - sign * settings.slippage;
            match (t.exit_reason, settings.stop_loss, settings.take_profit) {
                (ExitReason::StopLoss, Some(f), _) => {
                    let worst = t.entry_price * (1.0 - sign * f) * slip;
                    prop_assert!(sign * t.exit_price <= sign * worst * (1.0 + sign * 1e-12),
                        "stop fill {} beyond level {}: {:?}", t.exit_price, worst, t);
                }
                (ExitReason::TakeProfit, _, Some(f)) => {
                    let best = t.entry_price * (1.0 + sign * f) * slip;
                    prop_assert!(sign * t.exit_price >= sign * best * (1.0 - sign * 1e-12),
                        "target fill {} short of level {}: {:?}", t.exit_price, best, t);
                }
                (ExitReason::StopLoss, None, _) | (ExitReason::TakeProfit, _, None) => {
                    prop_assert!(false, "exit reason without its setting: {:?}", t);
                }
                (ExitReason::TrailingStop, _, _) => {
                    prop_assert!(settings.trailing_stop.is_some(), "{:?}", t);
                }
                (ExitReason::HoldPeriod, _, _) => {
                    if let Some(max) = settings.max_hold_bars {
                        prop_assert!(t.hold_bars() <= max as usize, "{:?}", t);
                    }
                }
                _ => {}
            }
        }

        // Every intent is counted once; ignored ones never exceed the requests.
        let count =
            |wanted: Intent| signals.intents.iter().filter(|&&i| i == wanted).count() as u64;
        let c = sim.signals;
        prop_assert_eq!(c.long_entries, count(Intent::EnterLong));
        prop_assert_eq!(c.short_entries, count(Intent::EnterShort));
        prop_assert_eq!(c.exits, count(Intent::Exit));
        prop_assert!(c.ignored_short_entries <= c.short_entries);
        if settings.allow_short {
            prop_assert_eq!(c.ignored_short_entries, 0);
        }
        let ignored = c.ignored_short_entries + c.ignored_same_direction + c.ignored_last_bar
            + c.ignored_no_equity;
        prop_assert!(ignored <= c.long_entries + c.short_entries);
        // Every trade came from an entry that was not ignored (a reversal is one entry).
        prop_assert!(sim.trades.len() as u64 <= c.long_entries + c.short_entries - ignored);
    }

    #[test]
    fn pnl_adds_up_to_the_equity_change((candles, signals, settings) in scenario()) {
        let sim = run(&candles, &signals, &settings);
        let initial = settings.initial_cash;
        let final_equity = *sim.equity.last().unwrap();
        let total: f64 = sim.trades.iter().map(|t| t.pnl).sum();
        let scale = sim.trades.iter().map(|t| t.pnl.abs()).fold(initial, f64::max);
        prop_assert!(
            near(total, final_equity - initial, 1e-6, scale),
            "sum pnl {} vs equity change {}", total, final_equity - initial
        );
    }

    #[test]
    fn final_equity_compounds_the_trade_returns((candles, signals, settings) in scenario()) {
        // Each trade turns cash c into c * (1 + position_size * return).
        let sim = run(&candles, &signals, &settings);
        let initial = settings.initial_cash;
        let expected = sim
            .trades
            .iter()
            .fold(initial, |cash, t| cash * (1.0 + settings.position_size * t.trade_return));
        let final_equity = *sim.equity.last().unwrap();
        prop_assert!(
            near(final_equity, expected, 1e-9, initial * 1e-3),
            "final {} vs compounded {}", final_equity, expected
        );
    }

    #[test]
    fn full_size_final_equity_is_initial_times_product_of_returns(
        (candles, signals, settings) in scenario()
    ) {
        let settings = ExecutionSettings { position_size: 1.0, ..settings };
        let sim = run(&candles, &signals, &settings);
        // Positions still open after the last bar are closed (end_of_data), so none is left.
        let initial = settings.initial_cash;
        let product: f64 = sim.trades.iter().map(|t| 1.0 + t.trade_return).product();
        let final_equity = *sim.equity.last().unwrap();
        prop_assert!(
            near(final_equity, initial * product, 1e-9, initial * 1e-3),
            "final {} vs {} * {}", final_equity, initial, product
        );
    }

    #[test]
    fn flat_prices_without_costs_keep_the_initial_cash(
        (n, price, signals, settings) in (1usize..60, 1.0f64..1000.0)
            .prop_flat_map(|(n, price)| (Just(n), Just(price), signals(n), settings()))
    ) {
        let settings = ExecutionSettings { fee: 0.0, slippage: 0.0, ..settings };
        let candles = flat_candles(price, n);
        let sim = run(&candles, &signals, &settings);
        let initial = settings.initial_cash;
        for (bar, &e) in sim.equity.iter().enumerate() {
            prop_assert!(near(e, initial, 1e-9, initial), "equity[{}] = {}", bar, e);
        }
        for t in &sim.trades {
            prop_assert_eq!(t.trade_return, 0.0);
            // A flat bar never reaches a stop or a target.
            let reason = t.exit_reason;
            prop_assert!(
                matches!(
                    reason,
                    ExitReason::Signal | ExitReason::HoldPeriod | ExitReason::EndOfData
                ),
                "{:?}", t
            );
        }
    }

    #[test]
    fn metrics_agree_with_the_simulation((candles, signals, settings) in scenario()) {
        let result = backtest(&candles, &signals, &settings).unwrap();
        let (sim, m) = (&result.simulation, &result.metrics);
        let n = candles.len();
        let initial = settings.initial_cash;
        prop_assert_eq!(m.final_equity, *sim.equity.last().unwrap());
        prop_assert!(near(m.total_return, m.final_equity / initial - 1.0, 1e-12, 1.0));
        prop_assert_eq!(m.trades, sim.trades.len() as u64);
        prop_assert!(m.max_drawdown >= 0.0);
        prop_assert!((0.0..=1.0).contains(&m.exposure));
        prop_assert_eq!(m.exposure, sim.bars_in_position as f64 / n as f64);
        // Drawdown at least covers the fall from the initial cash to every equity point that is
        // not below zero. (Below zero a higher peak gives a smaller fraction: from a peak of 200
        // to -100 is 150 %, from 100 to -100 is 200 %.)
        for &e in sim.equity.iter().filter(|&&e| e >= 0.0) {
            prop_assert!(m.max_drawdown >= (initial - e) / initial - 1e-12);
        }
        if sim.trades.is_empty() {
            prop_assert_eq!(m.win_rate, None);
            prop_assert_eq!(m.avg_return, None);
            prop_assert_eq!(m.avg_hold_bars, None);
            prop_assert_eq!(m.profit_factor, None);
        } else {
            let count = sim.trades.len() as f64;
            let wins = sim.trades.iter().filter(|t| t.trade_return > 0.0).count() as f64;
            prop_assert_eq!(m.win_rate, Some(wins / count));
            let hold: usize = sim.trades.iter().map(|t| t.hold_bars()).sum();
            prop_assert_eq!(m.avg_hold_bars, Some(hold as f64 / count));
            if let Some(pf) = m.profit_factor {
                prop_assert!(pf >= 0.0);
            }
        }
        let close = candles.close();
        prop_assert_eq!(m.buy_and_hold_return, close[n - 1] / close[0] - 1.0);
        if n < 2 {
            prop_assert_eq!(m.sharpe, None);
            prop_assert_eq!(m.cagr, None);
        }
        if let (Some(sharpe), Some(sortino)) = (m.sharpe, m.sortino) {
            // Same mean; the downside deviation excludes gains, so the signs agree.
            prop_assert_eq!(sharpe.signum(), sortino.signum());
        }
    }

    #[test]
    fn simulation_is_deterministic((candles, signals, settings) in scenario()) {
        prop_assert_eq!(run(&candles, &signals, &settings), run(&candles, &signals, &settings));
    }
}

proptest! {
    /// Without stops the simulator marks quiet stretches in one loop; with a target that can never
    /// be reached (a gain of 10^12 for longs; below zero for shorts) it takes the bar-by-bar
    /// path. Both must agree to the bit.
    #[test]
    fn quiet_stretches_fast_path_equals_bar_by_bar(
        (candles, signals, settings) in scenario(),
    ) {
        let plain = ExecutionSettings {
            stop_loss: None,
            take_profit: None,
            trailing_stop: None,
            ..settings
        };
        let bar_by_bar = ExecutionSettings {
            take_profit: Some(1e12),
            ..plain
        };
        let fast = run(&candles, &signals, &plain);
        let slow = run(&candles, &signals, &bar_by_bar);
        prop_assert_eq!(fast, slow);
    }
}
