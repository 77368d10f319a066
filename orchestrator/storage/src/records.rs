//! The store's query API: jobs, idempotent run results, rankings, trades.

use diesel::prelude::*;

use barwise_engine::Report;

use crate::models::{JobRow, JobStatus, RunRow, RunStatus, TradeRow};
use crate::schema::{jobs, runs, trades};
use crate::store::{WriteTransaction, with_conn};
use crate::{StorageError, Store};

/// Trades per multi-row INSERT on SQLite: 14 columns x 2,000 rows stays under its limit of
/// 32,766 bound parameters.
const SQLITE_TRADE_CHUNK: usize = 2000;

/// The bulk path for trades, per backend.
trait InsertTrades {
    fn insert_trades(&mut self, rows: &[TradeRow]) -> QueryResult<usize>;
}

impl InsertTrades for diesel::SqliteConnection {
    /// Multi-row INSERTs, as few as the parameter limit allows.
    fn insert_trades(&mut self, rows: &[TradeRow]) -> QueryResult<usize> {
        let mut written = 0;
        for chunk in rows.chunks(SQLITE_TRADE_CHUNK) {
            written += diesel::insert_into(trades::table)
                .values(chunk)
                .execute(self)?;
        }
        Ok(written)
    }
}

impl InsertTrades for diesel::PgConnection {
    /// One binary `COPY FROM STDIN`, with no parameter limit.
    fn insert_trades(&mut self, rows: &[TradeRow]) -> QueryResult<usize> {
        if rows.is_empty() {
            return Ok(0);
        }
        diesel::copy_from(trades::table)
            .from_insertable(rows)
            .execute(self)
    }
}

/// Adds to a job's run counters (inside the caller's transaction).
macro_rules! bump_counters {
    ($conn:expr, $job_id:expr, $succeeded:expr, $failed:expr) => {
        diesel::update(jobs::table.filter(jobs::id.eq($job_id)))
            .set((
                jobs::runs_succeeded.eq(jobs::runs_succeeded + $succeeded),
                jobs::runs_failed.eq(jobs::runs_failed + $failed),
            ))
            .execute($conn)
    };
}

/// A job to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// Unique id, chosen by the caller.
    pub id: String,
    /// Human name.
    pub name: String,
    /// The definition as submitted.
    pub definition: String,
    /// Runs it expands into.
    pub runs_total: i32,
    /// Submission time, epoch ms.
    pub submitted_ms: i64,
    /// Makes submission idempotent: a second job with the same key is not created.
    pub idempotency_key: Option<String>,
    /// Timeout, ms.
    pub timeout_ms: Option<i64>,
}

/// The identity and settings of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    /// Run id to use if the run row does not exist yet.
    pub id: String,
    /// Owning job.
    pub job_id: String,
    /// Key of the run within its job; stable across redeliveries of its task.
    pub run_key: String,
    /// Symbol.
    pub symbol: String,
    /// Data path or URL.
    pub data_source: String,
    /// Strategy plugin.
    pub plugin_name: String,
    /// Parameters as JSON.
    pub params_json: String,
    /// Execution settings as JSON.
    pub execution_json: String,
    /// Deliveries so far (including this one).
    pub attempts: i32,
    /// Start, epoch ms.
    pub started_ms: i64,
    /// End, epoch ms.
    pub finished_ms: i64,
}

/// How a run ended.
#[derive(Debug, Clone, Copy)]
pub enum RunResult<'a> {
    /// With a report.
    Succeeded(&'a Report),
    /// With an error.
    Failed(&'a str),
}

/// What [`Store::record_run`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordOutcome {
    /// The result was written (run id given).
    Recorded(String),
    /// A result for this `(job, run key)` already exists: nothing was written.
    AlreadyRecorded(String),
}

/// Filters for [`Store::list_jobs`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobFilter {
    /// Only jobs in this status.
    pub status: Option<JobStatus>,
    /// Only jobs whose name contains this text.
    pub name_contains: Option<String>,
    /// Only jobs submitted at or after this time, epoch ms.
    pub submitted_since_ms: Option<i64>,
    /// Page size (default 50, at most 1,000).
    pub limit: Option<i64>,
    /// Rows to skip.
    pub offset: Option<i64>,
}

