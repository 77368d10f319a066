//! The `[data]` section of a job file: the time range and the candle file of each symbol.

use std::path::{Path, PathBuf};

use barwise_data::Format;
use toml::Value;

use crate::error::{Problems, check_keys, describe, key_path, optional_table};
use crate::time::{duration_value, time_value};

/// Keys of `[data]`.
pub(crate) const DATA_KEYS: [&str; 4] = ["timeframe", "start", "end", "symbols"];

/// URL schemes kept as they are (loaded by the runner, not checked here).
pub const URL_SCHEMES: [&str; 4] = ["s3", "file", "http", "https"];

/// One symbol and where its candles are.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Symbol {
    pub(crate) name: String,
    /// Resolved absolute path, or the URL as written.
    pub(crate) data: String,
}

/// The `[data]` section, checked.
#[derive(Debug, Default)]
pub(crate) struct DataSection {
    pub(crate) timeframe_ms: Option<u64>,
    pub(crate) start_ms: Option<i64>,
    pub(crate) end_ms: Option<i64>,
    /// The valid symbols, in name order.
    pub(crate) symbols: Vec<Symbol>,
    /// How many symbols the file lists, valid or not (for the size of the job).
    pub(crate) symbol_count: usize,
}

/// The scheme of `text` if it is written as a URL (`scheme://...`, the scheme made of letters,
/// digits, `+`, `-` and `.`, starting with a letter).
fn url_scheme(text: &str) -> Option<&str> {
    let (scheme, _) = text.split_once("://")?;
    let mut chars = scheme.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then_some(scheme)
}

/// Checks that the file name's extension names a supported candle format.
fn check_format(path: &Path, written: &str) -> Result<(), String> {
    if Format::from_path(path).is_some() {
        return Ok(());
    }
    let found = match path.extension().and_then(|e| e.to_str()) {
        Some(ext) => format!("unsupported file extension \".{ext}\""),
        None => "no file extension".to_owned(),
    };
    Err(format!(
        "{found} in {written:?} (expected .csv, .json, .parquet or .pq)"
    ))
}

