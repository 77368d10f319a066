//! The writers: CSV that re-reads bit-identically and snappy-compressed Parquet.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

use barwise_engine::Candles;
use parquet::basic::Compression;
use parquet::data_type::{DoubleType, Int64Type};
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;

use crate::error::DataError;
use crate::timestamp;

fn io_error(path: &Path, operation: &'static str) -> impl FnOnce(std::io::Error) -> DataError {
    let path = path.display().to_string();
    move |error| DataError::Io {
        path,
        operation,
        error,
    }
}

/// Writes candles as CSV (see [`crate::write_candles_csv`]).
pub(crate) fn csv(candles: &Candles, path: &Path) -> Result<(), DataError> {
    let file = File::create(path).map_err(io_error(path, "cannot create the file"))?;
    let mut out = BufWriter::with_capacity(1 << 16, file);
    write_rows(candles, &mut out)
        .and_then(|()| out.flush())
        .map_err(io_error(path, "cannot write the file"))
}

fn write_rows(candles: &Candles, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(out, "timestamp,open,high,low,close,volume")?;
    let rows = candles
        .time_ms()
        .iter()
        .zip(candles.open())
        .zip(candles.high())
        .zip(candles.low())
        .zip(candles.close())
        .zip(candles.volume());
    for (((((time, open), high), low), close), volume) in rows {
        let time = timestamp::format_rfc3339(*time);
        writeln!(out, "{time},{open},{high},{low},{close},{volume}")?;
    }
    Ok(())
}

/// Rows per row group written; larger series get several row groups.
const ROWS_PER_GROUP: usize = 1 << 20;

const SCHEMA: &str = "message candles {
    REQUIRED INT64 timestamp (TIMESTAMP(MILLIS,true));
    REQUIRED DOUBLE open;
    REQUIRED DOUBLE high;
    REQUIRED DOUBLE low;
    REQUIRED DOUBLE close;
    REQUIRED DOUBLE volume;
}";

/// Writes candles as Parquet (see [`crate::write_candles_parquet`]).
pub(crate) fn parquet(candles: &Candles, path: &Path) -> Result<(), DataError> {
    let file = File::create(path).map_err(io_error(path, "cannot create the file"))?;
    write_parquet(candles, BufWriter::with_capacity(1 << 16, file)).map_err(|e| {
        DataError::Parquet {
            source_name: path.display().to_string(),
            detail: format!("cannot write the Parquet file: {e}"),
        }
    })
}

fn write_parquet(candles: &Candles, out: BufWriter<File>) -> Result<(), ParquetError> {
    let schema = Arc::new(parse_message_type(SCHEMA)?);
    let properties = Arc::new(
        WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            // Prices rarely repeat enough for a dictionary to pay off; plain pages read fastest.
            .set_dictionary_enabled(false)
            .build(),
    );
    let mut writer = SerializedFileWriter::new(out, schema, properties)?;
    let len = candles.len();
    let mut start = 0;
    while start < len {
        let end = (start + ROWS_PER_GROUP).min(len);
        let mut group = writer.next_row_group()?;
        if let Some(mut column) = group.next_column()? {
            column
                .typed::<Int64Type>()
                .write_batch(&candles.time_ms()[start..end], None, None)?;
            column.close()?;
        }
        for values in [
            candles.open(),
            candles.high(),
            candles.low(),
            candles.close(),
            candles.volume(),
        ] {
            if let Some(mut column) = group.next_column()? {
                column
                    .typed::<DoubleType>()
                    .write_batch(&values[start..end], None, None)?;
                column.close()?;
            }
        }
        group.close()?;
        start = end;
    }
    // Writes the footer, then flushes the buffer (reporting a failure to do so).
    writer
        .into_inner()?
        .into_inner()
        .map_err(|e| ParquetError::External(Box::new(e.into_error())))?;
    Ok(())
}
