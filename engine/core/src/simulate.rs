//! The execution simulator: turns per-bar intents into trades and a marked-to-market equity curve.
//!
//! The rules (fill timing, costs, stops, holding times, ordering within a bar) are written down in
//! `docs/metrics.md`; the comments here say how the code follows them.

use serde::{Deserialize, Serialize};

use crate::candles::Candles;
use crate::settings::{ExecutionSettings, Fill, SettingsError};
use crate::signals::{Intent, Signals};
use crate::time::TimeMs;

/// Side of a position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Bought, profits when price rises.
    Long,
    /// Sold short, profits when price falls.
    Short,
}

impl Direction {
    /// `long` or `short`, as in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Long => "long",
            Direction::Short => "short",
        }
    }

    /// +1 for long, -1 for short: the sign of profit per unit of price rise.
    fn sign(self) -> f64 {
        match self {
            Direction::Long => 1.0,
            Direction::Short => -1.0,
        }
    }
}

/// Why a position was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitReason {
    /// An exit intent, or an entry intent in the opposite direction.
    Signal,
    /// The holding time of the entry (or `max_hold_bars`) ran out.
    HoldPeriod,
    /// The stop-loss level was reached.
    StopLoss,
    /// The take-profit level was reached.
    TakeProfit,
    /// The trailing stop was reached.
    TrailingStop,
    /// Still open after the last bar: closed at the last close.
    EndOfData,
}

impl ExitReason {
    /// The name used in reports (`signal`, `hold_period`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ExitReason::Signal => "signal",
            ExitReason::HoldPeriod => "hold_period",
            ExitReason::StopLoss => "stop_loss",
            ExitReason::TakeProfit => "take_profit",
            ExitReason::TrailingStop => "trailing_stop",
            ExitReason::EndOfData => "end_of_data",
        }
    }
}

/// One closed position. Prices are fills (slippage included); `return` is net of fees.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trade {
    /// Bar whose price filled the entry.
    pub entry_index: usize,
    /// Bar whose price filled the exit.
    pub exit_index: usize,
    /// Open time of the entry bar.
    pub entry_time: TimeMs,
    /// Open time of the exit bar.
    pub exit_time: TimeMs,
    /// Long or short.
    pub direction: Direction,
    /// Entry fill price.
    pub entry_price: f64,
    /// Exit fill price.
    pub exit_price: f64,
    /// Units held.
    pub quantity: f64,
    /// Entry and exit fees together.
    pub fees: f64,
    /// Profit or loss in cash, net of fees.
    pub pnl: f64,
    /// `pnl` as a fraction of the cash committed at entry.
    #[serde(rename = "return")]
    pub trade_return: f64,
    /// Why the position was closed.
    pub exit_reason: ExitReason,
}

impl Trade {
    /// Bars the position was held: `exit_index - entry_index`.
    pub fn hold_bars(&self) -> usize {
        self.exit_index - self.entry_index
    }
}

/// Intents that could not be executed, so a user can see why a strategy traded less than it asked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignalCounts {
    /// Long entries requested.
    pub long_entries: u64,
    /// Short entries requested.
    pub short_entries: u64,
    /// Exits requested.
    pub exits: u64,
    /// Short entries ignored because `allow_short` is false.
    pub ignored_short_entries: u64,
    /// Entries ignored because a position in the same direction was open (no pyramiding).
    pub ignored_same_direction: u64,
    /// Entries ignored because they would fill after the last bar or on it.
    pub ignored_last_bar: u64,
    /// Entries ignored because equity was zero or negative.
    pub ignored_no_equity: u64,
}

/// Result of one simulation.
#[derive(Debug, Clone, PartialEq)]
pub struct Simulation {
    /// Closed trades in order.
    pub trades: Vec<Trade>,
    /// Equity at each bar's close, marked to market (the last one is the final equity).
    pub equity: Vec<f64>,
    /// Bars at whose close a position was open.
    pub bars_in_position: u64,
    /// Requested and ignored intents.
    pub signals: SignalCounts,
}

/// Why a simulation could not run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EngineError {
    /// There are no candles.
    #[error("no candles to simulate")]
    NoCandles,
    /// The signal columns do not match the candle count.
    #[error(
        "signals cover {intents} bars (holding times: {hold_bars}) but there are {candles} candles"
    )]
    LengthMismatch {
        /// Candles given.
        candles: usize,
        /// Intents given.
        intents: usize,
        /// Holding times given.
        hold_bars: usize,
    },
    /// The settings are invalid.
    #[error(transparent)]
    Settings(#[from] SettingsError),
}

