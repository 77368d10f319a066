//! The daemon's queries on both backends: guarded job transitions, finished run keys, job
//! completion, schedules.

mod common;

use barwise_storage::{JobStatus, NewJob, RunRecord, RunResult, ScheduleRow};
use common::TestDb;

fn job(id: &str, runs: i32) -> NewJob {
    NewJob {
        id: id.into(),
        name: format!("job {id}"),
        definition: "[job]\nname = \"x\"".into(),
        runs_total: runs,
        submitted_ms: 1_000,
        idempotency_key: None,
        timeout_ms: Some(60_000),
    }
}

fn failed_run(store: &barwise_storage::Store, job_id: &str, key: &str) {
    let record = RunRecord {
        id: format!("{job_id}-{key}"),
        job_id: job_id.into(),
        run_key: key.into(),
        symbol: "S".into(),
        data_source: "d.csv".into(),
        plugin_name: "p".into(),
        params_json: "{}".into(),
        execution_json: "{}".into(),
        attempts: 1,
        started_ms: 2_000,
        finished_ms: 2_100,
    };
    store
        .record_run(&record, RunResult::Failed("boom"))
        .unwrap();
}

on_both_backends!(transitions_only_leave_the_expected_states, |db: TestDb| {
    let store = db.open();
    store.create_job(&job("j", 2)).unwrap();
    let active = [JobStatus::Queued, JobStatus::Running];
    // Not running yet: completing is refused.
    assert!(
        !store
            .transition_job("j", &[JobStatus::Running], JobStatus::Completed, 5, None)
            .unwrap()
    );
    assert!(
        store
            .transition_job("j", &[JobStatus::Queued], JobStatus::Running, 10, None)
            .unwrap()
    );
    // A second start keeps the first start time.
    assert!(
        store
            .transition_job("j", &active, JobStatus::Running, 20, None)
            .unwrap()
    );
    assert_eq!(store.job("j").unwrap().started_ms, Some(10));
    assert!(
        store
            .transition_job("j", &active, JobStatus::Cancelled, 30, None)
            .unwrap()
    );
    // A worker finishing afterwards cannot turn the cancelled job into a completed one.
    assert!(
        !store
            .transition_job("j", &[JobStatus::Running], JobStatus::Completed, 40, None)
            .unwrap()
    );
    let j = store.job("j").unwrap();
    assert_eq!((j.status.as_str(), j.finished_ms), ("cancelled", Some(30)));
    // Unknown jobs are no error, nothing moves.
    assert!(
        !store
            .transition_job("nope", &active, JobStatus::Failed, 1, Some("x"))
            .unwrap()
    );
});

on_both_backends!(a_job_completes_when_every_run_has_a_result, |db: TestDb| {
    let store = db.open();
    store.create_job(&job("j", 2)).unwrap();
    store
        .transition_job("j", &[JobStatus::Queued], JobStatus::Running, 10, None)
        .unwrap();
    assert!(store.finished_run_keys("j").unwrap().is_empty());
    failed_run(&store, "j", "a");
    assert_eq!(
        store.complete_job_if_done("j", 20).unwrap().status,
        "running"
    );
    failed_run(&store, "j", "b");
    failed_run(&store, "j", "b");
    let keys = store.finished_run_keys("j").unwrap();
    assert_eq!(keys.len(), 2);
    assert!(keys.contains("a") && keys.contains("b"));
    let done = store.complete_job_if_done("j", 30).unwrap();
    assert_eq!(done.status, "completed");
    assert_eq!((done.runs_failed, done.finished_ms), (2, Some(30)));
    assert_eq!(store.jobs_in_status(JobStatus::Completed).unwrap().len(), 1);
    assert!(store.jobs_in_status(JobStatus::Running).unwrap().is_empty());
});

on_both_backends!(
    schedules_are_saved_replaced_fired_and_deleted,
    |db: TestDb| {
        let store = db.open();
        let row = ScheduleRow {
            name: "nightly".into(),
            cron: "0 2 * * *".into(),
            job_template: "[job]\nname = \"n\"".into(),
            enabled: true,
            created_ms: 100,
            last_fire_ms: None,
            next_fire_ms: Some(7_200_000),
            source: "api".into(),
            base_dir: Some("/data".into()),
        };
        store.upsert_schedule(&row).unwrap();
        store
            .set_schedule_fired("nightly", 7_200_000, Some(93_600_000))
            .unwrap();
        // Replacing keeps the fire times, changes the definition.
        store
            .upsert_schedule(&ScheduleRow {
                cron: "0 3 * * *".into(),
                source: "file:/etc/barwise/nightly.toml".into(),
                ..row.clone()
            })
            .unwrap();
        // A late, older fire does not move the last fire time back.
        store
            .set_schedule_fired("nightly", 1_000, Some(2_000))
            .unwrap();
        let listed = store.list_schedules().unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].cron, "0 3 * * *");
        assert_eq!(listed[0].source, "file:/etc/barwise/nightly.toml");
        assert_eq!(listed[0].last_fire_ms, Some(7_200_000));
        assert_eq!(listed[0].created_ms, 100);
        assert!(store.delete_schedule("nightly").unwrap());
        assert!(!store.delete_schedule("nightly").unwrap());
        assert!(store.list_schedules().unwrap().is_empty());
    }
);
