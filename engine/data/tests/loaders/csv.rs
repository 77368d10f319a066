//! CSV loading: accepted shapes and one specific error per kind of bad input.

use barwise_data::{DataError, Format, Location, load_candles, load_candles_from_bytes};
use barwise_engine::{CandleError, Candles, Field};

use crate::support::{assert_message, temp_file};

const SOURCE: &str = "data/ETH.csv";
const HEADER: &str = "timestamp,open,high,low,close,volume\n";

fn load(text: &str) -> Result<Candles, DataError> {
    load_candles_from_bytes(text.as_bytes(), Format::Csv, SOURCE)
}

fn ms(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .timestamp_millis()
}

/// The header, two valid rows (lines 2 and 3) and `bad` on line 4.
fn with_bad_row(bad: &str) -> String {
    format!(
        "{HEADER}2018-01-10T04:55:00Z,1,2,0.5,1.5,10\n2018-01-10T05:00:00Z,1,2,0.5,1.5,10\n{bad}\n"
    )
}

/// Loads `with_bad_row(bad)` and checks the error's location, field and message parts.
#[track_caller]
fn bad_row(bad: &str, field: Field, parts: &[&str]) -> DataError {
    let err = load(&with_bad_row(bad)).unwrap_err();
    assert_eq!(err.source_name(), SOURCE);
    assert_eq!(err.location(), Some(Location::Line(4)), "{err}");
    assert_eq!(err.field(), Some(field), "{err}");
    let field_part = format!("field \"{field}\"");
    let mut all = vec![SOURCE, "line 4", field_part.as_str()];
    all.extend_from_slice(parts);
    assert_message(&err, &all);
    err
}

#[test]
fn loads_all_timestamp_forms_and_values() {
    let text = "Date , OPEN,High,low,close,Volume,ignored\n\
                2018-01-10T04:55:00Z,0.0984,0.0994766,0.09828605,0.0994766,1820.54447418,x\n\
                2018-01-11,1,2,0.5,1.5,0,y\n\
                2018-01-11 00:05:00,5.330000000000001e-05,6e-05,5e-05,5.5e-05,3,z\n\
                1515629400000,1,1,1,1,1,w\n\
                2018-01-11T01:15:00.250+01:00,1,1,1,1,1,v\n\
                2018-01-11T00:20:00,1,1,1,1,1,u\n";
    let c = load(text).unwrap();
    assert_eq!(
        c.time_ms(),
        [
            ms("2018-01-10T04:55:00Z"),
            ms("2018-01-11T00:00:00Z"),
            ms("2018-01-11T00:05:00Z"),
            ms("2018-01-11T00:10:00Z"),
            ms("2018-01-11T00:15:00.250Z"),
            ms("2018-01-11T00:20:00Z"),
        ]
    );
    assert_eq!(c.open()[0], 0.0984);
    assert_eq!(c.high()[0], 0.0994766);
    assert_eq!(c.low()[0], 0.09828605);
    assert_eq!(c.close()[0], 0.0994766);
    assert_eq!(c.volume()[0], 1820.54447418);
    assert_eq!(c.open()[2], 5.330000000000001e-05);
    assert_eq!(c.volume()[1], 0.0);
}

#[test]
fn time_column_aliases_and_column_order() {
    for alias in ["timestamp", "date", "TIME", "datetime", "Open_Time"] {
        let text = format!("volume,close,low,high,open,{alias}\n10,1.5,0.5,2,1,1000\n");
        let c = load(&text).unwrap();
        assert_eq!(c.time_ms(), [1000], "{alias}");
        assert_eq!(c.open(), [1.0], "{alias}");
        assert_eq!(c.close(), [1.5], "{alias}");
    }
}

#[test]
fn loads_from_a_file_path() {
    let text = format!("{HEADER}2018-01-10T04:55:00Z,1,2,0.5,1.5,10\n");
    let (_dir, path) = temp_file("ETH.CSV", text.as_bytes());
    let c = load_candles(&path).unwrap();
    assert_eq!(c.len(), 1);
}