#[derive(Debug, Clone, Copy)]
struct Position {
    direction: Direction,
    entry_index: usize,
    entry_price: f64,
    quantity: f64,
    /// Cash taken out of equity at entry (entry fee included).
    budget: f64,
    entry_fee: f64,
    /// Best price since entry: highest high for longs, lowest low for shorts.
    best: f64,
    /// Bar at whose fill point the holding time runs out.
    exit_due: Option<usize>,
}

struct Simulator<'a> {
    candles: &'a Candles,
    settings: &'a ExecutionSettings,
    cash: f64,
    position: Option<Position>,
    trades: Vec<Trade>,
    signals: SignalCounts,
    /// Whether any stop or target is set (otherwise `manage_risk` has nothing to do).
    manages_risk: bool,
}

/// Runs the simulation.
///
/// # Errors
/// [`EngineError`] for empty candles, signals of the wrong length or invalid settings.
pub fn simulate(
    candles: &Candles,
    signals: &Signals,
    settings: &ExecutionSettings,
) -> Result<Simulation, EngineError> {
    settings.validate()?;
    let n = candles.len();
    if n == 0 {
        return Err(EngineError::NoCandles);
    }
    if signals.intents.len() != n || signals.hold_bars.len() != n {
        return Err(EngineError::LengthMismatch {
            candles: n,
            intents: signals.intents.len(),
            hold_bars: signals.hold_bars.len(),
        });
    }
    // Every trade starts with an entry intent: reserving for all of them avoids regrowing a
    // vector of possibly hundreds of thousands of trades.
    let entries = signals
        .intents
        .iter()
        .filter(|i| matches!(i, Intent::EnterLong | Intent::EnterShort))
        .count();
    let mut sim = Simulator {
        candles,
        settings,
        cash: settings.initial_cash,
        position: None,
        trades: Vec::with_capacity(entries),
        signals: SignalCounts::default(),
        manages_risk: settings.stop_loss.is_some()
            || settings.take_profit.is_some()
            || settings.trailing_stop.is_some(),
    };
    let (open, close) = (candles.open(), candles.close());
    let mut equity = Vec::with_capacity(n);
    let mut bars_in_position = 0u64;
    let mut bar = 0;
    while bar < n {
        // Bars where nothing can happen (no intent to execute, no holding time running out, no
        // stops to check) only need their equity marked: do those in one tight loop.
        if !sim.manages_risk {
            let event = sim.next_event(bar, &signals.intents);
            if event > bar {
                bars_in_position += sim.mark_quiet(&close[bar..event], &mut equity);
                bar = event;
                continue;
            }
        }
        match settings.fill {
            Fill::NextOpen => {
                // At the open: the scheduled holding-time exit, then last bar's intent.
                sim.exit_if_due(bar, open[bar]);
                if bar > 0 {
                    sim.apply(
                        signals.intents[bar - 1],
                        signals.hold_bars[bar - 1],
                        bar,
                        open[bar],
                    );
                }
                sim.manage_risk(bar);
            }
            Fill::Close => {
                // The bar trades through stops first; at its close, holding time, then intents.
                sim.manage_risk(bar);
                sim.exit_if_due(bar, close[bar]);
                sim.apply(
                    signals.intents[bar],
                    signals.hold_bars[bar],
                    bar,
                    close[bar],
                );
            }
        }
        if sim.position.is_some() {
            bars_in_position += 1;
        }
        equity.push(sim.mark(close[bar]));
        bar += 1;
    }
    if settings.fill == Fill::NextOpen {
        // The last bar's intent would fill after the data ends.
        sim.ignore_unfillable(signals.intents[n - 1]);
    }
    if sim.position.is_some() {
        sim.exit(n - 1, close[n - 1], ExitReason::EndOfData);
        // The last point of the curve is the cash actually realised, exit costs included.
        equity[n - 1] = sim.cash;
    }
    Ok(Simulation {
        trades: sim.trades,
        equity,
        bars_in_position,
        signals: sim.signals,
    })
}

