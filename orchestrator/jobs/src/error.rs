//! Problems found in a job file, each with the path of the key it concerns, and the helpers that
//! walk a parsed TOML document while collecting them.

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;
use toml::{Table, Value};

/// One problem in a job file: where (`job.timeout`, `strategies[0].params.fast`,
/// `data.symbols."ETH/BTC"`, `line 3, column 7` for a syntax error) and what.
///
/// Ordered by path, then message, which is the order [`JobErrors`] lists them in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct JobError {
    /// The key the problem concerns, in the dotted notation of the file; empty when the problem
    /// concerns the file as a whole (it could not be read).
    pub path: String,
    /// What is wrong, usually with what was found.
    pub message: String,
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for JobError {}

/// Every problem found in one job file, sorted by path.
///
/// (`std::error::Error` is implemented by hand: `thiserror` would take the field `source` for the
/// error's cause.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobErrors {
    /// Where the definition came from (a file path, or a name given by the caller).
    pub source: String,
    /// The problems, sorted by path then message, without duplicates.
    pub errors: Vec<JobError>,
}

impl fmt::Display for JobErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} problem(s):", self.source, self.errors.len())?;
        for error in &self.errors {
            write!(f, "\n  {error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for JobErrors {}

/// The problems collected while walking a job file: sorted and deduplicated as they arrive.
#[derive(Debug, Default)]
pub(crate) struct Problems(BTreeSet<JobError>);

impl Problems {
    /// Records a problem at `path`.
    pub(crate) fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.insert(JobError {
            path: path.into(),
            message: message.into(),
        });
    }

    /// True when nothing was found.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The collected problems as the error of a job from `source`.
    pub(crate) fn into_errors(self, source: &str) -> JobErrors {
        JobErrors {
            source: source.to_owned(),
            errors: self.0.into_iter().collect(),
        }
    }
}

/// True for keys that TOML allows unquoted (`A-Za-z0-9_-`).
fn is_bare_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The path of `key` inside `parent` (`""` for the top level): `job.name`,
/// `data.symbols."ETH/BTC"`.
pub(crate) fn key_path(parent: &str, key: &str) -> String {
    let key = if is_bare_key(key) {
        key.to_owned()
    } else {
        format!("{key:?}")
    };
    if parent.is_empty() {
        key
    } else {
        format!("{parent}.{key}")
    }
}

/// A value as shown after "got" in messages: strings quoted, numbers and booleans as written,
/// arrays and tables by kind.
pub(crate) fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        Value::Integer(i) => i.to_string(),
        Value::Float(x) => format!("{x:?}"),
        Value::Boolean(b) => b.to_string(),
        Value::Datetime(d) => d.to_string(),
        Value::Array(_) => "an array".to_owned(),
        Value::Table(_) => "a table".to_owned(),
    }
}

/// Reports every key of `table` that is not in `allowed`, listing the allowed ones.
pub(crate) fn check_keys(table: &Table, path: &str, allowed: &[&str], problems: &mut Problems) {
    for key in table.keys() {
        if !allowed.contains(&key.as_str()) {
            problems.add(
                key_path(path, key),
                format!("unknown key (expected one of: {})", allowed.join(", ")),
            );
        }
    }
}

/// The table at `path`, if present. A value of another type is reported and read as absent.
pub(crate) fn optional_table<'a>(
    value: Option<&'a Value>,
    path: &str,
    problems: &mut Problems,
) -> Option<&'a Table> {
    match value? {
        Value::Table(table) => Some(table),
        other => {
            problems.add(path, format!("expected a table, got {}", describe(other)));
            None
        }
    }
}

/// Line and column (both from 1, the column in characters) of byte `offset` in `text`.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_quote_keys_that_need_it() {
        assert_eq!(key_path("", "job"), "job");
        assert_eq!(key_path("job", "name"), "job.name");
        assert_eq!(
            key_path("data.symbols", "ETH/BTC"),
            "data.symbols.\"ETH/BTC\""
        );
        assert_eq!(key_path("x", ""), "x.\"\"");
    }

    #[test]
    fn line_and_column_count_characters() {
        let text = "a = 1\nbé = ?\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        // The "?" is at byte 12: "bé = " before it is 6 bytes (é is two) but 5 characters.
        assert_eq!(line_column(text, 12), (2, 6));
        assert_eq!(line_column(text, 1000), (3, 1));
    }

    #[test]
    fn display_lists_every_problem() {
        let mut problems = Problems::default();
        problems.add("job.name", "missing (required)");
        problems.add("data.symbols", "missing (at least one symbol)");
        problems.add("job.name", "missing (required)");
        let errors = problems.into_errors("job.toml");
        assert_eq!(
            errors.to_string(),
            "job.toml: 2 problem(s):\n  data.symbols: missing (at least one symbol)\n  \
             job.name: missing (required)"
        );
        let whole_file = JobError {
            path: String::new(),
            message: "cannot read".into(),
        };
        assert_eq!(whole_file.to_string(), "cannot read");
    }
}
