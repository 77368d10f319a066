//! Hand-computed cases of the execution simulator and the metrics: every expected number is
//! derived in a comment from small round inputs, so a reader can check it with pen and paper.
//!
//! Unless a test says otherwise: candles are one day apart, the account starts with 1000, the
//! whole equity is committed per entry, and there is no fee and no slippage (`frictionless`).

use barwise_engine::metrics::MS_PER_YEAR;
use barwise_engine::{
    CandleColumns, Candles, Direction, EngineError, ExecutionSettings, ExitReason, Fill, Intent,
    Signals, Simulation, TimeMs, Trade, backtest, simulate,
};

const DAY: i64 = 86_400_000;
const TOLERANCE: f64 = 1e-9;

type Bar = (f64, f64, f64, f64);

/// Candles `interval_ms` apart from `(open, high, low, close)` rows, the first at time 0.
fn candles_every(interval_ms: i64, rows: &[Bar]) -> Candles {
    let mut columns = CandleColumns::with_capacity(rows.len());
    for (i, &(open, high, low, close)) in rows.iter().enumerate() {
        columns.push(i as i64 * interval_ms, open, high, low, close, 1.0);
    }
    Candles::new(columns).expect("test candles are valid")
}

/// Daily candles from `(open, high, low, close)` rows.
fn candles(rows: &[Bar]) -> Candles {
    candles_every(DAY, rows)
}

/// A bar that trades at one price only.
fn flat(price: f64) -> Bar {
    (price, price, price, price)
}

/// `n` bars of no intent, then each `(bar, intent, hold_bars)` set.
fn signals(n: usize, set: &[(usize, Intent, u32)]) -> Signals {
    let mut s = Signals::none(n);
    for &(bar, intent, hold) in set {
        s.set(bar, intent, hold);
    }
    s
}

/// No fee, no slippage, whole equity per entry, 1000 to start, no stops, longs only.
fn frictionless(fill: Fill) -> ExecutionSettings {
    ExecutionSettings {
        fill,
        fee: 0.0,
        slippage: 0.0,
        position_size: 1.0,
        allow_short: false,
        stop_loss: None,
        take_profit: None,
        trailing_stop: None,
        max_hold_bars: None,
        initial_cash: 1000.0,
    }
}

fn run(candles: &Candles, signals: &Signals, settings: &ExecutionSettings) -> Simulation {
    simulate(candles, signals, settings).expect("valid inputs")
}

#[track_caller]
fn close_to(actual: f64, expected: f64, what: &str) {
    assert!(
        (actual - expected).abs() <= TOLERANCE * expected.abs().max(1.0),
        "{what}: got {actual}, expected {expected}"
    );
}

#[track_caller]
fn some_close_to(actual: Option<f64>, expected: f64, what: &str) {
    match actual {
        Some(a) => close_to(a, expected, what),
        None => panic!("{what}: got None, expected {expected}"),
    }
}

/// Compares every field of a trade: indices, times, direction and reason exactly, numbers within
/// `TOLERANCE`.
#[track_caller]
fn assert_trade(actual: &Trade, expected: &Trade) {
    assert_eq!(actual.entry_index, expected.entry_index, "entry_index");
    assert_eq!(actual.exit_index, expected.exit_index, "exit_index");
    assert_eq!(actual.entry_time, expected.entry_time, "entry_time");
    assert_eq!(actual.exit_time, expected.exit_time, "exit_time");
    assert_eq!(actual.direction, expected.direction, "direction");
    assert_eq!(actual.exit_reason, expected.exit_reason, "exit_reason");
    close_to(actual.entry_price, expected.entry_price, "entry_price");
    close_to(actual.exit_price, expected.exit_price, "exit_price");
    close_to(actual.quantity, expected.quantity, "quantity");
    close_to(actual.fees, expected.fees, "fees");
    close_to(actual.pnl, expected.pnl, "pnl");
    close_to(actual.trade_return, expected.trade_return, "return");
}

#[track_caller]
fn assert_equity(sim: &Simulation, expected: &[f64]) {
    assert_eq!(sim.equity.len(), expected.len(), "equity length");
    for (bar, (&a, &e)) in sim.equity.iter().zip(expected).enumerate() {
        close_to(a, e, &format!("equity[{bar}]"));
    }
}

/// A trade on daily candles, so that times are `index * DAY`.
#[allow(clippy::too_many_arguments)]
fn trade(
    direction: Direction,
    entry_index: usize,
    exit_index: usize,
    entry_price: f64,
    exit_price: f64,
    quantity: f64,
    fees: f64,
    pnl: f64,
    trade_return: f64,
    exit_reason: ExitReason,
) -> Trade {
    Trade {
        entry_index,
        exit_index,
        entry_time: TimeMs(entry_index as i64 * DAY),
        exit_time: TimeMs(exit_index as i64 * DAY),
        direction,
        entry_price,
        exit_price,
        quantity,
        fees,
        pnl,
        trade_return,
        exit_reason,
    }
}

/// Four bars whose opens and closes differ, so the fill price tells the fill mode apart.
fn open_close_bars() -> Candles {
    candles(&[
        (90.0, 100.0, 90.0, 100.0),
        (100.0, 105.0, 95.0, 104.0),
        (106.0, 120.0, 105.0, 120.0),
        (110.0, 115.0, 108.0, 112.0),
    ])
}

// ---------------------------------------------------------------------------------------------
// Fill timing
// ---------------------------------------------------------------------------------------------

#[test]
fn next_open_fills_a_signal_at_the_following_open() {
    // Enter long at bar 0, exit at bar 2. With next_open the entry fills at open[1] = 100 and the
    // exit at open[3] = 110. quantity = 1000 / 100 = 10, return = 110 / 100 - 1 = 0.1, pnl = 100.
    let c = open_close_bars();
    let s = signals(4, &[(0, Intent::EnterLong, 0), (2, Intent::Exit, 0)]);
    let sim = run(&c, &s, &frictionless(Fill::NextOpen));
    assert_eq!(sim.trades.len(), 1);
    assert_trade(
        &sim.trades[0],
        &trade(
            Direction::Long,
            1,
            3,
            100.0,
            110.0,
            10.0,
            0.0,
            100.0,
            0.1,
            ExitReason::Signal,
        ),
    );
    // Equity at each close: bar 0 flat 1000; bar 1 10 * 104; bar 2 10 * 120; bar 3 the exit at
    // the open left cash 10 * 110.
    assert_equity(&sim, &[1000.0, 1040.0, 1200.0, 1100.0]);
    // A position is open at the closes of bars 1 and 2.
    assert_eq!(sim.bars_in_position, 2);
    assert_eq!(sim.signals.long_entries, 1);
    assert_eq!(sim.signals.exits, 1);
}

