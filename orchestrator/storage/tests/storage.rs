//! The storage test suite, run against SQLite and against the real PostgreSQL server (a fresh
//! database per test): migrations, idempotent writes, aborted writes, queries, schema drift.

mod common;

use barwise_engine::Report;
use barwise_storage::{
    JobFilter, JobStatus, Metric, NewJob, RecordOutcome, RunRecord, RunResult, RunStatus,
    StorageError, Store,
};
use common::TestDb;
use diesel::prelude::*;

/// A real report from the engine: `entries` long trades held 3 bars on synthetic candles.
fn report(entries: usize, seed: u64) -> Report {
    barwise_test_support::sample_report(entries, seed).0
}

fn job(id: &str) -> NewJob {
    NewJob {
        id: id.into(),
        name: format!("job {id}"),
        definition: "[job]\nname = \"x\"".into(),
        runs_total: 10,
        submitted_ms: 1_000,
        idempotency_key: None,
        timeout_ms: Some(3_600_000),
    }
}

fn run_record(job_id: &str, key: &str) -> RunRecord {
    RunRecord {
        id: format!("{job_id}-{key}"),
        job_id: job_id.into(),
        run_key: key.into(),
        symbol: "ETH/BTC".into(),
        data_source: "tests/data/ETH_BTC-5m.csv".into(),
        plugin_name: "test_strategy".into(),
        params_json: format!("{{\"key\":\"{key}\"}}"),
        execution_json: "{}".into(),
        attempts: 1,
        started_ms: 2_000,
        finished_ms: 2_500,
    }
}

on_both_backends!(migrations_go_up_down_and_redo, |db: TestDb| {
    let store = db.open();
    let status = store.migration_status().unwrap();
    assert_eq!(status.applied.len(), 3, "{status:?}");
    assert!(status.pending.is_empty() && status.unknown.is_empty());
    store.create_job(&job("j1")).unwrap();
    // Every migration goes down; the newest first.
    let newest = store.migrate_revert().unwrap();
    assert!(newest.is_some());
    assert!(store.migrate_revert().unwrap().is_some());
    let reverted = store.migrate_revert().unwrap();
    assert!(reverted.is_some());
    let status = store.migration_status().unwrap();
    assert!(status.applied.is_empty());
    assert_eq!(status.pending.len(), 3);
    // The tables are gone with the down migration.
    assert!(store.list_jobs(&JobFilter::default()).is_err());

    store.migrate_run().unwrap();
    assert!(store.list_jobs(&JobFilter::default()).unwrap().is_empty());
    assert_eq!(store.migrate_redo().unwrap(), newest);
    store.ensure_current().unwrap();
    assert_eq!(store.migrate_revert().unwrap(), newest);
    store.migrate_revert().unwrap();
    assert_eq!(store.migrate_revert().unwrap(), reverted);
    assert_eq!(
        store.migrate_revert().unwrap(),
        None,
        "nothing left to revert"
    );
});

