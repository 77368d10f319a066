//! Candle loaders for Barwise: CSV, ccxt JSON and Parquet in, validated
//! [`barwise_engine::Candles`] out.
//!
//! The engine crate is pure; this crate does the I/O. Every error names the source (file path or
//! the name given to [`load_candles_from_bytes`]) and, where it applies, the CSV line (1-based, as
//! the csv crate counts it), the JSON element (0-based index in the top-level array) or the
//! Parquet row (0-based), the field, what was expected and what was found. Values that parse but
//! break a candle invariant are rejected by [`barwise_engine::Candles::new`] and reported through
//! [`DataError::Validation`] with the candle index translated back to its line or row.
//!
//! ```no_run
//! let candles = barwise_data::load_candles(std::path::Path::new("data/ETH_BTC-5m.csv"))?;
//! println!("{} candles", candles.len());
//! # Ok::<(), barwise_data::DataError>(())
//! ```

mod csv;
mod error;
mod json;
mod parquet;
mod timestamp;
mod write;

use std::path::Path;

use barwise_engine::{CandleColumns, Candles};

pub use error::{DataError, Location};

/// The supported extensions, for messages.
pub(crate) const SUPPORTED_EXTENSIONS: &str = ".csv, .json, .parquet, .pq";

/// Names accepted for the time column (case-insensitive), in order of preference.
pub(crate) const TIME_COLUMN_ALIASES: [&str; 5] =
    ["timestamp", "date", "time", "datetime", "open_time"];

/// An input format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Comma-separated values with a header row.
    Csv,
    /// A JSON array of `[timestamp_ms, open, high, low, close, volume]` rows (ccxt's
    /// `fetch_ohlcv` shape).
    CcxtJson,
    /// Apache Parquet with one column per field.
    Parquet,
}

impl Format {
    /// The format a file's extension names: `.csv`, `.json`, `.parquet` or `.pq`, in any case.
    /// `None` for any other extension or none.
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?;
        if ext.eq_ignore_ascii_case("csv") {
            Some(Format::Csv)
        } else if ext.eq_ignore_ascii_case("json") {
            Some(Format::CcxtJson)
        } else if ext.eq_ignore_ascii_case("parquet") || ext.eq_ignore_ascii_case("pq") {
            Some(Format::Parquet)
        } else {
            None
        }
    }
}

/// Loads and validates the candles in a file, choosing the format by extension (see
/// [`Format::from_path`]). CSV is streamed; JSON and Parquet files are read whole into memory.
///
/// # Errors
/// [`DataError::UnknownFormat`] for an unsupported extension, [`DataError::Io`] when the file
/// cannot be opened or read, and otherwise every error of [`load_candles_from_bytes`], with the
/// path as the source name.
pub fn load_candles(path: &Path) -> Result<Candles, DataError> {
    let name = path.display().to_string();
    let format = Format::from_path(path).ok_or_else(|| DataError::UnknownFormat {
        path: name.clone(),
        extension: path
            .extension()
            .map(|ext| ext.to_string_lossy().into_owned()),
    })?;
    let io_error = |operation: &'static str| {
        let name = name.clone();
        move |error| DataError::Io {
            path: name,
            operation,
            error,
        }
    };
    match format {
        Format::Csv => {
            let file = std::fs::File::open(path).map_err(io_error("cannot open the file"))?;
            let size = file.metadata().map(|m| m.len()).unwrap_or(0);
            csv::read(file, size, &name)
        }
        Format::CcxtJson => {
            let bytes = std::fs::read(path).map_err(io_error("cannot read the file"))?;
            json::read(&bytes, &name)
        }
        Format::Parquet => {
            let bytes = std::fs::read(path).map_err(io_error("cannot read the file"))?;
            parquet::read(bytes::Bytes::from(bytes), &name)
        }
    }
}