#[test]
fn close_fill_fills_a_signal_at_its_own_close() {
    // Same bars and signals with fill = close: entry at close[0] = 100, exit at close[2] = 120.
    // quantity = 10, return = 120 / 100 - 1 = 0.2, pnl = 200.
    let c = open_close_bars();
    let s = signals(4, &[(0, Intent::EnterLong, 0), (2, Intent::Exit, 0)]);
    let sim = run(&c, &s, &frictionless(Fill::Close));
    assert_eq!(sim.trades.len(), 1);
    assert_trade(
        &sim.trades[0],
        &trade(
            Direction::Long,
            0,
            2,
            100.0,
            120.0,
            10.0,
            0.0,
            200.0,
            0.2,
            ExitReason::Signal,
        ),
    );
    // Bar 0: entered at the close, marked at that close: 1000. Bar 1: 10 * 104. Bar 2: exit at
    // 120 leaves 1200 in cash, and bar 3 stays there.
    assert_equity(&sim, &[1000.0, 1040.0, 1200.0, 1200.0]);
    // Open at the closes of bars 0 and 1 (closed at bar 2's close).
    assert_eq!(sim.bars_in_position, 2);
}

// ---------------------------------------------------------------------------------------------
// Costs and sizing
// ---------------------------------------------------------------------------------------------

/// The worked example of `docs/metrics.md`.
#[test]
fn long_round_trip_with_fee_and_slippage_next_open() {
    // fee 0.001, slippage 0.01, fill next_open, 1000 cash.
    // Bar 0: signal enter long. Bar 1 opens at 100: entry fill = 100 * 1.01 = 101.
    //   quantity = 1000 / (101 * 1.001) = 1000 / 101.101 = 9.891099000...
    //   entry fee = quantity * 101 * 0.001 = 0.999000999...
    // Bar 1: signal exit. Bar 2 opens at 110: exit fill = 110 * 0.99 = 108.9.
    //   return = 108.9 * 0.999 / (101 * 1.001) - 1 = 108.7911 / 101.101 - 1 = 0.076063540...
    //   pnl = 1000 * return = 76.063540...
    //   fees = quantity * (101 + 108.9) * 0.001 = quantity * 0.2099 = 2.076141680...
    let c = candles(&[flat(100.0), (100.0, 110.0, 100.0, 110.0), flat(110.0)]);
    let s = signals(3, &[(0, Intent::EnterLong, 0), (1, Intent::Exit, 0)]);
    let settings = ExecutionSettings {
        fee: 0.001,
        slippage: 0.01,
        ..frictionless(Fill::NextOpen)
    };
    let result = backtest(&c, &s, &settings).unwrap();
    let sim = &result.simulation;
    let quantity = 1000.0 / 101.101;
    let ret = 108.7911 / 101.101 - 1.0;
    assert_eq!(sim.trades.len(), 1);
    assert_trade(
        &sim.trades[0],
        &trade(
            Direction::Long,
            1,
            2,
            101.0,
            108.9,
            quantity,
            quantity * 0.2099,
            1000.0 * ret,
            ret,
            ExitReason::Signal,
        ),
    );
    close_to(ret, 0.076_063_540_419_976, "return by hand");
    // Equity: bar 0 no position: 1000.
    // Bar 1 close 110: cash 0 + budget 1000 - entry fee + quantity * (110 - 101); since
    //   budget - entry fee = quantity * 101 this is quantity * 110 = 1088.020890...
    // Bar 2: the exit at the open realised 1000 + pnl = 1076.063540...
    assert_equity(sim, &[1000.0, quantity * 110.0, 1000.0 + 1000.0 * ret]);
    let m = &result.metrics;
    close_to(m.total_return, ret, "total_return");
    close_to(m.final_equity, 1000.0 + 1000.0 * ret, "final_equity");
    // Drawdown from the bar 1 peak: (quantity * 110 - quantity * 108.7911) / (quantity * 110)
    //   = 1.2089 / 110 = 0.01099.
    close_to(m.max_drawdown, 0.01099, "max_drawdown");
    // Only bar 1's close has a position open: 1 / 3.
    close_to(m.exposure, 1.0 / 3.0, "exposure");
    assert_eq!(m.trades, 1);
    some_close_to(m.win_rate, 1.0, "win_rate");
    some_close_to(m.avg_return, ret, "avg_return");
    some_close_to(m.avg_hold_bars, 1.0, "avg_hold_bars");
    // No losing trade: the profit factor is undefined.
    assert_eq!(m.profit_factor, None);
    // close[2] / close[0] - 1 = 110 / 100 - 1.
    close_to(m.buy_and_hold_return, 0.1, "buy_and_hold_return");
}

#[test]
fn short_round_trip_with_fee_and_slippage_close_fill() {
    // fee 0.001, slippage 0.01, fill close, shorts allowed, 1000 cash.
    // Bar 0 closes at 100: short entry fill = 100 * (1 - 0.01) = 99.
    //   quantity = 1000 / (99 * 1.001) = 1000 / 99.099 = 10.090919...
    // Bar 1 closes at 90: exit (buy back) fill = 90 * 1.01 = 90.9.
    //   return = (99 * 0.999 - 90.9 * 1.001) / (99 * 1.001) = (98.901 - 90.9909) / 99.099
    //          = 7.9101 / 99.099 = 0.079820179...
    //   fees = quantity * (99 + 90.9) * 0.001 = quantity * 0.1899 = 1.916265...
    let c = candles(&[flat(100.0), (95.0, 96.0, 89.0, 90.0), flat(90.0)]);
    let s = signals(3, &[(0, Intent::EnterShort, 0), (1, Intent::Exit, 0)]);
    let settings = ExecutionSettings {
        fee: 0.001,
        slippage: 0.01,
        allow_short: true,
        ..frictionless(Fill::Close)
    };
    let sim = run(&c, &s, &settings);
    let quantity = 1000.0 / 99.099;
    let ret = 7.9101 / 99.099;
    assert_eq!(sim.trades.len(), 1);
    assert_trade(
        &sim.trades[0],
        &trade(
            Direction::Short,
            0,
            1,
            99.0,
            90.9,
            quantity,
            quantity * 0.1899,
            1000.0 * ret,
            ret,
            ExitReason::Signal,
        ),
    );
    // Bar 0 (entered at its close 100): cash 0 + budget 1000 - entry fee (quantity * 0.099)
    //   - quantity * (100 - 99) = 1000 - quantity * 1.099 = 988.910079...
    // Bars 1 and 2: 1000 + pnl = 1079.820179...
    assert_equity(
        &sim,
        &[
            1000.0 - quantity * 1.099,
            1000.0 + 1000.0 * ret,
            1000.0 + 1000.0 * ret,
        ],
    );
    assert_eq!(sim.signals.short_entries, 1);
    assert_eq!(sim.signals.ignored_short_entries, 0);
}