/// A metric to rank runs by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// `total_return`.
    TotalReturn,
    /// `cagr`.
    Cagr,
    /// `sharpe`.
    Sharpe,
    /// `sortino`.
    Sortino,
    /// `max_drawdown`.
    MaxDrawdown,
    /// `calmar`.
    Calmar,
    /// `trades`.
    Trades,
    /// `win_rate`.
    WinRate,
    /// `avg_return`.
    AvgReturn,
    /// `profit_factor`.
    ProfitFactor,
    /// `avg_hold_bars`.
    AvgHoldBars,
    /// `exposure`.
    Exposure,
    /// `final_equity`.
    FinalEquity,
    /// `buy_and_hold_return`.
    BuyAndHoldReturn,
}

impl Metric {
    /// Every metric, by its report name.
    pub const ALL: [(&'static str, Metric); 14] = [
        ("total_return", Metric::TotalReturn),
        ("cagr", Metric::Cagr),
        ("sharpe", Metric::Sharpe),
        ("sortino", Metric::Sortino),
        ("max_drawdown", Metric::MaxDrawdown),
        ("calmar", Metric::Calmar),
        ("trades", Metric::Trades),
        ("win_rate", Metric::WinRate),
        ("avg_return", Metric::AvgReturn),
        ("profit_factor", Metric::ProfitFactor),
        ("avg_hold_bars", Metric::AvgHoldBars),
        ("exposure", Metric::Exposure),
        ("final_equity", Metric::FinalEquity),
        ("buy_and_hold_return", Metric::BuyAndHoldReturn),
    ];

    /// The metric called `name` in reports.
    ///
    /// # Errors
    /// A message listing the valid names.
    pub fn parse(name: &str) -> Result<Metric, String> {
        Self::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, m)| *m)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|(n, _)| *n).collect();
                format!(
                    "unknown metric {name:?}; expected one of {}",
                    names.join(", ")
                )
            })
    }
}

impl RunRow {
    /// The value of `metric` in this run, if it has one.
    pub fn metric(&self, metric: Metric) -> Option<f64> {
        match metric {
            Metric::TotalReturn => self.total_return,
            Metric::Cagr => self.cagr,
            Metric::Sharpe => self.sharpe,
            Metric::Sortino => self.sortino,
            Metric::MaxDrawdown => self.max_drawdown,
            Metric::Calmar => self.calmar,
            Metric::Trades => self.trade_count.map(|t| t as f64),
            Metric::WinRate => self.win_rate,
            Metric::AvgReturn => self.avg_return,
            Metric::ProfitFactor => self.profit_factor,
            Metric::AvgHoldBars => self.avg_hold_bars,
            Metric::Exposure => self.exposure,
            Metric::FinalEquity => self.final_equity,
            Metric::BuyAndHoldReturn => self.buy_and_hold_return,
        }
    }
}

fn run_row_from(record: &RunRecord, result: RunResult<'_>) -> RunRow {
    let (status, error, report) = match result {
        RunResult::Succeeded(report) => (RunStatus::Succeeded, None, Some(report)),
        RunResult::Failed(message) => (RunStatus::Failed, Some(message.to_owned()), None),
    };
    let m = report.map(|r| &r.metrics);
    RunRow {
        id: record.id.clone(),
        job_id: record.job_id.clone(),
        run_key: record.run_key.clone(),
        symbol: record.symbol.clone(),
        data_source: record.data_source.clone(),
        plugin_name: record.plugin_name.clone(),
        plugin_version: report.map(|r| r.plugin_version.clone()),
        params: record.params_json.clone(),
        execution: record.execution_json.clone(),
        status: status.as_str().to_owned(),
        attempts: record.attempts,
        error,
        started_ms: Some(record.started_ms),
        finished_ms: Some(record.finished_ms),
        bars: report.map(|r| r.data.bars as i64),
        total_return: m.map(|m| m.total_return),
        cagr: m.and_then(|m| m.cagr),
        sharpe: m.and_then(|m| m.sharpe),
        sortino: m.and_then(|m| m.sortino),
        max_drawdown: m.map(|m| m.max_drawdown),
        calmar: m.and_then(|m| m.calmar),
        trade_count: m.map(|m| m.trades as i64),
        win_rate: m.and_then(|m| m.win_rate),
        avg_return: m.and_then(|m| m.avg_return),
        profit_factor: m.and_then(|m| m.profit_factor),
        avg_hold_bars: m.and_then(|m| m.avg_hold_bars),
        exposure: m.map(|m| m.exposure),
        final_equity: m.map(|m| m.final_equity),
        buy_and_hold_return: m.map(|m| m.buy_and_hold_return),
        archive_status: "none".to_owned(),
        archive_url: None,
        archive_sha256: None,
    }
}

