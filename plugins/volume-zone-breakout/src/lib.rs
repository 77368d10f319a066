//! `volume_zone_breakout`: enter long when price breaks above the zone where the window's volume
//! concentrated at the top of its range.
//!
//! For each bar `i >= W` the window is bars `i-W ..= i-1`. Each bar's range is `[low, high]`
//! (without wicks: `[min(open, close), max(open, close)]`); `pmin`/`pmax` are the window's lowest
//! and highest range ends; `pmax == pmin` means no signal. `[pmin, pmax]` is cut into `num_bins`
//! equal bins with edges `e_k = pmin + k * (pmax - pmin) / num_bins` (`e_num_bins = pmax`). Each
//! bar's volume is spread over the bins in proportion to overlap; a zero-height bar puts all of it
//! in the bin containing its price. Walking down from the top bin, the resistance is the lower
//! edge `e_k` of the first bin at which the cumulative volume reaches `top_percentile * total`.
//! Signal: `high[i] >= resistance * (1 + breakout_buffer)`, held `hold_period_bars` bars.
//!
//! # How it is computed
//! The cumulative volume of the bins at and above bin `k` is the volume above edge `e_k`:
//! `V(e_k) = sum_j v_j * phi_j(e_k)` with `phi_j(x) = clamp((h_j - x) * (1 / (h_j - l_j)), 0, 1)`
//! for a bar of positive height and `phi_j(x) = [c_j >= x]` for a zero-height bar at price `c_j`.
//! The resistance bin is the largest `k` with `V(e_k) >= top_percentile * total`, where
//! `total = V(e_0)` is the window's volume. `V` does not increase with `k` (also in floating
//! point: every term is monotone and the sum order is fixed), so instead of building all bins we
//! find the largest edge `m` that the breakout condition accepts and evaluate `V` once, at
//! `e_(m+1)`: the signal fires exactly when `V(e_(m+1)) < top_percentile * total`. Sums run over
//! the window in order with four interleaved accumulators ([`window_sum`]), a fixed order that
//! makes results deterministic. The per-window bins are recomputed for every window.

use std::borrow::Cow;

use barwise_plugin_sdk::{
    CandleView, Context, ParamDef, Params, PluginInfo, SignalsOut, Strategy, export_plugin,
};

/// The strategy with its parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VolumeZoneBreakout {
    /// Window length in bars.
    pub volume_window: usize,
    /// Share of the window's volume, counted from the top, that defines the zone.
    pub top_percentile: f64,
    /// Price must exceed the resistance by this fraction.
    pub breakout_buffer: f64,
    /// Bars to hold each position.
    pub hold_period_bars: u32,
    /// Number of price bins.
    pub num_bins: usize,
    /// Use `[low, high]` as a bar's range (otherwise the body).
    pub include_wicks: bool,
}

impl Default for VolumeZoneBreakout {
    fn default() -> Self {
        Self {
            volume_window: 10,
            top_percentile: 0.2,
            breakout_buffer: 0.0,
            hold_period_bars: 1,
            num_bins: 20,
            include_wicks: true,
        }
    }
}

/// Sum of `values` in a fixed order: four interleaved partial sums, combined as
/// `(s0 + s1) + (s2 + s3)`. Used for every window sum so results never depend on the compiler.
pub fn window_sum(values: impl Iterator<Item = f64>) -> f64 {
    let mut acc = [0.0f64; 4];
    for (j, v) in values.enumerate() {
        acc[j % 4] += v;
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3])
}

/// Per-bar inputs of the volume profile, precomputed once per series. With wicks the ranges are
/// the candles' own low and high columns, borrowed rather than copied.
struct Ranges<'a> {
    lo: Cow<'a, [f64]>,
    hi: Cow<'a, [f64]>,
    /// `1 / (hi - lo)`, or 0 for a zero-height bar.
    inv_height: Vec<f64>,
}

impl<'a> Ranges<'a> {
    fn new(c: &CandleView<'a>, include_wicks: bool) -> Self {
        let (lo, hi): (Cow<'a, [f64]>, Cow<'a, [f64]>) = if include_wicks {
            (Cow::Borrowed(c.low), Cow::Borrowed(c.high))
        } else {
            let (lo, hi): (Vec<f64>, Vec<f64>) = c
                .open
                .iter()
                .zip(c.close)
                .map(|(&o, &cl)| (o.min(cl), o.max(cl)))
                .unzip();
            (Cow::Owned(lo), Cow::Owned(hi))
        };
        let inv_height = lo
            .iter()
            .zip(hi.iter())
            .map(|(&l, &h)| if h > l { 1.0 / (h - l) } else { 0.0 })
            .collect();
        Self { lo, hi, inv_height }
    }

    /// Share of bar `j`'s volume at or above price `x`.
    #[inline(always)]
    fn share_above(&self, j: usize, x: f64) -> f64 {
        let inv = self.inv_height[j];
        if inv > 0.0 {
            ((self.hi[j] - x) * inv).clamp(0.0, 1.0)
        } else if self.hi[j] >= x {
            1.0
        } else {
            0.0
        }
    }
}

impl VolumeZoneBreakout {
    /// Bin edge `k` of the window `[pmin, pmax]`.
    #[inline(always)]
    fn edge(&self, pmin: f64, pmax: f64, k: usize) -> f64 {
        if k == self.num_bins {
            pmax
        } else {
            pmin + k as f64 * (pmax - pmin) / self.num_bins as f64
        }
    }