#[test]
fn half_position_size_compounds_over_two_trades() {
    // position_size 0.5, fill close.
    // Trade 1: budget 0.5 * 1000 = 500, quantity 500 / 100 = 5, exit at 120:
    //   return 0.2, pnl 100, cash 1000 + 100 = 1100.
    // Trade 2: budget 0.5 * 1100 = 550, quantity 550 / 100 = 5.5, exit at 90:
    //   return -0.1, pnl -55, cash 1045 = 1000 * (1 + 0.5 * 0.2) * (1 - 0.5 * 0.1).
    let c = candles(&[flat(100.0), flat(120.0), flat(100.0), flat(90.0)]);
    let s = signals(
        4,
        &[
            (0, Intent::EnterLong, 0),
            (1, Intent::Exit, 0),
            (2, Intent::EnterLong, 0),
            (3, Intent::Exit, 0),
        ],
    );
    let settings = ExecutionSettings {
        position_size: 0.5,
        ..frictionless(Fill::Close)
    };
    let sim = run(&c, &s, &settings);
    assert_eq!(sim.trades.len(), 2);
    assert_trade(
        &sim.trades[0],
        &trade(
            Direction::Long,
            0,
            1,
            100.0,
            120.0,
            5.0,
            0.0,
            100.0,
            0.2,
            ExitReason::Signal,
        ),
    );
    assert_trade(
        &sim.trades[1],
        &trade(
            Direction::Long,
            2,
            3,
            100.0,
            90.0,
            5.5,
            0.0,
            -55.0,
            -0.1,
            ExitReason::Signal,
        ),
    );
    // Bar 0: 500 cash + 5 * 100; bar 1: 1100; bar 2: 550 cash + 5.5 * 100; bar 3: 1045.
    assert_equity(&sim, &[1000.0, 1100.0, 1100.0, 1045.0]);
}

#[test]
fn equity_curve_marks_the_open_position_at_every_close() {
    // fee 0.001, fill close, closes 100, 110, 90, 100; long from bar 0 to the end of the data.
    // quantity = 1000 / (100 * 1.001) = 9.99000999..., entry fee = quantity * 0.1 = 0.999000999...
    // Mark = cash 0 + budget 1000 - entry fee + quantity * (close - 100) = quantity * close:
    //   bar 0: 1000 / 1.001 = 999.000999..., bar 1: 1100 / 1.001, bar 2: 900 / 1.001.
    // Bar 3 closes the position at 100 (end_of_data), paying the exit fee: the point is the cash
    //   realised, quantity * 100 * 0.999 = 999 / 1.001 = 998.001998...
    // return = 100 * 0.999 / (100 * 1.001) - 1 = -0.001998001998..., pnl = 1000 * return,
    // fees = quantity * (100 + 100) * 0.001 = 2 / 1.001.
    let c = candles(&[flat(100.0), flat(110.0), flat(90.0), flat(100.0)]);
    let s = signals(4, &[(0, Intent::EnterLong, 0)]);
    let settings = ExecutionSettings {
        fee: 0.001,
        ..frictionless(Fill::Close)
    };
    let sim = run(&c, &s, &settings);
    assert_equity(
        &sim,
        &[1000.0 / 1.001, 1100.0 / 1.001, 900.0 / 1.001, 999.0 / 1.001],
    );
    let ret = 0.999 / 1.001 - 1.0;
    assert_trade(
        &sim.trades[0],
        &trade(
            Direction::Long,
            0,
            3,
            100.0,
            100.0,
            1000.0 / 100.1,
            2.0 / 1.001,
            1000.0 * ret,
            ret,
            ExitReason::EndOfData,
        ),
    );
}

// ---------------------------------------------------------------------------------------------
// Holding times
// ---------------------------------------------------------------------------------------------

/// Flat bars at 100, 101, 102, 103, 104: the fill price names the bar.
fn staircase() -> Candles {
    candles(&[
        flat(100.0),
        flat(101.0),
        flat(102.0),
        flat(103.0),
        flat(104.0),
    ])
}

#[test]
fn hold_period_with_next_open_exits_at_the_open_of_entry_plus_n() {
    // Signal at bar 0 with hold 2: the entry fills at open[1] = 101 (entry_index 1), the exit at
    // open[1 + 2] = 103 (exit_index 3). quantity = 1000 / 101, return = 103 / 101 - 1 = 2 / 101,
    // pnl = 2000 / 101 = 19.80...
    let s = signals(5, &[(0, Intent::EnterLong, 2)]);
    let sim = run(&staircase(), &s, &frictionless(Fill::NextOpen));
    assert_eq!(sim.trades.len(), 1);
    assert_trade(
        &sim.trades[0],
        &trade(
            Direction::Long,
            1,
            3,
            101.0,
            103.0,
            1000.0 / 101.0,
            0.0,
            2000.0 / 101.0,
            2.0 / 101.0,
            ExitReason::HoldPeriod,
        ),
    );
    assert_eq!(sim.trades[0].hold_bars(), 2);
}

#[test]
fn hold_period_with_close_fill_exits_at_the_close_of_entry_plus_n() {
    // Signal at bar 1 with hold 2: entry at close[1] = 101 (entry_index 1), exit at close[3] = 103
    // (exit_index 3): the same trade as the next_open case with the signal one bar later.
    let s = signals(5, &[(1, Intent::EnterLong, 2)]);
    let sim = run(&staircase(), &s, &frictionless(Fill::Close));
    assert_eq!(sim.trades.len(), 1);
    assert_trade(
        &sim.trades[0],
        &trade(
            Direction::Long,
            1,
            3,
            101.0,
            103.0,
            1000.0 / 101.0,
            0.0,
            2000.0 / 101.0,
            2.0 / 101.0,
            ExitReason::HoldPeriod,
        ),
    );
    // In position at the closes of bars 1 and 2: a hold of N bars is N bars of exposure.
    assert_eq!(sim.bars_in_position, 2);
}

