//! Columnar candle series and their validation.
//!
//! Candles are stored one `Vec` per field (struct of arrays) because every consumer (strategies,
//! the simulator, the plugin ABI) walks whole columns; a `Vec` of structs would force a copy at the
//! plugin boundary and waste cache on fields a loop does not read.

use std::fmt;

/// The six fields of a candle, used to name the culprit of a validation error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// Bar open time, epoch milliseconds (UTC).
    Timestamp,
    /// Opening price.
    Open,
    /// Highest price.
    High,
    /// Lowest price.
    Low,
    /// Closing price.
    Close,
    /// Traded volume.
    Volume,
}

impl Field {
    /// Every field, in the canonical column order (`timestamp, open, high, low, close, volume`).
    pub const ALL: [Field; 6] = [
        Field::Timestamp,
        Field::Open,
        Field::High,
        Field::Low,
        Field::Close,
        Field::Volume,
    ];
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::Timestamp => "timestamp",
            Field::Open => "open",
            Field::High => "high",
            Field::Low => "low",
            Field::Close => "close",
            Field::Volume => "volume",
        })
    }
}

/// Why a candle series was rejected. `index` is the zero-based position of the bad candle in the
/// series; loaders translate it into a file line or row number.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CandleError {
    /// The columns do not all have the same length.
    #[error("columns have different lengths: {details}")]
    RaggedColumns {
        /// Lengths of every column, for the message.
        details: String,
    },
    /// A price or volume is NaN or infinite.
    #[error("candle {index}: {field} is not a finite number (got {value})")]
    NotFinite {
        /// Position of the candle.
        index: usize,
        /// Offending field.
        field: Field,
        /// The value found.
        value: f64,
    },
    /// A price is zero or negative.
    #[error("candle {index}: {field} must be > 0, got {value}")]
    NonPositivePrice {
        /// Position of the candle.
        index: usize,
        /// Offending field.
        field: Field,
        /// The value found.
        value: f64,
    },
    /// Volume is negative.
    #[error("candle {index}: volume must be >= 0, got {value}")]
    NegativeVolume {
        /// Position of the candle.
        index: usize,
        /// The value found.
        value: f64,
    },
    /// `high` is below `max(open, close)`.
    #[error("candle {index}: high {high} is below max(open, close) = {bound}")]
    HighTooLow {
        /// Position of the candle.
        index: usize,
        /// The high found.
        high: f64,
        /// `max(open, close)`.
        bound: f64,
    },
    /// `low` is above `min(open, close)`.
    #[error("candle {index}: low {low} is above min(open, close) = {bound}")]
    LowTooHigh {
        /// Position of the candle.
        index: usize,
        /// The low found.
        low: f64,
        /// `min(open, close)`.
        bound: f64,
    },
    /// The timestamp equals the previous one.
    #[error("candle {index}: duplicate timestamp {time_ms} ms (same as the previous candle)")]
    DuplicateTimestamp {
        /// Position of the candle.
        index: usize,
        /// The repeated timestamp.
        time_ms: i64,
    },
    /// The timestamp is earlier than the previous one.
    #[error(
        "candle {index}: timestamp {time_ms} ms is earlier than the previous candle's {previous_ms} ms (timestamps must strictly increase)"
    )]
    OutOfOrder {
        /// Position of the candle.
        index: usize,
        /// This candle's timestamp.
        time_ms: i64,
        /// The previous candle's timestamp.
        previous_ms: i64,
    },
}

impl CandleError {
    /// Position of the offending candle, when the error is about one candle.
    pub fn index(&self) -> Option<usize> {
        match self {
            CandleError::RaggedColumns { .. } => None,
            CandleError::NotFinite { index, .. }
            | CandleError::NonPositivePrice { index, .. }
            | CandleError::NegativeVolume { index, .. }
            | CandleError::HighTooLow { index, .. }
            | CandleError::LowTooHigh { index, .. }
            | CandleError::DuplicateTimestamp { index, .. }
            | CandleError::OutOfOrder { index, .. } => Some(*index),
        }
    }

