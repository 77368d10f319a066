//! Execution settings: how intents become fills, and what they cost.

use serde::{Deserialize, Serialize};

/// When a signal produced at bar `i` is executed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fill {
    /// At the open of bar `i + 1` (the default: the signal is only known once bar `i` closed).
    #[default]
    NextOpen,
    /// At the close of bar `i`.
    Close,
}

impl Fill {
    /// `next_open` or `close`, as in reports and job files.
    pub fn as_str(self) -> &'static str {
        match self {
            Fill::NextOpen => "next_open",
            Fill::Close => "close",
        }
    }
}

impl std::str::FromStr for Fill {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "next_open" => Ok(Fill::NextOpen),
            "close" => Ok(Fill::Close),
            other => Err(format!(
                "expected \"next_open\" or \"close\", got {other:?}"
            )),
        }
    }
}

/// Everything that decides how intents are executed. All fractions: 0.001 means 0.1 %.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExecutionSettings {
    /// When signals are filled.
    pub fill: Fill,
    /// Fee as a fraction of notional, charged on each side.
    pub fee: f64,
    /// Adverse price slippage as a fraction of the reference price, on each fill.
    pub slippage: f64,
    /// Fraction of current equity committed to each entry (fees included).
    pub position_size: f64,
    /// Whether short entries are executed (otherwise they are ignored and counted).
    pub allow_short: bool,
    /// Exit when price moves this fraction against the entry fill.
    pub stop_loss: Option<f64>,
    /// Exit when price moves this fraction in favour of the entry fill.
    pub take_profit: Option<f64>,
    /// Exit when price falls this fraction from the best price since entry (rises, for shorts).
    pub trailing_stop: Option<f64>,
    /// Exit after at most this many bars, whatever the strategy asked for.
    pub max_hold_bars: Option<u32>,
    /// Starting equity.
    pub initial_cash: f64,
}

impl Default for ExecutionSettings {
    fn default() -> Self {
        Self {
            fill: Fill::NextOpen,
            fee: 0.001,
            slippage: 0.0002,
            position_size: 1.0,
            allow_short: false,
            stop_loss: None,
            take_profit: None,
            trailing_stop: None,
            max_hold_bars: None,
            initial_cash: 10_000.0,
        }
    }
}

/// One invalid setting: which one, and what was expected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {expected}, got {got}")]
pub struct SettingError {
    /// Setting name as written in job files and on the command line (`fee`, `stop_loss`, ...).
    pub field: &'static str,
    /// What a valid value looks like.
    pub expected: &'static str,
    /// The value found.
    pub got: String,
}

/// All invalid settings at once.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid execution settings: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct SettingsError(pub Vec<SettingError>);

impl ExecutionSettings {
    /// Checks every setting and reports all problems together.
    ///
    /// # Errors
    /// [`SettingsError`] listing each setting out of range.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let mut problems = Vec::new();
        let mut check = |field, ok: bool, expected, got: f64| {
            if !ok {
                problems.push(SettingError {
                    field,
                    expected,
                    got: got.to_string(),
                });
            }
        };
        check(
            "fee",
            (0.0..1.0).contains(&self.fee),
            "must be >= 0 and < 1",
            self.fee,
        );
        check(
            "slippage",
            (0.0..1.0).contains(&self.slippage),
            "must be >= 0 and < 1",
            self.slippage,
        );
        check(
            "position_size",
            self.position_size > 0.0 && self.position_size <= 1.0,
            "must be > 0 and <= 1",
            self.position_size,
        );
        check(
            "initial_cash",
            self.initial_cash.is_finite() && self.initial_cash > 0.0,
            "must be a finite number > 0",
            self.initial_cash,
        );
        for (field, value) in [
            ("stop_loss", self.stop_loss),
            ("trailing_stop", self.trailing_stop),
        ] {
            if let Some(v) = value {
                check(field, v > 0.0 && v < 1.0, "must be > 0 and < 1", v);
            }
        }
        if let Some(v) = self.take_profit {
            check(
                "take_profit",
                v.is_finite() && v > 0.0,
                "must be a finite number > 0",
                v,
            );
        }
        if self.max_hold_bars == Some(0) {
            problems.push(SettingError {
                field: "max_hold_bars",
                expected: "must be >= 1",
                got: "0".into(),
            });
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(SettingsError(problems))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_documented_values() {
        let s = ExecutionSettings::default();
        assert_eq!(s.fill, Fill::NextOpen);
        assert_eq!(s.fee, 0.001);
        assert_eq!(s.slippage, 0.0002);
        assert_eq!(s.position_size, 1.0);
        s.validate().unwrap();
    }

    #[test]
    fn reports_every_bad_setting() {
        let s = ExecutionSettings {
            fee: -0.1,
            position_size: 1.5,
            stop_loss: Some(0.0),
            max_hold_bars: Some(0),
            ..ExecutionSettings::default()
        };
        let err = s.validate().unwrap_err();
        let fields: Vec<_> = err.0.iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            ["fee", "position_size", "stop_loss", "max_hold_bars"]
        );
        assert!(
            err.to_string()
                .contains("fee: must be >= 0 and < 1, got -0.1")
        );
    }
}