/// Loads and validates candles from bytes already in memory (an object-store download, an
/// embedded file). `source` names the input in error messages.
///
/// # Errors
/// - [`DataError::Empty`] when there are no candles.
/// - CSV: [`DataError::MissingColumn`], [`DataError::DuplicateColumn`],
///   [`DataError::WrongArity`], [`DataError::NotANumber`], [`DataError::BlankValue`],
///   [`DataError::InvalidTimestamp`], [`DataError::Csv`].
/// - JSON: [`DataError::Json`] (syntax, or not an array), [`DataError::NotAnArray`],
///   [`DataError::WrongArity`], [`DataError::NotANumber`], [`DataError::NullValue`],
///   [`DataError::InvalidTimestamp`].
/// - Parquet: [`DataError::Parquet`] (corrupt or truncated), [`DataError::MissingColumn`],
///   [`DataError::DuplicateColumn`], [`DataError::UnsupportedColumnType`],
///   [`DataError::NullValue`], [`DataError::InvalidTimestamp`].
/// - Any format: [`DataError::Validation`] when a candle breaks an invariant of
///   [`Candles::new`].
pub fn load_candles_from_bytes(
    bytes: &[u8],
    format: Format,
    source: &str,
) -> Result<Candles, DataError> {
    match format {
        Format::Csv => csv::read(bytes, bytes.len() as u64, source),
        Format::CcxtJson => json::read(bytes, source),
        Format::Parquet => parquet::read(bytes::Bytes::copy_from_slice(bytes), source),
    }
}

/// Writes candles as a snappy-compressed Parquet file: `timestamp` as INT64
/// TIMESTAMP(MILLIS, UTC), then `open`, `high`, `low`, `close`, `volume` as DOUBLE. Replaces an
/// existing file.
///
/// # Errors
/// [`DataError::Io`] when the file cannot be created, [`DataError::Parquet`] when encoding or
/// writing fails.
pub fn write_candles_parquet(candles: &Candles, path: &Path) -> Result<(), DataError> {
    write::parquet(candles, path)
}

/// Writes candles as CSV with the header `timestamp,open,high,low,close,volume`, timestamps in
/// RFC 3339 UTC with a `Z`, and numbers in Rust's shortest round-trip form, so that
/// [`load_candles`] reads back the identical series. Replaces an existing file.
///
/// # Errors
/// [`DataError::Io`] when the file cannot be created or written.
pub fn write_candles_csv(candles: &Candles, path: &Path) -> Result<(), DataError> {
    write::csv(candles, path)
}

/// Checks that there are candles and validates them, translating a candle index to the input's
/// line or row with `locate`.
pub(crate) fn finish(
    columns: CandleColumns,
    source: &str,
    empty_detail: &'static str,
    locate: impl Fn(usize) -> Location,
) -> Result<Candles, DataError> {
    if columns.is_empty() {
        return Err(DataError::Empty {
            source_name: source.to_owned(),
            detail: empty_detail,
        });
    }
    Candles::new(columns).map_err(|error| DataError::from_candle_error(error, source, locate))
}

/// Finds the column for each field among `names` (already trimmed and lower-cased): the time
/// column under any of [`TIME_COLUMN_ALIASES`] (first alias present wins), the others by their
/// own name. Returns the 0-based positions in the order timestamp, open, high, low, close,
/// volume.
///
/// # Errors
/// [`DataError::MissingColumn`] or [`DataError::DuplicateColumn`].
pub(crate) fn find_columns(
    names: &[String],
    original: &[String],
    source: &str,
) -> Result<[usize; 6], DataError> {
    use barwise_engine::Field;
    const FIELDS: [Field; 6] = Field::ALL;
    let mut positions = [0usize; 6];
    for (slot, field) in positions.iter_mut().zip(FIELDS) {
        let field_name = field.to_string();
        let own_name = [field_name.as_str()];
        let candidates: &[&str] = if field == Field::Timestamp {
            &TIME_COLUMN_ALIASES
        } else {
            &own_name
        };
        let mut found = None;
        for alias in candidates {
            let mut matches = names.iter().enumerate().filter(|(_, n)| n == alias);
            if let Some((first, _)) = matches.next() {
                if let Some((second, _)) = matches.next() {
                    return Err(DataError::DuplicateColumn {
                        source_name: source.to_owned(),
                        field,
                        name: original.get(second).cloned().unwrap_or_default(),
                        first: first + 1,
                        second: second + 1,
                    });
                }
                found = Some(first);
                break;
            }
        }
        *slot = found.ok_or_else(|| DataError::MissingColumn {
            source_name: source.to_owned(),
            column: field,
            found: original.to_vec(),
        })?;
    }
    Ok(positions)
}
