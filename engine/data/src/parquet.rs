//! Parquet: columns found by name and read whole per row group with the parquet crate's typed
//! low-level column readers (no Arrow).

use std::panic::{AssertUnwindSafe, catch_unwind};

use barwise_engine::{CandleColumns, Candles, Field};
use bytes::Bytes;
use parquet::basic::{ConvertedType, LogicalType, TimeUnit, Type as Physical};
use parquet::column::reader::{ColumnReader, ColumnReaderImpl};
use parquet::data_type::{DataType, DoubleType, Int64Type, Int96};
use parquet::errors::ParquetError;
use parquet::file::reader::{FileReader, RowGroupReader, SerializedFileReader};
use parquet::schema::types::ColumnDescriptor;

use crate::error::{DataError, Location};
use crate::timestamp::EXPECTED_WHOLE_MS;

const EXPECTED_TIME_TYPES: &str = "INT64 (TIMESTAMP(MILLIS|MICROS|NANOS) or plain epoch \
     milliseconds), INT96 or INT32 DATE";
const EXPECTED_VALUE_TYPES: &str = "DOUBLE, FLOAT, INT32 or INT64 (not DECIMAL), not repeated";

/// How the time column is stored.
#[derive(Debug, Clone, Copy)]
enum TimeKind {
    /// INT64 scaled to milliseconds by dividing by this (1, 1000 or 1,000,000).
    Int64 { per_ms: i64, unit: &'static str },
    /// Legacy INT96 (Julian day + nanoseconds of day).
    Int96,
    /// INT32 days since the epoch.
    Date32,
}

/// How a price or volume column is stored.
#[derive(Debug, Clone, Copy)]
enum ValueKind {
    Double,
    Float,
    Int32 { unsigned: bool },
    Int64 { unsigned: bool },
}

/// Reads candles from a Parquet file held in memory.
pub(crate) fn read(bytes: Bytes, source: &str) -> Result<Candles, DataError> {
    if bytes.is_empty() {
        return Err(DataError::Empty {
            source_name: source.to_owned(),
            detail: "the file is empty",
        });
    }
    // The decoder works on untrusted bytes; should it panic on a malformed file, report that as
    // a corrupt file rather than take the caller down.
    catch_unwind(AssertUnwindSafe(|| read_inner(bytes, source))).unwrap_or_else(|panic| {
        let reason = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("unknown failure");
        Err(DataError::Parquet {
            source_name: source.to_owned(),
            detail: format!("not a readable Parquet file: the decoder failed: {reason}"),
        })
    })
}

fn read_inner(bytes: Bytes, source: &str) -> Result<Candles, DataError> {
    let file_len = bytes.len();
    let reader = SerializedFileReader::new(bytes)
        .map_err(|e| parquet_error(source, "not a readable Parquet file", &e))?;
    let schema = reader.metadata().file_metadata().schema_descr_ptr();
    let descriptors = schema.columns();
    let original: Vec<String> = descriptors.iter().map(|d| d.path().string()).collect();
    let names: Vec<String> = original.iter().map(|n| n.trim().to_lowercase()).collect();
    let positions = crate::find_columns(&names, &original, source)?;
    let [ts, open, high, low, close, volume] = positions;

    let column = |position: usize| -> Result<&ColumnDescriptor, DataError> {
        descriptors
            .get(position)
            .map(|d| d.as_ref())
            .ok_or_else(|| malformed(source, format!("no column at position {position}")))
    };
    let time_kind = time_kind(column(ts)?, source)?;
    let value_columns = [
        (open, Field::Open),
        (high, Field::High),
        (low, Field::Low),
        (close, Field::Close),
        (volume, Field::Volume),
    ];
    let mut value_kinds = [ValueKind::Double; 5];
    for (kind, &(position, field)) in value_kinds.iter_mut().zip(&value_columns) {
        *kind = value_kind(column(position)?, field, source)?;
    }

    // Row counts come from the (untrusted) footer: reserve no more rows than the file has bytes.
    let max_reserve = file_len;
    let total_rows = reader
        .metadata()
        .row_groups()
        .iter()
        .map(|g| usize::try_from(g.num_rows()).unwrap_or(0))
        .fold(0usize, usize::saturating_add);
    let mut columns = CandleColumns::with_capacity(total_rows.min(max_reserve));
    let mut row_base = 0usize;
    for group_index in 0..reader.num_row_groups() {
        let group = reader
            .get_row_group(group_index)
            .map_err(|e| parquet_error(source, "cannot read a row group", &e))?;
        let rows = usize::try_from(group.metadata().num_rows()).map_err(|_| {
            malformed(
                source,
                format!("row group {group_index} has a negative row count"),
            )
        })?;
        let chunk = Chunk {
            group: group.as_ref(),
            rows,
            row_base,
            max_reserve,
            source,
        };
        chunk.read_time(ts, time_kind, &mut columns.time_ms)?;
        let outputs = [
            &mut columns.open,
            &mut columns.high,
            &mut columns.low,
            &mut columns.close,
            &mut columns.volume,
        ];
        for ((out, &(position, field)), kind) in
            outputs.into_iter().zip(&value_columns).zip(value_kinds)
        {
            chunk.read_values(position, field, kind, out)?;
        }
        row_base = row_base.saturating_add(rows);
    }
    crate::finish(columns, source, "the file has no rows", Location::Row)
}

fn time_kind(column: &ColumnDescriptor, source: &str) -> Result<TimeKind, DataError> {
    let kind = if column.max_rep_level() > 0 {
        None
    } else {
        match (column.physical_type(), column.logical_type_ref()) {
            (Physical::INT64, Some(LogicalType::Timestamp(t))) => Some(match t.unit {
                TimeUnit::MILLIS => int64_ms(1, "ms"),
                TimeUnit::MICROS => int64_ms(1_000, "µs"),
                TimeUnit::NANOS => int64_ms(1_000_000, "ns"),
            }),
            (Physical::INT64, Some(LogicalType::Integer(_)) | None) => {
                match column.converted_type() {
                    ConvertedType::TIMESTAMP_MICROS => Some(int64_ms(1_000, "µs")),
                    ConvertedType::TIMESTAMP_MILLIS
                    | ConvertedType::NONE
                    | ConvertedType::INT_64 => Some(int64_ms(1, "ms")),
                    _ => None,
                }
            }
            (Physical::INT96, None) => Some(TimeKind::Int96),
            (Physical::INT32, Some(LogicalType::Date)) => Some(TimeKind::Date32),
            (Physical::INT32, None) if column.converted_type() == ConvertedType::DATE => {
                Some(TimeKind::Date32)
            }
            _ => None,
        }
    };
    kind.ok_or_else(|| unsupported(column, Field::Timestamp, EXPECTED_TIME_TYPES, source))
}

fn int64_ms(per_ms: i64, unit: &'static str) -> TimeKind {
    TimeKind::Int64 { per_ms, unit }
}

fn value_kind(
    column: &ColumnDescriptor,
    field: Field,
    source: &str,
) -> Result<ValueKind, DataError> {
    let unsigned = match column.logical_type_ref() {
        None => matches!(
            column.converted_type(),
            ConvertedType::UINT_8
                | ConvertedType::UINT_16
                | ConvertedType::UINT_32
                | ConvertedType::UINT_64
        ),
        Some(LogicalType::Integer(int)) => !int.is_signed,
        Some(_) => return Err(unsupported(column, field, EXPECTED_VALUE_TYPES, source)),
    };
    let plain = matches!(
        column.converted_type(),
        ConvertedType::NONE
            | ConvertedType::INT_8
            | ConvertedType::INT_16
            | ConvertedType::INT_32
            | ConvertedType::INT_64
            | ConvertedType::UINT_8
            | ConvertedType::UINT_16
            | ConvertedType::UINT_32
            | ConvertedType::UINT_64
    );
    match column.physical_type() {
        _ if column.max_rep_level() > 0 || !plain => {
            Err(unsupported(column, field, EXPECTED_VALUE_TYPES, source))
        }
        Physical::DOUBLE => Ok(ValueKind::Double),
        Physical::FLOAT => Ok(ValueKind::Float),
        Physical::INT32 => Ok(ValueKind::Int32 { unsigned }),
        Physical::INT64 => Ok(ValueKind::Int64 { unsigned }),
        _ => Err(unsupported(column, field, EXPECTED_VALUE_TYPES, source)),
    }
}

/// One row group being read.
struct Chunk<'a> {
    group: &'a dyn RowGroupReader,
    rows: usize,
    row_base: usize,
    /// Upper bound for buffer reservations (the file size).
    max_reserve: usize,
    source: &'a str,
}

