//! `barwise-ops backup` through the real binary: round trips on SQLite and on the real
//! PostgreSQL server, compared table by table; corrupt, truncated and newer backups, non-empty
//! targets and missing tools refused without changing anything.

mod common;

use common::text;

use std::process::{Command, Output};

use barwise_engine::Report;
use barwise_storage::{JobStatus, NewJob, RunRecord, RunResult, ScheduleRow, Store};

fn ops(args: &[&str], archive: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_barwise-ops"))
        .args(args)
        .args(["--archive-url", archive])
        .output()
        .unwrap()
}

fn report(entries: usize, seed: u64) -> Report {
    barwise_test_support::sample_report(entries, seed).0
}

/// Jobs, runs with trades, a failed run, a schedule, an archive record.
fn populate(store: &Store) {
    for j in 0..3 {
        let id = format!("job{j}");
        store
            .create_job(&NewJob {
                id: id.clone(),
                name: id.clone(),
                definition: "[job]\nname = \"x\"".into(),
                runs_total: 3,
                submitted_ms: 1_000 + j,
                idempotency_key: Some(format!("key{j}")),
                timeout_ms: Some(60_000),
            })
            .unwrap();
        store
            .transition_job(&id, &[JobStatus::Queued], JobStatus::Running, 2_000, None)
            .unwrap();
        for r in 0..3u64 {
            let record = RunRecord {
                id: format!("{id}-{r}"),
                job_id: id.clone(),
                run_key: format!("k{r}"),
                symbol: "S".into(),
                data_source: "d.csv".into(),
                plugin_name: "s".into(),
                params_json: format!("{{\"r\":{r}}}"),
                execution_json: "{}".into(),
                attempts: 1,
                started_ms: 3_000,
                finished_ms: 4_000,
            };
            if r == 2 {
                store
                    .record_run(&record, RunResult::Failed("boom"))
                    .unwrap();
            } else {
                let rep = report(20 + r as usize, r + 10 * j as u64);
                store
                    .record_run(&record, RunResult::Succeeded(&rep))
                    .unwrap();
            }
        }
    }
    store
        .set_run_archived("job0-0", "file:///a/jobs/job0/runs/job0-0", "abc", "[]")
        .unwrap();
    store
        .upsert_schedule(&ScheduleRow {
            name: "nightly".into(),
            cron: "0 2 * * *".into(),
            job_template: "[job]".into(),
            enabled: true,
            created_ms: 5,
            last_fire_ms: Some(6),
            next_fire_ms: Some(7),
            source: "api".into(),
            base_dir: None,
        })
        .unwrap();
}

fn backup_id(created: &Output) -> String {
    text(created)
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned()
}

fn round_trip(source_url: &str, fresh_url: &str, archive: &str) {
    let source = Store::open(source_url).unwrap();
    source.migrate_run().unwrap();
    populate(&source);
    let created = ops(&["backup", "create", "--database-url", source_url], archive);
    assert!(created.status.success(), "{}", text(&created));
    let id = backup_id(&created);
    let listed = ops(
        &["backup", "list", "--json", "--database-url", source_url],
        archive,
    );
    let rows: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
    assert_eq!(rows[0]["id"], id.as_str());
    let verified = ops(
        &["backup", "verify", &id, "--database-url", source_url],
        archive,
    );
    assert!(verified.status.success(), "{}", text(&verified));
    assert!(text(&verified).contains("matches"), "{}", text(&verified));

    let restored = ops(&["backup", "restore", &id, "--to", fresh_url], archive);
    assert!(restored.status.success(), "{}", text(&restored));
    let target = Store::connect(fresh_url).unwrap();
    target.ensure_current().unwrap();
    assert_eq!(
        target.content_checksums().unwrap(),
        source.content_checksums().unwrap()
    );
    assert_eq!(
        target.content_checksums().unwrap()[2].1,
        3 * (20 + 21),
        "trades restored"
    );

    // A second restore into the now non-empty target is refused and changes nothing.
    let again = ops(&["backup", "restore", &id, "--to", fresh_url], archive);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(text(&again).contains("is not empty"), "{}", text(&again));
    source
        .create_job(&NewJob {
            id: "later".into(),
            name: "later".into(),
            definition: String::new(),
            runs_total: 0,
            submitted_ms: 9,
            idempotency_key: None,
            timeout_ms: None,
        })
        .unwrap();
    let forced = ops(
        &["backup", "restore", &id, "--to", fresh_url, "--force"],
        archive,
    );
    assert!(forced.status.success(), "{}", text(&forced));
    let target = Store::connect(fresh_url).unwrap();
    assert!(
        target.job("later").is_err(),
        "the target holds the backup's contents"
    );
    assert!(target.job("job1").is_ok());
}