fn trade_rows(run_id: &str, report: &Report) -> Vec<TradeRow> {
    report
        .trades
        .iter()
        .enumerate()
        .map(|(seq, t)| TradeRow {
            run_id: run_id.to_owned(),
            seq: seq as i32,
            entry_index: t.entry_index as i64,
            exit_index: t.exit_index as i64,
            entry_time_ms: t.entry_time.0,
            exit_time_ms: t.exit_time.0,
            direction: t.direction.as_str().to_owned(),
            entry_price: t.entry_price,
            exit_price: t.exit_price,
            quantity: t.quantity,
            fees: t.fees,
            pnl: t.pnl,
            trade_return: t.trade_return,
            exit_reason: t.exit_reason.as_str().to_owned(),
        })
        .collect()
}

impl Store {
    fn err(&self, operation: &'static str) -> impl Fn(diesel::result::Error) -> StorageError + '_ {
        move |e| StorageError::query(&self.db, operation, e)
    }

    /// Creates a job. With an idempotency key that is already used, creates nothing and returns
    /// the existing job (`false` in the pair); a new job comes back with `true`.
    ///
    /// # Errors
    /// Database errors.
    pub fn create_job(&self, job: &NewJob) -> Result<(JobRow, bool), StorageError> {
        let row = JobRow {
            id: job.id.clone(),
            name: job.name.clone(),
            definition: job.definition.clone(),
            status: JobStatus::Queued.as_str().to_owned(),
            submitted_ms: job.submitted_ms,
            started_ms: None,
            finished_ms: None,
            runs_total: job.runs_total,
            runs_succeeded: 0,
            runs_failed: 0,
            error: None,
            idempotency_key: job.idempotency_key.clone(),
            timeout_ms: job.timeout_ms,
            archived_ms: None,
        };
        with_conn!(self, conn => {
            let existing_by_key = |conn: &mut _| match &job.idempotency_key {
                Some(key) => jobs::table
                    .filter(jobs::idempotency_key.eq(key))
                    .select(JobRow::as_select())
                    .first(conn)
                    .optional(),
                None => Ok(None),
            };
            let attempt = conn.write_transaction(|conn| {
                if let Some(existing) = existing_by_key(conn)? {
                    return Ok((existing, false));
                }
                diesel::insert_into(jobs::table).values(&row).execute(conn)?;
                Ok((row.clone(), true))
            });
            match attempt {
                // Two submissions with one key raced: the other one created the job.
                Err(diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    info,
                )) => match existing_by_key(conn) {
                    Ok(Some(existing)) => Ok((existing, false)),
                    _ => Err(diesel::result::Error::DatabaseError(
                        diesel::result::DatabaseErrorKind::UniqueViolation,
                        info,
                    )),
                },
                other => other,
            }
            .map_err(self.err("creating a job"))
        })
    }

    /// One job.
    ///
    /// # Errors
    /// [`StorageError::NotFound`], database errors.
    pub fn job(&self, id: &str) -> Result<JobRow, StorageError> {
        let found = with_conn!(self, conn => {
            jobs::table
                .find(id)
                .select(JobRow::as_select())
                .first(conn)
                .optional()
                .map_err(self.err("reading a job"))?
        });
        found.ok_or_else(|| StorageError::NotFound {
            db: self.db.clone(),
            what: "job",
            id: id.to_owned(),
        })
    }

    /// Jobs matching `filter`, newest first.
    ///
    /// # Errors
    /// Database errors.
    pub fn list_jobs(&self, filter: &JobFilter) -> Result<Vec<JobRow>, StorageError> {
        let limit = filter.limit.unwrap_or(50).clamp(1, 1000);
        let offset = filter.offset.unwrap_or(0).max(0);
        with_conn!(self, conn => {
            let mut query = jobs::table.select(JobRow::as_select()).into_boxed();
            if let Some(status) = filter.status {
                query = query.filter(jobs::status.eq(status.as_str()));
            }
            if let Some(text) = &filter.name_contains {
                query = query.filter(jobs::name.like(format!("%{}%", escape_like(text))).escape('\\'));
            }
            if let Some(since) = filter.submitted_since_ms {
                query = query.filter(jobs::submitted_ms.ge(since));
            }
            query
                .order((jobs::submitted_ms.desc(), jobs::id.desc()))
                .limit(limit)
                .offset(offset)
                .load(conn)
                .map_err(self.err("listing jobs"))
        })
    }

