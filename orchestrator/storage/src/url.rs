//! Database URLs: which backend, and how to show one without its password.

use std::path::PathBuf;

use crate::StorageError;

/// A parsed database location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A PostgreSQL connection URL (`postgres://` or `postgresql://`).
    Postgres(String),
    /// An SQLite database file.
    Sqlite(PathBuf),
}

impl DatabaseUrl {
    /// Parses `postgres://...`, `postgresql://...`, `sqlite://PATH` (`sqlite:///abs/path`),
    /// `sqlite:PATH`, or a bare path ending in `.db`, `.sqlite` or `.sqlite3`.
    ///
    /// # Errors
    /// [`StorageError::InvalidUrl`] for anything else.
    pub fn parse(url: &str) -> Result<Self, StorageError> {
        let invalid = |reason: &str| StorageError::InvalidUrl {
            url: redact(url),
            reason: reason.to_owned(),
        };
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(url.to_owned()));
        }
        if let Some(rest) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            if rest.is_empty() {
                return Err(invalid("the SQLite URL has no file path"));
            }
            return Ok(DatabaseUrl::Sqlite(PathBuf::from(rest)));
        }
        if url.contains("://") {
            return Err(invalid("unsupported scheme"));
        }
        let is_sqlite_file = [".db", ".sqlite", ".sqlite3"]
            .iter()
            .any(|e| url.ends_with(e));
        if is_sqlite_file {
            return Ok(DatabaseUrl::Sqlite(PathBuf::from(url)));
        }
        Err(invalid("not a postgres:// or sqlite: URL"))
    }

    /// The URL for messages: the password, if any, replaced by `***`.
    pub fn display(&self) -> String {
        match self {
            DatabaseUrl::Postgres(url) => redact(url),
            DatabaseUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
        }
    }

    /// `postgres` or `sqlite`.
    pub fn backend(&self) -> &'static str {
        match self {
            DatabaseUrl::Postgres(_) => "postgres",
            DatabaseUrl::Sqlite(_) => "sqlite",
        }
    }
}

/// Environment variable naming the database URL.
pub const DATABASE_URL_ENV: &str = "DATABASE_URL";
/// Environment variable naming the data folder of the embedded defaults.
pub const DATA_DIR_ENV: &str = "BARWISE_DATA_DIR";

/// The database to use when none is configured: `$DATABASE_URL`, else the SQLite file
/// `results.db` in the data folder (`$BARWISE_DATA_DIR`, else `.barwise` in the current folder).
pub fn default_database_url() -> String {
    std::env::var(DATABASE_URL_ENV).unwrap_or_else(|_| {
        let dir = std::env::var(DATA_DIR_ENV).unwrap_or_else(|_| ".barwise".to_owned());
        format!("sqlite://{dir}/results.db")
    })
}

/// `url` with the password (between `user:` and `@`, or a `password=` query parameter)
/// replaced by `***`.
pub fn redact(url: &str) -> String {
    let redacted = redact_authority(url);
    match redacted.split_once('?') {
        Some((base, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{base}?{}", query.join("&"))
        }
        None => redacted,
    }
}

fn redact_authority(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let authority_start = scheme_end + 3;
    let authority_end = url[authority_start..]
        .find('/')
        .map_or(url.len(), |i| authority_start + i);
    let authority = &url[authority_start..authority_end];
    match (authority.rfind('@'), authority.find(':')) {
        (Some(at), Some(colon)) if colon < at => format!(
            "{}{}:***{}",
            &url[..authority_start],
            &authority[..colon],
            &url[authority_start + at..]
        ),
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_from_urls() {
        assert_eq!(
            DatabaseUrl::parse("postgres://u@h/db").unwrap().backend(),
            "postgres"
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/barwise/results.db").unwrap(),
            DatabaseUrl::Sqlite(PathBuf::from("/var/lib/barwise/results.db"))
        );
        assert_eq!(
            DatabaseUrl::parse("data/results.db").unwrap(),
            DatabaseUrl::Sqlite(PathBuf::from("data/results.db"))
        );
        let err = DatabaseUrl::parse("mysql://x/y").unwrap_err().to_string();
        assert!(err.contains("unsupported scheme"), "{err}");
        assert!(DatabaseUrl::parse("results.txt").is_err());
    }

    #[test]
    fn passwords_never_shown() {
        assert_eq!(
            redact("postgres://alice:s3cret@db.example:5432/barwise"),
            "postgres://alice:***@db.example:5432/barwise"
        );
        assert_eq!(redact("postgres://alice@db/x"), "postgres://alice@db/x");
        assert_eq!(
            redact("postgres://alice@db/x?sslmode=require&password=s3cret"),
            "postgres://alice@db/x?sslmode=require&password=***"
        );
        let err = DatabaseUrl::parse("postgresx://a:pw@h/d")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("pw@"), "{err}");
    }
}
