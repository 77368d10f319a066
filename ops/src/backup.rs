//! `barwise-ops backup create|list|verify|restore|prune`.
//!
//! A backup is one object in the archive's store, `backups/{id}/results.sqlite.zst` (an SQLite
//! `VACUUM INTO` snapshot, zstd-compressed) or `backups/{id}/results.pgdump` (`pg_dump` custom
//! format: compressed, one consistent snapshot), with a sidecar `backups/{id}/backup.json`
//! describing it (time, size, SHA-256, schema version, source), and a row in the source
//! database's `backups` catalog. Verify and restore need only the store, so they work when the
//! source database is gone.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, Result, anyhow, bail};
use barwise_archive::{Archive, sha256_hex};
use barwise_engine::TimeMs;
use barwise_storage::{BackupRow, Store, known_migrations};
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// The sidecar of a backup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackupMeta {
    /// Backup id.
    pub id: String,
    /// When it was taken (RFC 3339).
    pub created_at: String,
    /// When it was taken, epoch ms.
    pub created_ms: i64,
    /// `sqlite` or `postgres`.
    pub source: String,
    /// The database it was taken from (no password).
    pub database: String,
    /// Key of the backup file in the store.
    pub key: String,
    /// Size of the backup file.
    pub size: u64,
    /// SHA-256 of the backup file.
    pub sha256: String,
    /// Newest migration applied to the database when it was taken.
    pub schema_version: String,
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the I/O runtime")
}

fn meta_key(id: &str) -> String {
    format!("backups/{id}/backup.json")
}

fn new_id(now_ms: i64) -> String {
    let stamp: String = TimeMs(now_ms)
        .to_rfc3339()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let mut random = [0u8; 4];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = std::io::Read::read_exact(&mut f, &mut random);
    }
    format!("{stamp}-{:08x}", u32::from_le_bytes(random))
}