#[test]
fn hold_exit_then_reentry_on_the_same_bar_close_fill() {
    // Bar 0: enter with hold 2 -> entry close[0] = 100, hold exit at close[2] = 102; cash 1020.
    // Bar 2: enter with hold 1 -> the exit is processed first, then the entry at close[2] = 102:
    //   quantity 1020 / 102 = 10, hold exit at close[3] = 103: pnl 10, cash 1030.
    let s = signals(5, &[(0, Intent::EnterLong, 2), (2, Intent::EnterLong, 1)]);
    let sim = run(&staircase(), &s, &frictionless(Fill::Close));
    assert_eq!(sim.trades.len(), 2);
    assert_trade(
        &sim.trades[0],
        &trade(
            Direction::Long,
            0,
            2,
            100.0,
            102.0,
            10.0,
            0.0,
            20.0,
            0.02,
            ExitReason::HoldPeriod,
        ),
    );
    assert_trade(
        &sim.trades[1],
        &trade(
            Direction::Long,
            2,
            3,
            102.0,
            103.0,
            10.0,
            0.0,
            10.0,
            1.0 / 102.0,
            ExitReason::HoldPeriod,
        ),
    );
    // Marks: 10 * 100, 10 * 101, 10 * 102 (new position), cash 1030 at bars 3 and 4.
    assert_equity(&sim, &[1000.0, 1010.0, 1020.0, 1030.0, 1030.0]);
    assert_eq!(sim.signals.ignored_same_direction, 0);
}

#[test]
fn hold_exit_then_reentry_on_the_same_bar_next_open() {
    // Bar 0: enter with hold 2 -> entry open[1] = 101, hold exit at open[3] = 103;
    //   cash = 1000 * 103 / 101 = 1019.80...
    // Bar 2: enter with hold 1 -> fills at open[3] after the hold exit: quantity = cash / 103
    //   = 1000 / 101; hold exit at open[4] = 104; cash = 1000 * 104 / 101 = 1029.70...
    let s = signals(5, &[(0, Intent::EnterLong, 2), (2, Intent::EnterLong, 1)]);
    let sim = run(&staircase(), &s, &frictionless(Fill::NextOpen));
    assert_eq!(sim.trades.len(), 2);
    let q = 1000.0 / 101.0;
    assert_trade(
        &sim.trades[0],
        &trade(
            Direction::Long,
            1,
            3,
            101.0,
            103.0,
            q,
            0.0,
            2.0 * q,
            2.0 / 101.0,
            ExitReason::HoldPeriod,
        ),
    );
    assert_trade(
        &sim.trades[1],
        &trade(
            Direction::Long,
            3,
            4,
            103.0,
            104.0,
            q,
            0.0,
            q,
            1.0 / 103.0,
            ExitReason::HoldPeriod,
        ),
    );
    close_to(sim.equity[4], 104.0 * q, "final equity");
}

#[test]
fn max_hold_bars_closes_the_position() {
    // max_hold_bars 2, fill close, no holding time on the signal: entry close[0] = 100, exit
    // close[2] = 102 with reason hold_period.
    let settings = ExecutionSettings {
        max_hold_bars: Some(2),
        ..frictionless(Fill::Close)
    };
    let sim = run(
        &staircase(),
        &signals(5, &[(0, Intent::EnterLong, 0)]),
        &settings,
    );
    assert_trade(
        &sim.trades[0],
        &trade(
            Direction::Long,
            0,
            2,
            100.0,
            102.0,
            10.0,
            0.0,
            20.0,
            0.02,
            ExitReason::HoldPeriod,
        ),
    );
}

#[test]
fn max_hold_bars_and_signal_hold_the_shorter_wins() {
    let settings = ExecutionSettings {
        max_hold_bars: Some(2),
        ..frictionless(Fill::Close)
    };
    // Signal hold 3 > max 2: out after 2 bars (close[2]).
    let longer = run(
        &staircase(),
        &signals(5, &[(0, Intent::EnterLong, 3)]),
        &settings,
    );
    assert_eq!(longer.trades[0].exit_index, 2);
    assert_eq!(longer.trades[0].exit_reason, ExitReason::HoldPeriod);
    // Signal hold 1 < max 2: out after 1 bar (close[1]).
    let shorter = run(
        &staircase(),
        &signals(5, &[(0, Intent::EnterLong, 1)]),
        &settings,
    );
    assert_eq!(shorter.trades[0].exit_index, 1);
    assert_eq!(shorter.trades[0].exit_reason, ExitReason::HoldPeriod);
}

// ---------------------------------------------------------------------------------------------
// Intents: pyramiding, reversal, shorts, exits
// ---------------------------------------------------------------------------------------------

#[test]
fn same_direction_entry_is_ignored_and_counted() {
    // Closes 100, 110, 120, 130, 140, fill close. Long at bar 0; a second long at bar 1 (with
    // hold 1, which would close at bar 2 if it applied) is ignored, so the position runs until
    // the exit at bar 3: 100 -> 130, quantity 10, pnl 300, return 0.3.
    let c = candles(&[
        flat(100.0),
        flat(110.0),
        flat(120.0),
        flat(130.0),
        flat(140.0),
    ]);
    let s = signals(
        5,
        &[
            (0, Intent::EnterLong, 0),
            (1, Intent::EnterLong, 1),
            (3, Intent::Exit, 0),
        ],
    );
    let sim = run(&c, &s, &frictionless(Fill::Close));
    assert_eq!(sim.trades.len(), 1);
    assert_trade(
        &sim.trades[0],
        &trade(
            Direction::Long,
            0,
            3,
            100.0,
            130.0,
            10.0,
            0.0,
            300.0,
            0.3,
            ExitReason::Signal,
        ),
    );
    assert_eq!(sim.signals.long_entries, 2);
    assert_eq!(sim.signals.ignored_same_direction, 1);
    assert_eq!(sim.signals.exits, 1);
}

#[test]
fn opposite_entry_reverses_long_to_short() {
    // Shorts allowed, fill close, closes 100, 110, 99, 99.
    // Bar 0: long at 100, quantity 10.
    // Bar 1: enter short: the long closes at 110 (reason signal): return 0.1, pnl 100, cash 1100;
    //   then the short opens at 110 with quantity 1100 / 110 = 10.
    // Bar 2: exit at 99: return (110 - 99) / 110 = 0.1, pnl 110, cash 1210.
    let c = candles(&[flat(100.0), flat(110.0), flat(99.0), flat(99.0)]);
    let s = signals(
        4,
        &[
            (0, Intent::EnterLong, 0),
            (1, Intent::EnterShort, 0),
            (2, Intent::Exit, 0),
        ],
    );
    let settings = ExecutionSettings {
        allow_short: true,
        ..frictionless(Fill::Close)
    };
    let sim = run(&c, &s, &settings);
    assert_eq!(sim.trades.len(), 2);
    assert_trade(
        &sim.trades[0],
        &trade(
            Direction::Long,
            0,
            1,
            100.0,
            110.0,
            10.0,
            0.0,
            100.0,
            0.1,
            ExitReason::Signal,
        ),
    );
    assert_trade(
        &sim.trades[1],
        &trade(
            Direction::Short,
            1,
            2,
            110.0,
            99.0,
            10.0,
            0.0,
            110.0,
            0.1,
            ExitReason::Signal,
        ),
    );
    // Bar 1 marks the new short at its entry: 1100. Bar 2: 1210.
    assert_equity(&sim, &[1000.0, 1100.0, 1210.0, 1210.0]);
    assert_eq!(sim.signals.long_entries, 1);
    assert_eq!(sim.signals.short_entries, 1);
    assert_eq!(sim.signals.ignored_same_direction, 0);
}

