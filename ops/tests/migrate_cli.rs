//! `barwise-ops migrate` through the real binary, on SQLite and on a fresh PostgreSQL database.

use std::process::{Command, Output};

fn ops(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_barwise-ops"))
        .args(args)
        .env_remove("DATABASE_URL")
        .output()
        .expect("running barwise-ops")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// status -> run -> status -> redo -> revert -> status, checking output and exit codes.
fn round_trip(url: &str, starts_pending: bool) {
    let status = ops(&["migrate", "status", "--database-url", url]);
    if starts_pending {
        assert_eq!(status.status.code(), Some(1), "{}", text(&status));
        assert!(
            text(&status).contains("pending  2026-11-26-000001_initial"),
            "{}",
            text(&status)
        );
    }
    let run = ops(&["migrate", "run", "--database-url", url]);
    assert!(run.status.success(), "{}", text(&run));
    let status = ops(&["migrate", "status", "--database-url", url, "--json"]);
    assert_eq!(status.status.code(), Some(0), "{}", text(&status));
    let json: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(json["applied"][0], "2026-11-26-000001_initial");
    assert_eq!(json["applied"][1], "2026-11-26-000002_schedule_sources");
    assert_eq!(json["applied"][2], "2026-11-26-000003_archive_records");
    assert_eq!(json["pending"].as_array().unwrap().len(), 0);
    let again = ops(&["migrate", "run", "--database-url", url]);
    assert!(
        text(&again).contains("schema is current"),
        "{}",
        text(&again)
    );
    let redo = ops(&["migrate", "redo", "--database-url", url]);
    assert!(
        text(&redo).contains("reverted and re-applied 20261126000003"),
        "{}",
        text(&redo)
    );
    let revert = ops(&["migrate", "revert", "--database-url", url]);
    assert!(
        text(&revert).contains("reverted 20261126000003"),
        "{}",
        text(&revert)
    );
    let status = ops(&["migrate", "status", "--database-url", url]);
    assert_eq!(status.status.code(), Some(1));
}

#[test]
fn migrate_commands_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("results.db").display());
    round_trip(&url, true);
}

#[test]
fn migrate_commands_on_postgres() {
    let admin_url = std::env::var("BARWISE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let psql = |sql: &str| {
        Command::new("psql")
            .args([admin_url.as_str(), "-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .output()
    };
    let reachable = psql("SELECT 1").is_ok_and(|o| o.status.success());
    if !barwise_test_support::require_or_skip(
        &format!("PostgreSQL at {admin_url} (with psql)"),
        reachable,
    ) {
        return;
    }
    let name = format!("barwise_ops_test_{}", std::process::id());
    psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).unwrap();
    assert!(
        psql(&format!("CREATE DATABASE {name}"))
            .unwrap()
            .status
            .success()
    );
    let base = admin_url.rsplit_once('/').unwrap().0;
    round_trip(&format!("{base}/{name}"), true);
    psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).unwrap();
}

#[test]
fn unreachable_database_is_a_clear_error() {
    let out = ops(&[
        "migrate",
        "status",
        "--database-url",
        "postgres://u:pw@127.0.0.1:1/x",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let t = text(&out);
    assert!(
        t.contains("cannot connect to database postgres://u:***@127.0.0.1:1/x"),
        "{t}"
    );
    assert!(!t.contains("pw@"), "{t}");
}
