//! A small columnar Parquet writer (snappy, one row group per 1 M rows) for the archive's
//! tables, with the logical types analysts' tools expect: UTC millisecond timestamps, UTF-8
//! strings, optional values as nulls.

use std::sync::Arc;

use parquet::basic::Compression;
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;

/// One column: a name and its values.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// 64-bit integers.
    Int(&'static str, Vec<i64>),
    /// Epoch milliseconds, stored as `TIMESTAMP(MILLIS, UTC)`.
    Time(&'static str, Vec<i64>),
    /// 64-bit floats.
    Float(&'static str, Vec<f64>),
    /// 64-bit floats or null.
    OptFloat(&'static str, Vec<Option<f64>>),
    /// Optional 64-bit integers.
    OptInt(&'static str, Vec<Option<i64>>),
    /// UTF-8 strings.
    Text(&'static str, Vec<String>),
    /// UTF-8 strings or null.
    OptText(&'static str, Vec<Option<String>>),
}

impl Column {
    fn len(&self) -> usize {
        match self {
            Column::Int(_, v) | Column::Time(_, v) => v.len(),
            Column::Float(_, v) => v.len(),
            Column::OptFloat(_, v) => v.len(),
            Column::OptInt(_, v) => v.len(),
            Column::Text(_, v) => v.len(),
            Column::OptText(_, v) => v.len(),
        }
    }

    fn schema_line(&self) -> String {
        match self {
            Column::Int(n, _) => format!("REQUIRED INT64 {n};"),
            Column::Time(n, _) => format!("REQUIRED INT64 {n} (TIMESTAMP(MILLIS,true));"),
            Column::Float(n, _) => format!("REQUIRED DOUBLE {n};"),
            Column::OptFloat(n, _) => format!("OPTIONAL DOUBLE {n};"),
            Column::OptInt(n, _) => format!("OPTIONAL INT64 {n};"),
            Column::Text(n, _) => format!("REQUIRED BYTE_ARRAY {n} (STRING);"),
            Column::OptText(n, _) => format!("OPTIONAL BYTE_ARRAY {n} (STRING);"),
        }
    }
}

const ROWS_PER_GROUP: usize = 1 << 20;

/// The Parquet file of `columns` (all of one length) as bytes.
///
/// # Errors
/// Parquet encoding errors; columns of different lengths.
pub fn parquet_bytes(table: &str, columns: &[Column]) -> Result<Vec<u8>, ParquetError> {
    let rows = columns.first().map_or(0, Column::len);
    if columns.iter().any(|c| c.len() != rows) {
        return Err(ParquetError::General("columns of different lengths".into()));
    }
    let schema_text = format!(
        "message {table} {{ {} }}",
        columns
            .iter()
            .map(Column::schema_line)
            .collect::<Vec<_>>()
            .join(" ")
    );
    let schema = Arc::new(parse_message_type(&schema_text)?);
    let properties = Arc::new(
        WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build(),
    );
    let mut out = Vec::new();
    let mut writer = SerializedFileWriter::new(&mut out, schema, properties)?;
    let mut start = 0;
    loop {
        let end = (start + ROWS_PER_GROUP).min(rows);
        let mut group = writer.next_row_group()?;
        for column in columns {
            let Some(mut writer) = group.next_column()? else {
                break;
            };
            match column {
                Column::Int(_, v) | Column::Time(_, v) => {
                    writer
                        .typed::<Int64Type>()
                        .write_batch(&v[start..end], None, None)?;
                }
                Column::Float(_, v) => {
                    writer
                        .typed::<DoubleType>()
                        .write_batch(&v[start..end], None, None)?;
                }
                Column::OptFloat(_, v) => {
                    let slice = &v[start..end];
                    let values: Vec<f64> = slice.iter().flatten().copied().collect();
                    let levels: Vec<i16> = slice.iter().map(|x| i16::from(x.is_some())).collect();
                    writer
                        .typed::<DoubleType>()
                        .write_batch(&values, Some(&levels), None)?;
                }
                Column::OptInt(_, v) => {
                    let slice = &v[start..end];
                    let values: Vec<i64> = slice.iter().flatten().copied().collect();
                    let levels: Vec<i16> = slice.iter().map(|x| i16::from(x.is_some())).collect();
                    writer
                        .typed::<Int64Type>()
                        .write_batch(&values, Some(&levels), None)?;
                }
                Column::Text(_, v) => {
                    let values: Vec<ByteArray> = v[start..end]
                        .iter()
                        .map(|s| ByteArray::from(s.as_str()))
                        .collect();
                    writer
                        .typed::<ByteArrayType>()
                        .write_batch(&values, None, None)?;
                }
                Column::OptText(_, v) => {
                    let slice = &v[start..end];
                    let values: Vec<ByteArray> = slice
                        .iter()
                        .flatten()
                        .map(|s| ByteArray::from(s.as_str()))
                        .collect();
                    let levels: Vec<i16> = slice.iter().map(|x| i16::from(x.is_some())).collect();
                    writer
                        .typed::<ByteArrayType>()
                        .write_batch(&values, Some(&levels), None)?;
                }
            }
            writer.close()?;
        }
        group.close()?;
        start = end;
        if start >= rows {
            break;
        }
    }
    writer.close()?;
    Ok(out)
}