    /// The field the error is about.
    pub fn field(&self) -> Option<Field> {
        match self {
            CandleError::RaggedColumns { .. } => None,
            CandleError::NotFinite { field, .. } | CandleError::NonPositivePrice { field, .. } => {
                Some(*field)
            }
            CandleError::NegativeVolume { .. } => Some(Field::Volume),
            CandleError::HighTooLow { .. } => Some(Field::High),
            CandleError::LowTooHigh { .. } => Some(Field::Low),
            CandleError::DuplicateTimestamp { .. } | CandleError::OutOfOrder { .. } => {
                Some(Field::Timestamp)
            }
        }
    }
}

/// A validated, columnar candle series. Every invariant listed on [`Candles::new`] holds for
/// every value of this type, so consumers never re-check.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Candles {
    /// Median spacing, computed once at construction (several consumers need it).
    median_interval_ms: Option<i64>,
    time_ms: Vec<i64>,
    open: Vec<f64>,
    high: Vec<f64>,
    low: Vec<f64>,
    close: Vec<f64>,
    volume: Vec<f64>,
}

/// Raw columns before validation.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CandleColumns {
    /// Bar open times, epoch milliseconds UTC.
    pub time_ms: Vec<i64>,
    /// Opening prices.
    pub open: Vec<f64>,
    /// Highest prices.
    pub high: Vec<f64>,
    /// Lowest prices.
    pub low: Vec<f64>,
    /// Closing prices.
    pub close: Vec<f64>,
    /// Volumes.
    pub volume: Vec<f64>,
}

impl CandleColumns {
    /// Empty columns with room for `n` candles each.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            time_ms: Vec::with_capacity(n),
            open: Vec::with_capacity(n),
            high: Vec::with_capacity(n),
            low: Vec::with_capacity(n),
            close: Vec::with_capacity(n),
            volume: Vec::with_capacity(n),
        }
    }

    /// Appends one candle.
    pub fn push(&mut self, time_ms: i64, open: f64, high: f64, low: f64, close: f64, volume: f64) {
        self.time_ms.push(time_ms);
        self.open.push(open);
        self.high.push(high);
        self.low.push(low);
        self.close.push(close);
        self.volume.push(volume);
    }

    /// Number of candles (length of the timestamp column).
    pub fn len(&self) -> usize {
        self.time_ms.len()
    }

    /// True when there are no candles.
    pub fn is_empty(&self) -> bool {
        self.time_ms.is_empty()
    }
}

impl Candles {
    /// Validates raw columns. Checks, in this order for each candle: every price and the volume
    /// finite; prices > 0; volume >= 0; `high >= max(open, close)`; `low <= min(open, close)`;
    /// timestamp strictly greater than the previous one. Nothing is dropped or repaired.
    ///
    /// # Errors
    /// The first violation found, naming the candle index and the field.
    pub fn new(columns: CandleColumns) -> Result<Self, CandleError> {
        let n = columns.time_ms.len();
        let lens = [
            columns.open.len(),
            columns.high.len(),
            columns.low.len(),
            columns.close.len(),
            columns.volume.len(),
        ];
        if lens.iter().any(|&l| l != n) {
            return Err(CandleError::RaggedColumns {
                details: format!(
                    "timestamp={n}, open={}, high={}, low={}, close={}, volume={}",
                    lens[0], lens[1], lens[2], lens[3], lens[4]
                ),
            });
        }
        for index in 0..n {
            validate_one(&columns, index)?;
        }
        let CandleColumns {
            time_ms,
            open,
            high,
            low,
            close,
            volume,
        } = columns;
        Ok(Self {
            median_interval_ms: median_interval(&time_ms),
            time_ms,
            open,
            high,
            low,
            close,
            volume,
        })
    }

    /// Number of candles.
    pub fn len(&self) -> usize {
        self.time_ms.len()
    }

    /// True when there are no candles.
    pub fn is_empty(&self) -> bool {
        self.time_ms.is_empty()
    }

