//! Faults: unreachable servers, read-only files, pending migrations, and writes that die half
//! way (a killed connection, a failing statement) leaving nothing behind.

mod common;

use std::time::{Duration, Instant};

use barwise_engine::{
    Direction, ExecutionSettings, ExitReason, Params, Report, Signals, TimeMs, Trade,
};
use barwise_storage::{JobFilter, Metric, NewJob, RunRecord, RunResult, StorageError, Store};
use diesel::prelude::*;

fn job(id: &str) -> NewJob {
    NewJob {
        id: id.into(),
        name: id.into(),
        definition: String::new(),
        runs_total: 1,
        submitted_ms: 0,
        idempotency_key: None,
        timeout_ms: None,
    }
}

fn record(job_id: &str) -> RunRecord {
    RunRecord {
        id: format!("{job_id}-run"),
        job_id: job_id.into(),
        run_key: "k".into(),
        symbol: "X".into(),
        data_source: "x.csv".into(),
        plugin_name: "p".into(),
        params_json: "{}".into(),
        execution_json: "{}".into(),
        attempts: 1,
        started_ms: 0,
        finished_ms: 1,
    }
}

/// A report with `n` (synthetic but well-formed) trades.
fn big_report(n: usize) -> Report {
    let candles = barwise_test_support::synthetic_candles(20, 1);
    let signals = Signals::none(candles.len());
    let backtest =
        barwise_engine::backtest(&candles, &signals, &ExecutionSettings::default()).unwrap();
    let mut report = Report::new(
        "p".into(),
        "1".into(),
        Params::new(),
        ExecutionSettings::default(),
        &candles,
        backtest,
    );
    report.trades = (0..n)
        .map(|i| Trade {
            entry_index: i,
            exit_index: i + 1,
            entry_time: TimeMs(i as i64),
            exit_time: TimeMs(i as i64 + 1),
            direction: Direction::Long,
            entry_price: 1.0,
            exit_price: 1.1,
            quantity: 1.0,
            fees: 0.0,
            pnl: 0.1,
            trade_return: 0.1,
            exit_reason: ExitReason::Signal,
        })
        .collect();
    report
}

#[test]
fn unreachable_postgres_names_the_server_and_what_to_check() {
    let started = Instant::now();
    let err = Store::open("postgres://barwise:secret@127.0.0.1:1/results").unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, StorageError::Unreachable { .. }), "{text}");
    assert!(err.is_transient());
    assert!(
        text.contains("postgres://barwise:***@127.0.0.1:1/results"),
        "{text}"
    );
    assert!(!text.contains("secret"), "{text}");
    assert!(text.contains("check that the server runs"), "{text}");
    assert!(started.elapsed() < Duration::from_secs(15));
}

#[test]
fn invalid_urls_are_explained() {
    for url in ["mysql://h/db", "results.txt", "sqlite:"] {
        let err = Store::open(url).unwrap_err();
        assert!(
            matches!(err, StorageError::InvalidUrl { .. }),
            "{url}: {err}"
        );
        assert!(err.to_string().contains("expected postgres://"), "{err}");
    }
}

#[test]
fn sqlite_file_in_a_missing_folder_is_created_and_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deep/er/results.db");
    let store = Store::open(&format!("sqlite://{}", path.display())).unwrap();
    assert!(path.is_file());
    store.ensure_current().unwrap();
    assert_eq!(store.backend(), "sqlite");
}

#[test]
fn read_only_sqlite_refuses_writes_clearly_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.db");
    Store::open(&format!("sqlite://{}", path.display()))
        .unwrap()
        .create_job(&job("before"))
        .unwrap();
    let read_only = Store::open(&format!("sqlite:file:{}?mode=ro", path.display())).unwrap();
    assert_eq!(read_only.list_jobs(&JobFilter::default()).unwrap().len(), 1);
    let err = read_only.create_job(&job("after")).unwrap_err();
    assert!(matches!(err, StorageError::ReadOnly { .. }), "{err}");
    assert!(err.to_string().contains("read-only"), "{err}");
    assert_eq!(read_only.list_jobs(&JobFilter::default()).unwrap().len(), 1);
}

