//! The HTTP API (axum), JSON under `/api/v1`, described by the OpenAPI document served at
//! `/api/v1/openapi.json` (the file `openapi.json` beside this module). A bearer token protects
//! every route except `/livez`, `/readyz`, `/metrics` and the OpenAPI document; bodies are
//! size-limited; errors are JSON, `{"error": "..."}`, with `"problems": [...]` for an invalid
//! job, and a fitting status code.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{delete, get, post};
use barwise_engine::TimeMs;
use barwise_jobs::JobError;
use barwise_storage::{JobFilter, JobRow, JobStatus, Metric, ScheduleRow, StorageError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Daemon, SubmitError, scheduler};
use crate::table::run_json;

/// The OpenAPI 3.1 document of this API.
pub const OPENAPI: &str = include_str!("openapi.json");

type Shared = Arc<Daemon>;

/// An error response.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    problems: Vec<JobError>,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            problems: Vec::new(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": self.message });
        if !self.problems.is_empty() {
            body["problems"] = json!(self.problems);
        }
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> ApiError {
        let status = match e {
            StorageError::NotFound { .. } => StatusCode::NOT_FOUND,
            StorageError::Unreachable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.to_string())
    }
}

impl From<SubmitError> for ApiError {
    fn from(e: SubmitError) -> ApiError {
        match e {
            SubmitError::Invalid(errors) => ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                message: format!(
                    "{}: the job has {} problem{}",
                    errors.source,
                    errors.errors.len(),
                    if errors.errors.len() == 1 { "" } else { "s" }
                ),
                problems: errors.errors,
            },
            SubmitError::Storage(e) => e.into(),
            SubmitError::Plugins(m) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, m),
            SubmitError::Queue(m) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, format!("queue: {m}"))
            }
        }
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// Runs blocking work (database, plugin folder) off the async threads.
async fn blocking<T: Send + 'static>(
    daemon: &Shared,
    work: impl FnOnce(&Daemon) -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    let daemon = Arc::clone(daemon);
    tokio::task::spawn_blocking(move || work(&daemon))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
}

/// The router of the whole HTTP surface.
pub fn router(daemon: Shared) -> Router {
    let limit = daemon.config.max_body_bytes;
    let api = Router::new()
        .route("/openapi.json", get(openapi))
        .route("/jobs", post(submit_job).get(list_jobs))
        .route("/jobs/{id}", get(get_job))
        .route("/jobs/{id}/cancel", post(cancel_job))
        .route("/jobs/{id}/runs", get(job_runs))
        .route("/jobs/{id}/report", get(job_report))
        .route("/runs/{id}", get(get_run))
        .route("/runs/{id}/report", get(run_report))
        .route("/plugins", get(plugins))
        .route("/schedules", get(list_schedules).post(add_schedule))
        .route("/schedules/{name}", delete(remove_schedule))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&daemon),
            authorize,
        ));
    Router::new()
        .route("/livez", get(livez))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .nest("/api/v1", api)
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such route") })
        .layer(DefaultBodyLimit::max(limit))
        .with_state(daemon)
}

async fn authorize(State(daemon): State<Shared>, request: Request, next: Next) -> Response {
    // Exactly the document's path (as seen inside the nested router, or whole), nothing that
    // merely ends like it (`/api/v1/schedules/openapi.json` needs the token).
    if matches!(
        request.uri().path(),
        "/openapi.json" | "/api/v1/openapi.json"
    ) {
        return next.run(request).await;
    }
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        None => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing bearer token (Authorization: Bearer TOKEN)",
        )
        .into_response(),
        Some(token) if constant_time_eq(token.as_bytes(), daemon.config.token.as_bytes()) => {
            next.run(request).await
        }
        Some(_) => ApiError::new(StatusCode::UNAUTHORIZED, "wrong bearer token").into_response(),
    }
}

/// Compares without an early exit, so response timing tells nothing about the token.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

async fn livez() -> impl IntoResponse {
    axum::Json(json!({ "status": "ok" }))
}