#[test]
fn non_numeric_value() {
    let err = bad_row(
        "2018-01-10T05:05:00Z,1,2,0.5,abc,10",
        Field::Close,
        &["expected a number, got \"abc\""],
    );
    assert!(matches!(err, DataError::NotANumber { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "data/ETH.csv: line 4, field \"close\": expected a number, got \"abc\""
    );
}

#[test]
fn blank_value() {
    let err = bad_row(
        "2018-01-10T05:05:00Z,1,  ,0.5,1.5,10",
        Field::High,
        &["empty"],
    );
    assert!(matches!(err, DataError::BlankValue { .. }), "{err}");
    let err = bad_row(",1,2,0.5,1.5,10", Field::Timestamp, &["empty"]);
    assert!(matches!(err, DataError::BlankValue { .. }), "{err}");
}

#[test]
fn invalid_timestamp() {
    let err = bad_row(
        "2018-13-01T00:00:00Z,1,2,0.5,1.5,10",
        Field::Timestamp,
        &["\"2018-13-01T00:00:00Z\"", "RFC 3339"],
    );
    assert!(matches!(err, DataError::InvalidTimestamp { .. }), "{err}");
    let err = bad_row(
        "2018-01-10T05:05:00.0000001Z,1,2,0.5,1.5,10",
        Field::Timestamp,
        &["millisecond"],
    );
    assert!(matches!(err, DataError::InvalidTimestamp { .. }), "{err}");
}

#[test]
fn missing_column() {
    let err =
        load("timestamp,open,high,low,close\n2018-01-10T04:55:00Z,1,2,0.5,1.5\n").unwrap_err();
    assert!(
        matches!(
            err,
            DataError::MissingColumn {
                column: Field::Volume,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "data/ETH.csv: missing required column \"volume\" (found columns: timestamp, open, high, \
         low, close)"
    );
    let err = load("when,open,high,low,close,volume\n1,1,1,1,1,1\n").unwrap_err();
    assert_message(
        &err,
        &[
            SOURCE,
            "\"timestamp\"",
            "date",
            "open_time",
            "found columns: when",
        ],
    );
}

#[test]
fn duplicate_column() {
    let err = load("timestamp,open,high,low,close,Close,volume\n1,1,1,1,1,1,1\n").unwrap_err();
    assert!(
        matches!(
            err,
            DataError::DuplicateColumn {
                first: 5,
                second: 6,
                ..
            }
        ),
        "{err}"
    );
    assert_message(&err, &[SOURCE, "\"Close\"", "columns 5 and 6"]);
}

#[test]
fn wrong_number_of_fields() {
    let err = load(&with_bad_row("2018-01-10T05:05:00Z,1,2,0.5")).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::WrongArity {
                expected: 6,
                found: 4,
                location: Location::Line(4),
                ..
            }
        ),
        "{err}"
    );
    assert_message(&err, &[SOURCE, "line 4", "expected 6 fields", "got 4"]);
}

/// Loads `with_bad_row(bad)` expecting a validation error from the engine.
#[track_caller]
fn invalid(bad: &str, field: Field, parts: &[&str]) -> CandleError {
    match bad_row(bad, field, parts) {
        DataError::Validation { error, .. } => {
            assert_eq!(error.index(), Some(2));
            error
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[test]
fn non_finite_values() {
    let e = invalid(
        "2018-01-10T05:05:00Z,NaN,2,0.5,1.5,10",
        Field::Open,
        &["not a finite number"],
    );
    assert!(matches!(e, CandleError::NotFinite { .. }));
    let e = invalid(
        "2018-01-10T05:05:00Z,1,inf,0.5,1.5,10",
        Field::High,
        &["(got inf)"],
    );
    assert!(matches!(e, CandleError::NotFinite { .. }));
}

#[test]
fn non_positive_price() {
    let e = invalid(
        "2018-01-10T05:05:00Z,1,2,0.5,0,10",
        Field::Close,
        &["must be > 0, got 0"],
    );
    assert!(matches!(e, CandleError::NonPositivePrice { .. }));
    let e = invalid(
        "2018-01-10T05:05:00Z,1,2,-0.5,1.5,10",
        Field::Low,
        &["must be > 0"],
    );
    assert!(matches!(e, CandleError::NonPositivePrice { .. }));
}

#[test]
fn negative_volume() {
    let e = invalid(
        "2018-01-10T05:05:00Z,1,2,0.5,1.5,-1",
        Field::Volume,
        &["volume must be >= 0, got -1"],
    );
    assert!(matches!(e, CandleError::NegativeVolume { .. }));
}

#[test]
fn high_below_open_or_close() {
    let e = invalid(
        "2018-01-10T05:05:00Z,1,1.4,0.5,1.5,10",
        Field::High,
        &["high 1.4 is below max(open, close) = 1.5"],
    );
    assert!(matches!(e, CandleError::HighTooLow { .. }));
}

#[test]
fn low_above_open_or_close() {
    let e = invalid(
        "2018-01-10T05:05:00Z,1,2,1.1,1.5,10",
        Field::Low,
        &["low 1.1 is above min(open, close) = 1"],
    );
    assert!(matches!(e, CandleError::LowTooHigh { .. }));
}

#[test]
fn duplicate_timestamp() {
    let e = invalid("2018-01-10T05:00:00Z,1,2,0.5,1.5,10", Field::Timestamp, &[]);
    assert!(matches!(e, CandleError::DuplicateTimestamp { .. }));
    let err = load(&with_bad_row("2018-01-10T05:00:00Z,1,2,0.5,1.5,10")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "data/ETH.csv: line 4, field \"timestamp\": timestamp 2018-01-10T05:00:00Z is not after \
         the previous row's 2018-01-10T05:00:00Z (duplicate)"
    );
}

#[test]
fn out_of_order_timestamp() {
    let e = invalid(
        "2018-01-10T04:50:00Z,1,2,0.5,1.5,10",
        Field::Timestamp,
        &["2018-01-10T04:50:00Z is earlier than the previous row's 2018-01-10T05:00:00Z"],
    );
    assert!(matches!(e, CandleError::OutOfOrder { .. }));
}

#[test]
fn empty_inputs() {
    for text in ["", HEADER, "timestamp,open,high,low,close,volume\n\n\n"] {
        let err = load(text).unwrap_err();
        assert!(matches!(err, DataError::Empty { .. }), "{err}");
        assert_message(&err, &[SOURCE, "no candles"]);
    }
}

#[test]
fn nonexistent_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.csv");
    let err = load_candles(&path).unwrap_err();
    assert!(matches!(err, DataError::Io { .. }), "{err}");
    assert_message(&err, &[&path.display().to_string(), "cannot open"]);
}

#[test]
fn unknown_extension() {
    let (_dir, path) = temp_file("candles.txt", b"whatever");
    let err = load_candles(&path).unwrap_err();
    assert!(matches!(err, DataError::UnknownFormat { .. }), "{err}");
    assert_message(
        &err,
        &[
            &path.display().to_string(),
            "\".txt\"",
            ".csv, .json, .parquet, .pq",
        ],
    );
    let err = load_candles(std::path::Path::new("data/no_extension")).unwrap_err();
    assert_message(&err, &["data/no_extension", "(none)"]);
}

#[test]
fn format_from_path() {
    use std::path::Path;
    assert_eq!(Format::from_path(Path::new("a/b.CSV")), Some(Format::Csv));
    assert_eq!(
        Format::from_path(Path::new("b.Json")),
        Some(Format::CcxtJson)
    );
    assert_eq!(
        Format::from_path(Path::new("b.parquet")),
        Some(Format::Parquet)
    );
    assert_eq!(Format::from_path(Path::new("b.PQ")), Some(Format::Parquet));
    assert_eq!(Format::from_path(Path::new("b.xlsx")), None);
    assert_eq!(Format::from_path(Path::new("csv")), None);
}
