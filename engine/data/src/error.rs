//! The loader's error type: every message names the source and, where it applies, the line, JSON
//! element or Parquet row, the field, what was expected and what was found.

use std::fmt;

use barwise_engine::{CandleError, Field};

/// Where in the input a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// 1-based line of a CSV file, as the csv crate reports the start of the record.
    Line(u64),
    /// 0-based index of a row in the top-level array of a ccxt JSON document.
    Element(usize),
    /// 0-based row of a Parquet file (counted across row groups).
    Row(usize),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Line(line) => write!(f, "line {line}"),
            Location::Element(index) => write!(f, "element {index}"),
            Location::Row(row) => write!(f, "row {row}"),
        }
    }
}

/// Why candles could not be loaded or written.
///
/// Messages are self-contained: the underlying I/O, CSV, JSON or Parquet error is part of the
/// text (and not chained through [`std::error::Error::source`]), so printing the error once with
/// `{}` tells the whole story. `source_name` (or `path`) is the file path or the name passed to
/// [`crate::load_candles_from_bytes`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// Opening, reading, creating or writing a file failed.
    #[error("{path}: {operation}: {error}")]
    Io {
        /// The file.
        path: String,
        /// What was attempted, e.g. "cannot open the file".
        operation: &'static str,
        /// The operating system's error.
        error: std::io::Error,
    },
    /// The file extension does not name a supported format.
    #[error(
        "{path}: cannot tell the format from the file extension ({}); supported extensions: {}",
        describe_extension(.extension.as_deref()),
        crate::SUPPORTED_EXTENSIONS
    )]
    UnknownFormat {
        /// The file.
        path: String,
        /// The extension found, without the dot, if there is one.
        extension: Option<String>,
    },
    /// The input holds no candles.
    #[error("{source_name}: no candles: {detail}")]
    Empty {
        /// File path or source name.
        source_name: String,
        /// What was found instead, e.g. "the file is empty".
        detail: &'static str,
    },
    /// A required column is not in the CSV header or the Parquet schema.
    #[error(
        "{source_name}: missing required column \"{column}\"{} (found columns: {})",
        describe_aliases(*.column),
        found.join(", ")
    )]
    MissingColumn {
        /// File path or source name.
        source_name: String,
        /// The field no column was found for.
        column: Field,
        /// The column names that are there.
        found: Vec<String>,
    },
    /// Two columns have the same (case-insensitive) name, so it is unclear which to read.
    #[error(
        "{source_name}: column \"{name}\" appears more than once (columns {first} and {second}); \
         cannot tell which holds {field}"
    )]
    DuplicateColumn {
        /// File path or source name.
        source_name: String,
        /// The field both columns could hold.
        field: Field,
        /// The repeated column name, as written in the second occurrence.
        name: String,
        /// 1-based position of the first occurrence.
        first: usize,
        /// 1-based position of the second occurrence.
        second: usize,
    },
    /// A CSV record has a different number of fields than the header, or a JSON row does not have
    /// six values.
    #[error(
        "{source_name}: {location}: expected {expected} {}, got {found}",
        describe_arity_unit(*.location)
    )]
    WrongArity {
        /// File path or source name.
        source_name: String,
        /// The record or row.
        location: Location,
        /// The number required (the header's field count for CSV, 6 for JSON).
        expected: usize,
        /// The number found.
        found: usize,
    },
    /// A price, volume or timestamp is not a number.
    #[error("{source_name}: {location}, field \"{field}\": expected a number, got {found}")]
    NotANumber {
        /// File path or source name.
        source_name: String,
        /// The record or row.
        location: Location,
        /// The field.
        field: Field,
        /// What was found, already quoted or described (e.g. `"abc"` or `a string "abc"`).
        found: String,
    },
    /// A CSV field is empty or only whitespace.
    #[error("{source_name}: {location}, field \"{field}\": expected a value, got an empty field")]
    BlankValue {
        /// File path or source name.
        source_name: String,
        /// The record.
        location: Location,
        /// The field.
        field: Field,
    },
    /// A JSON `null` or a Parquet null where a value is required.
    #[error("{source_name}: {location}, field \"{field}\": expected a value, got null")]
    NullValue {
        /// File path or source name.
        source_name: String,
        /// The row.
        location: Location,
        /// The field.
        field: Field,
    },
    /// A timestamp that cannot be read or is not a whole number of milliseconds.
    #[error("{source_name}: {location}, field \"timestamp\": expected {expected}, got {found}")]
    InvalidTimestamp {
        /// File path or source name.
        source_name: String,
        /// The record or row.
        location: Location,
        /// What would have been accepted.
        expected: &'static str,
        /// What was found, quoted or described.
        found: String,
    },
    /// A JSON row that is not an array.
    #[error(
        "{source_name}: {location}: expected an array [timestamp, open, high, low, close, volume], \
         got {found}"
    )]
    NotAnArray {
        /// File path or source name.
        source_name: String,
        /// The row.
        location: Location,
        /// A description of what was found, e.g. `an object`.
        found: String,
    },
    /// The input is not well-formed JSON or not a JSON array of rows.
    #[error("{source_name}: invalid JSON at line {line}, column {column}: {detail}")]
    Json {
        /// File path or source name.
        source_name: String,
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
        /// serde_json's description.
        detail: String,
    },
    /// The CSV reader rejected the input.
    #[error("{source_name}: {}invalid CSV: {detail}", describe_line(*.line))]
    Csv {
        /// File path or source name.
        source_name: String,
        /// 1-based line, when known.
        line: Option<u64>,
        /// The csv crate's description.
        detail: String,
    },
    /// The input is not a readable Parquet file, or reading or writing one failed.
    #[error("{source_name}: {detail}")]
    Parquet {
        /// File path or source name.
        source_name: String,
        /// What went wrong, including the parquet crate's description.
        detail: String,
    },
    /// A Parquet column has a physical or logical type the loader cannot read for its field.
    #[error(
        "{source_name}: column \"{column}\" (field \"{field}\") has type {found}; expected {expected}"
    )]
    UnsupportedColumnType {
        /// File path or source name.
        source_name: String,
        /// The column name as stored.
        column: String,
        /// The field the column was chosen for.
        field: Field,
        /// The column's type, e.g. `BYTE_ARRAY (String)`.
        found: String,
        /// The types accepted for this field.
        expected: &'static str,
    },
    /// The values were read but break a candle invariant checked by the engine
    /// ([`barwise_engine::Candles::new`]).
    #[error("{source_name}: {location}, field \"{field}\": {message}")]
    Validation {
        /// File path or source name.
        source_name: String,
        /// The record or row of the offending candle.
        location: Location,
        /// The offending field.
        field: Field,
        /// The engine's description without its candle index (timestamps shown in RFC 3339).
        message: String,
        /// The engine's error, with the candle index.
        error: CandleError,
    },
    /// The columns read do not form a series (an internal inconsistency of the input).
    #[error("{source_name}: {detail}")]
    Malformed {
        /// File path or source name.
        source_name: String,
        /// What is inconsistent.
        detail: String,
    },
}