async fn metrics(State(daemon): State<Shared>) -> Response {
    let depth = daemon.queue.depth().await.ok();
    let text = blocking(&daemon, move |d| Ok(super::metrics::render(d, depth)))
        .await
        .unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

async fn readyz(State(daemon): State<Shared>) -> Response {
    let database = blocking(&daemon, |d| Ok(d.store.ensure_current()))
        .await
        .map_err(|e| e.message)
        .and_then(|r| r.map_err(|e| e.to_string()));
    let queue = daemon.queue.ping().await.map_err(|e| e.to_string());
    let archive = match &daemon.archive {
        Some(archive) => Some(archive.check_writable().await.map_err(|e| e.to_string())),
        None => None,
    };
    let check = |r: &Result<(), String>| match r {
        Ok(()) => json!({ "ok": true }),
        Err(e) => json!({ "ok": false, "error": e }),
    };
    let ready = database.is_ok()
        && queue.is_ok()
        && archive.as_ref().is_none_or(Result::is_ok)
        && !daemon.is_shutting_down();
    let body = json!({
        "status": if ready { "ready" } else { "not ready" },
        "shutting_down": daemon.is_shutting_down(),
        "checks": {
            "database": check(&database),
            "queue": check(&queue),
            "archive": match &archive {
                Some(result) => check(result),
                None => json!({ "ok": true, "configured": false }),
            },
        },
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

/// A job as the API shows it.
#[derive(Debug, Serialize)]
pub struct JobView {
    id: String,
    name: String,
    status: String,
    /// Finished runs / total runs.
    progress: f64,
    runs: RunCounts,
    submitted_at: String,
    started_at: Option<String>,
    finished_at: Option<String>,
    /// From start to end (or to now while running), ms.
    elapsed_ms: Option<i64>,
    timeout_ms: Option<i64>,
    error: Option<String>,
    idempotency_key: Option<String>,
    /// Succeeded runs whose archive objects are not uploaded yet (`/jobs/{id}` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    waiting_for_archive: Option<i64>,
    /// When the job's summary and manifest were archived.
    archived_at: Option<String>,
}

#[derive(Debug, Serialize)]
struct RunCounts {
    total: i32,
    succeeded: i32,
    failed: i32,
    /// Without a result yet (or never, once the job ended).
    pending: i32,
}

impl From<&JobRow> for JobView {
    fn from(job: &JobRow) -> JobView {
        let finished = job.runs_succeeded + job.runs_failed;
        let time = |ms: Option<i64>| ms.map(|ms| TimeMs(ms).to_rfc3339());
        JobView {
            id: job.id.clone(),
            name: job.name.clone(),
            status: job.status.clone(),
            progress: if job.runs_total == 0 {
                1.0
            } else {
                f64::from(finished) / f64::from(job.runs_total)
            },
            runs: RunCounts {
                total: job.runs_total,
                succeeded: job.runs_succeeded,
                failed: job.runs_failed,
                pending: (job.runs_total - finished).max(0),
            },
            submitted_at: TimeMs(job.submitted_ms).to_rfc3339(),
            started_at: time(job.started_ms),
            finished_at: time(job.finished_ms),
            elapsed_ms: job
                .started_ms
                .map(|s| job.finished_ms.unwrap_or_else(crate::execute::now_ms) - s),
            timeout_ms: job.timeout_ms,
            error: job.error.clone(),
            idempotency_key: job.idempotency_key.clone(),
            waiting_for_archive: None,
            archived_at: time(job.archived_ms),
        }
    }
}

/// Query of `POST /jobs` and `POST /schedules`.
#[derive(Debug, Deserialize)]
struct SubmitQuery {
    /// Folder that relative data paths resolve against (default: the daemon's `base_dir`).
    base_dir: Option<PathBuf>,
    /// Schedule name (schedules only; default: the job's name).
    name: Option<String>,
}

/// The body as TOML text: TOML as sent, or JSON (same structure) converted.
fn job_text(headers: &HeaderMap, body: Result<Bytes, BytesRejection>) -> ApiResult<String> {
    let body = body.map_err(|e| {
        let status = e.status();
        let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "request body is larger than the configured limit (max_body_bytes)".to_owned()
        } else {
            e.body_text()
        };
        ApiError::new(status, message)
    })?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "request body is not UTF-8"))?;
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        return Ok(text.to_owned());
    }
    let value: Value = serde_json::from_str(text).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("request body is not valid JSON: {e}"),
        )
    })?;
    let table = toml::Value::try_from(&value).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!(
                "the JSON job cannot be expressed as a job file (null values are not allowed): {e}"
            ),
        )
    })?;
    toml::to_string(&table).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("the JSON job cannot be expressed as a job file: {e}"),
        )
    })
}

