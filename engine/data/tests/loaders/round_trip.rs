//! Writing then loading gives back the identical series, bit for bit.

use barwise_data::{load_candles, write_candles_csv, write_candles_parquet};
use barwise_engine::{CandleColumns, Candles};

/// Candles with awkward floats (non-terminating binary fractions, tiny and huge magnitudes,
/// subnormals) and timestamps before 1970 and with milliseconds.
fn awkward_candles() -> Candles {
    let mut c = CandleColumns::default();
    c.push(-86_400_000, 0.1 + 0.2, 0.30000000000000004, 0.1, 0.3, 0.0);
    c.push(
        -1,
        5.330000000000001e-05,
        5.330000000000001e-05,
        5.288000000000001e-05,
        5.2900000000000005e-05,
        431401.97869504,
    );
    c.push(0, 1e-300, 1e300, 5e-324, 1e-300, 1.7976931348623157e308);
    c.push(
        1_515_560_100_123,
        0.0984,
        0.0994766,
        0.09828605,
        0.0994766,
        1820.54447418,
    );
    c.push(
        1_515_560_400_000,
        1.0 / 3.0,
        2.0 / 3.0,
        1.0 / 7.0,
        1.0 / 3.0,
        123_456_789.125,
    );
    Candles::new(c).unwrap()
}

/// A longer deterministic walk that spans several CSV buffer refills.
fn walk(n: usize) -> Candles {
    let mut c = CandleColumns::with_capacity(n);
    let mut price = 100.0f64;
    for i in 0..n {
        let step = ((i as f64) * 0.37).sin() * 0.01;
        let open = price;
        let close = price * (1.0 + step);
        let high = open.max(close) * 1.001;
        let low = open.min(close) * 0.999;
        c.push(
            1_600_000_000_000 + i as i64 * 60_000,
            open,
            high,
            low,
            close,
            (i % 97) as f64 * 1.1,
        );
        price = close;
    }
    Candles::new(c).unwrap()
}

#[test]
fn parquet_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    for (name, candles) in [("a.parquet", awkward_candles()), ("b.parquet", walk(5000))] {
        let path = dir.path().join(name);
        write_candles_parquet(&candles, &path).unwrap();
        assert_eq!(load_candles(&path).unwrap(), candles, "{name}");
    }
}

#[test]
fn csv_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    for (name, candles) in [("a.csv", awkward_candles()), ("b.csv", walk(5000))] {
        let path = dir.path().join(name);
        write_candles_csv(&candles, &path).unwrap();
        let loaded = load_candles(&path).unwrap();
        assert_eq!(loaded, candles, "{name}");
        for (a, b) in loaded.volume().iter().zip(candles.volume()) {
            assert_eq!(a.to_bits(), b.to_bits());
        }
    }
    let path = dir.path().join("a.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("timestamp,open,high,low,close,volume"));
    assert_eq!(
        lines.next(),
        Some("1969-12-31T00:00:00Z,0.30000000000000004,0.30000000000000004,0.1,0.3,0")
    );
}

#[test]
fn written_parquet_has_the_documented_schema() {
    use parquet::basic::{Compression, LogicalType, TimeUnit, Type};
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.parquet");
    write_candles_parquet(&walk(10), &path).unwrap();
    let reader = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
    let schema = reader.metadata().file_metadata().schema_descr_ptr();
    let names: Vec<&str> = schema.columns().iter().map(|c| c.name()).collect();
    assert_eq!(
        names,
        ["timestamp", "open", "high", "low", "close", "volume"]
    );
    let ts = schema.column(0);
    assert_eq!(ts.physical_type(), Type::INT64);
    assert!(matches!(
        ts.logical_type_ref(),
        Some(LogicalType::Timestamp(t)) if t.is_adjusted_to_u_t_c && t.unit == TimeUnit::MILLIS
    ));
    for column in &schema.columns()[1..] {
        assert_eq!(column.physical_type(), Type::DOUBLE);
    }
    let group = reader.metadata().row_group(0);
    for column in group.columns() {
        assert_eq!(column.compression(), Compression::SNAPPY);
    }
}