#[test]
fn postgres_with_pending_migrations_says_which_command_to_run() {
    let Some(db) = common::postgres() else {
        return;
    };
    let store = Store::open(&db.url()).unwrap();
    let err = store.ensure_current().unwrap_err();
    assert!(
        matches!(err, StorageError::PendingMigrations { .. }),
        "{err}"
    );
    let text = err.to_string();
    assert!(text.contains("barwise-ops migrate run"), "{text}");
    assert!(text.contains("initial"), "{text}");
    store.migrate_run().unwrap();
    store.ensure_current().unwrap();
}

#[test]
fn sqlite_statement_failing_mid_write_leaves_no_partial_run() {
    let db = common::sqlite();
    let store = db.open();
    store.create_job(&job("j")).unwrap();
    // SQLite stores NaN as NULL, which the NOT NULL constraint on pnl refuses: the last of 2,500
    // trades fails after the run row and two full chunks of trades were written.
    let mut report = big_report(2_500);
    report.trades[2_499].pnl = f64::NAN;
    let err = store
        .record_run(&record("j"), RunResult::Succeeded(&report))
        .unwrap_err();
    assert!(err.to_string().contains("NOT NULL"), "{err}");
    assert!(
        store
            .runs_of_job("j", Metric::Sharpe, true, 10, 0)
            .unwrap()
            .is_empty()
    );
    assert!(store.trades_of_run("j-run").unwrap().is_empty());
    assert_eq!(store.job("j").unwrap().runs_succeeded, 0);
    // The retry succeeds and is complete.
    report.trades[2_499].pnl = 0.1;
    store
        .record_run(&record("j"), RunResult::Succeeded(&report))
        .unwrap();
    assert_eq!(store.trades_of_run("j-run").unwrap().len(), 2_500);
}

#[test]
fn postgres_connection_killed_mid_write_leaves_no_partial_run() {
    let Some(db) = common::postgres() else {
        return;
    };
    let store = db.open();
    store.create_job(&job("j")).unwrap();
    let report = big_report(300_000);
    let writer = {
        let store = store.clone();
        std::thread::spawn(move || store.record_run(&record("j"), RunResult::Succeeded(&report)))
    };
    // Wait until the writer is inside its transaction inserting trades, then kill its backend.
    let common::TestDb::Postgres { name, .. } = &db else {
        unreachable!()
    };
    let mut admin = PgConnection::establish(&common::postgres_admin_url()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut killed = 0;
    while killed == 0 && Instant::now() < deadline {
        #[derive(QueryableByName)]
        struct Killed {
            #[diesel(sql_type = diesel::sql_types::Bool)]
            terminated: bool,
        }
        let rows: Vec<Killed> = diesel::sql_query(format!(
            "SELECT pg_terminate_backend(pid) AS terminated FROM pg_stat_activity \
             WHERE datname = '{name}' AND state = 'active' \
             AND (query LIKE 'COPY \"trades\"%' OR query LIKE 'INSERT INTO \"trades\"%')"
        ))
        .load(&mut admin)
        .unwrap();
        killed = rows.iter().filter(|r| r.terminated).count();
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(killed > 0, "the writer was never seen inserting trades");
    let result = writer.join().unwrap();
    assert!(result.is_err(), "the killed write reports an error");
    let reader = db.open();
    assert!(
        reader
            .runs_of_job("j", Metric::Sharpe, true, 10, 0)
            .unwrap()
            .is_empty()
    );
    assert!(reader.trades_of_run("j-run").unwrap().is_empty());
    assert_eq!(reader.job("j").unwrap().runs_succeeded, 0);
}

#[test]
fn processes_opening_a_new_sqlite_file_at_once_migrate_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("fresh.db").display());
    let openers: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || Store::open(&url).map(|s| s.migration_status().unwrap()))
        })
        .collect();
    for opener in openers {
        let status = opener.join().unwrap().expect("every opener succeeds");
        assert_eq!(status.applied.len(), 3);
        assert!(status.pending.is_empty());
    }
}