impl DataError {
    /// The file path or source name the error is about.
    pub fn source_name(&self) -> &str {
        match self {
            DataError::Io { path, .. } | DataError::UnknownFormat { path, .. } => path,
            DataError::Empty { source_name, .. }
            | DataError::MissingColumn { source_name, .. }
            | DataError::DuplicateColumn { source_name, .. }
            | DataError::WrongArity { source_name, .. }
            | DataError::NotANumber { source_name, .. }
            | DataError::BlankValue { source_name, .. }
            | DataError::NullValue { source_name, .. }
            | DataError::InvalidTimestamp { source_name, .. }
            | DataError::NotAnArray { source_name, .. }
            | DataError::Json { source_name, .. }
            | DataError::Csv { source_name, .. }
            | DataError::Parquet { source_name, .. }
            | DataError::UnsupportedColumnType { source_name, .. }
            | DataError::Validation { source_name, .. }
            | DataError::Malformed { source_name, .. } => source_name,
        }
    }

    /// The line, element or row the error is about, when it is about one.
    pub fn location(&self) -> Option<Location> {
        match self {
            DataError::WrongArity { location, .. }
            | DataError::NotANumber { location, .. }
            | DataError::BlankValue { location, .. }
            | DataError::NullValue { location, .. }
            | DataError::InvalidTimestamp { location, .. }
            | DataError::NotAnArray { location, .. }
            | DataError::Validation { location, .. } => Some(*location),
            DataError::Csv { line, .. } => line.map(Location::Line),
            _ => None,
        }
    }

