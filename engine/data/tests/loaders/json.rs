//! ccxt JSON loading: accepted shapes and one specific error per kind of bad input.

use barwise_data::{DataError, Format, Location, load_candles, load_candles_from_bytes};
use barwise_engine::{CandleError, Candles, Field};

use crate::support::{assert_message, temp_file};

const SOURCE: &str = "data/BTC.json";

fn load(text: &str) -> Result<Candles, DataError> {
    load_candles_from_bytes(text.as_bytes(), Format::CcxtJson, SOURCE)
}

/// Two valid rows (elements 0 and 1) and `bad` as element 2.
fn with_bad_row(bad: &str) -> String {
    format!("[[1000, 1, 2, 0.5, 1.5, 10],\n [2000, 1, 2, 0.5, 1.5, 10],\n {bad}]")
}

/// Loads `with_bad_row(bad)` and checks location, field and message parts.
#[track_caller]
fn bad_row(bad: &str, field: Option<Field>, parts: &[&str]) -> DataError {
    let err = load(&with_bad_row(bad)).unwrap_err();
    assert_eq!(err.source_name(), SOURCE);
    assert_eq!(err.location(), Some(Location::Element(2)), "{err}");
    assert_eq!(err.field(), field, "{err}");
    let mut all = vec![SOURCE, "element 2"];
    let field_part = field.map(|f| format!("field \"{f}\""));
    if let Some(part) = &field_part {
        all.push(part);
    }
    all.extend_from_slice(parts);
    assert_message(&err, &all);
    err
}

#[test]
fn loads_values() {
    let c = load(
        "[[1509836520000, 0.00162008, 0.00162008, 0.00162008, 0.00162008, 108.14853839],\
          [1509836580000.0, 1, 2, 0.5, 1.5, 0]]",
    )
    .unwrap();
    assert_eq!(c.time_ms(), [1_509_836_520_000, 1_509_836_580_000]);
    assert_eq!(c.open(), [0.00162008, 1.0]);
    assert_eq!(c.high(), [0.00162008, 2.0]);
    assert_eq!(c.low(), [0.00162008, 0.5]);
    assert_eq!(c.close(), [0.00162008, 1.5]);
    assert_eq!(c.volume(), [108.14853839, 0.0]);
}

#[test]
fn loads_from_a_file_path() {
    let (_dir, path) = temp_file("BTC.JSON", b"[[1000, 1, 2, 0.5, 1.5, 10]]");
    assert_eq!(load_candles(&path).unwrap().len(), 1);
}

#[test]
fn row_that_is_not_an_array() {
    for (bad, found) in [
        ("{\"t\": 1}", "an object"),
        ("\"x\"", "a string \"x\""),
        ("3", "the number 3"),
        ("null", "null"),
    ] {
        let err = bad_row(bad, None, &["expected an array", found]);
        assert!(matches!(err, DataError::NotAnArray { .. }), "{err}");
    }
}

#[test]
fn wrong_arity() {
    let err = bad_row(
        "[3000, 1, 2, 0.5, 1.5]",
        None,
        &["expected 6 values", "got 5"],
    );
    assert!(
        matches!(
            err,
            DataError::WrongArity {
                expected: 6,
                found: 5,
                ..
            }
        ),
        "{err}"
    );
    let err = bad_row("[3000, 1, 2, 0.5, 1.5, 10, 7, 8]", None, &["got 8"]);
    assert!(
        matches!(err, DataError::WrongArity { found: 8, .. }),
        "{err}"
    );
    let err = bad_row("[]", None, &["got 0"]);
    assert!(
        matches!(err, DataError::WrongArity { found: 0, .. }),
        "{err}"
    );
}

#[test]
fn non_numeric_value() {
    let err = bad_row(
        "[3000, 1, 2, 0.5, \"1.5\", 10]",
        Some(Field::Close),
        &["expected a number, got a string \"1.5\""],
    );
    assert!(matches!(err, DataError::NotANumber { .. }), "{err}");
    let err = bad_row(
        "[true, 1, 2, 0.5, 1.5, 10]",
        Some(Field::Timestamp),
        &["got true"],
    );
    assert!(matches!(err, DataError::NotANumber { .. }), "{err}");
    let err = bad_row(
        "[3000, 1, 2, 0.5, 1.5, [1]]",
        Some(Field::Volume),
        &["got an array"],
    );
    assert!(matches!(err, DataError::NotANumber { .. }), "{err}");
}

