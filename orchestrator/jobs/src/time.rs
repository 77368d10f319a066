//! Durations (`"90s"`, `"15m"`, `"2h"`, `"1d"`) and times (`"2018-01-12"`,
//! `"2018-01-20T00:00:00Z"`) as written in job files.

use toml::Value;
use toml::value::{Datetime, Offset};

use crate::error::describe;

/// What a duration looks like, for messages.
pub(crate) const DURATION_EXPECTED: &str = "expected a duration like \"30m\" or \"2h\"";

/// Parses a duration: a whole number followed by one unit, `ms` (milliseconds), `s` (seconds),
/// `m` (minutes), `h` (hours) or `d` (days), with nothing else (`"250ms"`, `"90s"`, `"15m"`,
/// `"2h"`, `"1d"`). Returns milliseconds.
///
/// # Errors
/// A message for text of another form (`"1.5h"`, `"2 h"`, `"h"`, `"5"`, `"-1m"`), a zero
/// duration, or one too large for `u64` milliseconds.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let bad = || format!("{DURATION_EXPECTED}, got {text:?}");
    let (unit_ms, unit_len): (u64, usize) = match text.as_bytes() {
        [.., b'm', b's'] => (1, 2),
        [.., b's'] => (1_000, 1),
        [.., b'm'] => (60_000, 1),
        [.., b'h'] => (3_600_000, 1),
        [.., b'd'] => (86_400_000, 1),
        _ => return Err(bad()),
    };
    // The unit is ASCII, so this slice ends on a character boundary.
    let digits = &text[..text.len() - unit_len];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let ms = digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(unit_ms))
        .ok_or_else(|| format!("duration is too large, got {text:?}"))?;
    if ms == 0 {
        return Err(format!("must be greater than zero, got {text:?}"));
    }
    Ok(ms)
}

/// A duration value of a job file: a string in [`parse_duration`]'s syntax.
pub(crate) fn duration_value(value: &Value) -> Result<u64, String> {
    match value {
        Value::String(text) => parse_duration(text),
        other => Err(format!("{DURATION_EXPECTED}, got {}", describe(other))),
    }
}

/// What a time looks like, for messages.
const TIME_EXPECTED: &str =
    "expected an RFC 3339 time like \"2018-01-20T00:00:00Z\" or a date like \"2018-01-20\"";

/// A time value of a job file as epoch milliseconds: an RFC 3339 time with an offset
/// (`"2018-01-20T12:30:00Z"`, `"2018-01-20T14:30:00+02:00"`), or a date (`"2018-01-20"`), which
/// means midnight UTC. Both may also be written as TOML date-times, without quotes.
pub(crate) fn time_value(value: &Value) -> Result<i64, String> {
    let datetime = match value {
        Value::String(text) => text
            .parse::<Datetime>()
            .map_err(|_| format!("{TIME_EXPECTED}, got {text:?}"))?,
        Value::Datetime(datetime) => *datetime,
        other => return Err(format!("{TIME_EXPECTED}, got {}", describe(other))),
    };
    let shown = describe(value);
    let Some(date) = datetime.date else {
        return Err(format!(
            "{TIME_EXPECTED}, got {shown} (a time without a date)"
        ));
    };
    let days = days_from_civil(i64::from(date.year), date.month, date.day);
    let mut ms = days * 86_400_000;
    match (datetime.time, datetime.offset) {
        (None, _) => {}
        (Some(_), None) => {
            return Err(format!(
                "{TIME_EXPECTED}, got {shown} (a time needs an offset such as \"Z\"; \
                 times are UTC)"
            ));
        }
        (Some(time), Some(offset)) => {
            ms += i64::from(time.hour) * 3_600_000
                + i64::from(time.minute) * 60_000
                + i64::from(time.second.unwrap_or(0)) * 1_000
                + i64::from(time.nanosecond.unwrap_or(0) / 1_000_000);
            if let Offset::Custom { minutes } = offset {
                ms -= i64::from(minutes) * 60_000;
            }
        }
    }
    Ok(ms)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u8, day: u8) -> i64 {
    let (month, day) = (i64::from(month), i64::from(day));
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_days_match_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2018, 1, 12), 17_543);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(
            days_from_civil(2024, 2, 29) + 1,
            days_from_civil(2024, 3, 1)
        );
    }

    #[test]
    fn times_with_offsets_and_dates() {
        let s = |t: &str| time_value(&Value::String(t.into()));
        assert_eq!(s("2018-01-12"), Ok(1_515_715_200_000));
        assert_eq!(s("2018-01-12T00:00:00Z"), Ok(1_515_715_200_000));
        assert_eq!(s("2018-01-12T02:00:00+02:00"), Ok(1_515_715_200_000));
        assert_eq!(s("2018-01-12T00:00:00.250Z"), Ok(1_515_715_200_250));
        assert!(
            s("2018-01-12T00:00:00")
                .unwrap_err()
                .contains("needs an offset")
        );
        assert!(s("12:00:00").unwrap_err().contains("without a date"));
        assert!(s("2018-02-30").unwrap_err().contains("got \"2018-02-30\""));
        assert!(
            time_value(&Value::Integer(5))
                .unwrap_err()
                .ends_with("got 5")
        );
    }
}
