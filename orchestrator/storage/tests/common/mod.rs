//! Test databases: a fresh SQLite file or a fresh PostgreSQL database per test, dropped after.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::sync::atomic::{AtomicU32, Ordering};

use barwise_storage::Store;
use diesel::prelude::*;

/// Server used for PostgreSQL tests (its `postgres` database is used to create test databases).
pub fn postgres_admin_url() -> String {
    std::env::var("BARWISE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A database that exists for one test.
pub enum TestDb {
    /// A file in a temporary folder.
    Sqlite(tempfile::TempDir),
    /// A database created on the test server, dropped on drop.
    Postgres { name: String, url: String },
}

impl TestDb {
    /// The URL to open.
    pub fn url(&self) -> String {
        match self {
            TestDb::Sqlite(dir) => format!("sqlite://{}", dir.path().join("results.db").display()),
            TestDb::Postgres { url, .. } => url.clone(),
        }
    }

    /// Opens it, migrated to the current schema.
    pub fn open(&self) -> Store {
        let store = Store::open(&self.url()).expect("opening the test database");
        store.migrate_run().expect("migrating the test database");
        store.ensure_current().expect("schema is current");
        store
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { name, .. } = self
            && let Ok(mut admin) = PgConnection::establish(&postgres_admin_url())
        {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .execute(&mut admin);
        }
    }
}

/// A fresh SQLite database.
pub fn sqlite() -> TestDb {
    TestDb::Sqlite(tempfile::tempdir().expect("temporary folder"))
}

/// A fresh, empty PostgreSQL database, or `None` (after a loud message) when no server is
/// reachable and services are not required.
pub fn postgres() -> Option<TestDb> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let admin_url = postgres_admin_url();
    let admin = PgConnection::establish(&admin_url);
    if !barwise_test_support::require_or_skip(&format!("PostgreSQL at {admin_url}"), admin.is_ok())
    {
        return None;
    }
    let mut admin = admin.ok()?;
    let name = format!(
        "barwise_test_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    );
    diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .execute(&mut admin)
        .expect("dropping a stale test database");
    diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
        .execute(&mut admin)
        .expect("creating a test database");
    let base = admin_url
        .rsplit_once('/')
        .map_or(admin_url.as_str(), |(base, _)| base);
    Some(TestDb::Postgres {
        url: format!("{base}/{name}"),
        name,
    })
}

/// Declares `$name` as two tests, `sqlite` and `postgres`, running `$body(db: TestDb)`.
#[macro_export]
macro_rules! on_both_backends {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;

            #[test]
            fn sqlite() {
                let run: fn(common::TestDb) = $body;
                run(common::sqlite());
            }

            #[test]
            fn postgres() {
                let run: fn(common::TestDb) = $body;
                if let Some(db) = common::postgres() {
                    run(db);
                }
            }
        }
    };
}
