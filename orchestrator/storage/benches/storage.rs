//! Storage speed targets (results in `docs/BENCHMARKS.md`):
//! - writing 1,000 runs with 200 trades each (200,000 trades), each run in its own idempotent
//!   transaction: under 3 s on SQLite, under 5 s on the local PostgreSQL;
//! - ranking 100,000 runs of a job by Sharpe and returning the top 20: under 50 ms.
//!
//! Run: `cargo bench -p barwise-storage --bench storage`. PostgreSQL comes from
//! `BARWISE_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`); its
//! benchmarks are skipped with a message when the server is unreachable.

use std::hint::black_box;
use std::time::Duration;

use barwise_engine::{
    Direction, ExecutionSettings, ExitReason, Params, Report, Signals, TimeMs, Trade,
};
use barwise_storage::{Metric, NewJob, RunRecord, RunResult, Store};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use diesel::prelude::*;

const RUNS: usize = 1_000;
const TRADES_PER_RUN: usize = 200;
const RANKED_RUNS: i64 = 100_000;

fn report() -> Report {
    let candles = barwise_test_support::synthetic_candles(1_000, 1);
    let signals = Signals::none(candles.len());
    let settings = ExecutionSettings::default();
    let backtest = barwise_engine::backtest(&candles, &signals, &settings).unwrap();
    let mut report = Report::new(
        "bench".into(),
        "1".into(),
        Params::new(),
        settings,
        &candles,
        backtest,
    );
    report.trades = (0..TRADES_PER_RUN)
        .map(|i| Trade {
            entry_index: 2 * i,
            exit_index: 2 * i + 1,
            entry_time: TimeMs(2 * i as i64 * 60_000),
            exit_time: TimeMs((2 * i as i64 + 1) * 60_000),
            direction: if i % 2 == 0 {
                Direction::Long
            } else {
                Direction::Short
            },
            entry_price: 100.0 + i as f64,
            exit_price: 101.0 + i as f64,
            quantity: 1.5,
            fees: 0.2,
            pnl: 1.3,
            trade_return: 0.013,
            exit_reason: ExitReason::Signal,
        })
        .collect();
    report
}

fn job(id: &str) -> NewJob {
    NewJob {
        id: id.into(),
        name: id.into(),
        definition: String::new(),
        runs_total: RUNS as i32,
        submitted_ms: 0,
        idempotency_key: None,
        timeout_ms: None,
    }
}

fn write_runs(store: &Store, report: &Report) {
    for k in 0..RUNS {
        let record = RunRecord {
            id: format!("run-{k}"),
            job_id: "bench".into(),
            run_key: format!("k{k}"),
            symbol: "BTC/USDT".into(),
            data_source: "candles.parquet".into(),
            plugin_name: "bench".into(),
            params_json: format!("{{\"window\":{k}}}"),
            execution_json: "{}".into(),
            attempts: 1,
            started_ms: 0,
            finished_ms: 1,
        };
        store
            .record_run(&record, RunResult::Succeeded(report))
            .unwrap();
    }
}

/// 100,000 runs with pseudo-random Sharpe ratios, inserted with one SQL statement.
const FILL_RUNS_SQL: &str = "INSERT INTO runs (id, job_id, run_key, symbol, data_source, plugin_name, \
     params, execution, status, attempts, sharpe) \
     SELECT 'r' || n, 'rank', 'k' || n, 'X', 'x', 'p', '{}', '{}', 'succeeded', 1, \
     ((n * 7919) % 100003) / 1000.0 FROM series";

fn postgres_admin() -> Option<String> {
    let url = std::env::var("BARWISE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    match PgConnection::establish(&url) {
        Ok(_) => Some(url),
        Err(e) => {
            eprintln!("*** SKIPPED PostgreSQL benchmarks: {url} unreachable: {e} ***");
            None
        }
    }
}

fn fresh_postgres(admin_url: &str, name: &str) -> String {
    let mut admin = PgConnection::establish(admin_url).unwrap();
    diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .unwrap();
    diesel::sql_query(format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .unwrap();
    format!("{}/{name}", admin_url.rsplit_once('/').unwrap().0)
}

fn bench(c: &mut Criterion) {
    let report = report();
    let mut group = c.benchmark_group("storage");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(30));

    // SQLite: a fresh file per iteration.
    group.bench_function("write_1000_runs_x_200_trades/sqlite", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().unwrap();
                let store = Store::open(&format!("sqlite://{}", dir.path().join("r.db").display()))
                    .unwrap();
                store.create_job(&job("bench")).unwrap();
                (dir, store)
            },
            |(dir, store)| {
                write_runs(&store, &report);
                (dir, store)
            },
            BatchSize::PerIteration,
        );
    });
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Store::open(&format!(
        "sqlite://{}",
        dir.path().join("rank.db").display()
    ))
    .unwrap();
    sqlite.create_job(&job("rank")).unwrap();
    let mut conn =
        SqliteConnection::establish(&dir.path().join("rank.db").to_string_lossy()).unwrap();
    diesel::sql_query(format!(
        "WITH RECURSIVE series(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM series WHERE n < {RANKED_RUNS}) {FILL_RUNS_SQL}"
    ))
    .execute(&mut conn)
    .unwrap();
    diesel::sql_query("ANALYZE").execute(&mut conn).unwrap();
    group.bench_function("rank_100k_runs_top_20_by_sharpe/sqlite", |b| {
        b.iter(|| {
            black_box(
                sqlite
                    .runs_of_job("rank", Metric::Sharpe, true, 20, 0)
                    .unwrap(),
            )
        });
    });

    if let Some(admin) = postgres_admin() {
        let url = fresh_postgres(&admin, "barwise_bench_write");
        group.bench_function("write_1000_runs_x_200_trades/postgres", |b| {
            b.iter_batched(
                || {
                    let store = Store::open(&url).unwrap();
                    store.migrate_run().unwrap();
                    store.delete_job("bench").unwrap();
                    store.create_job(&job("bench")).unwrap();
                    store
                },
                |store| {
                    write_runs(&store, &report);
                    store
                },
                BatchSize::PerIteration,
            );
        });
        let url = fresh_postgres(&admin, "barwise_bench_rank");
        let pg = Store::open(&url).unwrap();
        pg.migrate_run().unwrap();
        pg.create_job(&job("rank")).unwrap();
        let mut conn = PgConnection::establish(&url).unwrap();
        diesel::sql_query(format!(
            "WITH series(n) AS (SELECT generate_series(1, {RANKED_RUNS})) {FILL_RUNS_SQL}"
        ))
        .execute(&mut conn)
        .unwrap();
        diesel::sql_query("ANALYZE runs")
            .execute(&mut conn)
            .unwrap();
        group.bench_function("rank_100k_runs_top_20_by_sharpe/postgres", |b| {
            b.iter(|| black_box(pg.runs_of_job("rank", Metric::Sharpe, true, 20, 0).unwrap()));
        });
        drop(pg);
        let mut admin_conn = PgConnection::establish(&admin).unwrap();
        for name in ["barwise_bench_write", "barwise_bench_rank"] {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut admin_conn);
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
