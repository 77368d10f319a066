//! CSV: columns chosen by header name, records streamed as `csv::ByteRecord`s and parsed straight
//! from bytes.

use std::io::Read;

use barwise_engine::{CandleColumns, Candles, Field};
use csv::ByteRecord;

use crate::error::{DataError, Location, quote};
use crate::timestamp::{self, TimestampError};

/// Rough bytes per CSV row, to reserve column capacity from the input size.
const BYTES_PER_ROW_ESTIMATE: u64 = 64;
/// Cap on the reservation, so that a huge size hint cannot reserve absurd amounts up front.
const MAX_RESERVED_ROWS: u64 = 16 << 20;

/// Reads candles from CSV. `size_hint` is the input size in bytes (0 if unknown).
pub(crate) fn read<R: Read>(input: R, size_hint: u64, source: &str) -> Result<Candles, DataError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(1 << 16)
        .from_reader(input);
    let mut record = ByteRecord::new();
    if !read_record(&mut reader, &mut record, source)? {
        return Err(DataError::Empty {
            source_name: source.to_owned(),
            detail: "the file is empty",
        });
    }
    let original: Vec<String> = record
        .iter()
        .map(|name| {
            String::from_utf8_lossy(name)
                .trim_start_matches('\u{feff}')
                .trim()
                .to_owned()
        })
        .collect();
    let names: Vec<String> = original.iter().map(|n| n.to_lowercase()).collect();
    let [ts, open, high, low, close, volume] = crate::find_columns(&names, &original, source)?;
    let width = record.len();

    let reserve = (size_hint / BYTES_PER_ROW_ESTIMATE).min(MAX_RESERVED_ROWS);
    let mut columns = CandleColumns::with_capacity(usize::try_from(reserve).unwrap_or(0));
    let mut lines = LineMap::default();
    while read_record(&mut reader, &mut record, source)? {
        let line = record.position().map_or(0, csv::Position::line);
        if record.len() != width {
            return Err(DataError::WrongArity {
                source_name: source.to_owned(),
                location: Location::Line(line),
                expected: width,
                found: record.len(),
            });
        }
        lines.note(columns.len(), line);
        let cell = Cell {
            record: &record,
            line,
            source,
        };
        columns.push(
            cell.timestamp(ts)?,
            cell.number(open, Field::Open)?,
            cell.number(high, Field::High)?,
            cell.number(low, Field::Low)?,
            cell.number(close, Field::Close)?,
            cell.number(volume, Field::Volume)?,
        );
    }
    crate::finish(
        columns,
        source,
        "the file has a header but no data rows",
        |index| Location::Line(lines.line(index)),
    )
}

fn read_record<R: Read>(
    reader: &mut csv::Reader<R>,
    record: &mut ByteRecord,
    source: &str,
) -> Result<bool, DataError> {
    reader.read_byte_record(record).map_err(|error| {
        let line = error.position().map(csv::Position::line);
        let detail = error.to_string();
        match error.into_kind() {
            csv::ErrorKind::Io(error) => DataError::Io {
                path: source.to_owned(),
                operation: "cannot read the file",
                error,
            },
            _ => DataError::Csv {
                source_name: source.to_owned(),
                line,
                detail,
            },
        }
    })
}

/// One record being parsed, for error messages.
struct Cell<'a> {
    record: &'a ByteRecord,
    line: u64,
    source: &'a str,
}

impl Cell<'_> {
    #[inline]
    fn bytes(&self, column: usize) -> &[u8] {
        // The record has as many fields as the header (checked by the caller), so every column
        // position found in the header is present.
        self.record.get(column).unwrap_or_default()
    }

    #[inline]
    fn number(&self, column: usize, field: Field) -> Result<f64, DataError> {
        let bytes = self.bytes(column);
        match parse_f64(bytes) {
            Some(value) => Ok(value),
            None => self.number_slow(bytes, field),
        }
    }

    #[cold]
    fn number_slow(&self, bytes: &[u8], field: Field) -> Result<f64, DataError> {
        let trimmed = bytes.trim_ascii();
        if trimmed.is_empty() {
            return Err(self.blank(field));
        }
        parse_f64(trimmed).ok_or_else(|| DataError::NotANumber {
            source_name: self.source.to_owned(),
            location: Location::Line(self.line),
            field,
            found: quote(bytes),
        })
    }

    #[inline]
    fn timestamp(&self, column: usize) -> Result<i64, DataError> {
        let bytes = self.bytes(column);
        timestamp::parse_timestamp(bytes).map_err(|error| {
            if bytes.trim_ascii().is_empty() {
                return self.blank(Field::Timestamp);
            }
            let (expected, found) = match error {
                TimestampError::Invalid => (timestamp::EXPECTED_TEXT, quote(bytes)),
                TimestampError::SubMillisecond => (
                    timestamp::EXPECTED_WHOLE_MS,
                    format!("{} (finer than a millisecond)", quote(bytes)),
                ),
            };
            DataError::InvalidTimestamp {
                source_name: self.source.to_owned(),
                location: Location::Line(self.line),
                expected,
                found,
            }
        })
    }

    fn blank(&self, field: Field) -> DataError {
        DataError::BlankValue {
            source_name: self.source.to_owned(),
            location: Location::Line(self.line),
            field,
        }
    }
}

/// Parses a float from ASCII bytes (Rust's syntax: also `NaN` and `inf`, which validation
/// rejects with the line).
#[inline]
fn parse_f64(bytes: &[u8]) -> Option<f64> {
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

/// Maps a candle index to the line its record starts on. Normally `line = index + 2` (header on
/// line 1); blank lines and quoted multi-line fields shift that, so the map stores only the
/// indices where `line - index` changes.
#[derive(Debug, Default)]
struct LineMap {
    /// `(first candle index, line - index)` for each run with the same offset.
    runs: Vec<(usize, u64)>,
}

impl LineMap {
    #[inline]
    fn note(&mut self, index: usize, line: u64) {
        let offset = line.saturating_sub(index as u64);
        if self.runs.last().map(|&(_, o)| o) != Some(offset) {
            self.runs.push((index, offset));
        }
    }

    fn line(&self, index: usize) -> u64 {
        let run = self.runs.partition_point(|&(start, _)| start <= index);
        match run.checked_sub(1).and_then(|r| self.runs.get(r)) {
            Some(&(_, offset)) => index as u64 + offset,
            None => index as u64 + 2,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_map_follows_shifts() {
        let mut map = LineMap::default();
        for (index, line) in [(0, 2), (1, 3), (2, 5), (3, 6), (4, 9)] {
            map.note(index, line);
        }
        let lines: Vec<u64> = (0..5).map(|i| map.line(i)).collect();
        assert_eq!(lines, [2, 3, 5, 6, 9]);
        assert_eq!(map.runs.len(), 3);
    }

    #[test]
    fn blank_lines_and_multiline_fields_keep_line_numbers_right() {
        let text = "timestamp,open,high,low,close,volume,note\n\
                    2018-01-10T04:55:00Z,1,2,0.5,1.5,10,a\n\
                    \n\
                    2018-01-10T05:00:00Z,1,2,0.5,1.5,10,\"two\nlines\"\n\
                    2018-01-10T05:05:00Z,1,2,0.5,1.5,10,b\n\
                    2018-01-10T05:05:00Z,1,2,0.5,1.5,10,c\n";
        let err = read(text.as_bytes(), 0, "x.csv").unwrap_err();
        assert_eq!(err.location(), Some(Location::Line(7)), "{err}");
    }
}