#[test]
fn short_entries_are_ignored_and_counted_when_not_allowed() {
    // allow_short false, fill close, closes 100, 110, 120, 130.
    // Bar 0: short ignored. Bar 1: long at 110. Bar 2: short ignored, and the long is kept (no
    // reversal). The long runs to the end: closed at 130 (end_of_data), quantity 1000 / 110,
    // return 130 / 110 - 1 = 2 / 11, pnl 2000 / 11.
    let c = candles(&[flat(100.0), flat(110.0), flat(120.0), flat(130.0)]);
    let s = signals(
        4,
        &[
            (0, Intent::EnterShort, 0),
            (1, Intent::EnterLong, 0),
            (2, Intent::EnterShort, 0),
        ],
    );
    let sim = run(&c, &s, &frictionless(Fill::Close));
    assert_eq!(sim.trades.len(), 1);
    assert_trade(
        &sim.trades[0],
        &trade(
            Direction::Long,
            1,
            3,
            110.0,
            130.0,
            1000.0 / 110.0,
            0.0,
            2000.0 / 11.0,
            2.0 / 11.0,
            ExitReason::EndOfData,
        ),
    );
    assert_eq!(sim.signals.short_entries, 2);
    assert_eq!(sim.signals.ignored_short_entries, 2);
    assert_eq!(sim.signals.long_entries, 1);
}

#[test]
fn exit_without_a_position_is_counted_and_does_nothing() {
    let c = candles(&[flat(100.0), flat(110.0), flat(120.0)]);
    let s = signals(3, &[(0, Intent::Exit, 0)]);
    let sim = run(&c, &s, &frictionless(Fill::Close));
    assert!(sim.trades.is_empty());
    assert_eq!(sim.signals.exits, 1);
    assert_equity(&sim, &[1000.0, 1000.0, 1000.0]);
}

// ---------------------------------------------------------------------------------------------
// Stops and targets
// ---------------------------------------------------------------------------------------------

#[test]
fn stop_loss_hit_intrabar_fills_at_the_level_less_slippage() {
    // fill close, slippage 0.01, stop_loss 0.1. Entry at close[0] = 100: fill 101,
    // quantity 1000 / 101. Stop level = 101 * 0.9 = 90.9.
    // Bar 1 opens at 100 (above the stop) and trades down to 90 <= 90.9: exit at the level less
    // slippage, 90.9 * 0.99 = 89.991. return = 89.991 / 101 - 1 = 0.891 - 1 = -0.109,
    // pnl = -109.
    let c = candles(&[flat(100.0), (100.0, 102.0, 90.0, 95.0), flat(95.0)]);
    let s = signals(3, &[(0, Intent::EnterLong, 0)]);
    let settings = ExecutionSettings {
        slippage: 0.01,
        stop_loss: Some(0.1),
        ..frictionless(Fill::Close)
    };
    let sim = run(&c, &s, &settings);
    assert_eq!(sim.trades.len(), 1);
    assert_trade(
        &sim.trades[0],
        &trade(
            Direction::Long,
            0,
            1,
            101.0,
            89.991,
            1000.0 / 101.0,
            0.0,
            -109.0,
            -0.109,
            ExitReason::StopLoss,
        ),
    );
}

#[test]
fn gap_through_stop_fills_at_the_open() {
    // fill close, stop_loss 0.1: entry 100, stop 90. Bar 1 opens at 85, below the stop: exit at
    // the open 85, not at 90. return -0.15, pnl -150.
    let c = candles(&[flat(100.0), (85.0, 88.0, 80.0, 86.0), flat(86.0)]);
    let s = signals(3, &[(0, Intent::EnterLong, 0)]);
    let settings = ExecutionSettings {
        stop_loss: Some(0.1),
        ..frictionless(Fill::Close)
    };
    let sim = run(&c, &s, &settings);
    assert_trade(
        &sim.trades[0],
        &trade(
            Direction::Long,
            0,
            1,
            100.0,
            85.0,
            10.0,
            0.0,
            -150.0,
            -0.15,
            ExitReason::StopLoss,
        ),
    );
}

#[test]
fn stop_and_target_in_one_bar_assumes_stop() {
    // stop_loss 0.1 (level 90) and take_profit 0.1 (level 110) from an entry at 100. Bar 1 opens
    // at 100 and ranges 85..115, touching both: the stop is assumed first. Exit 90, pnl -100.
    let c = candles(&[flat(100.0), (100.0, 115.0, 85.0, 100.0), flat(100.0)]);
    let s = signals(3, &[(0, Intent::EnterLong, 0)]);
    let settings = ExecutionSettings {
        stop_loss: Some(0.1),
        take_profit: Some(0.1),
        ..frictionless(Fill::Close)
    };
    let sim = run(&c, &s, &settings);
    assert_trade(
        &sim.trades[0],
        &trade(
            Direction::Long,
            0,
            1,
            100.0,
            90.0,
            10.0,
            0.0,
            -100.0,
            -0.1,
            ExitReason::StopLoss,
        ),
    );
}

#[test]
fn take_profit_fills_at_the_target() {
    // take_profit 0.1 from 100: level 110. Bar 1 opens at 101 and reaches 112: exit at 110,
    // return 0.1, pnl 100.
    let c = candles(&[flat(100.0), (101.0, 112.0, 100.0, 108.0), flat(108.0)]);
    let s = signals(3, &[(0, Intent::EnterLong, 0)]);
    let settings = ExecutionSettings {
        take_profit: Some(0.1),
        ..frictionless(Fill::Close)
    };
    let sim = run(&c, &s, &settings);
    assert_trade(
        &sim.trades[0],
        &trade(
            Direction::Long,
            0,
            1,
            100.0,
            110.0,
            10.0,
            0.0,
            100.0,
            0.1,
            ExitReason::TakeProfit,
        ),
    );
}

#[test]
fn gap_through_target_fills_at_the_open() {
    // take_profit 0.1 from 100: level 110. Bar 1 opens at 115, beyond the target: exit at 115,
    // return 0.15, pnl 150.
    let c = candles(&[flat(100.0), (115.0, 118.0, 113.0, 116.0), flat(116.0)]);
    let s = signals(3, &[(0, Intent::EnterLong, 0)]);
    let settings = ExecutionSettings {
        take_profit: Some(0.1),
        ..frictionless(Fill::Close)
    };
    let sim = run(&c, &s, &settings);
    assert_trade(
        &sim.trades[0],
        &trade(
            Direction::Long,
            0,
            1,
            100.0,
            115.0,
            10.0,
            0.0,
            150.0,
            0.15,
            ExitReason::TakeProfit,
        ),
    );
}