    /// Bar open times, epoch milliseconds UTC, strictly increasing.
    pub fn time_ms(&self) -> &[i64] {
        &self.time_ms
    }
    /// Opening prices.
    pub fn open(&self) -> &[f64] {
        &self.open
    }
    /// Highest prices.
    pub fn high(&self) -> &[f64] {
        &self.high
    }
    /// Lowest prices.
    pub fn low(&self) -> &[f64] {
        &self.low
    }
    /// Closing prices.
    pub fn close(&self) -> &[f64] {
        &self.close
    }
    /// Volumes.
    pub fn volume(&self) -> &[f64] {
        &self.volume
    }

    /// Bytes held by the six columns: the "columnar size of the input" used by memory targets.
    pub fn columnar_bytes(&self) -> usize {
        self.len() * (std::mem::size_of::<i64>() + 5 * std::mem::size_of::<f64>())
    }

    /// The candles in `[start, end)` as a new series (still valid: a slice of a valid series is
    /// valid).
    ///
    /// # Panics
    /// When the range is out of bounds.
    pub fn slice(&self, start: usize, end: usize) -> Candles {
        Candles {
            median_interval_ms: median_interval(&self.time_ms[start..end]),
            time_ms: self.time_ms[start..end].to_vec(),
            open: self.open[start..end].to_vec(),
            high: self.high[start..end].to_vec(),
            low: self.low[start..end].to_vec(),
            close: self.close[start..end].to_vec(),
            volume: self.volume[start..end].to_vec(),
        }
    }

    /// The median interval between consecutive bars in milliseconds (the inferred timeframe), or
    /// `None` for fewer than two bars. For an even number of intervals the lower middle one is
    /// taken, so the result is always an interval that really occurs.
    pub fn median_interval_ms(&self) -> Option<i64> {
        self.median_interval_ms
    }

    /// Gaps: consecutive bars further apart than the median interval. Returns the number of gaps
    /// and the number of bars missing in them (`interval / median - 1`, rounded down, summed).
    pub fn gaps(&self) -> GapSummary {
        let Some(median) = self.median_interval_ms() else {
            return GapSummary::default();
        };
        let mut summary = GapSummary::default();
        for w in self.time_ms.windows(2) {
            let interval = w[1] - w[0];
            if interval > median {
                summary.gaps += 1;
                summary.missing_bars += (interval / median - 1).max(0) as u64;
            }
        }
        summary
    }
}

/// How many holes a series has; see [`Candles::gaps`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct GapSummary {
    /// Number of intervals longer than the median interval.
    pub gaps: u64,
    /// Bars that would fill those intervals at the median spacing.
    pub missing_bars: u64,
}

/// See [`Candles::median_interval_ms`].
fn median_interval(time_ms: &[i64]) -> Option<i64> {
    if time_ms.len() < 2 {
        return None;
    }
    let mut intervals: Vec<i64> = time_ms.windows(2).map(|w| w[1] - w[0]).collect();
    let mid = (intervals.len() - 1) / 2;
    let (_, median, _) = intervals.select_nth_unstable(mid);
    Some(*median)
}

