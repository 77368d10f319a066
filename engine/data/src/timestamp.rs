//! Timestamp text to epoch milliseconds (with a fast path for `YYYY-MM-DDTHH:MM:SSZ`) and back.

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};

/// What the CSV loader accepts in its time column, for error messages.
pub(crate) const EXPECTED_TEXT: &str = "an RFC 3339 timestamp (e.g. 2018-01-10T04:55:00Z), a date \
     YYYY-MM-DD, a UTC date-time YYYY-MM-DD HH:MM:SS or integer epoch milliseconds";

/// What a timestamp must be after unit conversion.
pub(crate) const EXPECTED_WHOLE_MS: &str = "a whole number of milliseconds";

/// Why a timestamp was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimestampError {
    /// Not in any accepted form.
    Invalid,
    /// Valid, but finer than a millisecond.
    SubMillisecond,
}

const MS_PER_DAY: i64 = 86_400_000;

/// Parses one timestamp cell. Accepted: RFC 3339 (any offset, fractional seconds down to the
/// millisecond), `YYYY-MM-DD` (midnight UTC), `YYYY-MM-DD HH:MM:SS[.fff]` or with a `T` separator
/// and no zone (UTC), or an integer epoch in milliseconds. Surrounding ASCII whitespace is ignored.
pub(crate) fn parse_timestamp(bytes: &[u8]) -> Result<i64, TimestampError> {
    if let Some(ms) = parse_fast(bytes) {
        return Ok(ms);
    }
    parse_general(bytes.trim_ascii())
}

/// The common shapes without chrono: `YYYY-MM-DDTHH:MM:SSZ`, `YYYY-MM-DD HH:MM:SS` (or `T`) and
/// `YYYY-MM-DD`. Returns `None` for anything else, including invalid dates, so that the general
/// path decides.
#[inline]
fn parse_fast(b: &[u8]) -> Option<i64> {
    let date_ms = match b.len() {
        10 | 19 | 20 => parse_date(b)?,
        _ => return None,
    };
    if b.len() == 10 {
        return Some(date_ms);
    }
    if !(b[10] == b'T' || b[10] == b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if b.len() == 20 && (b[19] != b'Z' || b[10] != b'T') {
        return None;
    }
    let hour = two_digits(b[11], b[12])?;
    let minute = two_digits(b[14], b[15])?;
    let second = two_digits(b[17], b[18])?;
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    Some(date_ms + (i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second)) * 1000)
}

/// `YYYY-MM-DD` at the start of `b` (which is at least 10 bytes), as epoch ms of its midnight.
#[inline]
fn parse_date(b: &[u8]) -> Option<i64> {
    if b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = i64::from(two_digits(b[0], b[1])?) * 100 + i64::from(two_digits(b[2], b[3])?);
    let month = two_digits(b[5], b[6])?;
    let day = two_digits(b[8], b[9])?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(year, month, day) * MS_PER_DAY)
}

#[inline]
fn two_digits(a: u8, b: u8) -> Option<u32> {
    if a.is_ascii_digit() && b.is_ascii_digit() {
        Some(u32::from(a - b'0') * 10 + u32::from(b - b'0'))
    } else {
        None
    }
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn parse_general(b: &[u8]) -> Result<i64, TimestampError> {
    let digits = b.strip_prefix(b"-").unwrap_or(b);
    if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) {
        // Integer epoch milliseconds; the text is ASCII, so it is valid UTF-8.
        return std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
            .ok_or(TimestampError::Invalid);
    }
    let text = std::str::from_utf8(b).map_err(|_| TimestampError::Invalid)?;
    if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
        return whole_millis(dt.timestamp_millis(), dt.timestamp_subsec_nanos());
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, format) {
            let dt = naive.and_utc();
            return whole_millis(dt.timestamp_millis(), dt.timestamp_subsec_nanos());
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(date
            .and_time(chrono::NaiveTime::MIN)
            .and_utc()
            .timestamp_millis());
    }
    Err(TimestampError::Invalid)
}

fn whole_millis(ms: i64, subsec_nanos: u32) -> Result<i64, TimestampError> {
    if subsec_nanos % 1_000_000 == 0 {
        Ok(ms)
    } else {
        Err(TimestampError::SubMillisecond)
    }
}

/// Epoch milliseconds as RFC 3339 UTC with a `Z` (milliseconds shown only when not zero), or
/// `"<ms> ms"` when out of chrono's range.
pub(crate) fn format_rfc3339(ms: i64) -> String {
    match DateTime::<Utc>::from_timestamp_millis(ms) {
        Some(dt) => dt.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        None => format!("{ms} ms"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chrono_ms(text: &str) -> i64 {
        DateTime::parse_from_rfc3339(text)
            .map(|d| d.timestamp_millis())
            .unwrap()
    }

    #[test]
    fn fast_path_matches_chrono() {
        for text in [
            "2018-01-10T04:55:00Z",
            "1970-01-01T00:00:00Z",
            "1969-12-31T23:59:59Z",
            "2000-02-29T12:34:56Z",
            "2100-03-01T00:00:00Z",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "1600-02-29T01:02:03Z",
        ] {
            assert_eq!(parse_fast(text.as_bytes()), Some(chrono_ms(text)), "{text}");
        }
    }

    #[test]
    fn all_accepted_forms() {
        let base = chrono_ms("2018-01-10T04:55:00Z");
        let midnight = chrono_ms("2018-01-10T00:00:00Z");
        let cases: [(&str, i64); 10] = [
            ("2018-01-10T04:55:00Z", base),
            ("2018-01-10T05:55:00+01:00", base),
            ("2018-01-10T04:55:00.250Z", base + 250),
            ("2018-01-10T04:55:00.5+00:00", base + 500),
            ("2018-01-10", midnight),
            ("2018-01-10 04:55:00", base),
            ("2018-01-10T04:55:00", base),
            ("2018-01-10 04:55:00.125", base + 125),
            ("1515560100000", base),
            ("  2018-01-10T04:55:00Z ", base),
        ];
        for (text, want) in cases {
            assert_eq!(parse_timestamp(text.as_bytes()), Ok(want), "{text}");
        }
        assert_eq!(parse_timestamp(b"-1000"), Ok(-1000));
    }

    #[test]
    fn rejects_bad_forms() {
        for text in [
            "",
            "abc",
            "2018-13-01",
            "2018-02-30",
            "2018-01-10T24:00:00Z",
            "2018-01-10T04:55:00X",
            "99999999999999999999",
            "1.5",
            "2018-01-10T04:55",
        ] {
            assert_eq!(
                parse_timestamp(text.as_bytes()),
                Err(TimestampError::Invalid),
                "{text}"
            );
        }
        assert_eq!(
            parse_timestamp(b"2018-01-10T04:55:00.0001Z"),
            Err(TimestampError::SubMillisecond)
        );
    }

    #[test]
    fn formats_with_z_and_round_trips() {
        for ms in [0, 1_515_560_100_000, 1_515_560_100_123, -1] {
            let text = format_rfc3339(ms);
            assert!(text.ends_with('Z'), "{text}");
            assert_eq!(parse_timestamp(text.as_bytes()), Ok(ms), "{text}");
        }
        assert_eq!(format_rfc3339(1_515_560_100_000), "2018-01-10T04:55:00Z");
    }
}