impl Chunk<'_> {
    fn reader(&self, position: usize) -> Result<ColumnReader, DataError> {
        self.group
            .get_column_reader(position)
            .map_err(|e| parquet_error(self.source, "cannot read a column", &e))
    }

    fn read_time(
        &self,
        position: usize,
        kind: TimeKind,
        out: &mut Vec<i64>,
    ) -> Result<(), DataError> {
        let field = Field::Timestamp;
        let start = out.len();
        match (self.reader(position)?, kind) {
            (ColumnReader::Int64ColumnReader(mut r), TimeKind::Int64 { per_ms, unit }) => {
                self.read_all(&mut r, position, field, out)?;
                if per_ms != 1 {
                    for (offset, value) in out[start..].iter_mut().enumerate() {
                        if *value % per_ms != 0 {
                            return Err(self.sub_ms(offset, format!("{value} {unit}")));
                        }
                        *value /= per_ms;
                    }
                }
            }
            (ColumnReader::Int96ColumnReader(mut r), TimeKind::Int96) => {
                let mut raw = Vec::with_capacity(self.rows.min(self.max_reserve));
                self.read_all(&mut r, position, field, &mut raw)?;
                for (offset, value) in raw.iter().enumerate() {
                    out.push(int96_to_ms(value).ok_or_else(|| {
                        self.sub_ms(offset, format!("INT96 {} ns", value.to_nanos()))
                    })?);
                }
            }
            (ColumnReader::Int32ColumnReader(mut r), TimeKind::Date32) => {
                let mut raw = Vec::with_capacity(self.rows.min(self.max_reserve));
                self.read_all(&mut r, position, field, &mut raw)?;
                out.extend(raw.iter().map(|&days| i64::from(days) * 86_400_000));
            }
            _ => return Err(self.reader_mismatch(position)),
        }
        Ok(())
    }

    fn read_values(
        &self,
        position: usize,
        field: Field,
        kind: ValueKind,
        out: &mut Vec<f64>,
    ) -> Result<(), DataError> {
        match (self.reader(position)?, kind) {
            (ColumnReader::DoubleColumnReader(mut r), ValueKind::Double) => {
                self.read_all::<DoubleType>(&mut r, position, field, out)
            }
            (ColumnReader::FloatColumnReader(mut r), ValueKind::Float) => {
                let mut raw = Vec::with_capacity(self.rows.min(self.max_reserve));
                self.read_all(&mut r, position, field, &mut raw)?;
                out.extend(raw.iter().map(|&v| f64::from(v)));
                Ok(())
            }
            (ColumnReader::Int32ColumnReader(mut r), ValueKind::Int32 { unsigned }) => {
                let mut raw = Vec::with_capacity(self.rows.min(self.max_reserve));
                self.read_all(&mut r, position, field, &mut raw)?;
                if unsigned {
                    out.extend(raw.iter().map(|&v| f64::from(v as u32)));
                } else {
                    out.extend(raw.iter().map(|&v| f64::from(v)));
                }
                Ok(())
            }
            (ColumnReader::Int64ColumnReader(mut r), ValueKind::Int64 { unsigned }) => {
                let mut raw = Vec::with_capacity(self.rows.min(self.max_reserve));
                self.read_all::<Int64Type>(&mut r, position, field, &mut raw)?;
                if unsigned {
                    out.extend(raw.iter().map(|&v| v as u64 as f64));
                } else {
                    out.extend(raw.iter().map(|&v| v as f64));
                }
                Ok(())
            }
            _ => Err(self.reader_mismatch(position)),
        }
    }

    /// Appends the row group's values of one column to `out`, failing on the first null.
    fn read_all<T: DataType>(
        &self,
        reader: &mut ColumnReaderImpl<T>,
        position: usize,
        field: Field,
        out: &mut Vec<T::T>,
    ) -> Result<(), DataError> {
        let start = out.len();
        let max_def = self
            .group
            .metadata()
            .columns()
            .get(position)
            .map_or(0, |c| c.column_descr().max_def_level());
        let optional = max_def > 0;
        let mut levels = Vec::new();
        let mut records = 0;
        while records < self.rows {
            let def_levels = optional.then_some(&mut levels);
            let (read, _, _) = reader
                .read_records(self.rows - records, def_levels, None, out)
                .map_err(|e| {
                    parquet_error(self.source, &format!("cannot read column \"{field}\""), &e)
                })?;
            if read == 0 {
                break;
            }
            records += read;
        }
        if let Some(offset) = levels.iter().position(|&level| level < max_def) {
            return Err(DataError::NullValue {
                source_name: self.source.to_owned(),
                location: Location::Row(self.row_base + offset),
                field,
            });
        }
        let values = out.len() - start;
        if records != self.rows || values != self.rows {
            return Err(malformed(
                self.source,
                format!(
                    "column \"{field}\" holds {values} values in a row group of {} rows starting \
                     at row {}",
                    self.rows, self.row_base
                ),
            ));
        }
        Ok(())
    }

    fn sub_ms(&self, offset: usize, found: String) -> DataError {
        DataError::InvalidTimestamp {
            source_name: self.source.to_owned(),
            location: Location::Row(self.row_base + offset),
            expected: EXPECTED_WHOLE_MS,
            found,
        }
    }

    fn reader_mismatch(&self, position: usize) -> DataError {
        malformed(
            self.source,
            format!("column {position} changed type between the schema and a row group"),
        )
    }
}

