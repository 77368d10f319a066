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
//! `total` is the window's volume, `sum_j v_j` (mathematically `V(e_0)`). `V` does not increase with `k` (also in floating
//! point: every term is monotone and the sum order is fixed), so instead of building all bins we
//! find the largest edge `m` that the breakout condition accepts and evaluate `V` once, at
//! `e_(m+1)`: the signal fires exactly when `V(e_(m+1)) < top_percentile * total`. Sums run over
//! the window in order with four interleaved accumulators ([`volume_profile`]), a fixed order that
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

/// Share of a bar's volume at or above price `x`: `clamp((top - x) * inv_height, 0, 1)`.
///
/// For a bar of positive height `top = high` and `inv_height = 1 / (high - low)`. A zero-height
/// bar at price `c` is encoded as `top = next_up(c)`, `inv_height = +inf`: for `x <= c` the
/// product is `+inf` (share 1), for `x > c` it is `-inf` or `0 * inf = NaN`, and `f64::max`
/// turns both into share 0 — exactly "all of its volume counts at or below its price". One
/// branch-free formula for both kinds of bar lets the window loop vectorise.
#[inline(always)]
#[allow(
    clippy::manual_clamp,
    reason = "clamp keeps NaN; max turns the 0 * inf = NaN of a zero-height bar into share 0"
)]
fn share_above(top: f64, inv_height: f64, x: f64) -> f64 {
    ((top - x) * inv_height).max(0.0).min(1.0)
}

/// `(V(x), total)` of one window in one pass: `V(x) = sum_j volume[j] * share_above(..)` and
/// `total = sum_j volume[j]`, both summed in bar order over four interleaved
/// accumulators (bar `j` of the window goes to lane `j % 4`), combined as `(s0 + s1) + (s2 + s3)`:
/// a fixed order, so results never depend on the compiler, that lets it use SIMD.
fn volume_profile(volume: &[f64], top: &[f64], inv_height: &[f64], x: f64) -> (f64, f64) {
    let mut above = [0.0f64; 4];
    let mut total = [0.0f64; 4];
    let n = volume.len().min(top.len()).min(inv_height.len());
    let (volume, top, inv_height) = (&volume[..n], &top[..n], &inv_height[..n]);
    let whole = n - n % 4;
    for ((v, t), inv) in volume[..whole]
        .chunks_exact(4)
        .zip(top[..whole].chunks_exact(4))
        .zip(inv_height[..whole].chunks_exact(4))
    {
        for lane in 0..4 {
            above[lane] += v[lane] * share_above(t[lane], inv[lane], x);
            total[lane] += v[lane];
        }
    }
    for (lane, j) in (whole..n).enumerate() {
        above[lane] += volume[j] * share_above(top[j], inv_height[j], x);
        total[lane] += volume[j];
    }
    (
        (above[0] + above[1]) + (above[2] + above[3]),
        (total[0] + total[1]) + (total[2] + total[3]),
    )
}

/// Per-bar inputs of the volume profile, precomputed once per series. With wicks the ranges are
/// the candles' own low and high columns, borrowed rather than copied.
struct Ranges<'a> {
    lo: Cow<'a, [f64]>,
    hi: Cow<'a, [f64]>,
    /// `hi`, or `next_up(hi)` for a zero-height bar (see [`share_above`]).
    top: Vec<f64>,
    /// `1 / (hi - lo)`, or `+inf` for a zero-height bar (see [`share_above`]).
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
        let (top, inv_height) = lo
            .iter()
            .zip(hi.iter())
            .map(|(&l, &h)| {
                if h > l {
                    (h, 1.0 / (h - l))
                } else {
                    (h.next_up(), f64::INFINITY)
                }
            })
            .unzip();
        Self {
            lo,
            hi,
            top,
            inv_height,
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

    /// The largest bin index `m < num_bins` with `high >= e_m * factor`, or `None`. Starts from
    /// an estimate by division and settles it with the exact edge formula, so the answer is the
    /// one a scan over all edges gives.
    #[inline]
    fn highest_accepted_edge(&self, pmin: f64, pmax: f64, high: f64, factor: f64) -> Option<usize> {
        let accepts = |k: usize| high >= self.edge(pmin, pmax, k) * factor;
        let top = self.num_bins - 1;
        let estimate = (high / factor - pmin) / (pmax - pmin) * self.num_bins as f64;
        let mut k = if estimate.is_nan() || estimate < 0.0 {
            0
        } else {
            (estimate as usize).min(top)
        };
        while k < top && accepts(k + 1) {
            k += 1;
        }
        while !accepts(k) {
            if k == 0 {
                return None;
            }
            k -= 1;
        }
        Some(k)
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
        let mut lowest = Extreme::new(&ranges.lo, |candidate, current| candidate <= current);
        let mut highest = Extreme::new(&ranges.hi, |candidate, current| candidate >= current);
        // Bars with volume in the window: the total is positive exactly when this is non-zero.
        let mut with_volume = c.volume[..w].iter().filter(|&&v| v > 0.0).count();
        for i in w..n {
            if i > w {
                with_volume += usize::from(c.volume[i - 1] > 0.0);
                with_volume -= usize::from(c.volume[i - w - 1] > 0.0);
            }
            let (pmin, pmax) = (lowest.advance(i, w), highest.advance(i, w));
            if pmax == pmin || with_volume == 0 {
                continue;
            }
            let Some(m) = self.highest_accepted_edge(pmin, pmax, c.high[i], factor) else {
                continue;
            };
            let fires = m + 1 >= self.num_bins || {
                let start = i - w;
                let x = self.edge(pmin, pmax, m + 1);
                let (above, total) = volume_profile(
                    &c.volume[start..i],
                    &ranges.top[start..i],
                    &ranges.inv_height[start..i],
                    x,
                );
                above < self.top_percentile * total
            };
            if fires {
                out.enter_long(i, self.hold_period_bars);
            }
        }
    }
}

/// The extreme (lowest or highest) of `values` over the `w` bars before `i`, tracked as the
/// window slides: a new value that matches or beats the extreme replaces it, and the window is
/// rescanned only when the extreme leaves it (rare: about once per `w` bars on market data).
struct Extreme<'a, F: Fn(f64, f64) -> bool> {
    values: &'a [f64],
    /// `better(candidate, current)`: the candidate replaces the current extreme (ties too, so
    /// the latest position is kept and rescans are rarer).
    better: F,
    index: usize,
    next: usize,
}

impl<'a, F: Fn(f64, f64) -> bool> Extreme<'a, F> {
    fn new(values: &'a [f64], better: F) -> Self {
        Self {
            values,
            better,
            index: 0,
            next: 0,
        }
    }

    /// The extreme over bars `i-w ..= i-1`; `i` grows by one per call, starting at `w`.
    fn advance(&mut self, i: usize, w: usize) -> f64 {
        let start = i - w;
        if self.next == 0 || self.index < start {
            self.rescan(start, i);
        } else {
            while self.next < i {
                if (self.better)(self.values[self.next], self.values[self.index]) {
                    self.index = self.next;
                }
                self.next += 1;
            }
        }
        self.values[self.index]
    }

    fn rescan(&mut self, start: usize, end: usize) {
        self.index = start;
        for j in start + 1..end {
            if (self.better)(self.values[j], self.values[self.index]) {
                self.index = j;
            }
        }
        self.next = end;
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
