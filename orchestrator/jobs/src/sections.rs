//! The `[job]` and `[execution]` sections of a job file.

use barwise_engine::{ExecutionSettings, Fill};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use toml::Value;

use crate::error::{Problems, check_keys, describe, key_path, optional_table};
use crate::time::duration_value;

/// Keys of `[job]`.
pub(crate) const JOB_KEYS: [&str; 3] = ["name", "timeout", "schedule"];

/// Keys of `[execution]`: the fields of [`ExecutionSettings`].
pub(crate) const EXECUTION_KEYS: [&str; 10] = [
    "fill",
    "fee",
    "slippage",
    "position_size",
    "allow_short",
    "stop_loss",
    "take_profit",
    "trailing_stop",
    "max_hold_bars",
    "initial_cash",
];

/// Timeout of a job that sets none: one hour.
pub const DEFAULT_TIMEOUT_MS: u64 = 3_600_000;

/// The `[job]` section, checked.
#[derive(Debug)]
pub(crate) struct JobSection {
    pub(crate) name: String,
    pub(crate) timeout_ms: u64,
    pub(crate) schedule: Option<String>,
}

/// Parses a schedule: a cron expression of 5 fields (minute, hour, day of month, month, day of
/// week) or 6 (seconds first), evaluated in UTC. Croner's extensions are accepted (`L`, `W`,
/// `#`, names like `MON` and `JAN`, nicknames like `@daily`).
///
/// # Errors
/// A message quoting the expression and croner's reason.
pub fn parse_schedule(expression: &str) -> Result<Cron, String> {
    CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .build()
        .parse(expression)
        .map_err(|e| format!("invalid cron expression {expression:?}: {e}"))
}

/// Checks `[job]`; problems go to `problems` and leave defaults in the result.
pub(crate) fn job(value: Option<&Value>, problems: &mut Problems) -> JobSection {
    let mut section = JobSection {
        name: String::new(),
        timeout_ms: DEFAULT_TIMEOUT_MS,
        schedule: None,
    };
    let empty = toml::Table::new();
    let table = optional_table(value, "job", problems).unwrap_or(&empty);
    check_keys(table, "job", &JOB_KEYS, problems);
    match table.get("name") {
        None => problems.add("job.name", "missing (required)"),
        Some(Value::String(name)) if name.trim().is_empty() => {
            problems.add("job.name", "must not be empty");
        }
        Some(Value::String(name)) => section.name.clone_from(name),
        Some(other) => problems.add(
            "job.name",
            format!("expected a string, got {}", describe(other)),
        ),
    }
    if let Some(value) = table.get("timeout") {
        match duration_value(value) {
            Ok(ms) => section.timeout_ms = ms,
            Err(message) => problems.add("job.timeout", message),
        }
    }
    match table.get("schedule") {
        None => {}
        Some(Value::String(expression)) => match parse_schedule(expression) {
            Ok(_) => section.schedule = Some(expression.clone()),
            Err(message) => problems.add("job.schedule", message),
        },
        Some(other) => problems.add(
            "job.schedule",
            format!(
                "expected a cron expression like \"0 2 * * *\", got {}",
                describe(other)
            ),
        ),
    }
    section
}

fn number(value: &Value) -> Result<f64, String> {
    match value {
        Value::Float(x) => Ok(*x),
        Value::Integer(i) => Ok(*i as f64),
        other => Err(format!("expected a number, got {}", describe(other))),
    }
}

fn boolean(value: &Value) -> Result<bool, String> {
    match value {
        Value::Boolean(b) => Ok(*b),
        other => Err(format!("expected true or false, got {}", describe(other))),
    }
}

fn fill(value: &Value) -> Result<Fill, String> {
    match value {
        Value::String(text) => text.parse(),
        other => Err(format!(
            "expected \"next_open\" or \"close\", got {}",
            describe(other)
        )),
    }
}

fn bars(value: &Value) -> Result<u32, String> {
    match value {
        Value::Integer(i) => {
            u32::try_from(*i).map_err(|_| format!("must be >= 1 and <= {}, got {i}", u32::MAX))
        }
        other => Err(format!("expected an integer, got {}", describe(other))),
    }
}

