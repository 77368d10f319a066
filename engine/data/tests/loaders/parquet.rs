//! Parquet loading: files written here with the parquet crate's writer in the accepted layouts,
//! and one specific error per kind of bad input.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use barwise_data::{DataError, Format, Location, load_candles, load_candles_from_bytes};
use barwise_engine::{CandleError, Field};
use parquet::basic::Compression;
use parquet::data_type::{
    ByteArray, ByteArrayType, DoubleType, FloatType, Int32Type, Int64Type, Int96, Int96Type,
};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;

use crate::support::assert_message;

/// One column's values; `Opt*` columns are OPTIONAL with `None` as null.
enum Values {
    I64(Vec<i64>),
    I32(Vec<i32>),
    I96(Vec<Int96>),
    F64(Vec<f64>),
    F32(Vec<f32>),
    OptF64(Vec<Option<f64>>),
    Text(Vec<&'static str>),
}

/// Writes a Parquet file with `schema` (in Parquet's message syntax) and `columns` in schema
/// order, `rows_per_group` rows per row group.
fn write(path: &Path, schema: &str, columns: &[Values], rows: usize, rows_per_group: usize) {
    let schema = Arc::new(parse_message_type(schema).unwrap());
    let props = Arc::new(
        WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build(),
    );
    let mut writer = SerializedFileWriter::new(File::create(path).unwrap(), schema, props).unwrap();
    let mut start = 0;
    while start < rows {
        let end = (start + rows_per_group).min(rows);
        let mut group = writer.next_row_group().unwrap();
        for values in columns {
            let mut column = group.next_column().unwrap().unwrap();
            match values {
                Values::I64(v) => {
                    column
                        .typed::<Int64Type>()
                        .write_batch(&v[start..end], None, None)
                }
                Values::I32(v) => {
                    column
                        .typed::<Int32Type>()
                        .write_batch(&v[start..end], None, None)
                }
                Values::I96(v) => {
                    column
                        .typed::<Int96Type>()
                        .write_batch(&v[start..end], None, None)
                }
                Values::F64(v) => {
                    column
                        .typed::<DoubleType>()
                        .write_batch(&v[start..end], None, None)
                }
                Values::F32(v) => {
                    column
                        .typed::<FloatType>()
                        .write_batch(&v[start..end], None, None)
                }
                Values::OptF64(v) => {
                    let slice = &v[start..end];
                    let present: Vec<f64> = slice.iter().flatten().copied().collect();
                    let levels: Vec<i16> = slice.iter().map(|x| i16::from(x.is_some())).collect();
                    column
                        .typed::<DoubleType>()
                        .write_batch(&present, Some(&levels), None)
                }
                Values::Text(v) => {
                    let bytes: Vec<ByteArray> =
                        v[start..end].iter().map(|s| ByteArray::from(*s)).collect();
                    column
                        .typed::<ByteArrayType>()
                        .write_batch(&bytes, None, None)
                }
            }
            .unwrap();
            column.close().unwrap();
        }
        group.close().unwrap();
        start = end;
    }
    writer.close().unwrap();
}

const PRICES: &str = "REQUIRED DOUBLE open; REQUIRED DOUBLE high; REQUIRED DOUBLE low; \
                      REQUIRED DOUBLE close; REQUIRED DOUBLE volume;";

/// Valid prices for `n` rows: open 1, high 2, low 0.5, close 1.5, volume = row.
fn prices(n: usize) -> Vec<Values> {
    vec![
        Values::F64(vec![1.0; n]),
        Values::F64(vec![2.0; n]),
        Values::F64(vec![0.5; n]),
        Values::F64(vec![1.5; n]),
        Values::F64((0..n).map(|i| i as f64).collect()),
    ]
}

/// A file with a column `timestamp` of the given type (`REQUIRED INT64 (TIMESTAMP(MILLIS,true))`
/// style: repetition, physical type, optional annotation) and values, then valid prices.
fn file_with_time(
    time_type: &str,
    time: Values,
    n: usize,
) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("candles.parquet");
    let (prefix, annotation) = match time_type.find('(') {
        Some(at) => time_type.split_at(at),
        None => (time_type, ""),
    };
    let schema = format!("message m {{ {prefix} timestamp {annotation}; {PRICES} }}");
    let mut columns = vec![time];
    columns.extend(prices(n));
    write(&path, &schema, &columns, n, 2);
    (dir, path)
}

const T0: i64 = 1_515_560_100_000; // 2018-01-10T04:55:00Z

fn times(n: usize) -> Vec<i64> {
    (0..n as i64).map(|i| T0 + i * 300_000).collect()
}