    /// The candle field the error is about, when it is about one.
    pub fn field(&self) -> Option<Field> {
        match self {
            DataError::MissingColumn { column: field, .. }
            | DataError::DuplicateColumn { field, .. }
            | DataError::NotANumber { field, .. }
            | DataError::BlankValue { field, .. }
            | DataError::NullValue { field, .. }
            | DataError::UnsupportedColumnType { field, .. }
            | DataError::Validation { field, .. } => Some(*field),
            DataError::InvalidTimestamp { .. } => Some(Field::Timestamp),
            _ => None,
        }
    }

    /// Wraps an engine validation error, translating the candle index with `locate`.
    pub(crate) fn from_candle_error(
        error: CandleError,
        source_name: &str,
        locate: impl Fn(usize) -> Location,
    ) -> Self {
        let (Some(index), Some(field)) = (error.index(), error.field()) else {
            return DataError::Malformed {
                source_name: source_name.to_owned(),
                detail: error.to_string(),
            };
        };
        let message = match &error {
            CandleError::DuplicateTimestamp { time_ms, .. } => {
                let t = crate::timestamp::format_rfc3339(*time_ms);
                format!("timestamp {t} is not after the previous row's {t} (duplicate)")
            }
            CandleError::OutOfOrder {
                time_ms,
                previous_ms,
                ..
            } => format!(
                "timestamp {} is earlier than the previous row's {} (timestamps must strictly \
                 increase)",
                crate::timestamp::format_rfc3339(*time_ms),
                crate::timestamp::format_rfc3339(*previous_ms)
            ),
            other => {
                let text = other.to_string();
                let prefix = format!("candle {index}: ");
                match text.strip_prefix(&prefix) {
                    Some(rest) => rest.to_owned(),
                    None => text,
                }
            }
        };
        DataError::Validation {
            source_name: source_name.to_owned(),
            location: locate(index),
            field,
            message,
            error,
        }
    }
}

fn describe_extension(extension: Option<&str>) -> String {
    match extension {
        Some(ext) => format!("\".{ext}\""),
        None => "none".to_owned(),
    }
}

fn describe_aliases(field: Field) -> String {
    if field == Field::Timestamp {
        format!(
            " (or one of: {})",
            crate::TIME_COLUMN_ALIASES[1..].join(", ")
        )
    } else {
        String::new()
    }
}

fn describe_arity_unit(location: Location) -> &'static str {
    match location {
        Location::Line(_) => "fields (as many as the header)",
        Location::Element(_) | Location::Row(_) => {
            "values [timestamp, open, high, low, close, volume]"
        }
    }
}

fn describe_line(line: Option<u64>) -> String {
    match line {
        Some(line) => format!("line {line}: "),
        None => String::new(),
    }
}

/// Quotes a piece of input for a message, shortened to a readable length.
pub(crate) fn quote(bytes: &[u8]) -> String {
    const MAX_CHARS: usize = 40;
    let text = String::from_utf8_lossy(bytes);
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(MAX_CHARS).collect();
    if chars.next().is_some() {
        format!("{:?}...", head)
    } else {
        format!("{head:?}")
    }
}
