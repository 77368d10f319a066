//! `barwise-ops archive verify|prune`.

use anyhow::{Context as _, Result, bail};
use barwise_archive::{Archive, ObjectInfo, Verification, job_prefix};
use barwise_storage::{JobFilter, Store};

/// `$BARWISE_ARCHIVE_URL`, else the daemon's default: `file://DATA_DIR/archive`.
pub fn default_archive_url() -> String {
    if let Ok(url) = std::env::var("BARWISE_ARCHIVE_URL")
        && !url.is_empty()
    {
        return url;
    }
    let data = std::env::var_os(barwise_storage::DATA_DIR_ENV).map_or_else(
        || std::path::PathBuf::from(".barwise"),
        std::path::PathBuf::from,
    );
    let archive = data.join("archive");
    format!(
        "file://{}",
        std::path::absolute(&archive).unwrap_or(archive).display()
    )
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the I/O runtime")
}

/// One job's verification: the archive against its manifest, and the manifest against the
/// database's record of the job's archived runs.
#[derive(Debug, serde::Serialize)]
struct JobCheck {
    job_id: String,
    #[serde(flatten)]
    found: Verification,
    /// Problems between the database and the manifest.
    database: Vec<String>,
}

/// Verifies every archived job (or `job`); returns the exit code: 0 clean, 1 problems.
///
/// # Errors
/// Unreachable database or archive.
pub fn verify(store: &Store, archive_url: &str, job: Option<&str>, json: bool) -> Result<i32> {
    let archive = Archive::open(archive_url)?;
    let jobs: Vec<String> = match job {
        Some(id) => vec![store.job(id)?.id],
        None => {
            let mut all = Vec::new();
            let mut offset = 0;
            loop {
                let page = store.list_jobs(&JobFilter {
                    limit: Some(1000),
                    offset: Some(offset),
                    ..JobFilter::default()
                })?;
                if page.is_empty() {
                    break;
                }
                offset += page.len() as i64;
                all.extend(
                    page.into_iter()
                        .filter(|j| j.archived_ms.is_some())
                        .map(|j| j.id),
                );
            }
            all
        }
    };
    let runtime = runtime()?;
    let mut checks = Vec::new();
    let mut progress = barwise::progress::ProgressLine::counting("jobs");
    for (i, job_id) in jobs.iter().enumerate() {
        let (manifest, found) = runtime
            .block_on(archive.verify_job(job_id))
            .with_context(|| format!("verifying job {job_id}"))?;
        let mut database = Vec::new();
        let listed: Vec<&ObjectInfo> = manifest.iter().flat_map(|m| m.objects.iter()).collect();
        let records = store.run_archives_of_job(job_id)?;
        if let Some(m) = &manifest
            && m.runs != records.len()
        {
            database.push(format!(
                "manifest lists {} archived runs, the database {}",
                m.runs,
                records.len()
            ));
        }
        for (run_id, objects) in &records {
            let objects: Vec<ObjectInfo> = serde_json::from_str(objects)
                .with_context(|| format!("run {run_id}: stored archive record"))?;
            for object in objects {
                if !listed.iter().any(|l| **l == object) {
                    database.push(format!(
                        "{} (run {run_id}) is in the database but not in the manifest",
                        object.key
                    ));
                }
            }
        }
        checks.push(JobCheck {
            job_id: job_id.clone(),
            found,
            database,
        });
        progress.update(i + 1, 0, jobs.len());
    }
    let clean = checks
        .iter()
        .all(|c| c.found.is_clean() && c.database.is_empty());
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "archive": archive.url(),
                "jobs": checks,
                "clean": clean,
            }))?
        );
    } else {
        println!("archive: {}", archive.url());
        for c in &checks {
            let state = if c.found.is_clean() && c.database.is_empty() {
                "ok"
            } else {
                "PROBLEMS"
            };
            println!("{} {state}: {} objects intact", c.job_id, c.found.ok);
            for key in &c.found.missing {
                println!("  missing     {key}");
            }
            for (key, problem) in &c.found.corrupt {
                println!("  corrupt     {key}: {problem}");
            }
            for key in &c.found.unexpected {
                println!("  unexpected  {key}");
            }
            for problem in &c.database {
                println!("  database    {problem}");
            }
        }
        println!(
            "{} job(s) checked: {}",
            checks.len(),
            if clean { "all clean" } else { "problems found" }
        );
    }
    Ok(if clean { 0 } else { 1 })
}

/// Removes the archive objects (and with `delete_rows` the database rows) of jobs that ended
/// before `older_than_ms` ago.
///
/// # Errors
/// Unreachable database or archive.
pub fn prune(
    store: &Store,
    archive_url: &str,
    older_than_ms: u64,
    dry_run: bool,
    delete_rows: bool,
) -> Result<i32> {
    let archive = Archive::open(archive_url)?;
    let cutoff = barwise::execute::now_ms() - i64::try_from(older_than_ms).unwrap_or(i64::MAX);
    let jobs = store.jobs_finished_before(cutoff)?;
    let runtime = runtime()?;
    let verb = if dry_run { "would remove" } else { "removed" };
    let mut objects = 0;
    for job in &jobs {
        let prefix = job_prefix(&job.id);
        let count = if dry_run {
            runtime.block_on(archive.list(&prefix))?.len()
        } else {
            runtime.block_on(archive.delete_prefix(&prefix))?
        };
        objects += count;
        let rows = if delete_rows {
            if !dry_run && !store.delete_job(&job.id)? {
                bail!("job {} vanished while pruning", job.id);
            }
            " and its database rows"
        } else {
            ""
        };
        println!("{}: {verb} {count} archive object(s){rows}", job.id);
    }
    println!(
        "{} job(s) ended before the cutoff: {verb} {objects} object(s){}",
        jobs.len(),
        if dry_run {
            " (dry run: nothing changed)"
        } else {
            ""
        }
    );
    Ok(0)
}