/// Milliseconds since the epoch of a legacy INT96 timestamp, or `None` when it is not a whole
/// millisecond.
fn int96_to_ms(value: &Int96) -> Option<i64> {
    const JULIAN_DAY_OF_EPOCH: i64 = 2_440_588;
    let &[low, high, day] = value.data() else {
        return None;
    };
    let nanos_of_day = (i64::from(high) << 32) | i64::from(low);
    if nanos_of_day % 1_000_000 != 0 {
        return None;
    }
    Some((i64::from(day) - JULIAN_DAY_OF_EPOCH) * 86_400_000 + nanos_of_day / 1_000_000)
}

fn parquet_error(source: &str, context: &str, error: &ParquetError) -> DataError {
    DataError::Parquet {
        source_name: source.to_owned(),
        detail: format!("{context}: {error}"),
    }
}

fn malformed(source: &str, detail: String) -> DataError {
    DataError::Malformed {
        source_name: source.to_owned(),
        detail,
    }
}

fn unsupported(
    column: &ColumnDescriptor,
    field: Field,
    expected: &'static str,
    source: &str,
) -> DataError {
    let mut found = column.physical_type().to_string();
    if let Some(logical) = column.logical_type_ref() {
        found.push_str(&format!(" ({logical:?})"));
    } else if column.converted_type() != ConvertedType::NONE {
        found.push_str(&format!(" ({})", column.converted_type()));
    }
    if column.max_rep_level() > 0 {
        found.push_str(", repeated");
    }
    DataError::UnsupportedColumnType {
        source_name: source.to_owned(),
        column: column.path().string(),
        field,
        found,
        expected,
    }
}