fn validate_one(c: &CandleColumns, index: usize) -> Result<(), CandleError> {
    let (open, high, low, close, volume) = (
        c.open[index],
        c.high[index],
        c.low[index],
        c.close[index],
        c.volume[index],
    );
    for (field, value) in [
        (Field::Open, open),
        (Field::High, high),
        (Field::Low, low),
        (Field::Close, close),
        (Field::Volume, volume),
    ] {
        if !value.is_finite() {
            return Err(CandleError::NotFinite {
                index,
                field,
                value,
            });
        }
    }
    for (field, value) in [
        (Field::Open, open),
        (Field::High, high),
        (Field::Low, low),
        (Field::Close, close),
    ] {
        if value <= 0.0 {
            return Err(CandleError::NonPositivePrice {
                index,
                field,
                value,
            });
        }
    }
    if volume < 0.0 {
        return Err(CandleError::NegativeVolume {
            index,
            value: volume,
        });
    }
    let top = open.max(close);
    if high < top {
        return Err(CandleError::HighTooLow {
            index,
            high,
            bound: top,
        });
    }
    let bottom = open.min(close);
    if low > bottom {
        return Err(CandleError::LowTooHigh {
            index,
            low,
            bound: bottom,
        });
    }
    if index > 0 {
        let (previous_ms, time_ms) = (c.time_ms[index - 1], c.time_ms[index]);
        if time_ms == previous_ms {
            return Err(CandleError::DuplicateTimestamp { index, time_ms });
        }
        if time_ms < previous_ms {
            return Err(CandleError::OutOfOrder {
                index,
                time_ms,
                previous_ms,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (time, open, high, low, close, volume)
    type Row = (i64, f64, f64, f64, f64, f64);

    fn cols(rows: &[Row]) -> CandleColumns {
        let mut c = CandleColumns::with_capacity(rows.len());
        for &(t, o, h, l, cl, v) in rows {
            c.push(t, o, h, l, cl, v);
        }
        c
    }

    #[test]
    fn accepts_valid_series() {
        let c = Candles::new(cols(&[
            (0, 1.0, 2.0, 0.5, 1.5, 10.0),
            (60, 1.5, 1.5, 1.5, 1.5, 0.0),
        ]))
        .unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c.median_interval_ms(), Some(60));
    }

    #[test]
    fn each_violation_names_index_and_field() {
        let base = (0, 1.0, 2.0, 0.5, 1.5, 10.0);
        let cases: Vec<(Row, Field)> = vec![
            ((60, f64::NAN, 2.0, 0.5, 1.5, 1.0), Field::Open),
            ((60, 1.0, f64::INFINITY, 0.5, 1.5, 1.0), Field::High),
            ((60, 1.0, 2.0, 0.0, 1.5, 1.0), Field::Low),
            ((60, 1.0, 2.0, 0.5, -1.0, 1.0), Field::Close),
            ((60, 1.0, 2.0, 0.5, 1.5, -1.0), Field::Volume),
            ((60, 1.0, 1.4, 0.5, 1.5, 1.0), Field::High),
            ((60, 1.0, 2.0, 1.1, 1.5, 1.0), Field::Low),
            ((0, 1.0, 2.0, 0.5, 1.5, 1.0), Field::Timestamp),
            ((-5, 1.0, 2.0, 0.5, 1.5, 1.0), Field::Timestamp),
        ];
        for (row, field) in cases {
            let err = Candles::new(cols(&[base, row])).unwrap_err();
            assert_eq!(err.index(), Some(1), "{err}");
            assert_eq!(err.field(), Some(field), "{err}");
        }
    }

    #[test]
    fn duplicate_and_out_of_order_are_distinguished() {
        let a = (10, 1.0, 1.0, 1.0, 1.0, 1.0);
        let dup = Candles::new(cols(&[a, a])).unwrap_err();
        assert!(matches!(
            dup,
            CandleError::DuplicateTimestamp {
                index: 1,
                time_ms: 10
            }
        ));
        let ooo = Candles::new(cols(&[a, (5, 1.0, 1.0, 1.0, 1.0, 1.0)])).unwrap_err();
        assert!(matches!(
            ooo,
            CandleError::OutOfOrder {
                index: 1,
                time_ms: 5,
                previous_ms: 10
            }
        ));
    }

    #[test]
    fn ragged_columns_rejected() {
        let mut c = cols(&[(0, 1.0, 1.0, 1.0, 1.0, 1.0)]);
        c.volume.push(2.0);
        assert!(matches!(
            Candles::new(c),
            Err(CandleError::RaggedColumns { .. })
        ));
    }

    #[test]
    fn gaps_counted_against_median_interval() {
        // Intervals: 60, 60, 180 (2 missing bars), 60, 120 (1 missing bar).
        let times = [0, 60, 120, 300, 360, 480];
        let rows: Vec<_> = times
            .iter()
            .map(|&t| (t, 1.0, 1.0, 1.0, 1.0, 1.0))
            .collect();
        let c = Candles::new(cols(&rows)).unwrap();
        assert_eq!(
            c.gaps(),
            GapSummary {
                gaps: 2,
                missing_bars: 3
            }
        );
    }
}