    /// Sets a job's status (and its start/end time and error where given).
    ///
    /// # Errors
    /// [`StorageError::NotFound`], database errors.
    pub fn set_job_status(
        &self,
        id: &str,
        status: JobStatus,
        at_ms: i64,
        error: Option<&str>,
    ) -> Result<(), StorageError> {
        if self.transition_job(id, JobStatus::ALL, status, at_ms, error)? {
            Ok(())
        } else {
            Err(StorageError::NotFound {
                db: self.db.clone(),
                what: "job",
                id: id.to_owned(),
            })
        }
    }

    /// Writes a run's result, exactly once per `(job, run key)`: the run row, its trades and the
    /// job's counters in one transaction. A second delivery of a succeeded run (after a crash,
    /// or concurrently from another worker) finds the result recorded and writes nothing. A
    /// failure never overwrites a success; a success replaces an earlier failure; a repeated
    /// failure updates the error, attempts and end time without counting the run again.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] for an unknown job; database errors (then nothing was written).
    pub fn record_run(
        &self,
        record: &RunRecord,
        result: RunResult<'_>,
    ) -> Result<RecordOutcome, StorageError> {
        self.record_run_for_archive(record, result, false)
    }

    /// [`Store::record_run`], and with `archive` a succeeded run is marked as waiting for the
    /// archive in the same statement.
    ///
    /// # Errors
    /// As [`Store::record_run`].
    pub fn record_run_for_archive(
        &self,
        record: &RunRecord,
        result: RunResult<'_>,
        archive: bool,
    ) -> Result<RecordOutcome, StorageError> {
        let mut row = run_row_from(record, result);
        if archive && matches!(result, RunResult::Succeeded(_)) {
            row.archive_status = "pending".to_owned();
        }
        let succeeded = matches!(result, RunResult::Succeeded(_));
        with_conn!(self, conn => {
            let attempt = conn.write_transaction::<_, diesel::result::Error, _>(|conn| {
                let key = runs::table
                    .filter(runs::job_id.eq(&record.job_id))
                    .filter(runs::run_key.eq(&record.run_key));
                let inserted = diesel::insert_into(runs::table)
                    .values(&row)
                    .on_conflict((runs::job_id, runs::run_key))
                    .do_nothing()
                    .execute(conn)?;
                let (run_id, previous) = if inserted == 1 {
                    (row.id.clone(), None)
                } else {
                    let (id, status): (String, String) =
                        key.select((runs::id, runs::status)).first(conn)?;
                    // A success is final.
                    if status == RunStatus::Succeeded.as_str() {
                        return Ok(Some(RecordOutcome::AlreadyRecorded(id)));
                    }
                    if !succeeded {
                        // Another failed attempt: keep the newest error. Zero rows means a
                        // concurrent delivery changed the run first.
                        let updated = diesel::update(key)
                            .filter(runs::status.eq(&status))
                            .set((
                                runs::status.eq(&row.status),
                                runs::error.eq(&row.error),
                                runs::attempts.eq(row.attempts),
                                runs::finished_ms.eq(row.finished_ms),
                            ))
                            .execute(conn)?;
                        if updated == 0 {
                            return Ok(Some(RecordOutcome::AlreadyRecorded(id)));
                        }
                        if status != RunStatus::Failed.as_str() {
                            bump_counters!(conn, &record.job_id, 0, 1)?;
                        }
                        return Ok(Some(RecordOutcome::Recorded(id)));
                    }
                    // Claim the row: the status must still be the one just read, so of two
                    // concurrent deliveries only one updates it.
                    let claimed = diesel::update(key)
                        .filter(runs::status.eq(&status))
                        .set(RunChanges::from(&row))
                        .execute(conn)?;
                    if claimed == 0 {
                        return Ok(Some(RecordOutcome::AlreadyRecorded(id)));
                    }
                    diesel::delete(trades::table.filter(trades::run_id.eq(&id))).execute(conn)?;
                    (id, Some(status))
                };
                if let RunResult::Succeeded(report) = result {
                    conn.insert_trades(&trade_rows(&run_id, report))?;
                }
                let was_failed = previous.as_deref() == Some(RunStatus::Failed.as_str());
                match (succeeded, was_failed) {
                    (true, true) => bump_counters!(conn, &record.job_id, 1, -1)?,
                    (true, false) => bump_counters!(conn, &record.job_id, 1, 0)?,
                    (false, _) => bump_counters!(conn, &record.job_id, 0, 1)?,
                };
                Ok(Some(RecordOutcome::Recorded(run_id)))
            })
            ;
            // No separate existence check: the foreign key refuses a run of an unknown job.
            match attempt {
                Err(diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::ForeignKeyViolation,
                    _,
                )) => Ok(None),
                other => other,
            }
            .map_err(self.err("recording a run"))
        })?
        .ok_or_else(|| StorageError::NotFound {
            db: self.db.clone(),
            what: "job",
            id: record.job_id.clone(),
        })
    }

    /// Runs of a job ranked by `metric` (`descending` or not; runs without the metric last),
    /// one page at a time.
    ///
    /// # Errors
    /// Database errors.
    pub fn runs_of_job(
        &self,
        job_id: &str,
        metric: Metric,
        descending: bool,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<RunRow>, StorageError> {
        let limit = limit.clamp(1, 10_000);
        let offset = offset.max(0);
        // Runs without the metric go last in both directions. Each backend has its own default
        // place for NULLs (SQLite: smallest; PostgreSQL: largest), and SQLite has no NULLS LAST.
        macro_rules! page {
            ($conn:ident, $order:expr) => {
                runs::table
                    .filter(runs::job_id.eq(job_id))
                    .select(RunRow::as_select())
                    .order($order)
                    .limit(limit)
                    .offset(offset)
                    .load($conn)
            };
        }
        macro_rules! ranked_sqlite {
            ($conn:ident, $column:expr) => {
                if descending {
                    page!($conn, ($column.desc(), runs::run_key.asc()))
                } else {
                    page!(
                        $conn,
                        ($column.is_null().asc(), $column.asc(), runs::run_key.asc())
                    )
                }
            };
        }
        macro_rules! ranked_postgres {
            ($conn:ident, $column:expr) => {
                if descending {
                    page!($conn, ($column.desc().nulls_last(), runs::run_key.asc()))
                } else {
                    page!($conn, ($column.asc(), runs::run_key.asc()))
                }
            };
        }
        macro_rules! by_metric {
            ($ranked:ident, $conn:ident) => {
                match metric {
                    Metric::TotalReturn => $ranked!($conn, runs::total_return),
                    Metric::Cagr => $ranked!($conn, runs::cagr),
                    Metric::Sharpe => $ranked!($conn, runs::sharpe),
                    Metric::Sortino => $ranked!($conn, runs::sortino),
                    Metric::MaxDrawdown => $ranked!($conn, runs::max_drawdown),
                    Metric::Calmar => $ranked!($conn, runs::calmar),
                    Metric::Trades => $ranked!($conn, runs::trade_count),
                    Metric::WinRate => $ranked!($conn, runs::win_rate),
                    Metric::AvgReturn => $ranked!($conn, runs::avg_return),
                    Metric::ProfitFactor => $ranked!($conn, runs::profit_factor),
                    Metric::AvgHoldBars => $ranked!($conn, runs::avg_hold_bars),
                    Metric::Exposure => $ranked!($conn, runs::exposure),
                    Metric::FinalEquity => $ranked!($conn, runs::final_equity),
                    Metric::BuyAndHoldReturn => $ranked!($conn, runs::buy_and_hold_return),
                }
            };
        }
        let rows = match &*self.pools {
            crate::store::Pools::Sqlite(pool) => {
                let mut pooled = self.checkout(pool)?;
                let conn: &mut diesel::SqliteConnection = &mut pooled;
                by_metric!(ranked_sqlite, conn)
            }
            crate::store::Pools::Postgres(pool) => {
                let mut pooled = self.checkout(pool)?;
                let conn: &mut diesel::PgConnection = &mut pooled;
                by_metric!(ranked_postgres, conn)
            }
        };
        rows.map_err(self.err("ranking runs"))
    }

    /// The `n` best parameter sets of a job by `metric` (highest first): `(params JSON, run)`.
    ///
    /// # Errors
    /// Database errors.
    pub fn top_params(
        &self,
        job_id: &str,
        metric: Metric,
        n: i64,
    ) -> Result<Vec<(String, RunRow)>, StorageError> {
        Ok(self
            .runs_of_job(job_id, metric, true, n, 0)?
            .into_iter()
            .map(|r| (r.params.clone(), r))
            .collect())
    }

    /// One run.
    ///
    /// # Errors
    /// [`StorageError::NotFound`], database errors.
    pub fn run(&self, id: &str) -> Result<RunRow, StorageError> {
        let found = with_conn!(self, conn => {
            runs::table
                .find(id)
                .select(RunRow::as_select())
                .first(conn)
                .optional()
                .map_err(self.err("reading a run"))?
        });
        found.ok_or_else(|| StorageError::NotFound {
            db: self.db.clone(),
            what: "run",
            id: id.to_owned(),
        })
    }

    /// The trades of a run, in order.
    ///
    /// # Errors
    /// Database errors.
    pub fn trades_of_run(&self, run_id: &str) -> Result<Vec<TradeRow>, StorageError> {
        with_conn!(self, conn => {
            trades::table
                .filter(trades::run_id.eq(run_id))
                .order(trades::seq.asc())
                .select(TradeRow::as_select())
                .load(conn)
                .map_err(self.err("reading trades"))
        })
    }

    /// Deletes a job with its runs and trades (cascading). Returns whether it existed.
    ///
    /// # Errors
    /// Database errors.
    pub fn delete_job(&self, id: &str) -> Result<bool, StorageError> {
        with_conn!(self, conn => {
            diesel::delete(jobs::table.find(id))
                .execute(conn)
                .map(|n| n > 0)
                .map_err(self.err("deleting a job"))
        })
    }

    /// Number of jobs in each status (statuses without jobs included, with 0).
    ///
    /// # Errors
    /// Database errors.
    pub fn count_jobs_by_status(&self) -> Result<Vec<(JobStatus, i64)>, StorageError> {
        let counted: Vec<(String, i64)> = with_conn!(self, conn => {
            jobs::table
                .group_by(jobs::status)
                .select((jobs::status, diesel::dsl::count_star()))
                .load(conn)
                .map_err(self.err("counting jobs"))?
        });
        Ok(JobStatus::ALL
            .iter()
            .map(|s| {
                let n = counted
                    .iter()
                    .find(|(name, _)| name == s.as_str())
                    .map_or(0, |(_, n)| *n);
                (*s, n)
            })
            .collect())
    }
}

