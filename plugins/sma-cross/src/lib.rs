//! `sma_cross`: the classic moving-average crossover reversal strategy.
//!
//! Simple moving averages of the close over `fast` and `slow` bars. At bar `i`, when both are
//! defined at `i - 1` and `i`: the fast average crossing above the slow one
//! (`fast[i-1] < slow[i-1]` and `fast[i] > slow[i]`) exits any short and enters long; crossing
//! below exits any long and enters short, or only exits when shorts are not allowed.

use barwise_plugin_sdk::{
    CandleView, Context, ParamDef, Params, PluginInfo, SignalsOut, Strategy, export_plugin,
};

/// The strategy with its parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SmaCross {
    /// Fast window in bars.
    pub fast: usize,
    /// Slow window in bars.
    pub slow: usize,
}

/// Simple moving average of `values` over `window` bars: `out[i]` is the mean of
/// `values[i+1-window ..= i]`, `NaN` before the window is full.
///
/// Computed like pandas' rolling mean, so crossovers agree with engines built on it: a running sum
/// with Kahan compensation (one compensation term for values entering the window, one for values
/// leaving it; leaving first), and exactly the repeated value when every value in the window is
/// the same (a flat market), where a running sum would drift by a unit in the last place and
/// create crossings that are not there.
pub fn sma(values: &[f64], window: usize) -> Vec<f64> {
    let mut mean = RollingMean::new(window);
    values
        .iter()
        .map(|&v| mean.push(v).unwrap_or(f64::NAN))
        .collect()
}

/// The streaming form of [`sma`]: push values one by one, get the mean once the window is full.
#[derive(Debug, Clone)]
pub struct RollingMean {
    window: usize,
    /// The last `window` values, as a ring.
    ring: Vec<f64>,
    /// Next slot of the ring (kept instead of `pushed % window`: a division per value is slow).
    slot: usize,
    pushed: usize,
    sum: f64,
    entering: f64,
    leaving: f64,
    same_run: usize,
    previous: f64,
}

impl RollingMean {
    /// An empty window of `window` values (`window >= 1`; 0 never yields a mean).
    pub fn new(window: usize) -> Self {
        Self {
            window,
            ring: vec![0.0; window],
            slot: 0,
            pushed: 0,
            sum: 0.0,
            entering: 0.0,
            leaving: 0.0,
            same_run: 0,
            previous: f64::NAN,
        }
    }

    fn kahan_add(sum: &mut f64, compensation: &mut f64, value: f64) {
        let y = value - *compensation;
        let t = *sum + y;
        *compensation = (t - *sum) - y;
        *sum = t;
    }

    /// Adds a value; returns the mean of the last `window` values once there are that many.
    #[inline]
    pub fn push(&mut self, value: f64) -> Option<f64> {
        if self.window == 0 {
            return None;
        }
        let slot = self.slot;
        self.slot = if slot + 1 == self.window { 0 } else { slot + 1 };
        if self.pushed >= self.window {
            Self::kahan_add(&mut self.sum, &mut self.leaving, -self.ring[slot]);
        }
        Self::kahan_add(&mut self.sum, &mut self.entering, value);
        self.ring[slot] = value;
        self.same_run = if value == self.previous {
            self.same_run + 1
        } else {
            1
        };
        self.previous = value;
        self.pushed += 1;
        (self.pushed >= self.window).then(|| {
            if self.same_run >= self.window {
                value
            } else {
                self.sum / self.window as f64
            }
        })
    }
}