on_both_backends!(newer_schema_is_refused_with_advice, |db: TestDb| {
    let store = db.open();
    match &db {
        TestDb::Sqlite(_) => {
            let path = db.url().trim_start_matches("sqlite://").to_owned();
            let mut conn = SqliteConnection::establish(&path).unwrap();
            diesel::sql_query(
                "INSERT INTO __diesel_schema_migrations (version) VALUES ('29991231000000')",
            )
            .execute(&mut conn)
            .unwrap();
        }
        TestDb::Postgres { url, .. } => {
            let mut conn = PgConnection::establish(url).unwrap();
            diesel::sql_query(
                "INSERT INTO __diesel_schema_migrations (version) VALUES ('29991231000000')",
            )
            .execute(&mut conn)
            .unwrap();
        }
    }
    let err = store.ensure_current().unwrap_err();
    assert!(matches!(err, StorageError::UnknownSchema { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("29991231000000") && text.contains("upgrade barwise"),
        "{text}"
    );
    assert!(matches!(
        store.migrate_run(),
        Err(StorageError::UnknownSchema { .. })
    ));
    if let TestDb::Sqlite(_) = db {
        // Opening applies migrations only when it knows the schema.
        let reopened = Store::open(&db.url()).unwrap_err();
        assert!(
            matches!(reopened, StorageError::UnknownSchema { .. }),
            "{reopened}"
        );
    }
});

on_both_backends!(jobs_are_created_once_per_idempotency_key, |db: TestDb| {
    let store = db.open();
    let keyed = NewJob {
        idempotency_key: Some("nightly@2026-11-26T00:00Z".into()),
        ..job("a")
    };
    let (first, created) = store.create_job(&keyed).unwrap();
    assert!(created);
    let (second, created_again) = store
        .create_job(&NewJob {
            id: "b".into(),
            ..keyed.clone()
        })
        .unwrap();
    assert!(!created_again);
    assert_eq!(second, first);
    assert_eq!(store.list_jobs(&JobFilter::default()).unwrap().len(), 1);
    // Without a key every submission is a job.
    store.create_job(&job("c")).unwrap();
    store.create_job(&job("d")).unwrap();
    assert_eq!(store.list_jobs(&JobFilter::default()).unwrap().len(), 3);
    // The same id twice is an error, not a silent overwrite.
    assert!(store.create_job(&job("c")).is_err());
});

on_both_backends!(a_run_delivered_twice_is_recorded_once, |db: TestDb| {
    let store = db.open();
    store.create_job(&job("j")).unwrap();
    let r = report(40, 1);
    let record = run_record("j", "r1");
    let first = store.record_run(&record, RunResult::Succeeded(&r)).unwrap();
    assert_eq!(first, RecordOutcome::Recorded("j-r1".into()));
    // The redelivered task carries another run id; the key decides.
    let again = RunRecord {
        id: "another-id".into(),
        attempts: 2,
        ..record.clone()
    };
    let second = store.record_run(&again, RunResult::Succeeded(&r)).unwrap();
    assert_eq!(second, RecordOutcome::AlreadyRecorded("j-r1".into()));
    // A late failure report does not overwrite the success.
    let late = store
        .record_run(&again, RunResult::Failed("worker lost"))
        .unwrap();
    assert_eq!(late, RecordOutcome::AlreadyRecorded("j-r1".into()));

    let runs = store
        .runs_of_job("j", Metric::Sharpe, true, 100, 0)
        .unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, "succeeded");
    assert_eq!(runs[0].attempts, 1);
    let trades = store.trades_of_run("j-r1").unwrap();
    assert_eq!(trades.len(), r.trades.len());
    assert_eq!(trades.len(), 40);
    let job = store.job("j").unwrap();
    assert_eq!((job.runs_succeeded, job.runs_failed), (1, 0));
});

on_both_backends!(failures_count_and_yield_to_a_later_success, |db: TestDb| {
    let store = db.open();
    store.create_job(&job("j")).unwrap();
    let record = run_record("j", "r");
    store
        .record_run(&record, RunResult::Failed("plugin crashed: SIGSEGV"))
        .unwrap();
    let retried = RunRecord {
        attempts: 2,
        ..record.clone()
    };
    store
        .record_run(&retried, RunResult::Failed("plugin crashed: SIGSEGV"))
        .unwrap();
    let run = store.run("j-r").unwrap();
    assert_eq!((run.status.as_str(), run.attempts), ("failed", 2));
    assert_eq!(run.error.as_deref(), Some("plugin crashed: SIGSEGV"));
    assert_eq!(
        store.job("j").unwrap().runs_failed,
        1,
        "one run, counted once"
    );

    let r = report(5, 2);
    let third = RunRecord {
        attempts: 3,
        ..record
    };
    assert_eq!(
        store.record_run(&third, RunResult::Succeeded(&r)).unwrap(),
        RecordOutcome::Recorded("j-r".into())
    );
    let run = store.run("j-r").unwrap();
    assert_eq!(run.status, "succeeded");
    assert_eq!(run.error, None);
    assert_eq!(run.sharpe, r.metrics.sharpe);
    let job = store.job("j").unwrap();
    assert_eq!((job.runs_succeeded, job.runs_failed), (1, 0));
});

on_both_backends!(every_metric_and_trade_field_round_trips, |db: TestDb| {
    let store = db.open();
    store.create_job(&job("j")).unwrap();
    let r = report(12, 3);
    store
        .record_run(&run_record("j", "k"), RunResult::Succeeded(&r))
        .unwrap();
    let run = store.run("j-k").unwrap();
    let m = &r.metrics;
    assert_eq!(run.total_return, Some(m.total_return));
    assert_eq!(run.cagr, m.cagr);
    assert_eq!(run.sharpe, m.sharpe);
    assert_eq!(run.sortino, m.sortino);
    assert_eq!(run.max_drawdown, Some(m.max_drawdown));
    assert_eq!(run.calmar, m.calmar);
    assert_eq!(run.trade_count, Some(m.trades as i64));
    assert_eq!(run.win_rate, m.win_rate);
    assert_eq!(run.avg_return, m.avg_return);
    assert_eq!(run.profit_factor, m.profit_factor);
    assert_eq!(run.avg_hold_bars, m.avg_hold_bars);
    assert_eq!(run.exposure, Some(m.exposure));
    assert_eq!(run.final_equity, Some(m.final_equity));
    assert_eq!(run.buy_and_hold_return, Some(m.buy_and_hold_return));
    assert_eq!(run.plugin_version.as_deref(), Some("1.2.3"));
    assert_eq!(run.bars, Some(r.data.bars as i64));
    let trades = store.trades_of_run("j-k").unwrap();
    for (row, t) in trades.iter().zip(&r.trades) {
        assert_eq!(row.entry_index, t.entry_index as i64);
        assert_eq!(row.exit_index, t.exit_index as i64);
        assert_eq!(row.entry_time_ms, t.entry_time.0);
        assert_eq!(row.exit_time_ms, t.exit_time.0);
        assert_eq!(row.direction, "long");
        assert_eq!(row.entry_price, t.entry_price);
        assert_eq!(row.exit_price, t.exit_price);
        assert_eq!(row.quantity, t.quantity);
        assert_eq!(row.fees, t.fees);
        assert_eq!(row.pnl, t.pnl);
        assert_eq!(row.trade_return, t.trade_return);
        assert_eq!(row.exit_reason, "hold_period");
    }
});

on_both_backends!(
    runs_rank_by_any_metric_with_missing_values_last,
    |db: TestDb| {
        let store = db.open();
        store.create_job(&job("j")).unwrap();
        for k in 0..30u64 {
            let mut r = report(3, k);
            // Sharpe by construction: k, except every fifth run has none.
            r.metrics.sharpe = (k % 5 != 0).then_some(k as f64);
            store
                .record_run(
                    &run_record("j", &format!("r{k:02}")),
                    RunResult::Succeeded(&r),
                )
                .unwrap();
        }
        let sharpe = |rows: Vec<barwise_storage::RunRow>| -> Vec<Option<f64>> {
            rows.iter().map(|r| r.sharpe).collect()
        };
        let best = sharpe(store.runs_of_job("j", Metric::Sharpe, true, 3, 0).unwrap());
        assert_eq!(best, [Some(29.0), Some(28.0), Some(27.0)]);
        let worst = sharpe(store.runs_of_job("j", Metric::Sharpe, false, 3, 0).unwrap());
        assert_eq!(worst, [Some(1.0), Some(2.0), Some(3.0)]);
        let all_desc = sharpe(
            store
                .runs_of_job("j", Metric::Sharpe, true, 100, 0)
                .unwrap(),
        );
        assert_eq!(all_desc.len(), 30);
        assert!(all_desc[24..].iter().all(Option::is_none), "{all_desc:?}");
        let all_asc = sharpe(
            store
                .runs_of_job("j", Metric::Sharpe, false, 100, 0)
                .unwrap(),
        );
        assert!(all_asc[24..].iter().all(Option::is_none), "{all_asc:?}");
        // Paging continues where the last page ended.
        let page2 = sharpe(store.runs_of_job("j", Metric::Sharpe, true, 3, 3).unwrap());
        assert_eq!(page2, [Some(26.0), Some(24.0), Some(23.0)]);
        let top = store.top_params("j", Metric::Sharpe, 2).unwrap();
        assert_eq!(top[0].0, "{\"key\":\"r29\"}");
        assert_eq!(top.len(), 2);
        assert_eq!(Metric::parse("sharpe"), Ok(Metric::Sharpe));
        assert!(Metric::parse("sharp").unwrap_err().contains("total_return"));
    }
);

on_both_backends!(
    jobs_filter_count_and_delete_with_everything_under_them,
    |db: TestDb| {
        let store = db.open();
        for (id, t) in [("a", 10), ("b", 20), ("c", 30)] {
            store
                .create_job(&NewJob {
                    submitted_ms: t,
                    name: format!("sweep {id}"),
                    ..job(id)
                })
                .unwrap();
        }
        store
            .set_job_status("b", JobStatus::Running, 25, None)
            .unwrap();
        store
            .set_job_status("c", JobStatus::Failed, 35, Some("timed out"))
            .unwrap();
        assert!(
            store
                .set_job_status("zz", JobStatus::Running, 1, None)
                .is_err()
        );
        let newest_first: Vec<String> = store
            .list_jobs(&JobFilter::default())
            .unwrap()
            .into_iter()
            .map(|j| j.id)
            .collect();
        assert_eq!(newest_first, ["c", "b", "a"]);
        let running = store
            .list_jobs(&JobFilter {
                status: Some(JobStatus::Running),
                ..JobFilter::default()
            })
            .unwrap();
        assert_eq!(running.len(), 1);
        assert_eq!(running[0].started_ms, Some(25));
        let page = store
            .list_jobs(&JobFilter {
                limit: Some(1),
                offset: Some(1),
                submitted_since_ms: Some(15),
                name_contains: Some("sweep".into()),
                ..JobFilter::default()
            })
            .unwrap();
        assert_eq!(page[0].id, "b");
        let failed = store.job("c").unwrap();
        assert_eq!(
            (failed.finished_ms, failed.error.as_deref()),
            (Some(35), Some("timed out"))
        );
        let counts = store.count_jobs_by_status().unwrap();
        assert!(counts.contains(&(JobStatus::Queued, 1)));
        assert!(counts.contains(&(JobStatus::Running, 1)));
        assert!(counts.contains(&(JobStatus::Failed, 1)));
        assert!(counts.contains(&(JobStatus::Completed, 0)));

        store
            .record_run(&run_record("a", "r"), RunResult::Succeeded(&report(8, 4)))
            .unwrap();
        assert_eq!(store.trades_of_run("a-r").unwrap().len(), 8);
        assert!(store.delete_job("a").unwrap());
        assert!(!store.delete_job("a").unwrap());
        assert!(
            store.trades_of_run("a-r").unwrap().is_empty(),
            "trades cascade"
        );
        assert!(matches!(
            store.run("a-r"),
            Err(StorageError::NotFound { .. })
        ));
        assert!(matches!(store.job("a"), Err(StorageError::NotFound { .. })));
        assert!(matches!(
            store.record_run(&run_record("gone", "r"), RunResult::Failed("x")),
            Err(StorageError::NotFound { .. })
        ));
        assert_eq!(RunStatus::parse("succeeded"), Some(RunStatus::Succeeded));
    }
);

/// The columns the diesel schema expects, read from the SQL it generates for `SELECT *`.
fn schema_columns<Q>(query: Q) -> Vec<String>
where
    Q: diesel::query_builder::QueryFragment<diesel::pg::Pg>,
{
    let sql = diesel::debug_query::<diesel::pg::Pg, _>(&query).to_string();
    let select = sql
        .split(" FROM ")
        .next()
        .unwrap()
        .trim_start_matches("SELECT ");
    select
        .split(", ")
        .map(|c| c.rsplit('.').next().unwrap().trim_matches('"').to_owned())
        .collect()
}

#[derive(QueryableByName)]
struct ColumnName {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
}

on_both_backends!(diesel_schema_matches_the_migrated_tables, |db: TestDb| {
    use barwise_storage::schema::{backups, jobs, runs, schedules, trades};
    let store = db.open();
    drop(store);
    let expected = [
        (
            "jobs",
            schema_columns(jobs::table.select(jobs::all_columns)),
        ),
        (
            "runs",
            schema_columns(runs::table.select(runs::all_columns)),
        ),
        (
            "trades",
            schema_columns(trades::table.select(trades::all_columns)),
        ),
        (
            "schedules",
            schema_columns(schedules::table.select(schedules::all_columns)),
        ),
        (
            "backups",
            schema_columns(backups::table.select(backups::all_columns)),
        ),
    ];
    for (table, mut want) in expected {
        let mut have: Vec<String> = match &db {
            TestDb::Sqlite(_) => {
                let path = db.url().trim_start_matches("sqlite://").to_owned();
                let mut conn = SqliteConnection::establish(&path).unwrap();
                diesel::sql_query(format!("SELECT name FROM pragma_table_info('{table}')"))
                    .load::<ColumnName>(&mut conn)
                    .unwrap()
            }
            TestDb::Postgres { url, .. } => {
                let mut conn = PgConnection::establish(url).unwrap();
                diesel::sql_query(format!(
                    "SELECT column_name::text AS name FROM information_schema.columns \
                     WHERE table_schema = 'public' AND table_name = '{table}'"
                ))
                .load::<ColumnName>(&mut conn)
                .unwrap()
            }
        }
        .into_iter()
        .map(|c| c.name)
        .collect();
        want.sort();
        have.sort();
        assert_eq!(
            want, have,
            "table {table}: diesel schema and migrations differ"
        );
    }
});

on_both_backends!(racing_deliveries_record_one_result, |db: TestDb| {
    let store = db.open();
    store.create_job(&job("j")).unwrap();
    let r = std::sync::Arc::new(report(150, 9));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (store, r) = (store.clone(), r.clone());
            std::thread::spawn(move || {
                let record = RunRecord {
                    id: format!("delivery-{w}"),
                    ..run_record("j", "same")
                };
                store.record_run(&record, RunResult::Succeeded(&r)).unwrap()
            })
        })
        .collect();
    let outcomes: Vec<RecordOutcome> = writers.into_iter().map(|w| w.join().unwrap()).collect();
    let recorded: Vec<&RecordOutcome> = outcomes
        .iter()
        .filter(|o| matches!(o, RecordOutcome::Recorded(_)))
        .collect();
    assert_eq!(recorded.len(), 1, "{outcomes:?}");
    let RecordOutcome::Recorded(winner) = recorded[0] else {
        unreachable!()
    };
    for o in &outcomes {
        if let RecordOutcome::AlreadyRecorded(id) = o {
            assert_eq!(id, winner);
        }
    }
    assert_eq!(
        store
            .runs_of_job("j", Metric::Sharpe, true, 10, 0)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(store.trades_of_run(winner).unwrap().len(), 150);
    assert_eq!(store.job("j").unwrap().runs_succeeded, 1);
});

on_both_backends!(
    racing_submissions_with_one_key_create_one_job,
    |db: TestDb| {
        let store = db.open();
        let submitters: Vec<_> = (0..4)
            .map(|w| {
                let store = store.clone();
                std::thread::spawn(move || {
                    let new = NewJob {
                        idempotency_key: Some("nightly@2026-11-27T00:00Z".into()),
                        ..job(&format!("daemon-{w}"))
                    };
                    store.create_job(&new).unwrap()
                })
            })
            .collect();
        let results: Vec<_> = submitters.into_iter().map(|s| s.join().unwrap()).collect();
        assert_eq!(results.iter().filter(|(_, created)| *created).count(), 1);
        let ids: std::collections::BTreeSet<&str> =
            results.iter().map(|(j, _)| j.id.as_str()).collect();
        assert_eq!(ids.len(), 1, "every submitter sees the same job");
        assert_eq!(store.list_jobs(&JobFilter::default()).unwrap().len(), 1);
    }
);