#[test]
fn sqlite_backup_restores_every_table() {
    let dir = tempfile::tempdir().unwrap();
    let archive = format!("file://{}", dir.path().join("archive").display());
    round_trip(
        &format!("sqlite://{}", dir.path().join("results.db").display()),
        &format!("sqlite://{}", dir.path().join("restored.db").display()),
        &archive,
    );
}

fn fresh_postgres() -> Option<String> {
    let admin = std::env::var("BARWISE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let name = format!(
        "barwise_backup_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
            % 1_000_000_000_000
    );
    let created = Command::new("psql")
        .arg(&admin)
        .args(["-q", "-v", "ON_ERROR_STOP=1", "-c"])
        .arg(format!("CREATE DATABASE {name}"))
        .output()
        .is_ok_and(|o| o.status.success());
    let tools = Command::new("pg_dump").arg("--version").output().is_ok();
    if !barwise_test_support::require_or_skip("PostgreSQL with psql and pg_dump", created && tools)
    {
        return None;
    }
    let (base, _) = admin.rsplit_once('/').unwrap();
    Some(format!("{base}/{name}"))
}

#[test]
fn postgres_backup_restores_every_table() {
    let (Some(source), Some(target)) = (fresh_postgres(), fresh_postgres()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    round_trip(
        &source,
        &target,
        &format!("file://{}", dir.path().join("archive").display()),
    );
}

#[test]
fn bad_backups_and_bad_targets_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("archive");
    let archive = format!("file://{}", folder.display());
    let source_url = format!("sqlite://{}", dir.path().join("results.db").display());
    let source = Store::open(&source_url).unwrap();
    populate(&source);
    let created = ops(
        &["backup", "create", "--database-url", &source_url],
        &archive,
    );
    assert!(created.status.success(), "{}", text(&created));
    let id = backup_id(&created);
    let file = folder.join(format!("backups/{id}/results.sqlite.zst"));
    let original = std::fs::read(&file).unwrap();
    let target = dir.path().join("target.db");
    let to = format!("sqlite://{}", target.display());

    // Truncated, then corrupted: verify and restore refuse; the target is not created.
    for broken in [original[..original.len() / 2].to_vec(), {
        let mut b = original.clone();
        b[original.len() / 2] ^= 0xff;
        b
    }] {
        std::fs::write(&file, &broken).unwrap();
        let verify = ops(
            &["backup", "verify", &id, "--database-url", &source_url],
            &archive,
        );
        assert_eq!(verify.status.code(), Some(2), "{}", text(&verify));
        assert!(
            text(&verify).contains("corrupt or truncated"),
            "{}",
            text(&verify)
        );
        let restore = ops(&["backup", "restore", &id, "--to", &to], &archive);
        assert_eq!(restore.status.code(), Some(2));
        assert!(
            text(&restore).contains("nothing was changed"),
            "{}",
            text(&restore)
        );
        assert!(!target.exists() || Store::connect(&to).unwrap().table_count().unwrap() == 0);
    }
    std::fs::write(&file, &original).unwrap();

    // A backup from a newer schema.
    let meta_file = folder.join(format!("backups/{id}/backup.json"));
    let meta = std::fs::read_to_string(&meta_file).unwrap();
    let mut newer: serde_json::Value = serde_json::from_str(&meta).unwrap();
    newer["schema_version"] = "2099-01-01-000001_future".into();
    std::fs::write(&meta_file, serde_json::to_vec(&newer).unwrap()).unwrap();
    let restore = ops(&["backup", "restore", &id, "--to", &to], &archive);
    assert_eq!(restore.status.code(), Some(2));
    assert!(
        text(&restore).contains("newer than this barwise knows"),
        "{}",
        text(&restore)
    );
    std::fs::write(&meta_file, meta).unwrap();

    // Wrong target URL; unreachable PostgreSQL; a PostgreSQL backup without pg_dump.
    let wrong = ops(&["backup", "restore", &id, "--to", "mysql://x"], &archive);
    assert_eq!(wrong.status.code(), Some(2));
    assert!(text(&wrong).contains("mysql://x"), "{}", text(&wrong));
    if let Some(pg) = fresh_postgres() {
        Store::connect(&pg).unwrap().migrate_run().unwrap();
        let no_tools = Command::new(env!("CARGO_BIN_EXE_barwise-ops"))
            .args([
                "backup",
                "create",
                "--archive-url",
                &archive,
                "--database-url",
                &pg,
            ])
            .env("PATH", "")
            .output()
            .unwrap();
        assert_eq!(no_tools.status.code(), Some(2));
        assert!(
            text(&no_tools).contains("pg_dump not found: install"),
            "{}",
            text(&no_tools)
        );
        assert!(
            Store::connect(&pg)
                .unwrap()
                .list_backups()
                .unwrap()
                .is_empty()
        );
    }
    // The good backup still restores.
    let restore = ops(&["backup", "restore", &id, "--to", &to], &archive);
    assert!(restore.status.success(), "{}", text(&restore));
}