#[test]
fn loads_timestamp_millis_with_names_in_any_case_and_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.PQ");
    let schema = "message m { REQUIRED BYTE_ARRAY symbol (UTF8); REQUIRED DOUBLE Volume; \
                  REQUIRED DOUBLE CLOSE; REQUIRED INT64 Date (TIMESTAMP(MILLIS,true)); \
                  REQUIRED DOUBLE open; REQUIRED DOUBLE high; REQUIRED DOUBLE low; }";
    let columns = [
        Values::Text(vec!["ETH/BTC"; 3]),
        Values::F64(vec![10.0, 0.0, 3.5]),
        Values::F64(vec![1.5, 0.0994766, 1.0]),
        Values::I64(times(3)),
        Values::F64(vec![1.0, 0.0984, 1.0]),
        Values::F64(vec![2.0, 0.0994766, 1.0]),
        Values::F64(vec![0.5, 0.09828605, 1.0]),
    ];
    write(&path, schema, &columns, 3, 2);
    let c = load_candles(&path).unwrap();
    assert_eq!(c.time_ms(), times(3));
    assert_eq!(c.open(), [1.0, 0.0984, 1.0]);
    assert_eq!(c.high(), [2.0, 0.0994766, 1.0]);
    assert_eq!(c.low(), [0.5, 0.09828605, 1.0]);
    assert_eq!(c.close(), [1.5, 0.0994766, 1.0]);
    assert_eq!(c.volume(), [10.0, 0.0, 3.5]);
}

#[test]
fn loads_other_time_units_and_plain_int64() {
    let n = 5;
    let cases = [
        ("REQUIRED INT64", times(n)),
        ("REQUIRED INT64 (TIMESTAMP(MILLIS,false))", times(n)),
        (
            "REQUIRED INT64 (TIMESTAMP(MICROS,true))",
            times(n).iter().map(|t| t * 1000).collect(),
        ),
        (
            "REQUIRED INT64 (TIMESTAMP(NANOS,true))",
            times(n).iter().map(|t| t * 1_000_000).collect(),
        ),
    ];
    for (time_type, values) in cases {
        let (_dir, path) = file_with_time(time_type, Values::I64(values), n);
        let c = load_candles(&path).unwrap();
        assert_eq!(c.time_ms(), times(n), "{time_type}");
        assert_eq!(c.volume(), [0.0, 1.0, 2.0, 3.0, 4.0], "{time_type}");
    }
}

#[test]
fn loads_legacy_int96_and_date32() {
    let days = [17_541i64, 17_542]; // 2018-01-10, 2018-01-11
    let int96: Vec<Int96> = days
        .iter()
        .map(|&d| {
            let nanos: i64 = 3_600_000_000_000 + 250_000_000; // 01:00:00.250
            let mut v = Int96::new();
            v.set_data(nanos as u32, (nanos >> 32) as u32, (d + 2_440_588) as u32);
            v
        })
        .collect();
    let (_dir, path) = file_with_time("REQUIRED INT96", Values::I96(int96), 2);
    let c = load_candles(&path).unwrap();
    assert_eq!(c.time_ms(), days.map(|d| d * 86_400_000 + 3_600_250));

    let (_dir, path) = file_with_time(
        "REQUIRED INT32 (DATE)",
        Values::I32(vec![17_541, 17_542]),
        2,
    );
    let c = load_candles(&path).unwrap();
    assert_eq!(c.time_ms(), days.map(|d| d * 86_400_000));
}

#[test]
fn converts_float_and_integer_price_columns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.parquet");
    let schema = "message m { REQUIRED INT64 timestamp; REQUIRED FLOAT open; REQUIRED INT32 high; \
                  REQUIRED DOUBLE low; REQUIRED DOUBLE close; REQUIRED INT64 volume; }";
    let columns = [
        Values::I64(times(2)),
        Values::F32(vec![1.5, 0.25]),
        Values::I32(vec![2, 1]),
        Values::F64(vec![0.5, 0.25]),
        Values::F64(vec![1.5, 0.5]),
        Values::I64(vec![7, 0]),
    ];
    write(&path, schema, &columns, 2, 10);
    let c = load_candles(&path).unwrap();
    assert_eq!(c.open(), [1.5, 0.25]);
    assert_eq!(c.high(), [2.0, 1.0]);
    assert_eq!(c.volume(), [7.0, 0.0]);
}

#[test]
fn sub_millisecond_timestamp() {
    let mut micros: Vec<i64> = times(4).iter().map(|t| t * 1000).collect();
    micros[3] += 1;
    let (_dir, path) = file_with_time(
        "REQUIRED INT64 (TIMESTAMP(MICROS,true))",
        Values::I64(micros),
        4,
    );
    let err = load_candles(&path).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::InvalidTimestamp {
                location: Location::Row(3),
                ..
            }
        ),
        "{err}"
    );
    assert_message(
        &err,
        &[
            &path.display().to_string(),
            "row 3",
            "field \"timestamp\"",
            "whole number of milliseconds",
            "µs",
        ],
    );
}