#[test]
fn short_stop_loss_is_above_the_entry() {
    // Shorts allowed, stop_loss 0.1: short at 100, stop level 110. Bar 1 reaches 112: exit at
    // 110. return (100 - 110) / 100 = -0.1, pnl -100.
    let c = candles(&[flat(100.0), (102.0, 112.0, 101.0, 105.0), flat(105.0)]);
    let s = signals(3, &[(0, Intent::EnterShort, 0)]);
    let settings = ExecutionSettings {
        allow_short: true,
        stop_loss: Some(0.1),
        ..frictionless(Fill::Close)
    };
    let sim = run(&c, &s, &settings);
    assert_trade(
        &sim.trades[0],
        &trade(
            Direction::Short,
            0,
            1,
            100.0,
            110.0,
            10.0,
            0.0,
            -100.0,
            -0.1,
            ExitReason::StopLoss,
        ),
    );
}

#[test]
fn trailing_stop_uses_the_best_price_updated_after_the_bar() {
    // trailing_stop 0.1, fill close, entry at 100: best 100, trailing level 90.
    // Bar 1 (100, 120, 95, 115): checked against 90 -> low 95 does not touch it. Only then is the
    //   best raised to the high 120 (level 108); the low of 95 in the same bar does not count
    //   against the new level.
    // Bar 2 (115, 118, 107, 110): opens above 108, low 107 <= 108: exit at 108 (trailing_stop).
    //   return 0.08, pnl 80.
    let c = candles(&[
        flat(100.0),
        (100.0, 120.0, 95.0, 115.0),
        (115.0, 118.0, 107.0, 110.0),
        flat(110.0),
    ]);
    let s = signals(4, &[(0, Intent::EnterLong, 0)]);
    let settings = ExecutionSettings {
        trailing_stop: Some(0.1),
        ..frictionless(Fill::Close)
    };
    let sim = run(&c, &s, &settings);
    assert_eq!(sim.trades.len(), 1);
    assert_trade(
        &sim.trades[0],
        &trade(
            Direction::Long,
            0,
            2,
            100.0,
            108.0,
            10.0,
            0.0,
            80.0,
            0.08,
            ExitReason::TrailingStop,
        ),
    );
}

#[test]
fn stops_are_checked_on_the_entry_bar_with_next_open() {
    // fill next_open, stop_loss 0.1. Entry at open[1] = 100 (stop 90); bar 1 then trades down to
    // 85: the stop fires in the entry bar itself. Exit 90, entry_index = exit_index = 1.
    let c = candles(&[flat(100.0), (100.0, 101.0, 85.0, 95.0), flat(95.0)]);
    let s = signals(3, &[(0, Intent::EnterLong, 0)]);
    let settings = ExecutionSettings {
        stop_loss: Some(0.1),
        ..frictionless(Fill::NextOpen)
    };
    let sim = run(&c, &s, &settings);
    assert_trade(
        &sim.trades[0],
        &trade(
            Direction::Long,
            1,
            1,
            100.0,
            90.0,
            10.0,
            0.0,
            -100.0,
            -0.1,
            ExitReason::StopLoss,
        ),
    );
    assert_eq!(sim.bars_in_position, 0);
}

#[test]
fn close_fill_checks_stops_before_the_hold_exit() {
    // fill close, stop_loss 0.1, signal at bar 0 with hold 2 (exit due at close[2]). Bar 2 trades
    // down to 85 first: the stop at 90 wins over the hold exit at the close (95).
    let c = candles(&[
        flat(100.0),
        flat(100.0),
        (100.0, 100.0, 85.0, 95.0),
        flat(95.0),
    ]);
    let s = signals(4, &[(0, Intent::EnterLong, 2)]);
    let settings = ExecutionSettings {
        stop_loss: Some(0.1),
        ..frictionless(Fill::Close)
    };
    let sim = run(&c, &s, &settings);
    assert_eq!(sim.trades.len(), 1);
    assert_eq!(sim.trades[0].exit_index, 2);
    assert_eq!(sim.trades[0].exit_reason, ExitReason::StopLoss);
    close_to(sim.trades[0].exit_price, 90.0, "exit_price");
}

#[test]
fn stop_above_the_entry_bar_open_fills_at_that_open() {
    // fill next_open, slippage 0.01, stop_loss 0.005. Entry at open[1] = 100: fill 101, stop level
    // 101 * 0.995 = 100.495, above bar 1's open (100) and high (100). The bar "opens beyond the
    // stop", so the exit should fill at the open less slippage: 100 * 0.99 = 99.
    // The code skips the open check on the entry bar and fills at the level:
    // 100.495 * 0.99 = 99.49005, from a reference price above the bar's high.
    let c = candles(&[flat(100.0), (100.0, 100.0, 99.0, 99.5), flat(99.5)]);
    let s = signals(3, &[(0, Intent::EnterLong, 0)]);
    let settings = ExecutionSettings {
        slippage: 0.01,
        stop_loss: Some(0.005),
        ..frictionless(Fill::NextOpen)
    };
    let sim = run(&c, &s, &settings);
    assert_eq!(sim.trades[0].exit_reason, ExitReason::StopLoss);
    close_to(sim.trades[0].exit_price, 99.0, "exit_price");
}

// ---------------------------------------------------------------------------------------------
// Last bar and end of data
// ---------------------------------------------------------------------------------------------

#[test]
fn entry_on_the_last_bar_is_ignored_with_close_fill() {
    let c = candles(&[flat(100.0), flat(100.0), flat(100.0)]);
    let s = signals(3, &[(2, Intent::EnterLong, 0)]);
    let sim = run(&c, &s, &frictionless(Fill::Close));
    assert!(sim.trades.is_empty());
    assert_eq!(sim.signals.long_entries, 1);
    assert_eq!(sim.signals.ignored_last_bar, 1);
    assert_eq!(sim.bars_in_position, 0);
}

#[test]
fn entries_filling_on_or_after_the_last_bar_are_ignored_with_next_open() {
    // With next_open the signal at bar 1 would fill at open[2] (the last bar) and the one at bar 2
    // after the data: both ignored.
    let c = candles(&[flat(100.0), flat(100.0), flat(100.0)]);
    let s = signals(3, &[(1, Intent::EnterLong, 0), (2, Intent::EnterLong, 0)]);
    let sim = run(&c, &s, &frictionless(Fill::NextOpen));
    assert!(sim.trades.is_empty());
    assert_eq!(sim.signals.long_entries, 2);
    assert_eq!(sim.signals.ignored_last_bar, 2);
}

