//! Performance metrics of a simulation. Every formula is written down in `docs/metrics.md`.

use serde::{Deserialize, Serialize};

use crate::candles::Candles;
use crate::simulate::Simulation;

/// Milliseconds in the 365-day year used for annualisation.
pub const MS_PER_YEAR: f64 = 365.0 * 24.0 * 3600.0 * 1000.0;

/// The report's metrics. All returns are fractions (0.05 means 5 %). A metric that is undefined
/// for this run (no trades, no variance, no losing trade...) is `None` (JSON `null`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// `final_equity / initial_cash - 1`.
    pub total_return: f64,
    /// Compound annual growth over the span from the first to the last bar.
    pub cagr: Option<f64>,
    /// Annualised mean over sample standard deviation of per-bar equity returns.
    pub sharpe: Option<f64>,
    /// Annualised mean over downside deviation of per-bar equity returns.
    pub sortino: Option<f64>,
    /// Largest peak-to-trough fall of the marked-to-market equity, as a fraction of the peak.
    pub max_drawdown: f64,
    /// `cagr / max_drawdown`.
    pub calmar: Option<f64>,
    /// Number of closed trades.
    pub trades: u64,
    /// Share of trades with a return above zero.
    pub win_rate: Option<f64>,
    /// Mean trade return.
    pub avg_return: Option<f64>,
    /// Gross profit over gross loss.
    pub profit_factor: Option<f64>,
    /// Mean of `exit_index - entry_index`.
    pub avg_hold_bars: Option<f64>,
    /// Share of bars at whose close a position was open.
    pub exposure: f64,
    /// Equity after the last bar.
    pub final_equity: f64,
    /// `close[last] / close[0] - 1`, no costs: the passive benchmark.
    pub buy_and_hold_return: f64,
}

/// Computes every metric.
///
/// `candles` must be the series that produced `simulation` (so it is not empty).
pub fn compute(candles: &Candles, simulation: &Simulation, initial_cash: f64) -> Metrics {
    let equity = &simulation.equity;
    let n = equity.len();
    let final_equity = equity.last().copied().unwrap_or(initial_cash);
    let total_return = final_equity / initial_cash - 1.0;
    let times = candles.time_ms();
    let span_years = match (times.first(), times.last()) {
        (Some(first), Some(last)) => (last - first) as f64 / MS_PER_YEAR,
        _ => 0.0,
    };
    let cagr = cagr(initial_cash, final_equity, span_years);
    let bars_per_year = candles
        .median_interval_ms()
        .map(|ms| MS_PER_YEAR / ms as f64);
    let (sharpe, sortino) = match bars_per_year {
        Some(bpy) => risk_adjusted(bar_returns(equity, initial_cash), bpy),
        None => (None, None),
    };
    let max_drawdown = max_drawdown(equity, initial_cash);
    let calmar = match cagr {
        Some(c) if max_drawdown > 0.0 => Some(c / max_drawdown),
        _ => None,
    };
    let trades = &simulation.trades;
    let count = trades.len() as f64;
    let (mut wins, mut gross_profit, mut gross_loss, mut sum_return, mut sum_hold) =
        (0u64, 0.0, 0.0, 0.0, 0.0);
    for t in trades {
        if t.trade_return > 0.0 {
            wins += 1;
        }
        if t.pnl > 0.0 {
            gross_profit += t.pnl;
        } else {
            gross_loss -= t.pnl;
        }
        sum_return += t.trade_return;
        sum_hold += t.hold_bars() as f64;
    }
    let per_trade = |sum: f64| (!trades.is_empty()).then(|| sum / count);
    let close = candles.close();
    Metrics {
        total_return,
        cagr,
        sharpe,
        sortino,
        max_drawdown,
        calmar,
        trades: trades.len() as u64,
        win_rate: per_trade(wins as f64),
        avg_return: per_trade(sum_return),
        profit_factor: (gross_loss > 0.0).then(|| gross_profit / gross_loss),
        avg_hold_bars: per_trade(sum_hold),
        exposure: if n == 0 {
            0.0
        } else {
            simulation.bars_in_position as f64 / n as f64
        },
        final_equity,
        buy_and_hold_return: match (close.first(), close.last()) {
            (Some(first), Some(last)) => last / first - 1.0,
            _ => 0.0,
        },
    }
}

/// `(final / initial)^(1 / years) - 1`; `None` for a zero span or when the result overflows
/// (a gain annualised over minutes), `-1` once equity is gone.
fn cagr(initial: f64, final_equity: f64, years: f64) -> Option<f64> {
    if years <= 0.0 {
        return None;
    }
    if final_equity <= 0.0 {
        return Some(-1.0);
    }
    // Over a span of minutes the annualised figure can overflow: no meaningful CAGR then.
    let annual = (final_equity / initial).powf(1.0 / years) - 1.0;
    annual.is_finite().then_some(annual)
}

