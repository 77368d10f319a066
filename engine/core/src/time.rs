//! Timestamps as epoch milliseconds that read and write as RFC 3339 text.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time, epoch milliseconds UTC. Serialised as RFC 3339 (`2018-01-10T04:55:00Z`) so
/// reports are readable; milliseconds appear only when they are not zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeMs(pub i64);

impl TimeMs {
    /// RFC 3339 text of this instant, or the raw number if it is outside chrono's range.
    pub fn to_rfc3339(self) -> String {
        match DateTime::<Utc>::from_timestamp_millis(self.0) {
            Some(t) if self.0 % 1000 == 0 => t.to_rfc3339_opts(SecondsFormat::Secs, true),
            Some(t) => t.to_rfc3339_opts(SecondsFormat::Millis, true),
            None => self.0.to_string(),
        }
    }
}

impl fmt::Display for TimeMs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for TimeMs {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for TimeMs {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if let Ok(ms) = text.parse::<i64>() {
            return Ok(TimeMs(ms));
        }
        DateTime::parse_from_rfc3339(&text)
            .map(|t| TimeMs(t.timestamp_millis()))
            .map_err(|e| serde::de::Error::custom(format!("invalid RFC 3339 time {text:?}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_whole_seconds_and_millis() {
        assert_eq!(
            TimeMs(1_515_560_100_000).to_rfc3339(),
            "2018-01-10T04:55:00Z"
        );
        assert_eq!(
            TimeMs(1_515_560_100_123).to_rfc3339(),
            "2018-01-10T04:55:00.123Z"
        );
    }

    #[test]
    fn json_round_trip() {
        let t = TimeMs(1_515_560_100_123);
        let text = serde_json::to_string(&t).unwrap();
        assert_eq!(serde_json::from_str::<TimeMs>(&text).unwrap(), t);
    }
}