impl Simulator<'_> {
    fn count_intent(&mut self, intent: Intent) {
        match intent {
            Intent::None => {}
            Intent::EnterLong => self.signals.long_entries += 1,
            Intent::EnterShort => self.signals.short_entries += 1,
            Intent::Exit => self.signals.exits += 1,
        }
    }

    /// Counts an intent that can never be filled (signalled on the last bar with `next_open`),
    /// classifying an entry by the first reason it would have been ignored for, as `apply` does.
    fn ignore_unfillable(&mut self, intent: Intent) {
        self.count_intent(intent);
        let direction = match intent {
            Intent::EnterLong => Direction::Long,
            Intent::EnterShort => Direction::Short,
            Intent::None | Intent::Exit => return,
        };
        if direction == Direction::Short && !self.settings.allow_short {
            self.signals.ignored_short_entries += 1;
        } else if self.position.is_some_and(|p| p.direction == direction) {
            self.signals.ignored_same_direction += 1;
        } else {
            self.signals.ignored_last_bar += 1;
        }
    }

    /// Executes one intent at reference price `price` on bar `bar`.
    fn apply(&mut self, intent: Intent, hold_bars: u32, bar: usize, price: f64) {
        self.count_intent(intent);
        let direction = match intent {
            Intent::None => return,
            Intent::Exit => {
                if self.position.is_some() {
                    self.exit(bar, price, ExitReason::Signal);
                }
                return;
            }
            Intent::EnterLong => Direction::Long,
            Intent::EnterShort => Direction::Short,
        };
        if direction == Direction::Short && !self.settings.allow_short {
            self.signals.ignored_short_entries += 1;
            return;
        }
        if let Some(position) = self.position {
            if position.direction == direction {
                self.signals.ignored_same_direction += 1;
                return;
            }
            self.exit(bar, price, ExitReason::Signal);
        }
        // An entry filled on the last bar could only be closed at that same bar's close.
        if bar + 1 == self.candles.len() {
            self.signals.ignored_last_bar += 1;
            return;
        }
        self.enter(direction, bar, price, hold_bars);
    }

    fn enter(&mut self, direction: Direction, bar: usize, price: f64, hold_bars: u32) {
        let s = self.settings;
        let budget = self.cash * s.position_size;
        if budget.is_nan() || budget <= 0.0 {
            self.signals.ignored_no_equity += 1;
            return;
        }
        let entry_price = price * (1.0 + direction.sign() * s.slippage);
        let quantity = budget / (entry_price * (1.0 + s.fee));
        let due_from_signal = (hold_bars > 0).then(|| bar + hold_bars as usize);
        let due_from_settings = s.max_hold_bars.map(|m| bar + m as usize);
        let exit_due = match (due_from_signal, due_from_settings) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.cash -= budget;
        self.position = Some(Position {
            direction,
            entry_index: bar,
            entry_price,
            quantity,
            budget,
            entry_fee: quantity * entry_price * s.fee,
            best: entry_price,
            exit_due,
        });
    }

    fn exit(&mut self, bar: usize, price: f64, reason: ExitReason) {
        let Some(p) = self.position.take() else {
            return;
        };
        let fee = self.settings.fee;
        let exit_price = price * (1.0 - p.direction.sign() * self.settings.slippage);
        let trade_return = match p.direction {
            Direction::Long => exit_price * (1.0 - fee) / (p.entry_price * (1.0 + fee)) - 1.0,
            Direction::Short => {
                (p.entry_price * (1.0 - fee) - exit_price * (1.0 + fee))
                    / (p.entry_price * (1.0 + fee))
            }
        };
        let pnl = p.budget * trade_return;
        self.cash += p.budget + pnl;
        let time = self.candles.time_ms();
        self.trades.push(Trade {
            entry_index: p.entry_index,
            exit_index: bar,
            entry_time: TimeMs(time[p.entry_index]),
            exit_time: TimeMs(time[bar]),
            direction: p.direction,
            entry_price: p.entry_price,
            exit_price,
            quantity: p.quantity,
            fees: p.entry_fee + p.quantity * exit_price * fee,
            pnl,
            trade_return,
            exit_reason: reason,
        });
    }

    fn exit_if_due(&mut self, bar: usize, price: f64) {
        if self.position.is_some_and(|p| p.exit_due == Some(bar)) {
            self.exit(bar, price, ExitReason::HoldPeriod);
        }
    }

    /// Stop-loss, trailing stop and take-profit against bar `bar`'s prices. A bar that opens
    /// beyond a level fills at the open; a bar whose range touches both the stop and the target
    /// is assumed to hit the stop first.
    fn manage_risk(&mut self, bar: usize) {
        if !self.manages_risk {
            return;
        }
        let Some(p) = self.position else {
            return;
        };
        let s = self.settings;
        let c = self.candles;
        let (open, high, low) = (c.open()[bar], c.high()[bar], c.low()[bar]);
        let sign = p.direction.sign();
        // Levels are expressed as prices; `adverse(x)` is true when x is at or beyond the stop.
        let fixed_stop = s.stop_loss.map(|f| p.entry_price * (1.0 - sign * f));
        let trailing = s.trailing_stop.map(|f| p.best * (1.0 - sign * f));
        let stop = match (fixed_stop, trailing) {
            // The binding stop is the one closer to the price: higher for longs, lower for shorts.
            (Some(f), Some(t)) if sign * t > sign * f => Some((t, ExitReason::TrailingStop)),
            (Some(f), _) => Some((f, ExitReason::StopLoss)),
            (None, Some(t)) => Some((t, ExitReason::TrailingStop)),
            (None, None) => None,
        };
        let target = s.take_profit.map(|f| p.entry_price * (1.0 + sign * f));
        let at_or_beyond_stop = |price: f64, level: f64| sign * price <= sign * level;
        let at_or_beyond_target = |price: f64, level: f64| sign * price >= sign * level;
        // Checked for a position that filled at this very open too: when slippage exceeds the
        // stop distance, its stop lies beyond the open and it is stopped out there at once.
        if let Some((level, reason)) = stop
            && at_or_beyond_stop(open, level)
        {
            return self.exit(bar, open, reason);
        }
        if let Some(level) = target
            && at_or_beyond_target(open, level)
        {
            return self.exit(bar, open, ExitReason::TakeProfit);
        }
        let (adverse_extreme, favourable_extreme) = match p.direction {
            Direction::Long => (low, high),
            Direction::Short => (high, low),
        };
        if let Some((level, reason)) = stop
            && at_or_beyond_stop(adverse_extreme, level)
        {
            return self.exit(bar, level, reason);
        }
        if let Some(level) = target
            && at_or_beyond_target(favourable_extreme, level)
        {
            return self.exit(bar, level, ExitReason::TakeProfit);
        }
        if let Some(position) = self.position.as_mut()
            && sign * favourable_extreme > sign * position.best
        {
            position.best = favourable_extreme;
        }
    }

    /// The first bar at or after `bar` where something may happen when no stops are set: an
    /// intent is executed there or the position's holding time runs out (or `n`).
    fn next_event(&self, bar: usize, intents: &[Intent]) -> usize {
        let n = intents.len();
        // The intent executed at bar b is intents[b - 1] (next_open) or intents[b] (close).
        let lag = usize::from(self.settings.fill == Fill::NextOpen);
        let first_intent = bar.max(lag) - lag;
        let by_intent = intents[first_intent.min(n)..]
            .iter()
            .position(|&i| i != Intent::None)
            .map_or(n, |offset| first_intent + offset + lag);
        let by_hold = self
            .position
            .and_then(|p| p.exit_due)
            .map_or(n, |due| due.max(bar));
        by_intent.min(by_hold).min(n)
    }

    /// Marks equity at each close in `closes` with no trading in between (exactly what
    /// [`Self::mark`] gives per bar); returns the number of bars spent in a position.
    fn mark_quiet(&self, closes: &[f64], equity: &mut Vec<f64>) -> u64 {
        match self.position {
            None => {
                equity.extend(std::iter::repeat_n(self.cash, closes.len()));
                0
            }
            Some(p) => {
                let base = self.cash + p.budget - p.entry_fee;
                let units = p.direction.sign() * p.quantity;
                equity.extend(closes.iter().map(|&c| base + units * (c - p.entry_price)));
                closes.len() as u64
            }
        }
    }

    /// Equity if the open position were valued at `price` without exit costs.
    fn mark(&self, price: f64) -> f64 {
        match self.position {
            None => self.cash,
            Some(p) => {
                let base = self.cash + p.budget - p.entry_fee;
                base + p.direction.sign() * p.quantity * (price - p.entry_price)
            }
        }
    }
}