/// Per-bar returns `e[k] / e[k-1] - 1` with `e[-1] = initial` (so costs of a trade entered on the
/// first bar count). A return after equity reached zero or below is taken as 0.
pub fn bar_returns(equity: &[f64], initial: f64) -> impl Iterator<Item = f64> + Clone + '_ {
    std::iter::once(initial)
        .chain(equity.iter().copied())
        .zip(equity.iter().copied())
        .map(|(previous, e)| {
            if previous > 0.0 {
                e / previous - 1.0
            } else {
                0.0
            }
        })
}

/// Sharpe and Sortino ratios of `returns`, annualised with `bars_per_year`. Two passes over the
/// returns (mean, then deviations), so nothing is allocated.
fn risk_adjusted(
    returns: impl Iterator<Item = f64> + Clone,
    bars_per_year: f64,
) -> (Option<f64>, Option<f64>) {
    let (n, sum) = returns
        .clone()
        .fold((0usize, 0.0), |(n, s), r| (n + 1, s + r));
    if n < 2 {
        return (None, None);
    }
    let mean = sum / n as f64;
    let (mut squares, mut downside_squares) = (0.0, 0.0);
    for r in returns {
        squares += (r - mean) * (r - mean);
        if r < 0.0 {
            downside_squares += r * r;
        }
    }
    let denominator = (n - 1) as f64;
    let std = (squares / denominator).sqrt();
    let downside = (downside_squares / denominator).sqrt();
    let annualise = bars_per_year.sqrt();
    let ratio = |deviation: f64| (deviation > 0.0).then(|| mean / deviation * annualise);
    (ratio(std), ratio(downside))
}

/// The drawdown at each bar: `(peak - e) / peak`, the peak starting at `initial`.
pub fn drawdown_curve(equity: &[f64], initial: f64) -> Vec<f64> {
    let mut peak = initial;
    equity
        .iter()
        .map(|&e| {
            peak = peak.max(e);
            (peak - e) / peak
        })
        .collect()
}

/// The largest value of [`drawdown_curve`], computed without materialising the curve.
fn max_drawdown(equity: &[f64], initial: f64) -> f64 {
    let mut peak = initial;
    let mut worst = 0.0f64;
    for &e in equity {
        peak = peak.max(e);
        worst = worst.max((peak - e) / peak);
    }
    worst
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawdown_from_peak() {
        // Peak 120 then trough 90: (120 - 90) / 120 = 0.25.
        let dd = max_drawdown(&[110.0, 120.0, 100.0, 90.0, 130.0], 100.0);
        assert!((dd - 0.25).abs() < 1e-15);
    }

    #[test]
    fn sharpe_and_sortino_hand_computed() {
        // Returns 0.01, -0.02, 0.03: mean 0.00666..., sample std = sqrt(0.0012333.../2) etc.
        let r = [0.01, -0.02, 0.03];
        let (sharpe, sortino) = risk_adjusted(r.iter().copied(), 4.0);
        let mean = 0.02f64 / 3.0;
        let var = ((0.01 - mean).powi(2) + (-0.02 - mean).powi(2) + (0.03 - mean).powi(2)) / 2.0;
        assert!((sharpe.unwrap() - mean / var.sqrt() * 2.0).abs() < 1e-12);
        // Downside deviation: sqrt(0.0004 / 2) = 0.0141421...
        let dd = (0.0004f64 / 2.0).sqrt();
        assert!((sortino.unwrap() - mean / dd * 2.0).abs() < 1e-12);
    }

    #[test]
    fn undefined_ratios_are_none() {
        assert_eq!(
            risk_adjusted([0.0, 0.0, 0.0].into_iter(), 365.0),
            (None, None)
        );
        assert_eq!(risk_adjusted([0.1].into_iter(), 365.0), (None, None));
        assert_eq!(cagr(100.0, 110.0, 0.0), None);
        assert_eq!(cagr(100.0, -5.0, 1.0), Some(-1.0));
    }

    #[test]
    fn cagr_two_years() {
        // 100 -> 121 over two years is 10 % a year.
        assert!((cagr(100.0, 121.0, 2.0).unwrap() - 0.1).abs() < 1e-12);
    }

    #[test]
    fn bar_returns_start_from_initial() {
        let r: Vec<f64> = bar_returns(&[110.0, 99.0], 100.0).collect();
        assert!((r[0] - 0.1).abs() < 1e-15);
        assert!((r[1] + 0.1).abs() < 1e-15);
    }
}