#[test]
fn position_open_after_the_last_bar_closes_at_the_last_close() {
    // fill next_open, slippage 0.01. Entry at open[1] = 100: fill 101, quantity 1000 / 101.
    // Still open after bar 2: closed at close[2] = 120 less slippage, 120 * 0.99 = 118.8
    // (end_of_data). return 118.8 / 101 - 1, cash 1000 * 118.8 / 101 = 1176.237...
    // Equity: bar 0 1000; bar 1 1000 + quantity * (100 - 101) = 990.099...; bar 2 the realised
    // cash 1176.237..., not the mark quantity * 120 = 1188.118...
    let c = candles(&[flat(100.0), flat(100.0), (100.0, 125.0, 100.0, 120.0)]);
    let s = signals(3, &[(0, Intent::EnterLong, 0)]);
    let settings = ExecutionSettings {
        slippage: 0.01,
        ..frictionless(Fill::NextOpen)
    };
    let sim = run(&c, &s, &settings);
    let ret = 118.8 / 101.0 - 1.0;
    assert_trade(
        &sim.trades[0],
        &trade(
            Direction::Long,
            1,
            2,
            101.0,
            118.8,
            1000.0 / 101.0,
            0.0,
            1000.0 * ret,
            ret,
            ExitReason::EndOfData,
        ),
    );
    assert_equity(&sim, &[1000.0, 1000.0 - 1000.0 / 101.0, 118_800.0 / 101.0]);
    // The last bar counts as in position: the position is open at its close until closed there.
    assert_eq!(sim.bars_in_position, 2);
}

#[test]
fn entry_with_no_equity_left_is_ignored() {
    // Shorts allowed, fill close. Short at 100 (quantity 10), bought back at 250:
    // return (100 - 250) / 100 = -1.5, pnl -1500, cash -500. The long at bar 2 has no equity to
    // commit: ignored and counted.
    let c = candles(&[flat(100.0), flat(250.0), flat(250.0), flat(250.0)]);
    let s = signals(
        4,
        &[
            (0, Intent::EnterShort, 0),
            (1, Intent::Exit, 0),
            (2, Intent::EnterLong, 0),
        ],
    );
    let settings = ExecutionSettings {
        allow_short: true,
        ..frictionless(Fill::Close)
    };
    let result = backtest(&c, &s, &settings).unwrap();
    let sim = &result.simulation;
    assert_eq!(sim.trades.len(), 1);
    close_to(sim.trades[0].pnl, -1500.0, "pnl");
    assert_eq!(sim.signals.ignored_no_equity, 1);
    assert_equity(sim, &[1000.0, -500.0, -500.0, -500.0]);
    // Drawdown (1000 - (-500)) / 1000 = 1.5; CAGR of a wiped-out account is -1.
    close_to(result.metrics.max_drawdown, 1.5, "max_drawdown");
    assert_eq!(result.metrics.cagr, Some(-1.0));
}

// ---------------------------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------------------------

#[test]
fn metrics_of_a_small_case_by_hand() {
    // Five bars a quarter of a (365-day) year apart: the span is exactly one year and there are
    // 4 bars per year (sqrt = 2). Closes 100, 120, 110, 110, 99, fill close, no costs.
    // Trade 1: long at close[0] = 100 (quantity 10), exit at close[2] = 110: return 0.1, pnl 100.
    // Trade 2: long at close[3] = 110 (quantity 1100 / 110 = 10), still open at the end: closed at
    //   close[4] = 99 (end_of_data): return -0.1, pnl -110. Final equity 990.
    // Equity: 1000, 1200, 1100, 1100, 990.
    let c = candles_every(
        (MS_PER_YEAR / 4.0) as i64,
        &[
            flat(100.0),
            flat(120.0),
            flat(110.0),
            flat(110.0),
            flat(99.0),
        ],
    );
    let s = signals(
        5,
        &[
            (0, Intent::EnterLong, 0),
            (2, Intent::Exit, 0),
            (3, Intent::EnterLong, 0),
        ],
    );
    let result = backtest(&c, &s, &frictionless(Fill::Close)).unwrap();
    assert_equity(&result.simulation, &[1000.0, 1200.0, 1100.0, 1100.0, 990.0]);
    let m = &result.metrics;
    close_to(m.final_equity, 990.0, "final_equity");
    close_to(m.total_return, -0.01, "total_return");
    // cagr = (990 / 1000)^(1 / 1) - 1 = -0.01.
    some_close_to(m.cagr, -0.01, "cagr");
    // Per-bar returns from 1000: 0, 0.2, 1100/1200 - 1 = -1/12, 0, 990/1100 - 1 = -0.1.
    // mean = (1/5 - 1/12 - 1/10) / 5 = (1/60) / 5 = 1/300.
    // sum r^2 = 1/25 + 1/144 + 1/100 = 205/3600; sum (r - mean)^2 = 205/3600 - 5/300^2
    //   = 1024/18000; sample variance = 1024/72000; std = 32 / sqrt(72000) = 4 / (15 sqrt 5).
    // sharpe = (1/300) / (4 / (15 sqrt 5)) * sqrt(4) = sqrt(5) / 40 = 0.055901699...
    some_close_to(m.sharpe, 5f64.sqrt() / 40.0, "sharpe");
    // Downside: (1/144 + 1/100) / 4 = 61/14400, deviation sqrt(61) / 120.
    // sortino = (1/300) / (sqrt(61) / 120) * 2 = 0.8 / sqrt(61) = 0.102429...
    some_close_to(m.sortino, 0.8 / 61f64.sqrt(), "sortino");
    // Peak 1200, trough 990: (1200 - 990) / 1200 = 0.175.
    close_to(m.max_drawdown, 0.175, "max_drawdown");
    // calmar = -0.01 / 0.175 = -2/35.
    some_close_to(m.calmar, -2.0 / 35.0, "calmar");
    assert_eq!(m.trades, 2);
    // One of two trades has a positive return.
    some_close_to(m.win_rate, 0.5, "win_rate");
    // (0.1 + -0.1) / 2 = 0.
    some_close_to(m.avg_return, 0.0, "avg_return");
    // Gross profit 100 / gross loss 110.
    some_close_to(m.profit_factor, 100.0 / 110.0, "profit_factor");
    // Holds: 2 - 0 = 2 and 4 - 3 = 1: mean 1.5.
    some_close_to(m.avg_hold_bars, 1.5, "avg_hold_bars");
    // In position at the closes of bars 0, 1, 3 and 4 (bar 2's close is the exit; bar 4's close
    // is the end_of_data exit and still counts): 4 / 5.
    close_to(m.exposure, 0.8, "exposure");
    // 99 / 100 - 1.
    close_to(m.buy_and_hold_return, -0.01, "buy_and_hold_return");
}