impl SmaCross {
    /// Writes the crossover intents for `close` into `out`. Streams both averages (no arrays);
    /// the values are exactly those of [`sma`].
    pub fn signals(&self, close: &[f64], allow_short: bool, out: &mut SignalsOut<'_>) {
        let (mut fast, mut slow) = (RollingMean::new(self.fast), RollingMean::new(self.slow));
        let mut previous: Option<(f64, f64)> = None;
        for (i, &c) in close.iter().enumerate() {
            let current = fast.push(c).zip(slow.push(c));
            if let (Some((f0, s0)), Some((f1, s1))) = (previous, current) {
                if f0 < s0 && f1 > s1 {
                    out.enter_long(i, 0);
                } else if f0 > s0 && f1 < s1 {
                    if allow_short {
                        out.enter_short(i, 0);
                    } else {
                        out.exit(i);
                    }
                }
            }
            previous = current;
        }
    }
}

impl Strategy for SmaCross {
    fn info() -> PluginInfo {
        PluginInfo::new(
            "sma_cross",
            env!("CARGO_PKG_VERSION"),
            "Simple moving average crossover: long when the fast SMA of the close crosses above \
             the slow one, short (or flat when shorts are not allowed) when it crosses below.",
        )
        .param(ParamDef::int(
            "fast",
            10,
            Some(1),
            Some(100_000),
            "Fast SMA window in bars",
        ))
        .param(ParamDef::int(
            "slow",
            20,
            Some(2),
            Some(100_000),
            "Slow SMA window in bars (must be greater than fast)",
        ))
    }

    fn new(params: &Params) -> Result<Self, String> {
        let fast = params.int("fast")?;
        let slow = params.int("slow")?;
        if fast >= slow {
            return Err(format!(
                "fast must be less than slow, got fast={fast}, slow={slow}"
            ));
        }
        Ok(Self {
            fast: usize::try_from(fast).map_err(|e| format!("fast: {e}"))?,
            slow: usize::try_from(slow).map_err(|e| format!("slow: {e}"))?,
        })
    }

    fn generate(
        &mut self,
        candles: &CandleView<'_>,
        context: &Context,
        out: &mut SignalsOut<'_>,
    ) -> Result<(), String> {
        self.signals(candles.close, context.allow_short, out);
        Ok(())
    }
}

export_plugin!(SmaCross);

#[cfg(test)]
mod tests {
    use super::*;

    fn run(close: &[f64], fast: usize, slow: usize, allow_short: bool) -> Vec<u8> {
        let mut intents = vec![0u8; close.len()];
        let mut hold = vec![0u32; close.len()];
        let mut out = SignalsOut::new(&mut intents, &mut hold);
        SmaCross { fast, slow }.signals(close, allow_short, &mut out);
        intents
    }

    #[test]
    fn sma_hand_computed() {
        let s = sma(&[1.0, 2.0, 3.0, 4.0], 2);
        assert!(s[0].is_nan());
        assert_eq!(&s[1..], &[1.5, 2.5, 3.5]);
    }

    #[test]
    fn flat_window_mean_is_exactly_the_value() {
        // A plain running sum of ten 0.1s gives 0.9999999999999999 / 10; the mean must be 0.1.
        let s = sma(
            &[0.3, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1],
            10,
        );
        assert_eq!(s[11], 0.1);
        let slow = sma(&[0.1; 25], 20);
        assert_eq!(slow[24], 0.1);
    }

    #[test]
    fn crosses_hand_computed() {
        // fast=1 (the close itself), slow=2. Bar 2: close 3 > sma2 2.5 after 1 < 1.5 at bar 1.
        let close = [2.0, 1.0, 3.0, 1.0];
        // i=1: f0=2,s0=NaN -> skip; i=2: f=1<s=1.5, then 3>2.0 -> long; i=3: 3>2, 1<2 -> short.
        assert_eq!(run(&close, 1, 2, true), [0, 0, 1, 2]);
        assert_eq!(run(&close, 1, 2, false), [0, 0, 1, 3]);
    }

    #[test]
    fn rejects_fast_not_below_slow() {
        let p = Params::defaults(&SmaCross::info())
            .with("fast", barwise_plugin_sdk::ParamValue::Int(20));
        assert!(
            SmaCross::new(&p)
                .unwrap_err()
                .contains("fast must be less than slow")
        );
    }
}