/// A job body and the folder its relative data paths resolve against.
fn job_body(
    daemon: &Daemon,
    base_dir: Option<PathBuf>,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<(String, PathBuf)> {
    let text = job_text(headers, body)?;
    Ok((
        text,
        base_dir.unwrap_or_else(|| daemon.config.base_dir.clone()),
    ))
}

async fn submit_job(
    State(daemon): State<Shared>,
    Query(query): Query<SubmitQuery>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let (text, base_dir) = job_body(&daemon, query.base_dir, &headers, body)?;
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(|k| format!("api:{k}"));
    let (job, created) = blocking(&daemon, move |d| {
        Ok(d.submit(&text, "request body", &base_dir, key)?)
    })
    .await?;
    let status = if created {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(JobView::from(&job))).into_response())
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    status: Option<String>,
    name: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

async fn list_jobs(
    State(daemon): State<Shared>,
    Query(query): Query<ListQuery>,
) -> ApiResult<impl IntoResponse> {
    let status = match &query.status {
        None => None,
        Some(s) => Some(JobStatus::parse(s).ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!(
                    "status: expected one of queued, running, completed, failed, cancelled; got {s:?}"
                ),
            )
        })?),
    };
    let limit = query.limit.unwrap_or(50).clamp(1, 1000);
    let offset = query.offset.unwrap_or(0).max(0);
    let filter = JobFilter {
        status,
        name_contains: query.name.clone(),
        submitted_since_ms: None,
        limit: Some(limit),
        offset: Some(offset),
    };
    let jobs = blocking(&daemon, move |d| Ok(d.store.list_jobs(&filter)?)).await?;
    let jobs: Vec<JobView> = jobs.iter().map(JobView::from).collect();
    Ok(axum::Json(
        json!({ "jobs": jobs, "limit": limit, "offset": offset }),
    ))
}

async fn get_job(
    State(daemon): State<Shared>,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let (job, waiting) = blocking(&daemon, move |d| {
        Ok((
            d.store.job(&id)?,
            d.store.count_runs_pending_archive(Some(&id))?,
        ))
    })
    .await?;
    let mut view = JobView::from(&job);
    view.waiting_for_archive = Some(waiting);
    Ok(axum::Json(view))
}

async fn cancel_job(State(daemon): State<Shared>, Path(id): Path<String>) -> ApiResult<Response> {
    let (job, cancelled) = blocking(&daemon, move |d| Ok(d.cancel(&id)?)).await?;
    if !cancelled && job.status != JobStatus::Cancelled.as_str() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "job {} is already {}; only queued or running jobs can be cancelled",
                job.id, job.status
            ),
        ));
    }
    Ok(axum::Json(JobView::from(&job)).into_response())
}

#[derive(Debug, Deserialize)]
struct RunsQuery {
    metric: Option<String>,
    order: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

fn parse_metric(name: Option<&str>) -> ApiResult<(Metric, &str)> {
    let name = name.unwrap_or("sharpe");
    Metric::parse(name)
        .map(|m| (m, name))
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("metric: {e}")))
}

async fn job_runs(
    State(daemon): State<Shared>,
    Path(id): Path<String>,
    Query(query): Query<RunsQuery>,
) -> ApiResult<impl IntoResponse> {
    let (metric, name) = parse_metric(query.metric.as_deref())?;
    let name = name.to_owned();
    let descending = match query.order.as_deref() {
        None => metric != Metric::MaxDrawdown,
        Some("desc") => true,
        Some("asc") => false,
        Some(other) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("order: expected asc or desc, got {other:?}"),
            ));
        }
    };
    let limit = query.limit.unwrap_or(100).clamp(1, 10_000);
    let offset = query.offset.unwrap_or(0).max(0);
    let (job, runs) = blocking(&daemon, move |d| {
        let job = d.store.job(&id)?;
        let runs = d
            .store
            .runs_of_job(&id, metric, descending, limit, offset)?;
        Ok((job, runs))
    })
    .await?;
    Ok(axum::Json(json!({
        "job": JobView::from(&job),
        "metric": name,
        "order": if descending { "desc" } else { "asc" },
        "limit": limit,
        "offset": offset,
        "runs": runs.iter().map(run_json).collect::<Vec<_>>(),
    })))
}

async fn get_run(
    State(daemon): State<Shared>,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let (run, trades) = blocking(&daemon, move |d| {
        Ok((d.store.run(&id)?, d.store.trades_of_run(&id)?))
    })
    .await?;
    let mut body = run_json(&run);
    body["trades"] = json!(trades);
    Ok(axum::Json(body))
}

#[derive(Debug, Deserialize)]
struct ReportQuery {
    metric: Option<String>,
    heatmap: Option<String>,
}

