//! `barwise submit|status|list|cancel|results`: thin clients of the daemon's HTTP API.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use serde_json::Value;

use crate::daemon::config::{DEFAULT_LISTEN, TOKEN_ENV};
use crate::table::{self, Align};

/// Environment variable with the daemon's address.
pub const SERVER_ENV: &str = "BARWISE_SERVER";

/// Where the daemon is and how to authenticate.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerArgs {
    /// The daemon's address [default: $BARWISE_SERVER, else http://127.0.0.1:8420].
    #[arg(long, global = true)]
    pub server: Option<String>,
    /// API token [default: $BARWISE_API_TOKEN, else the token file the daemon writes in its
    /// data folder ($BARWISE_DATA_DIR or .barwise)/api-token].
    #[arg(long, global = true)]
    pub token: Option<String>,
    /// Print the daemon's JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
}

/// An API client.
#[derive(Debug)]
pub struct Client {
    base: String,
    token: String,
    http: reqwest::blocking::Client,
    /// Print JSON.
    pub json: bool,
}

impl Client {
    /// A client for `args`.
    ///
    /// # Errors
    /// When no token can be found.
    pub fn new(args: &ServerArgs) -> Result<Client> {
        let base = args
            .server
            .clone()
            .or_else(|| std::env::var(SERVER_ENV).ok())
            .unwrap_or_else(|| format!("http://{DEFAULT_LISTEN}"));
        let base = base.trim_end_matches('/').to_owned();
        let token = match args.token.clone().or_else(|| std::env::var(TOKEN_ENV).ok()) {
            Some(token) => token,
            None => {
                let dir = std::env::var_os(barwise_storage::DATA_DIR_ENV)
                    .map_or_else(|| PathBuf::from(".barwise"), PathBuf::from);
                let file = dir.join("api-token");
                std::fs::read_to_string(&file)
                    .map(|t| t.trim().to_owned())
                    .with_context(|| {
                        format!(
                            "no API token: pass --token, set {TOKEN_ENV}, or run where the daemon's \
                             token file {} is readable",
                            file.display()
                        )
                    })?
            }
        };
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .context("creating the HTTP client")?;
        Ok(Client {
            base,
            token,
            http,
            json: args.json,
        })
    }

    fn send(&self, request: reqwest::blocking::RequestBuilder) -> Result<(u16, Value)> {
        let response = request
            .bearer_auth(&self.token)
            .send()
            .with_context(|| format!("cannot reach the daemon at {}", self.base))?;
        let status = response.status().as_u16();
        let text = response.text().unwrap_or_default();
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status >= 400 {
            let mut message = value
                .get("error")
                .and_then(Value::as_str)
                .map_or_else(|| value.to_string(), str::to_owned);
            if let Some(problems) = value.get("problems").and_then(Value::as_array) {
                for p in problems {
                    let path = p.get("path").and_then(Value::as_str).unwrap_or("");
                    let text = p.get("message").and_then(Value::as_str).unwrap_or("");
                    message.push_str(&format!("\n  {path}: {text}"));
                }
            }
            bail!("{message} (HTTP {status})");
        }
        Ok((status, value))
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }

    /// GET a JSON document.
    ///
    /// # Errors
    /// Connection errors and error responses, with the daemon's message.
    pub fn get(&self, path: &str) -> Result<Value> {
        Ok(self.send(self.http.get(self.url(path)))?.1)
    }

    /// POST, returning the status and JSON document.
    ///
    /// # Errors
    /// As [`Client::get`].
    pub fn post(&self, path: &str, body: Option<(String, &str)>) -> Result<(u16, Value)> {
        let mut request = self.http.post(self.url(path));
        if let Some((body, content_type)) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(body);
        }
        self.send(request)
    }
}

fn print_json(value: &Value) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn text(value: &Value, key: &str) -> String {
    match value.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "-".to_owned(),
        Some(other) => other.to_string(),
    }
}

fn job_line(job: &Value) -> String {
    let runs = &job["runs"];
    format!(
        "{} {}: {}/{} runs done ({} failed)",
        text(job, "id"),
        text(job, "status"),
        runs["succeeded"].as_i64().unwrap_or(0) + runs["failed"].as_i64().unwrap_or(0),
        runs["total"].as_i64().unwrap_or(0),
        runs["failed"].as_i64().unwrap_or(0),
    )
}