/// Checks `[execution]` into settings (defaults for what is absent or wrong), then validates
/// their ranges with [`ExecutionSettings::validate`].
pub(crate) fn execution(value: Option<&Value>, problems: &mut Problems) -> ExecutionSettings {
    let mut settings = ExecutionSettings::default();
    let Some(table) = optional_table(value, "execution", problems) else {
        return settings;
    };
    check_keys(table, "execution", &EXECUTION_KEYS, problems);
    for (key, value) in table {
        let s = &mut settings;
        let result = match key.as_str() {
            "fill" => fill(value).map(|v| s.fill = v),
            "fee" => number(value).map(|v| s.fee = v),
            "slippage" => number(value).map(|v| s.slippage = v),
            "position_size" => number(value).map(|v| s.position_size = v),
            "allow_short" => boolean(value).map(|v| s.allow_short = v),
            "stop_loss" => number(value).map(|v| s.stop_loss = Some(v)),
            "take_profit" => number(value).map(|v| s.take_profit = Some(v)),
            "trailing_stop" => number(value).map(|v| s.trailing_stop = Some(v)),
            "max_hold_bars" => bars(value).map(|v| s.max_hold_bars = Some(v)),
            "initial_cash" => number(value).map(|v| s.initial_cash = v),
            _ => Ok(()),
        };
        if let Err(message) = result {
            problems.add(key_path("execution", key), message);
        }
    }
    if let Err(invalid) = settings.validate() {
        for e in invalid.0 {
            problems.add(
                key_path("execution", e.field),
                format!("{}, got {}", e.expected, e.got),
            );
        }
    }
    settings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems_of(text: &str, f: impl Fn(Option<&Value>, &mut Problems)) -> Vec<String> {
        let table: toml::Table = text.parse().unwrap();
        let mut problems = Problems::default();
        f(table.values().next(), &mut problems);
        problems
            .into_errors("t")
            .errors
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn execution_types_and_ranges() {
        let found = problems_of(
            "[execution]\nfill = \"open\"\nfee = -1\nallow_short = 1\nmax_hold_bars = -3\n\
             stop_loss = 0\nslippage = \"x\"\nleverage = 2\n",
            |v, p| {
                execution(v, p);
            },
        );
        assert_eq!(
            found,
            [
                "execution.allow_short: expected true or false, got 1",
                "execution.fee: must be >= 0 and < 1, got -1",
                "execution.fill: expected \"next_open\" or \"close\", got \"open\"",
                "execution.leverage: unknown key (expected one of: fill, fee, slippage, \
                 position_size, allow_short, stop_loss, take_profit, trailing_stop, \
                 max_hold_bars, initial_cash)",
                "execution.max_hold_bars: must be >= 1 and <= 4294967295, got -3",
                "execution.slippage: expected a number, got \"x\"",
                "execution.stop_loss: must be > 0 and < 1, got 0",
            ]
        );
    }

    #[test]
    fn execution_values_are_read() {
        let table: toml::Table = "fill = \"close\"\nfee = 0\ninitial_cash = 500\n\
             max_hold_bars = 12\ntake_profit = 0.05\nallow_short = true"
            .parse()
            .unwrap();
        let mut problems = Problems::default();
        let s = execution(Some(&Value::Table(table)), &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(s.fill, Fill::Close);
        assert_eq!(s.fee, 0.0);
        assert_eq!(s.initial_cash, 500.0);
        assert_eq!(s.max_hold_bars, Some(12));
        assert_eq!(s.take_profit, Some(0.05));
        assert!(s.allow_short);
        assert_eq!(s.slippage, ExecutionSettings::default().slippage);
    }

    #[test]
    fn job_section_problems() {
        let found = problems_of("job = 5", |v, p| {
            job(v, p);
        });
        assert_eq!(
            found,
            [
                "job: expected a table, got 5",
                "job.name: missing (required)"
            ]
        );
        let found = problems_of(
            "[job]\nname = \" \"\ntimeout = \"0s\"\nschedule = 3",
            |v, p| {
                job(v, p);
            },
        );
        assert_eq!(
            found,
            [
                "job.name: must not be empty",
                "job.schedule: expected a cron expression like \"0 2 * * *\", got 3",
                "job.timeout: must be greater than zero, got \"0s\"",
            ]
        );
    }
}
