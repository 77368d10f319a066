//! `barwise-ops archive verify|prune` through the real binary, on an archive folder and an
//! SQLite database populated the way the daemon does it.

mod common;

use common::text;

use std::path::Path;
use std::process::{Command, Output};

use barwise_archive::{Archive, JobManifest, ObjectInfo, manifest_key, run_digest};
use barwise_storage::{JobStatus, NewJob, RunRecord, RunResult, Store};

fn ops(args: &[&str], db: &str, archive: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_barwise-ops"))
        .args(args)
        .args(["--database-url", db, "--archive-url", archive])
        .output()
        .unwrap()
}

/// A finished job with one archived run, its summary and its manifest.
fn archived_job(
    store: &Store,
    archive: &Archive,
    runtime: &tokio::runtime::Runtime,
    id: &str,
    finished_ms: i64,
) {
    store
        .create_job(&NewJob {
            id: id.into(),
            name: id.into(),
            definition: String::new(),
            runs_total: 1,
            submitted_ms: finished_ms - 10,
            idempotency_key: None,
            timeout_ms: None,
        })
        .unwrap();
    let run_id = format!("{id}-0");
    store
        .record_run(
            &RunRecord {
                id: run_id.clone(),
                job_id: id.into(),
                run_key: "k".into(),
                symbol: "S".into(),
                data_source: "d.csv".into(),
                plugin_name: "p".into(),
                params_json: "{}".into(),
                execution_json: "{}".into(),
                attempts: 1,
                started_ms: finished_ms - 5,
                finished_ms,
            },
            RunResult::Failed("for the test"),
        )
        .unwrap();
    store
        .transition_job(
            id,
            &[JobStatus::Queued],
            JobStatus::Completed,
            finished_ms,
            None,
        )
        .unwrap();
    let prefix = format!("jobs/{id}/runs/{run_id}");
    let mut objects: Vec<ObjectInfo> = ["report.json", "trades.parquet", "equity.parquet"]
        .iter()
        .map(|name| {
            runtime
                .block_on(
                    archive.put_once(&format!("{prefix}/{name}"), format!("{id}{name}").into()),
                )
                .unwrap()
        })
        .collect();
    store
        .set_run_archived(
            &run_id,
            &prefix,
            &run_digest(&objects),
            &serde_json::to_string(&objects).unwrap(),
        )
        .unwrap();
    objects.push(
        runtime
            .block_on(archive.put_once(&format!("jobs/{id}/summary.parquet"), "summary".into()))
            .unwrap(),
    );
    let manifest = JobManifest {
        job_id: id.into(),
        created_at: "2026-11-26T00:00:00Z".into(),
        runs: 1,
        objects,
    };
    runtime
        .block_on(archive.put_once(
            &manifest_key(id),
            serde_json::to_vec(&manifest).unwrap().into(),
        ))
        .unwrap();
    store.set_job_archived(id, finished_ms).unwrap();
}

fn file_count(dir: &Path) -> usize {
    let mut n = 0;
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            n += if e.path().is_dir() {
                file_count(&e.path())
            } else {
                1
            };
        }
    }
    n
}

#[test]
fn verify_reports_problems_and_prune_removes_old_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("results.db").display());
    let folder = dir.path().join("archive");
    let url = format!("file://{}", folder.display());
    let store = Store::open(&db).unwrap();
    let archive = Archive::open(&url).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let now = barwise::execute::now_ms();
    archived_job(&store, &archive, &runtime, "old", now - 40 * 86_400_000);
    archived_job(&store, &archive, &runtime, "new", now - 1_000);

    let clean = ops(&["archive", "verify"], &db, &url);
    assert_eq!(clean.status.code(), Some(0), "{}", text(&clean));
    assert!(
        text(&clean).contains("2 job(s) checked: all clean"),
        "{}",
        text(&clean)
    );

    // Corrupt one object, remove another, add a stray one.
    std::fs::write(folder.join("jobs/new/runs/new-0/trades.parquet"), "changed").unwrap();
    std::fs::remove_file(folder.join("jobs/new/summary.parquet")).unwrap();
    std::fs::write(folder.join("jobs/new/stray"), "x").unwrap();
    let broken = ops(&["archive", "verify", "new", "--json"], &db, &url);
    assert_eq!(broken.status.code(), Some(1), "{}", text(&broken));
    let report: serde_json::Value = serde_json::from_slice(&broken.stdout).unwrap();
    let job = &report["jobs"][0];
    assert_eq!(job["corrupt"][0][0], "jobs/new/runs/new-0/trades.parquet");
    assert!(
        job["corrupt"][0][1]
            .as_str()
            .unwrap()
            .contains("size 7 instead of"),
        "{job}"
    );
    assert_eq!(job["missing"][0], "jobs/new/summary.parquet");
    assert_eq!(job["unexpected"][0], "jobs/new/stray");
    assert_eq!(report["clean"], false);

    // Retention: a dry run changes nothing; then only the old job goes, rows included.
    let before = file_count(&folder);
    let dry = ops(
        &["archive", "prune", "--older-than", "30d", "--dry-run"],
        &db,
        &url,
    );
    assert!(dry.status.success(), "{}", text(&dry));
    assert!(
        text(&dry).contains("old: would remove 5 archive object(s)"),
        "{}",
        text(&dry)
    );
    assert_eq!(file_count(&folder), before);
    let pruned = ops(
        &["archive", "prune", "--older-than", "30d", "--delete-rows"],
        &db,
        &url,
    );
    assert!(pruned.status.success(), "{}", text(&pruned));
    assert!(!folder.join("jobs/old").join("manifest.json").exists());
    assert!(folder.join("jobs/new/manifest.json").exists());
    assert!(store.job("old").is_err());
    assert!(store.job("new").is_ok());

    // Bad input: a clear error, nothing changed.
    let bad = ops(&["archive", "prune", "--older-than", "soon"], &db, &url);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad).contains("--older-than: expected a duration"),
        "{}",
        text(&bad)
    );
    let bad_url = ops(&["archive", "verify"], &db, "ftp://x");
    assert_eq!(bad_url.status.code(), Some(2));
    assert!(
        text(&bad_url).contains("unsupported scheme \"ftp\""),
        "{}",
        text(&bad_url)
    );
}