#[test]
fn null_value() {
    let err = bad_row(
        "[3000, 1, null, 0.5, 1.5, 10]",
        Some(Field::High),
        &["got null"],
    );
    assert!(matches!(err, DataError::NullValue { .. }), "{err}");
}

#[test]
fn invalid_timestamp() {
    let err = bad_row(
        "[3000.5, 1, 2, 0.5, 1.5, 10]",
        Some(Field::Timestamp),
        &["integer epoch milliseconds", "got 3000.5"],
    );
    assert!(matches!(err, DataError::InvalidTimestamp { .. }), "{err}");
    let err = bad_row("[1e30, 1, 2, 0.5, 1.5, 10]", Some(Field::Timestamp), &[]);
    assert!(matches!(err, DataError::InvalidTimestamp { .. }), "{err}");
}

#[test]
fn syntax_errors_have_line_and_column() {
    let err = load("[[1000, 1, 2, 0.5, 1.5, 10],\n [2000, 1, 2 0.5, 1.5, 10]]").unwrap_err();
    assert!(
        matches!(
            err,
            DataError::Json {
                line: 2,
                column: 14,
                ..
            }
        ),
        "{err}"
    );
    assert_message(&err, &[SOURCE, "line 2, column 14", "expected `,` or `]`"]);
    let err = load("{\"candles\": []}").unwrap_err();
    assert!(matches!(err, DataError::Json { line: 1, .. }), "{err}");
    assert_message(&err, &[SOURCE, "a JSON array of candles"]);
    let err = load("[[1000, 1, 2, 0.5, 1.5, 10]").unwrap_err();
    assert!(matches!(err, DataError::Json { .. }), "{err}");
}

/// Loads `with_bad_row(bad)` expecting a validation error from the engine.
#[track_caller]
fn invalid(bad: &str, field: Field, parts: &[&str]) -> CandleError {
    match bad_row(bad, Some(field), parts) {
        DataError::Validation { error, .. } => error,
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[test]
fn validation_errors_name_the_element() {
    let e = invalid("[3000, 0, 2, 0.5, 1.5, 10]", Field::Open, &["must be > 0"]);
    assert!(matches!(e, CandleError::NonPositivePrice { .. }));
    let e = invalid(
        "[3000, 1, 2, 0.5, 1.5, -2]",
        Field::Volume,
        &["volume must be >= 0"],
    );
    assert!(matches!(e, CandleError::NegativeVolume { .. }));
    let e = invalid(
        "[3000, 1, 1.2, 0.5, 1.5, 1]",
        Field::High,
        &["below max(open, close)"],
    );
    assert!(matches!(e, CandleError::HighTooLow { .. }));
    let e = invalid(
        "[3000, 1, 2, 1.2, 1.5, 1]",
        Field::Low,
        &["above min(open, close)"],
    );
    assert!(matches!(e, CandleError::LowTooHigh { .. }));
    let e = invalid(
        "[2000, 1, 2, 0.5, 1.5, 1]",
        Field::Timestamp,
        &["1970-01-01T00:00:02Z (duplicate)"],
    );
    assert!(matches!(e, CandleError::DuplicateTimestamp { .. }));
    let e = invalid(
        "[1500, 1, 2, 0.5, 1.5, 1]",
        Field::Timestamp,
        &["earlier than"],
    );
    assert!(matches!(e, CandleError::OutOfOrder { .. }));
}

#[test]
fn empty_inputs() {
    for text in ["", "  \n", "[]", " [ ] "] {
        let err = load(text).unwrap_err();
        assert!(matches!(err, DataError::Empty { .. }), "{text:?}: {err}");
        assert_message(&err, &[SOURCE, "no candles"]);
    }
}