/// Resolves the data source of one symbol: URLs are kept as written (their scheme and extension
/// checked); paths are made absolute against `base_dir` and must name an existing file with a
/// supported extension. Returns every problem found.
fn resolve_source(written: &str, base_dir: &Path) -> Result<String, Vec<String>> {
    if written.is_empty() {
        return Err(vec!["expected a file path or URL, got \"\"".to_owned()]);
    }
    if let Some(scheme) = url_scheme(written) {
        if !URL_SCHEMES.contains(&scheme.to_ascii_lowercase().as_str()) {
            return Err(vec![format!(
                "unsupported URL scheme {scheme:?} in {written:?} (expected one of: {})",
                URL_SCHEMES.join(", ")
            )]);
        }
        let without_query = written.split(['?', '#']).next().unwrap_or(written);
        return check_format(Path::new(without_query), written)
            .map(|()| written.to_owned())
            .map_err(|e| vec![e]);
    }
    let joined = base_dir.join(written);
    let absolute = std::path::absolute(&joined).unwrap_or(joined);
    let mut problems = Vec::new();
    if let Err(e) = check_format(&absolute, written) {
        problems.push(e);
    }
    match std::fs::metadata(&absolute) {
        Ok(meta) if meta.is_file() => {}
        Ok(_) => problems.push(format!("not a file: {}", absolute.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            problems.push(format!("file not found: {}", absolute.display()));
        }
        Err(e) => problems.push(format!("cannot read {}: {e}", absolute.display())),
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let resolved: PathBuf = std::fs::canonicalize(&absolute).unwrap_or(absolute);
    Ok(resolved.display().to_string())
}

/// Checks `[data]`; relative paths are resolved against `base_dir`.
pub(crate) fn data(value: Option<&Value>, base_dir: &Path, problems: &mut Problems) -> DataSection {
    let mut section = DataSection::default();
    let empty = toml::Table::new();
    let table = optional_table(value, "data", problems).unwrap_or(&empty);
    check_keys(table, "data", &DATA_KEYS, problems);
    if let Some(value) = table.get("timeframe") {
        match duration_value(value) {
            Ok(ms) => section.timeframe_ms = Some(ms),
            Err(message) => problems.add("data.timeframe", message),
        }
    }
    for (key, slot) in [
        ("start", &mut section.start_ms),
        ("end", &mut section.end_ms),
    ] {
        if let Some(value) = table.get(key) {
            match time_value(value) {
                Ok(ms) => *slot = Some(ms),
                Err(message) => problems.add(key_path("data", key), message),
            }
        }
    }
    if let (Some(start), Some(end)) = (section.start_ms, section.end_ms)
        && end <= start
    {
        problems.add("data.end", "must be after data.start");
    }
    let symbols = match table.get("symbols") {
        None => None,
        Some(Value::Table(symbols)) => Some(symbols),
        Some(other) => {
            problems.add(
                "data.symbols",
                format!(
                    "expected a table of symbol = \"file or URL\", got {}",
                    describe(other)
                ),
            );
            return section;
        }
    };
    let Some(symbols) = symbols.filter(|s| !s.is_empty()) else {
        problems.add("data.symbols", "missing (at least one symbol)");
        return section;
    };
    section.symbol_count = symbols.len();
    // Sorted here, whatever order the TOML map keeps: runs are ordered by symbol name.
    let mut symbols: Vec<(&String, &Value)> = symbols.iter().collect();
    symbols.sort_by(|a, b| a.0.cmp(b.0));
    for (name, value) in symbols {
        let path = key_path("data.symbols", name);
        let mut valid = true;
        if name.trim().is_empty() {
            problems.add(&path, "a symbol name must not be empty");
            valid = false;
        }
        if name.contains('|') {
            problems.add(&path, "a symbol name must not contain \"|\"");
            valid = false;
        }
        let Value::String(written) = value else {
            problems.add(
                &path,
                format!("expected a file path or URL, got {}", describe(value)),
            );
            continue;
        };
        match resolve_source(written, base_dir) {
            Ok(data) if valid => section.symbols.push(Symbol {
                name: name.clone(),
                data,
            }),
            Ok(_) => {}
            Err(messages) => {
                for message in messages {
                    problems.add(&path, message);
                }
            }
        }
    }
    section
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_kept_and_checked() {
        let base = Path::new("/nonexistent");
        assert_eq!(
            resolve_source("s3://bucket/ETH.csv", base),
            Ok("s3://bucket/ETH.csv".to_owned())
        );
        assert_eq!(
            resolve_source("https://host/a/ETH.parquet?sig=1", base),
            Ok("https://host/a/ETH.parquet?sig=1".to_owned())
        );
        assert_eq!(
            resolve_source("gs://bucket/ETH.csv", base),
            Err(vec![
                "unsupported URL scheme \"gs\" in \"gs://bucket/ETH.csv\" (expected one of: \
                 s3, file, http, https)"
                    .to_owned()
            ])
        );
        assert_eq!(
            resolve_source("s3://bucket/ETH", base),
            Err(vec![
                "no file extension in \"s3://bucket/ETH\" (expected .csv, .json, .parquet or .pq)"
                    .to_owned()
            ])
        );
    }

    #[test]
    fn missing_files_and_bad_extensions_are_both_reported() {
        let dir = tempfile::tempdir().unwrap();
        let found = resolve_source("candles.txt", dir.path()).unwrap_err();
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].starts_with("unsupported file extension \".txt\""));
        assert!(found[1].starts_with("file not found: /"));
        std::fs::create_dir(dir.path().join("d.csv")).unwrap();
        let found = resolve_source("d.csv", dir.path()).unwrap_err();
        assert!(found[0].starts_with("not a file: "), "{found:?}");
    }
}