    /// Writes the entry intents into `out`.
    pub fn signals(&self, c: &CandleView<'_>, out: &mut SignalsOut<'_>) {
        let w = self.volume_window;
        let n = c.len();
        if w == 0 || n <= w {
            return;
        }
        let ranges = Ranges::new(c, self.include_wicks);
        let factor = 1.0 + self.breakout_buffer;
        let mut window = MinMaxWindow::new(&ranges.lo, &ranges.hi, w);
        for i in w..n {
            let (pmin, pmax) = window.advance(i);
            if pmax == pmin {
                continue;
            }
            let high = c.high[i];
            // m: the largest bin index whose lower edge the breakout condition accepts.
            let Some(m) = (0..self.num_bins)
                .rev()
                .find(|&k| high >= self.edge(pmin, pmax, k) * factor)
            else {
                continue;
            };
            let bars = i - w..i;
            let total = window_sum(bars.clone().map(|j| c.volume[j]));
            if total <= 0.0 {
                continue;
            }
            let fires = if m + 1 >= self.num_bins {
                true
            } else {
                let x = self.edge(pmin, pmax, m + 1);
                let above = window_sum(bars.map(|j| c.volume[j] * ranges.share_above(j, x)));
                above < self.top_percentile * total
            };
            if fires {
                out.enter_long(i, self.hold_period_bars);
            }
        }
    }
}

/// Sliding minimum of `lo` and maximum of `hi` over the `w` bars before `i` (monotonic deques).
struct MinMaxWindow<'a> {
    lo: &'a [f64],
    hi: &'a [f64],
    w: usize,
    mins: std::collections::VecDeque<usize>,
    maxs: std::collections::VecDeque<usize>,
    next: usize,
}

impl<'a> MinMaxWindow<'a> {
    fn new(lo: &'a [f64], hi: &'a [f64], w: usize) -> Self {
        Self {
            lo,
            hi,
            w,
            mins: std::collections::VecDeque::with_capacity(w + 1),
            maxs: std::collections::VecDeque::with_capacity(w + 1),
            next: 0,
        }
    }

    /// Min and max over bars `i-w ..= i-1`; `i` must grow by one per call, starting at `w`.
    fn advance(&mut self, i: usize) -> (f64, f64) {
        while self.next < i {
            let j = self.next;
            while self.mins.back().is_some_and(|&b| self.lo[b] >= self.lo[j]) {
                self.mins.pop_back();
            }
            self.mins.push_back(j);
            while self.maxs.back().is_some_and(|&b| self.hi[b] <= self.hi[j]) {
                self.maxs.pop_back();
            }
            self.maxs.push_back(j);
            self.next += 1;
        }
        let start = i - self.w;
        while self.mins.front().is_some_and(|&f| f < start) {
            self.mins.pop_front();
        }
        while self.maxs.front().is_some_and(|&f| f < start) {
            self.maxs.pop_front();
        }
        // Both deques hold at least bar i-1.
        (self.lo[self.mins[0]], self.hi[self.maxs[0]])
    }
}

impl Strategy for VolumeZoneBreakout {
    fn info() -> PluginInfo {
        let d = Self::default();
        PluginInfo::new(
            "volume_zone_breakout",
            env!("CARGO_PKG_VERSION"),
            "Long when the high breaks above the lower edge of the top volume zone of the previous \
             volume_window bars (a volume profile recomputed for every window); held for a fixed \
             number of bars.",
        )
        .param(ParamDef::int(
            "volume_window",
            d.volume_window as i64,
            Some(1),
            Some(100_000),
            "Bars in the volume-profile window (the bars before the signal bar)",
        ))
        .param(ParamDef::float(
            "top_percentile",
            d.top_percentile,
            Some(0.0),
            Some(1.0),
            "Share of the window's volume, from the top of the range, that forms the zone",
        ))
        .param(ParamDef::float(
            "breakout_buffer",
            d.breakout_buffer,
            Some(0.0),
            Some(10.0),
            "The high must exceed the resistance by this fraction",
        ))
        .param(ParamDef::int(
            "hold_period_bars",
            i64::from(d.hold_period_bars),
            Some(1),
            Some(1_000_000),
            "Bars to hold each position",
        ))
        .param(ParamDef::int(
            "num_bins",
            d.num_bins as i64,
            Some(1),
            Some(10_000),
            "Number of equal price bins in the volume profile",
        ))
        .param(ParamDef::boolean(
            "include_wicks",
            d.include_wicks,
            "Use each bar's full [low, high] range; false uses the body [min(open,close), max(open,close)]",
        ))
    }

    fn new(params: &Params) -> Result<Self, String> {
        let to_usize = |name: &str| -> Result<usize, String> {
            usize::try_from(params.int(name)?).map_err(|e| format!("{name}: {e}"))
        };
        Ok(Self {
            volume_window: to_usize("volume_window")?,
            top_percentile: params.float("top_percentile")?,
            breakout_buffer: params.float("breakout_buffer")?,
            hold_period_bars: u32::try_from(params.int("hold_period_bars")?)
                .map_err(|e| format!("hold_period_bars: {e}"))?,
            num_bins: to_usize("num_bins")?,
            include_wicks: params.boolean("include_wicks")?,
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

export_plugin!(VolumeZoneBreakout);

#[cfg(test)]
mod tests;
