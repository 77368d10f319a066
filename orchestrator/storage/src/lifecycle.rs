//! Queries the daemon needs beyond recording results: guarded job state changes (so that two
//! daemons, or a worker and a cancel request, never overwrite each other's decision), which runs
//! of a job already have a result, and the cron schedules.

use std::collections::HashSet;

use diesel::prelude::*;

use crate::models::{JobRow, JobStatus, RunRow, ScheduleRow};
use crate::schema::{jobs, run_archives, runs, schedules};
use crate::store::{WriteTransaction as _, with_conn};
use crate::{StorageError, Store};

impl Store {
    /// Moves a job to `to` only if its status is one of `from`; returns whether it moved. Moving
    /// to `running` keeps the first start time; moving to a final state sets the end time and
    /// `error`.
    ///
    /// # Errors
    /// Database errors.
    pub fn transition_job(
        &self,
        id: &str,
        from: &[JobStatus],
        to: JobStatus,
        at_ms: i64,
        error: Option<&str>,
    ) -> Result<bool, StorageError> {
        let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
        let finished = matches!(
            to,
            JobStatus::Completed | JobStatus::Failed | JobStatus::Cancelled
        );
        let changed = with_conn!(self, conn => {
            let target = jobs::table
                .filter(jobs::id.eq(id))
                .filter(jobs::status.eq_any(&from));
            let result = if to == JobStatus::Running {
                diesel::update(target)
                    .set((
                        jobs::status.eq(to.as_str()),
                        jobs::started_ms.eq(diesel::dsl::sql::<
                            diesel::sql_types::Nullable<diesel::sql_types::BigInt>,
                        >("COALESCE(started_ms, ")
                        .bind::<diesel::sql_types::BigInt, _>(at_ms)
                        .sql(")")),
                    ))
                    .execute(conn)
            } else if finished {
                diesel::update(target)
                    .set((
                        jobs::status.eq(to.as_str()),
                        jobs::finished_ms.eq(Some(at_ms)),
                        jobs::error.eq(error),
                    ))
                    .execute(conn)
            } else {
                diesel::update(target).set(jobs::status.eq(to.as_str())).execute(conn)
            };
            result.map_err(|e| StorageError::query(&self.db, "changing a job's status", e))?
        });
        Ok(changed > 0)
    }

    /// Marks a running job `completed` when every run has a result; returns the job as it is
    /// afterwards.
    ///
    /// # Errors
    /// [`StorageError::NotFound`], database errors.
    pub fn complete_job_if_done(&self, id: &str, at_ms: i64) -> Result<JobRow, StorageError> {
        let job = self.job(id)?;
        if job.status == JobStatus::Running.as_str()
            && job.runs_succeeded + job.runs_failed >= job.runs_total
        {
            self.transition_job(id, &[JobStatus::Running], JobStatus::Completed, at_ms, None)?;
            return self.job(id);
        }
        Ok(job)
    }

    /// Run keys of a job that already have a result (succeeded or failed).
    ///
    /// # Errors
    /// Database errors.
    pub fn finished_run_keys(&self, job_id: &str) -> Result<HashSet<String>, StorageError> {
        let keys: Vec<String> = with_conn!(self, conn => {
            runs::table
                .filter(runs::job_id.eq(job_id))
                .select(runs::run_key)
                .load(conn)
                .map_err(|e| StorageError::query(&self.db, "reading finished runs", e))?
        });
        Ok(keys.into_iter().collect())
    }

    /// Jobs in `status`, oldest submission first.
    ///
    /// # Errors
    /// Database errors.
    pub fn jobs_in_status(&self, status: JobStatus) -> Result<Vec<JobRow>, StorageError> {
        with_conn!(self, conn => {
            jobs::table
                .filter(jobs::status.eq(status.as_str()))
                .order(jobs::submitted_ms.asc())
                .select(JobRow::as_select())
                .load(conn)
                .map_err(|e| StorageError::query(&self.db, "listing jobs by status", e))
        })
    }