/// The columns a result overwrites on an existing run row.
#[derive(AsChangeset)]
#[diesel(table_name = runs, treat_none_as_null = true)]
struct RunChanges<'a> {
    plugin_version: Option<&'a str>,
    status: &'a str,
    archive_status: &'a str,
    attempts: i32,
    error: Option<&'a str>,
    started_ms: Option<i64>,
    finished_ms: Option<i64>,
    bars: Option<i64>,
    total_return: Option<f64>,
    cagr: Option<f64>,
    sharpe: Option<f64>,
    sortino: Option<f64>,
    max_drawdown: Option<f64>,
    calmar: Option<f64>,
    trade_count: Option<i64>,
    win_rate: Option<f64>,
    avg_return: Option<f64>,
    profit_factor: Option<f64>,
    avg_hold_bars: Option<f64>,
    exposure: Option<f64>,
    final_equity: Option<f64>,
    buy_and_hold_return: Option<f64>,
}

impl<'a> From<&'a RunRow> for RunChanges<'a> {
    fn from(r: &'a RunRow) -> Self {
        Self {
            plugin_version: r.plugin_version.as_deref(),
            status: &r.status,
            archive_status: &r.archive_status,
            attempts: r.attempts,
            error: r.error.as_deref(),
            started_ms: r.started_ms,
            finished_ms: r.finished_ms,
            bars: r.bars,
            total_return: r.total_return,
            cagr: r.cagr,
            sharpe: r.sharpe,
            sortino: r.sortino,
            max_drawdown: r.max_drawdown,
            calmar: r.calmar,
            trade_count: r.trade_count,
            win_rate: r.win_rate,
            avg_return: r.avg_return,
            profit_factor: r.profit_factor,
            avg_hold_bars: r.avg_hold_bars,
            exposure: r.exposure,
            final_equity: r.final_equity,
            buy_and_hold_return: r.buy_and_hold_return,
        }
    }
}

fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}