/// Runs a PostgreSQL client tool, naming it when it is missing.
fn pg_tool(name: &str, args: &[&str]) -> Result<std::process::Output> {
    let output = Command::new(name).args(args).output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            anyhow!(
                "{name} not found: install the PostgreSQL client tools (Debian: postgresql-client)"
            )
        } else {
            anyhow!("cannot run {name}: {e}")
        }
    })?;
    if !output.status.success() {
        bail!(
            "{name} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(output)
}

/// Takes a backup of `store` into `archive`; returns its sidecar.
///
/// # Errors
/// Database, tool, compression and store errors (nothing is catalogued then).
pub fn create(store: &Store, archive: &Archive) -> Result<BackupMeta> {
    store
        .ensure_current()
        .context("the database must be at the current schema")?;
    let schema_version = store
        .migration_status()?
        .applied
        .last()
        .cloned()
        .unwrap_or_default();
    let now = barwise::execute::now_ms();
    let id = new_id(now);
    let work = tempfile::tempdir().context("temporary folder")?;
    let (source, key, bytes) = if store.sqlite_path().is_some() {
        let copy = work.path().join("snapshot.db");
        store.sqlite_snapshot_into(&copy)?;
        let raw = std::fs::read(&copy).context("reading the snapshot")?;
        let compressed = zstd::encode_all(raw.as_slice(), 10).context("compressing")?;
        (
            "sqlite",
            format!("backups/{id}/results.sqlite.zst"),
            compressed,
        )
    } else {
        let url = store.postgres_url().unwrap_or_default();
        let file = work.path().join("results.pgdump");
        let file_text = file.display().to_string();
        pg_tool(
            "pg_dump",
            &[
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                "--file",
                &file_text,
                "--dbname",
                url,
            ],
        )?;
        let dump = std::fs::read(&file).context("reading the dump")?;
        ("postgres", format!("backups/{id}/results.pgdump"), dump)
    };
    let meta = BackupMeta {
        id: id.clone(),
        created_at: TimeMs(now).to_rfc3339(),
        created_ms: now,
        source: source.to_owned(),
        database: store.display_url().to_owned(),
        size: bytes.len() as u64,
        sha256: sha256_hex(&bytes),
        key: key.clone(),
        schema_version,
    };
    let runtime = runtime()?;
    runtime
        .block_on(archive.put_once(&key, Bytes::from(bytes)))
        .context("uploading the backup")?;
    runtime
        .block_on(archive.put_once(
            &meta_key(&id),
            Bytes::from(serde_json::to_vec_pretty(&meta)?),
        ))
        .context("uploading the backup's description")?;
    store.insert_backup(&BackupRow {
        id: id.clone(),
        created_ms: now,
        source: source.to_owned(),
        location: format!("{}/{key}", archive.url().trim_end_matches('/')),
        size_bytes: meta.size as i64,
        sha256: meta.sha256.clone(),
        schema_version: meta.schema_version.clone(),
        status: "complete".to_owned(),
        verified_ms: None,
    })?;
    Ok(meta)
}

/// Downloads a backup and checks it against its sidecar's size and SHA-256.
fn fetch(archive: &Archive, id: &str) -> Result<(BackupMeta, Bytes)> {
    let runtime = runtime()?;
    let meta = runtime
        .block_on(archive.get(&meta_key(id)))
        .with_context(|| format!("backup {id}: reading its description"))?;
    let meta: BackupMeta =
        serde_json::from_slice(&meta).with_context(|| format!("backup {id}: description"))?;
    let bytes = runtime
        .block_on(archive.get(&meta.key))
        .with_context(|| format!("backup {id}: downloading {}", meta.key))?;
    if bytes.len() as u64 != meta.size || sha256_hex(&bytes) != meta.sha256 {
        bail!(
            "backup {id} is corrupt or truncated: {} bytes with sha256 {}, expected {} bytes with \
             sha256 {}; nothing was changed",
            bytes.len(),
            sha256_hex(&bytes),
            meta.size,
            meta.sha256
        );
    }
    Ok((meta, bytes))
}

/// Checks that the backup restores: an SQLite snapshot passes `integrity_check`, a dump is
/// readable by `pg_restore --list`. Returns a one-line result.
fn restore_check(meta: &BackupMeta, bytes: &[u8], work: &Path) -> Result<String> {
    if meta.source == "sqlite" {
        let file = work.join("check.db");
        std::fs::write(&file, zstd::decode_all(bytes).context("decompressing")?)?;
        let store = Store::connect(&format!("sqlite://{}", file.display()))?;
        let result = store.integrity_check()?;
        if result != "ok" {
            bail!(
                "backup {}: SQLite integrity check failed: {result}",
                meta.id
            );
        }
        Ok("SQLite integrity_check: ok".to_owned())
    } else {
        let file = work.join("check.pgdump");
        std::fs::write(&file, bytes)?;
        let listed = pg_tool("pg_restore", &["--list", &file.display().to_string()])?;
        let entries = String::from_utf8_lossy(&listed.stdout)
            .lines()
            .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
            .count();
        Ok(format!("pg_restore --list: {entries} entries"))
    }
}

/// `backup verify ID`.
///
/// # Errors
/// A corrupt, truncated or unreadable backup; store errors.
pub fn verify(store: Option<&Store>, archive: &Archive, id: &str) -> Result<String> {
    let (meta, bytes) = fetch(archive, id)?;
    let work = tempfile::tempdir()?;
    let result = restore_check(&meta, &bytes, work.path())?;
    if let Some(store) = store {
        let _ = store.update_backup(id, "complete", Some(barwise::execute::now_ms()));
    }
    Ok(format!(
        "backup {id}: {} bytes, sha256 {} matches; {result}",
        meta.size, meta.sha256
    ))
}

/// `backup restore ID --to URL [--force]`.
///
/// # Errors
/// Every refusal leaves the target unchanged: corrupt backup, newer schema, other backend,
/// non-empty target without `force`.
pub fn restore(archive: &Archive, id: &str, to: &str, force: bool) -> Result<String> {
    let (meta, bytes) = fetch(archive, id)?;
    let known = known_migrations(&meta.source);
    if !meta.schema_version.is_empty() && !known.contains(&meta.schema_version) {
        bail!(
            "backup {id} has schema {}, newer than this barwise knows (newest: {}); upgrade \
             barwise first; nothing was changed",
            meta.schema_version,
            known.last().cloned().unwrap_or_default()
        );
    }
    let target = Store::connect(to)
        .with_context(|| format!("connecting to {}", barwise_storage::redact(to)))?;
    let target_backend = if target.sqlite_path().is_some() {
        "sqlite"
    } else {
        "postgres"
    };
    if target_backend != meta.source {
        bail!(
            "backup {id} is a {} backup; it cannot be restored into a {target_backend} database",
            meta.source
        );
    }
    let tables = target.table_count()?;
    if tables > 0 && !force {
        bail!(
            "{} is not empty ({tables} tables); restore into an empty database, or pass --force \
             to replace its contents",
            target.display_url()
        );
    }
    let work = tempfile::tempdir()?;
    restore_check(&meta, &bytes, work.path())?;
    if let Some(path) = target.sqlite_path().map(Path::to_path_buf) {
        drop(target);
        let staged = PathBuf::from(format!("{}.restoring", path.display()));
        std::fs::write(
            &staged,
            zstd::decode_all(bytes.as_ref()).context("decompressing")?,
        )
        .with_context(|| format!("writing {}", staged.display()))?;
        for suffix in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        std::fs::rename(&staged, &path).with_context(|| format!("replacing {}", path.display()))?;
    } else {
        if tables > 0 {
            target.reset_postgres_schema()?;
        }
        let file = work.path().join("restore.pgdump");
        std::fs::write(&file, &bytes)?;
        let url = target.postgres_url().unwrap_or_default().to_owned();
        pg_tool(
            "pg_restore",
            &[
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                "--dbname",
                &url,
                &file.display().to_string(),
            ],
        )?;
    }
    let restored = Store::connect(to)?;
    let applied = restored
        .migrate_run()
        .context("migrating the restored database")?;
    restored.ensure_current()?;
    Ok(format!(
        "restored backup {id} ({}, schema {}) into {}{}",
        meta.created_at,
        meta.schema_version,
        restored.display_url(),
        if applied.is_empty() {
            String::new()
        } else {
            format!("; then applied {}", applied.join(", "))
        }
    ))
}

/// Which backups a retention policy keeps: the newest of each of the last `daily` days,
/// `weekly` ISO weeks and `monthly` months that have backups (a backup may count for several).
pub fn retained(backups: &[BackupRow], daily: usize, weekly: usize, monthly: usize) -> Vec<String> {
    use chrono::Datelike as _;
    let mut sorted: Vec<&BackupRow> = backups.iter().filter(|b| b.status == "complete").collect();
    sorted.sort_by(|a, b| b.created_ms.cmp(&a.created_ms).then(b.id.cmp(&a.id)));
    let mut keep: Vec<String> = Vec::new();
    let mut pick = |limit: usize, period: &dyn Fn(chrono::DateTime<chrono::Utc>) -> (i32, u32)| {
        let mut seen: Vec<(i32, u32)> = Vec::new();
        for b in &sorted {
            let Some(time) = chrono::DateTime::from_timestamp_millis(b.created_ms) else {
                continue;
            };
            let key = period(time);
            if seen.contains(&key) {
                continue;
            }
            if seen.len() == limit {
                break;
            }
            seen.push(key);
            if !keep.contains(&b.id) {
                keep.push(b.id.clone());
            }
        }
    };
    pick(daily, &|t| (t.year(), t.ordinal()));
    pick(weekly, &|t| (t.iso_week().year(), t.iso_week().week()));
    pick(monthly, &|t| (t.year(), t.month()));
    keep
}

/// `backup prune`: removes backups the policy does not keep; returns the removed ids.
///
/// # Errors
/// Database and store errors.
pub fn prune(
    store: &Store,
    archive: &Archive,
    daily: usize,
    weekly: usize,
    monthly: usize,
    dry_run: bool,
) -> Result<Vec<String>> {
    let backups = store.list_backups()?;
    let keep = retained(&backups, daily, weekly, monthly);
    let runtime = runtime()?;
    let mut removed = Vec::new();
    for b in backups
        .iter()
        .filter(|b| b.status == "complete" && !keep.contains(&b.id))
    {
        if !dry_run {
            runtime.block_on(archive.delete_prefix(&format!("backups/{}", b.id)))?;
            store.update_backup(&b.id, "pruned", None)?;
        }
        removed.push(b.id.clone());
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backup(id: &str, time: &str) -> BackupRow {
        BackupRow {
            id: id.into(),
            created_ms: chrono::DateTime::parse_from_rfc3339(time)
                .unwrap()
                .timestamp_millis(),
            source: "sqlite".into(),
            location: String::new(),
            size_bytes: 1,
            sha256: String::new(),
            schema_version: String::new(),
            status: "complete".into(),
            verified_ms: None,
        }
    }

    #[test]
    fn retention_keeps_the_newest_per_day_week_and_month() {
        // Two backups on 2026-11-26, one each on the 25th, 24th, 17th (the week before),
        // 2026-10-31 and 2026-09-15.
        let all = vec![
            backup("a", "2026-11-26T02:00:00Z"),
            backup("b", "2026-11-26T14:00:00Z"),
            backup("c", "2026-11-25T02:00:00Z"),
            backup("d", "2026-11-24T02:00:00Z"),
            backup("e", "2026-11-17T02:00:00Z"),
            backup("f", "2026-10-31T02:00:00Z"),
            backup("g", "2026-09-15T02:00:00Z"),
        ];
        // 2 days: b (26th), c (25th). 2 weeks: b (week 48), e (week 47; d is week 48 too).
        // 3 months: b (Nov), f (Oct), g (Sep).
        let mut kept = retained(&all, 2, 2, 3);
        kept.sort();
        assert_eq!(kept, ["b", "c", "e", "f", "g"]);
        assert_eq!(retained(&all, 0, 0, 0), Vec::<String>::new());
        let mut everything = retained(&all, 10, 10, 10);
        everything.sort();
        assert_eq!(
            everything,
            ["b", "c", "d", "e", "f", "g"],
            "a: same day as b, older"
        );
    }
}