    /// Adds a schedule, or replaces the cron expression, template and enabled flag of the one
    /// with that name (keeping its fire times).
    ///
    /// # Errors
    /// Database errors.
    pub fn upsert_schedule(&self, schedule: &ScheduleRow) -> Result<(), StorageError> {
        with_conn!(self, conn => {
            diesel::insert_into(schedules::table)
                .values(schedule)
                .on_conflict(schedules::name)
                .do_update()
                .set((
                    schedules::cron.eq(&schedule.cron),
                    schedules::job_template.eq(&schedule.job_template),
                    schedules::enabled.eq(schedule.enabled),
                    schedules::source.eq(&schedule.source),
                    schedules::base_dir.eq(&schedule.base_dir),
                ))
                .execute(conn)
                .map_err(|e| StorageError::query(&self.db, "saving a schedule", e))?;
        });
        Ok(())
    }

    /// Every schedule, by name.
    ///
    /// # Errors
    /// Database errors.
    pub fn list_schedules(&self) -> Result<Vec<ScheduleRow>, StorageError> {
        with_conn!(self, conn => {
            schedules::table
                .order(schedules::name.asc())
                .select(ScheduleRow::as_select())
                .load(conn)
                .map_err(|e| StorageError::query(&self.db, "listing schedules", e))
        })
    }

    /// Removes a schedule; false when there was none of that name.
    ///
    /// # Errors
    /// Database errors.
    pub fn delete_schedule(&self, name: &str) -> Result<bool, StorageError> {
        let deleted = with_conn!(self, conn => {
            diesel::delete(schedules::table.filter(schedules::name.eq(name)))
                .execute(conn)
                .map_err(|e| StorageError::query(&self.db, "deleting a schedule", e))?
        });
        Ok(deleted > 0)
    }

    /// Records that a schedule fired at `last_ms` (never moving it backwards) and its next tick.
    ///
    /// # Errors
    /// Database errors.
    pub fn set_schedule_fired(
        &self,
        name: &str,
        last_ms: i64,
        next_ms: Option<i64>,
    ) -> Result<(), StorageError> {
        with_conn!(self, conn => {
            diesel::update(
                schedules::table
                    .filter(schedules::name.eq(name))
                    .filter(
                        schedules::last_fire_ms
                            .is_null()
                            .or(schedules::last_fire_ms.le(last_ms)),
                    ),
            )
            .set((
                schedules::last_fire_ms.eq(Some(last_ms)),
                schedules::next_fire_ms.eq(next_ms),
            ))
            .execute(conn)
            .map_err(|e| StorageError::query(&self.db, "updating a schedule", e))?;
        });
        Ok(())
    }
}

/// The archive's bookkeeping.
impl Store {
    /// Runs waiting for the archive, oldest first.
    ///
    /// # Errors
    /// Database errors.
    pub fn runs_pending_archive(&self, limit: i64) -> Result<Vec<RunRow>, StorageError> {
        with_conn!(self, conn => {
            runs::table
                .filter(runs::archive_status.eq("pending"))
                .order(runs::finished_ms.asc())
                .limit(limit)
                .select(RunRow::as_select())
                .load(conn)
                .map_err(|e| StorageError::query(&self.db, "listing runs waiting for the archive", e))
        })
    }

    /// Number of runs waiting for the archive (of one job, or all).
    ///
    /// # Errors
    /// Database errors.
    pub fn count_runs_pending_archive(&self, job_id: Option<&str>) -> Result<i64, StorageError> {
        with_conn!(self, conn => {
            let mut query = runs::table
                .filter(runs::archive_status.eq("pending"))
                .into_boxed();
            if let Some(job_id) = job_id {
                query = query.filter(runs::job_id.eq(job_id));
            }
            query
                .count()
                .get_result(conn)
                .map_err(|e| StorageError::query(&self.db, "counting runs waiting for the archive", e))
        })
    }