#[test]
fn null_value() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.parquet");
    let schema = "message m { REQUIRED INT64 timestamp; REQUIRED DOUBLE open; REQUIRED DOUBLE high; \
                  REQUIRED DOUBLE low; OPTIONAL DOUBLE close; REQUIRED DOUBLE volume; }";
    let mut columns = prices(5);
    columns.insert(0, Values::I64(times(5)));
    columns[4] = Values::OptF64(vec![Some(1.5), Some(1.5), Some(1.5), None, Some(1.5)]);
    write(&path, schema, &columns, 5, 2);
    let err = load_candles(&path).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::NullValue {
                location: Location::Row(3),
                field: Field::Close,
                ..
            }
        ),
        "{err}"
    );
    assert_message(&err, &["x.parquet", "row 3", "field \"close\"", "null"]);

    // Optional columns without nulls load.
    columns[4] = Values::OptF64(vec![Some(1.5); 5]);
    write(&path, schema, &columns, 5, 2);
    assert_eq!(load_candles(&path).unwrap().close(), [1.5; 5]);
}

#[test]
fn validation_errors_name_the_row_across_row_groups() {
    let mut t = times(7);
    t[5] = t[4];
    let (_dir, path) = file_with_time("REQUIRED INT64 (TIMESTAMP(MILLIS,true))", Values::I64(t), 7);
    let err = load_candles(&path).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::Validation {
                location: Location::Row(5),
                field: Field::Timestamp,
                error: CandleError::DuplicateTimestamp { .. },
                ..
            }
        ),
        "{err}"
    );
    assert_message(
        &err,
        &[
            "candles.parquet",
            "row 5",
            "2018-01-10T05:15:00Z (duplicate)",
        ],
    );
}

#[test]
fn missing_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.parquet");
    let schema = "message m { REQUIRED INT64 timestamp; REQUIRED DOUBLE open; REQUIRED DOUBLE high; \
                  REQUIRED DOUBLE low; REQUIRED DOUBLE close; }";
    let mut columns = prices(1);
    columns.pop();
    columns.insert(0, Values::I64(times(1)));
    write(&path, schema, &columns, 1, 1);
    let err = load_candles(&path).unwrap_err();
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
    assert_message(
        &err,
        &[
            "x.parquet",
            "\"volume\"",
            "found columns: timestamp, open, high, low, close",
        ],
    );
}

#[test]
fn unsupported_column_type() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.parquet");
    let schema = "message m { REQUIRED INT64 timestamp; REQUIRED BYTE_ARRAY open (UTF8); \
                  REQUIRED DOUBLE high; REQUIRED DOUBLE low; REQUIRED DOUBLE close; REQUIRED DOUBLE volume; }";
    let mut columns = prices(1);
    columns[0] = Values::Text(vec!["1.0"]);
    columns.insert(0, Values::I64(times(1)));
    write(&path, schema, &columns, 1, 1);
    let err = load_candles(&path).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::UnsupportedColumnType {
                field: Field::Open,
                ..
            }
        ),
        "{err}"
    );
    assert_message(&err, &["x.parquet", "\"open\"", "BYTE_ARRAY", "DOUBLE"]);

    let (_dir, path) = file_with_time("REQUIRED DOUBLE", Values::F64(vec![1.0]), 1);
    let err = load_candles(&path).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::UnsupportedColumnType {
                field: Field::Timestamp,
                ..
            }
        ),
        "{err}"
    );
}

fn good_file_bytes() -> Vec<u8> {
    let (_dir, path) = file_with_time(
        "REQUIRED INT64 (TIMESTAMP(MILLIS,true))",
        Values::I64(times(50)),
        50,
    );
    std::fs::read(&path).unwrap()
}

#[test]
fn truncated_and_corrupt_files() {
    let bytes = good_file_bytes();
    for cut in [4, bytes.len() / 2, bytes.len() - 9, bytes.len() - 1] {
        let err = load_candles_from_bytes(&bytes[..cut], Format::Parquet, "s3://b/x.parquet")
            .unwrap_err();
        assert!(
            matches!(err, DataError::Parquet { .. }),
            "cut at {cut}: {err}"
        );
        assert_message(&err, &["s3://b/x.parquet", "not a readable Parquet file"]);
    }
    let err = load_candles_from_bytes(b"timestamp,open\n1,2\n", Format::Parquet, "x.parquet")
        .unwrap_err();
    assert!(matches!(err, DataError::Parquet { .. }), "{err}");
}

#[test]
fn damaged_bytes_never_panic() {
    let bytes = good_file_bytes();
    let len = bytes.len();
    // A sample through the pages, and densely through the footer, where the structure is.
    let positions = (0..len)
        .step_by(97)
        .chain((len.saturating_sub(400)..len).step_by(3));
    for position in positions {
        let mut damaged = bytes.clone();
        damaged[position] ^= 0x5a;
        // Either outcome is fine; what matters is an answer instead of a crash.
        let _ = load_candles_from_bytes(&damaged, Format::Parquet, "x.parquet");
    }
}

#[test]
fn empty_files() {
    let err = load_candles_from_bytes(b"", Format::Parquet, "x.parquet").unwrap_err();
    assert!(matches!(err, DataError::Empty { .. }), "{err}");
    let (_dir, path) = file_with_time("REQUIRED INT64", Values::I64(vec![]), 0);
    let err = load_candles(&path).unwrap_err();
    assert!(matches!(err, DataError::Empty { .. }), "{err}");
    assert_message(&err, &["candles.parquet", "no candles", "no rows"]);
}