#[test]
fn metrics_without_trades_are_undefined_where_they_should_be() {
    // No trades on a flat series: returns all zero, so no deviation; no trades, no ratios.
    let c = candles(&[flat(100.0), flat(100.0), flat(100.0)]);
    let result = backtest(&c, &Signals::none(3), &frictionless(Fill::Close)).unwrap();
    let m = &result.metrics;
    assert_eq!(m.trades, 0);
    assert_eq!(m.total_return, 0.0);
    assert_eq!(m.max_drawdown, 0.0);
    some_close_to(m.cagr, 0.0, "cagr");
    assert_eq!(m.sharpe, None);
    assert_eq!(m.sortino, None);
    assert_eq!(m.calmar, None);
    assert_eq!(m.win_rate, None);
    assert_eq!(m.avg_return, None);
    assert_eq!(m.profit_factor, None);
    assert_eq!(m.avg_hold_bars, None);
    assert_eq!(m.exposure, 0.0);
    // A single bar has no span and no interval.
    let one = candles(&[flat(100.0)]);
    let m = backtest(&one, &Signals::none(1), &frictionless(Fill::Close))
        .unwrap()
        .metrics;
    assert_eq!(m.cagr, None);
    assert_eq!(m.sharpe, None);
    assert_eq!(m.sortino, None);
}

#[test]
fn cagr_over_a_short_span_is_finite_or_undefined() {
    // Three bars one minute apart, +10 %: years = 2 / 525600, so cagr = 1.1^262800 - 1, which
    // overflows f64 to +inf. The report then holds Some(inf) and serde_json prints null.
    let c = candles_every(60_000, &[flat(100.0), flat(100.0), flat(110.0)]);
    let s = signals(3, &[(0, Intent::EnterLong, 0)]);
    let m = backtest(&c, &s, &frictionless(Fill::Close))
        .unwrap()
        .metrics;
    close_to(m.total_return, 0.1, "total_return");
    assert!(m.cagr.is_none_or(f64::is_finite), "cagr = {:?}", m.cagr);
}

// ---------------------------------------------------------------------------------------------
// Errors and determinism
// ---------------------------------------------------------------------------------------------

#[test]
fn invalid_settings_are_all_reported() {
    let settings = ExecutionSettings {
        fee: 1.0,
        slippage: -0.01,
        position_size: 1.5,
        initial_cash: 0.0,
        stop_loss: Some(1.0),
        trailing_stop: Some(0.0),
        take_profit: Some(f64::INFINITY),
        max_hold_bars: Some(0),
        ..frictionless(Fill::Close)
    };
    let c = candles(&[flat(100.0), flat(100.0)]);
    let err = simulate(&c, &Signals::none(2), &settings).unwrap_err();
    let EngineError::Settings(problems) = err else {
        panic!("expected a settings error, got {err:?}");
    };
    let fields: Vec<_> = problems.0.iter().map(|p| p.field).collect();
    assert_eq!(
        fields,
        [
            "fee",
            "slippage",
            "position_size",
            "initial_cash",
            "stop_loss",
            "trailing_stop",
            "take_profit",
            "max_hold_bars",
        ]
    );
    // NaN is rejected too.
    let nan = ExecutionSettings {
        fee: f64::NAN,
        ..frictionless(Fill::Close)
    };
    assert!(matches!(
        simulate(&c, &Signals::none(2), &nan),
        Err(EngineError::Settings(_))
    ));
}

#[test]
fn signals_of_the_wrong_length_are_rejected() {
    let c = candles(&[flat(100.0), flat(100.0), flat(100.0), flat(100.0)]);
    let short = Signals::none(3);
    assert_eq!(
        simulate(&c, &short, &frictionless(Fill::Close)),
        Err(EngineError::LengthMismatch {
            candles: 4,
            intents: 3,
            hold_bars: 3
        })
    );
    let mut ragged = Signals::none(4);
    ragged.hold_bars.pop();
    assert_eq!(
        simulate(&c, &ragged, &frictionless(Fill::Close)),
        Err(EngineError::LengthMismatch {
            candles: 4,
            intents: 4,
            hold_bars: 3
        })
    );
}

#[test]
fn length_mismatch_names_a_length_that_differs_from_the_candles() {
    // 4 candles, 4 intents, 5 hold_bars: the error says "signals cover 4 bars but there are 4
    // candles", which contradicts itself.
    let c = candles(&[flat(100.0), flat(100.0), flat(100.0), flat(100.0)]);
    let mut s = Signals::none(4);
    s.hold_bars.push(0);
    let err = simulate(&c, &s, &frictionless(Fill::Close)).unwrap_err();
    let EngineError::LengthMismatch {
        candles,
        intents,
        hold_bars,
    } = err
    else {
        panic!("expected a length mismatch, got {err:?}");
    };
    assert_eq!((candles, intents, hold_bars), (4, 4, 5), "{err}");
}

#[test]
fn no_candles_is_an_error() {
    let empty = Candles::new(CandleColumns::default()).unwrap();
    assert_eq!(
        simulate(&empty, &Signals::none(0), &frictionless(Fill::Close)),
        Err(EngineError::NoCandles)
    );
}

#[test]
fn same_inputs_give_identical_simulations() {
    let rows: Vec<Bar> = (0..40)
        .map(|i| {
            let x = f64::from(i);
            let open = 100.0 + 10.0 * (x * 0.7).sin();
            let close = 100.0 + 10.0 * (x * 0.7 + 0.5).sin();
            (open, open.max(close) + 2.0, open.min(close) - 2.0, close)
        })
        .collect();
    let c = candles(&rows);
    let intents = [
        Intent::EnterLong,
        Intent::None,
        Intent::EnterShort,
        Intent::Exit,
        Intent::None,
    ];
    let mut s = Signals::none(40);
    for bar in 0..40 {
        s.set(bar, intents[bar % intents.len()], (bar % 4) as u32);
    }
    for fill in [Fill::NextOpen, Fill::Close] {
        let settings = ExecutionSettings {
            fill,
            allow_short: true,
            stop_loss: Some(0.05),
            take_profit: Some(0.08),
            trailing_stop: Some(0.04),
            max_hold_bars: Some(6),
            position_size: 0.7,
            ..ExecutionSettings::default()
        };
        let a = run(&c, &s, &settings);
        let b = run(&c, &s, &settings);
        assert!(!a.trades.is_empty());
        assert_eq!(a, b);
        assert_eq!(
            backtest(&c, &s, &settings).unwrap(),
            backtest(&c, &s, &settings).unwrap()
        );
    }
}