    /// Records where a run was archived: its prefix URL, digest and objects (JSON).
    ///
    /// # Errors
    /// Database errors.
    pub fn set_run_archived(
        &self,
        run_id: &str,
        url: &str,
        sha256: &str,
        objects_json: &str,
    ) -> Result<(), StorageError> {
        with_conn!(self, conn => {
            conn.write_transaction::<_, diesel::result::Error, _>(|conn| {
                diesel::insert_into(run_archives::table)
                    .values((
                        run_archives::run_id.eq(run_id),
                        run_archives::objects.eq(objects_json),
                    ))
                    .on_conflict(run_archives::run_id)
                    .do_update()
                    .set(run_archives::objects.eq(objects_json))
                    .execute(conn)?;
                diesel::update(runs::table.filter(runs::id.eq(run_id)))
                    .set((
                        runs::archive_status.eq("archived"),
                        runs::archive_url.eq(url),
                        runs::archive_sha256.eq(sha256),
                    ))
                    .execute(conn)?;
                Ok(())
            })
            .map_err(|e| StorageError::query(&self.db, "recording a run's archive", e))?;
        });
        Ok(())
    }

    /// The archived objects (JSON) of each archived run of a job, by run id.
    ///
    /// # Errors
    /// Database errors.
    pub fn run_archives_of_job(&self, job_id: &str) -> Result<Vec<(String, String)>, StorageError> {
        with_conn!(self, conn => {
            run_archives::table
                .inner_join(runs::table.on(runs::id.eq(run_archives::run_id)))
                .filter(runs::job_id.eq(job_id))
                .order(run_archives::run_id.asc())
                .select((run_archives::run_id, run_archives::objects))
                .load(conn)
                .map_err(|e| StorageError::query(&self.db, "reading a job's archive records", e))
        })
    }

    /// Ended jobs whose runs are all archived but whose summary and manifest are not.
    ///
    /// # Errors
    /// Database errors.
    pub fn jobs_awaiting_archive(&self, limit: i64) -> Result<Vec<JobRow>, StorageError> {
        with_conn!(self, conn => {
            let pending = runs::table
                .filter(runs::job_id.eq(jobs::id))
                .filter(runs::archive_status.eq("pending"));
            jobs::table
                .filter(jobs::archived_ms.is_null())
                .filter(jobs::status.eq_any(["completed", "failed", "cancelled"]))
                .filter(diesel::dsl::not(diesel::dsl::exists(pending)))
                .order(jobs::submitted_ms.asc())
                .limit(limit)
                .select(JobRow::as_select())
                .load(conn)
                .map_err(|e| StorageError::query(&self.db, "listing jobs to archive", e))
        })
    }

    /// Records that a job's summary and manifest were archived.
    ///
    /// # Errors
    /// Database errors.
    pub fn set_job_archived(&self, job_id: &str, at_ms: i64) -> Result<(), StorageError> {
        with_conn!(self, conn => {
            diesel::update(jobs::table.filter(jobs::id.eq(job_id)))
                .set(jobs::archived_ms.eq(Some(at_ms)))
                .execute(conn)
                .map_err(|e| StorageError::query(&self.db, "recording a job's archive", e))?;
        });
        Ok(())
    }

    /// Ended jobs that finished before `before_ms`, oldest first (what retention prunes).
    ///
    /// # Errors
    /// Database errors.
    pub fn jobs_finished_before(&self, before_ms: i64) -> Result<Vec<JobRow>, StorageError> {
        with_conn!(self, conn => {
            jobs::table
                .filter(jobs::finished_ms.lt(before_ms))
                .filter(jobs::status.eq_any(["completed", "failed", "cancelled"]))
                .order(jobs::finished_ms.asc())
                .select(JobRow::as_select())
                .load(conn)
                .map_err(|e| StorageError::query(&self.db, "listing old jobs", e))
        })
    }
}

impl Store {
    /// Jobs that ended `failed` after `after_ms`, oldest first (what alerts report).
    ///
    /// # Errors
    /// Database errors.
    pub fn jobs_failed_after(&self, after_ms: i64) -> Result<Vec<JobRow>, StorageError> {
        with_conn!(self, conn => {
            jobs::table
                .filter(jobs::status.eq(JobStatus::Failed.as_str()))
                .filter(jobs::finished_ms.gt(after_ms))
                .order(jobs::finished_ms.asc())
                .select(JobRow::as_select())
                .load(conn)
                .map_err(|e| StorageError::query(&self.db, "listing failed jobs", e))
        })
    }
}