fn is_final(status: &str) -> bool {
    matches!(status, "completed" | "failed" | "cancelled")
}

/// `barwise submit`: sends the job file (relative data paths resolve against its folder) and,
/// with `wait`, follows progress until the job ends. Returns the job's final JSON (or the
/// accepted one without `wait`).
///
/// # Errors
/// Unreadable file, rejected job (with every problem), connection errors.
pub fn submit(client: &Client, file: &Path, wait: bool, key: Option<&str>) -> Result<Value> {
    let body = std::fs::read_to_string(file)
        .with_context(|| format!("reading job file {}", file.display()))?;
    let dir = std::path::absolute(file)
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("."));
    let base_dir = dir.display().to_string();
    let mut request = client
        .http
        .post(client.url("/jobs"))
        .query(&[("base_dir", base_dir.as_str())])
        .header(reqwest::header::CONTENT_TYPE, "application/toml")
        .body(body);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    let (status, job) = client
        .send(request)
        .map_err(|e| anyhow!("{}: {e}", file.display()))?;
    let id = text(&job, "id");
    if !client.json || wait {
        eprintln!(
            "{} job {id} ({} runs)",
            if status == 202 {
                "submitted"
            } else {
                "already submitted:"
            },
            job["runs"]["total"]
        );
    }
    if !wait {
        return Ok(job);
    }
    let mut line = crate::progress::ProgressLine::new();
    loop {
        let job = client.get(&format!("/jobs/{id}"))?;
        let runs = &job["runs"];
        let failed = runs["failed"].as_u64().unwrap_or(0) as usize;
        let done = runs["succeeded"].as_u64().unwrap_or(0) as usize + failed;
        line.update(done, failed, runs["total"].as_u64().unwrap_or(0) as usize);
        if is_final(&text(&job, "status")) {
            return Ok(job);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Prints one job.
pub fn print_job(client: &Client, job: &Value) -> Result<()> {
    if client.json {
        return print_json(job);
    }
    println!("{}", job_line(job));
    for key in [
        "name",
        "submitted_at",
        "started_at",
        "finished_at",
        "elapsed_ms",
        "error",
    ] {
        println!("  {key:<13} {}", text(job, key));
    }
    Ok(())
}

/// `barwise list`.
///
/// # Errors
/// Connection errors and error responses.
pub fn list(client: &Client, status: Option<&str>, limit: u32) -> Result<()> {
    let mut path = format!("/jobs?limit={limit}");
    if let Some(status) = status {
        path.push_str(&format!("&status={status}"));
    }
    let page = client.get(&path)?;
    if client.json {
        return print_json(&page);
    }
    let jobs = page["jobs"].as_array().cloned().unwrap_or_default();
    let rows: Vec<Vec<String>> = jobs
        .iter()
        .map(|j| {
            vec![
                text(j, "id"),
                text(j, "name"),
                text(j, "status"),
                format!("{:.0} %", j["progress"].as_f64().unwrap_or(0.0) * 100.0),
                j["runs"]["total"].to_string(),
                j["runs"]["failed"].to_string(),
                text(j, "submitted_at"),
            ]
        })
        .collect();
    print!(
        "{}",
        table::render(
            &[
                "id",
                "name",
                "status",
                "progress",
                "runs",
                "failed",
                "submitted"
            ],
            &[
                Align::Left,
                Align::Left,
                Align::Left,
                Align::Right,
                Align::Right,
                Align::Right,
                Align::Left
            ],
            &rows
        )
    );
    Ok(())
}

/// `barwise results`: the best runs of a job.
///
/// # Errors
/// Connection errors and error responses.
pub fn results(client: &Client, id: &str, metric: &str, top: u32) -> Result<()> {
    let page = client.get(&format!("/jobs/{id}/runs?metric={metric}&limit={top}"))?;
    if client.json {
        return print_json(&page);
    }
    let runs: Vec<barwise_storage::RunRow> = page["runs"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|mut r| {
            // The API gives params and execution as objects; the row keeps them as JSON text.
            for key in ["params", "execution"] {
                r[key] = Value::String(r[key].to_string());
            }
            serde_json::from_value(r)
        })
        .collect::<Result<_, _>>()
        .context("reading the runs")?;
    println!("{}", job_line(&page["job"]));
    println!("\nbest {} by {metric}:", runs.len());
    print!("{}", table::ranked_runs(&runs));
    Ok(())
}