async fn job_report(
    State(daemon): State<Shared>,
    Path(id): Path<String>,
    Query(query): Query<ReportQuery>,
) -> ApiResult<Response> {
    let (metric, name) = parse_metric(query.metric.as_deref())?;
    let name = name.to_owned();
    let axes = match &query.heatmap {
        None => None,
        Some(text) => match text.split_once(',') {
            Some((x, y)) if !x.is_empty() && !y.is_empty() => Some((x.to_owned(), y.to_owned())),
            _ => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!("heatmap: expected two parameter names X,Y, got {text:?}"),
                ));
            }
        },
    };
    let page = blocking(&daemon, move |d| {
        let job = d.store.job(&id)?;
        let descending = metric != Metric::MaxDrawdown;
        let runs = d.store.runs_of_job(&id, metric, descending, 10_000, 0)?;
        let axes = axes.as_ref().map(|(x, y)| (x.as_str(), y.as_str()));
        Ok(crate::job_html::render(&job, &runs, &name, axes))
    })
    .await?;
    Ok(Html(page).into_response())
}

/// The report of one run: re-executed by `barwise report --run` in a child process (plugin code
/// never runs in the daemon), which checks that it reproduces the stored result.
async fn run_report(State(daemon): State<Shared>, Path(id): Path<String>) -> ApiResult<Response> {
    let page = blocking(&daemon, move |d| {
        let exe = std::env::current_exe().map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot find barwise: {e}"),
            )
        })?;
        let dir = tempfile::tempdir().map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("temporary folder: {e}"),
            )
        })?;
        let out = dir.path().join("report.html");
        let output = std::process::Command::new(exe)
            .args(["report", "--run", &id, "--html"])
            .arg(&out)
            .arg("--database-url")
            .arg(&d.config.database_url)
            .arg("--plugin-dir")
            .arg(&d.config.plugin_dir)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("cannot start barwise: {e}"),
                )
            })?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let message = stderr.trim().trim_start_matches("Error: ").to_owned();
            let status = if message.contains("not found") || message.contains("no run") {
                StatusCode::NOT_FOUND
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            return Err(ApiError::new(status, message));
        }
        std::fs::read_to_string(&out).map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("reading the report: {e}"),
            )
        })
    })
    .await?;
    Ok(Html(page).into_response())
}

async fn plugins(State(daemon): State<Shared>) -> ApiResult<impl IntoResponse> {
    let catalog = blocking(&daemon, |d| {
        d.catalog
            .get()
            .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e))
    })
    .await?;
    Ok(axum::Json(json!({
        "dir": daemon.catalog.dir(),
        "plugins": catalog.plugins,
        "rejected": catalog.rejected,
    })))
}

fn schedule_json(row: &ScheduleRow) -> Value {
    let time = |ms: Option<i64>| ms.map(|ms| TimeMs(ms).to_rfc3339());
    let next = scheduler::next_tick(&row.cron, crate::execute::now_ms());
    json!({
        "name": row.name,
        "cron": row.cron,
        "enabled": row.enabled,
        "source": row.source,
        "base_dir": row.base_dir,
        "created_at": TimeMs(row.created_ms).to_rfc3339(),
        "last_fire_at": time(row.last_fire_ms),
        "next_fire_at": time(next),
        "job": row.job_template,
    })
}

async fn list_schedules(State(daemon): State<Shared>) -> ApiResult<impl IntoResponse> {
    let rows = blocking(&daemon, |d| Ok(d.store.list_schedules()?)).await?;
    Ok(axum::Json(json!({
        "schedules": rows.iter().map(schedule_json).collect::<Vec<_>>(),
    })))
}

async fn add_schedule(
    State(daemon): State<Shared>,
    Query(query): Query<SubmitQuery>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let (text, base_dir) = job_body(&daemon, query.base_dir, &headers, body)?;
    let row = blocking(&daemon, move |d| {
        Ok(scheduler::register(
            d,
            &text,
            "request body",
            query.name,
            &base_dir,
            "api",
        )?)
    })
    .await?;
    Ok((StatusCode::CREATED, axum::Json(schedule_json(&row))).into_response())
}

async fn remove_schedule(
    State(daemon): State<Shared>,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    let name2 = name.clone();
    let deleted = blocking(&daemon, move |d| Ok(d.store.delete_schedule(&name2)?)).await?;
    if !deleted {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no schedule named {name:?}"),
        ));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
