//! `volume_long_candle`: enter long on a strong bullish candle with unusually high volume.
//!
//! `vol_ma[t]` is the mean volume of bars `max(0, t-W+1) ..= t` (the current bar included).
//! Enter long at bar `t` when `volume >= vol_ma * vol_multiplier`, `close > open`,
//! `(close - open) / open >= body_pct`, `max(high - close, 0) / open < 2 * body_pct` and
//! `max(open - low, 0) / open < 2 * body_pct`; hold `hold_period_bars` bars.

use barwise_plugin_sdk::{
    CandleView, Context, ParamDef, Params, PluginInfo, SignalsOut, Strategy, export_plugin,
};

/// The strategy with its parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VolumeLongCandle {
    /// Volume moving-average window in bars.
    pub vol_ma_window: usize,
    /// Volume must reach this multiple of its moving average.
    pub vol_multiplier: f64,
    /// Minimum body as a fraction of the open.
    pub body_pct: f64,
    /// Bars to hold each position.
    pub hold_period_bars: u32,
}

impl VolumeLongCandle {
    /// Writes the entry intents into `out`.
    pub fn signals(&self, c: &CandleView<'_>, out: &mut SignalsOut<'_>) {
        let w = self.vol_ma_window;
        let mut window_sum = 0.0;
        for t in 0..c.len() {
            window_sum += c.volume[t];
            if t >= w {
                window_sum -= c.volume[t - w];
            }
            let count = (t + 1).min(w) as f64;
            let vol_ma = window_sum / count;
            let (open, high, low, close) = (c.open[t], c.high[t], c.low[t], c.close[t]);
            let wick_limit = 2.0 * self.body_pct;
            if c.volume[t] >= vol_ma * self.vol_multiplier
                && close > open
                && (close - open) / open >= self.body_pct
                && (high - close).max(0.0) / open < wick_limit
                && (open - low).max(0.0) / open < wick_limit
            {
                out.enter_long(t, self.hold_period_bars);
            }
        }
    }
}

impl Strategy for VolumeLongCandle {
    fn info() -> PluginInfo {
        PluginInfo::new(
            "volume_long_candle",
            env!("CARGO_PKG_VERSION"),
            "Long on a bullish candle with a large body, small wicks and volume well above its \
             moving average; held for a fixed number of bars.",
        )
        .param(ParamDef::int(
            "vol_ma_window",
            20,
            Some(1),
            Some(100_000),
            "Volume moving-average window in bars (current bar included)",
        ))
        .param(ParamDef::float(
            "vol_multiplier",
            1.5,
            Some(0.0),
            Some(1000.0),
            "Volume must be at least this multiple of its moving average",
        ))
        .param(ParamDef::float(
            "body_pct",
            0.02,
            Some(0.0),
            Some(1.0),
            "Minimum (close - open) / open; wicks must stay below twice this",
        ))
        .param(ParamDef::int(
            "hold_period_bars",
            1,
            Some(1),
            Some(1_000_000),
            "Bars to hold each position",
        ))
    }

    fn new(params: &Params) -> Result<Self, String> {
        Ok(Self {
            vol_ma_window: usize::try_from(params.int("vol_ma_window")?)
                .map_err(|e| format!("vol_ma_window: {e}"))?,
            vol_multiplier: params.float("vol_multiplier")?,
            body_pct: params.float("body_pct")?,
            hold_period_bars: u32::try_from(params.int("hold_period_bars")?)
                .map_err(|e| format!("hold_period_bars: {e}"))?,
        })
    }

    fn generate(
        &mut self,
        candles: &CandleView<'_>,
        _context: &Context,
        out: &mut SignalsOut<'_>,
    ) -> Result<(), String> {
        self.signals(candles, out);
        Ok(())
    }
}

export_plugin!(VolumeLongCandle);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_entries() {
        // W=2, multiplier 1.5, body 2 %.
        // t0: vol 10, ma 10 -> 10 >= 15? no.
        // t1: vol 30, ma 20 -> 30 >= 30 yes; body (103-100)/100 = 3 % >= 2 %; upper wick
        //     (103.5-103)/100 = 0.5 % < 4 %; lower wick (100-99)/100 = 1 % < 4 % -> enter.
        // t2: vol 30, ma 30 -> 30 >= 45? no.
        // t3: vol 100, ma 65 -> yes, but upper wick (110-104)/100 = 6 % >= 4 % -> no.
        let time = [0, 1, 2, 3];
        let open = [100.0, 100.0, 100.0, 100.0];
        let high = [101.0, 103.5, 104.0, 110.0];
        let low = [99.0, 99.0, 99.0, 99.0];
        let close = [100.5, 103.0, 103.0, 104.0];
        let volume = [10.0, 30.0, 30.0, 100.0];
        let view = CandleView {
            time_ms: &time,
            open: &open,
            high: &high,
            low: &low,
            close: &close,
            volume: &volume,
        };
        let mut intents = [0u8; 4];
        let mut hold = [0u32; 4];
        let s = VolumeLongCandle {
            vol_ma_window: 2,
            vol_multiplier: 1.5,
            body_pct: 0.02,
            hold_period_bars: 3,
        };
        s.signals(&view, &mut SignalsOut::new(&mut intents, &mut hold));
        assert_eq!(intents, [0, 1, 0, 0]);
        assert_eq!(hold, [0, 3, 0, 0]);
    }
}
