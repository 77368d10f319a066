//! `barwise-ops`: operating a Barwise installation: schema migrations of the results database
//! (`migrate run|revert|status|redo`) and the archive (`archive verify|prune`).

mod archive;
mod backup;

use anyhow::{Context as _, Result};
use barwise_storage::{Store, default_database_url};
use clap::{Parser, Subcommand};

/// Operate Barwise: migrate the results database, verify and prune the archive.
#[derive(Debug, Parser)]
#[command(version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Schema migrations of the results database.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Backups of the results database into the archive's object store.
    Backup {
        #[command(subcommand)]
        action: BackupAction,
    },
    /// Check the installation once: database, queue, workers, stuck jobs, archive, plugins,
    /// backups, disk. Exit code 0 ok, 1 warning, 2 critical.
    Health {
        /// The daemon's configuration file (thresholds, URLs) [default: the defaults].
        #[arg(long)]
        config: Option<std::path::PathBuf>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Run the health checks continuously, printing every change of state (and posting it to
    /// the configured alert webhooks).
    Monitor {
        /// The daemon's configuration file.
        #[arg(long)]
        config: Option<std::path::PathBuf>,
        /// Time between rounds, like 10s or 1m.
        #[arg(long, default_value = "10s")]
        interval: String,
        /// Stop after this many rounds [default: run until interrupted].
        #[arg(long)]
        rounds: Option<u64>,
    },
    /// The object-store archive of runs and jobs.
    Archive {
        #[command(subcommand)]
        action: ArchiveAction,
    },
}

#[derive(Debug, Subcommand)]
enum ArchiveAction {
    /// Download every archived object of every archived job (or of JOB), check sizes and
    /// SHA-256 against the job's manifest and the manifest against the database; list missing,
    /// corrupt and unexpected objects (exit code 1 when any).
    Verify {
        /// Only this job.
        job: Option<String>,
        #[command(flatten)]
        archive: ArchiveArgs,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Retention: remove the archive objects of jobs that ended more than --older-than ago.
    Prune {
        /// Age, like 30d or 12h.
        #[arg(long)]
        older_than: String,
        /// Only say what would be removed.
        #[arg(long)]
        dry_run: bool,
        /// Also delete the jobs from the database (runs and trades included).
        #[arg(long)]
        delete_rows: bool,
        #[command(flatten)]
        archive: ArchiveArgs,
    },
}

#[derive(Debug, Subcommand)]
enum BackupAction {
    /// Take a backup: pg_dump (custom format) or an SQLite VACUUM INTO snapshot, compressed,
    /// checksummed, uploaded, catalogued.
    Create {
        #[command(flatten)]
        archive: ArchiveArgs,
    },
    /// The backup catalog, newest first.
    List {
        #[command(flatten)]
        archive: ArchiveArgs,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Download a backup, check its checksum, and check that it restores (pg_restore --list,
    /// or SQLite's integrity_check).
    Verify {
        /// Backup id.
        id: String,
        #[command(flatten)]
        archive: ArchiveArgs,
    },
    /// Restore a backup into an empty database (--force replaces a non-empty one), then migrate
    /// it to the current schema.
    Restore {
        /// Backup id.
        id: String,
        /// Target database URL.
        #[arg(long)]
        to: String,
        /// Replace the contents of a non-empty target.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        archive: ArchiveArgs,
    },
    /// Remove backups a retention policy does not keep.
    Prune {
        /// Keep the newest backup of each of the last N days with backups.
        #[arg(long, default_value_t = 7)]
        keep_daily: usize,
        /// Keep the newest backup of each of the last N ISO weeks with backups.
        #[arg(long, default_value_t = 4)]
        keep_weekly: usize,
        /// Keep the newest backup of each of the last N months with backups.
        #[arg(long, default_value_t = 12)]
        keep_monthly: usize,
        /// Only say what would be removed.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        archive: ArchiveArgs,
    },
}

impl ArchiveArgs {
    fn archive(&self) -> Result<barwise_archive::Archive> {
        let url = self
            .archive_url
            .clone()
            .unwrap_or_else(archive::default_archive_url);
        Ok(barwise_archive::Archive::open(&url)?)
    }
}

fn backup_command(action: BackupAction) -> Result<i32> {
    match action {
        BackupAction::Create { archive } => {
            let store = archive.database.open()?;
            let meta = backup::create(&store, &archive.archive()?)?;
            println!(
                "backup {} of {}: {} bytes, sha256 {}, schema {}",
                meta.id, meta.database, meta.size, meta.sha256, meta.schema_version
            );
        }
        BackupAction::List { archive, json } => {
            let store = archive.database.open()?;
            let rows = store.list_backups()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                for b in rows {
                    println!(
                        "{}  {}  {:>12} bytes  {}  {}  {}  verified {}",
                        b.id,
                        barwise_engine::TimeMs(b.created_ms),
                        b.size_bytes,
                        b.source,
                        b.schema_version,
                        b.status,
                        b.verified_ms.map_or_else(
                            || "never".to_owned(),
                            |t| barwise_engine::TimeMs(t).to_string()
                        )
                    );
                }
            }
        }
        BackupAction::Verify { id, archive } => {
            let store = archive.database.open().ok();
            println!(
                "{}",
                backup::verify(store.as_ref(), &archive.archive()?, &id)?
            );
        }
        BackupAction::Restore {
            id,
            to,
            force,
            archive,
        } => {
            println!("{}", backup::restore(&archive.archive()?, &id, &to, force)?);
        }
        BackupAction::Prune {
            keep_daily,
            keep_weekly,
            keep_monthly,
            dry_run,
            archive,
        } => {
            let store = archive.database.open()?;
            let removed = backup::prune(
                &store,
                &archive.archive()?,
                keep_daily,
                keep_weekly,
                keep_monthly,
                dry_run,
            )?;
            let verb = if dry_run { "would remove" } else { "removed" };
            for id in &removed {
                println!("{verb} backup {id}");
            }
            println!("{verb} {} backup(s)", removed.len());
        }
    }
    Ok(0)
}

#[derive(Debug, clap::Args)]
struct ArchiveArgs {
    /// Archive URL [default: $BARWISE_ARCHIVE_URL, else file://$BARWISE_DATA_DIR/archive, else
    /// file://.barwise/archive].
    #[arg(long)]
    archive_url: Option<String>,
    #[command(flatten)]
    database: DatabaseArgs,
}

fn archive_command(action: ArchiveAction) -> Result<i32> {
    match action {
        ArchiveAction::Verify { job, archive, json } => {
            let store = archive.database.open()?;
            store.ensure_current()?;
            let url = archive
                .archive_url
                .unwrap_or_else(archive::default_archive_url);
            archive::verify(&store, &url, job.as_deref(), json)
        }
        ArchiveAction::Prune {
            older_than,
            dry_run,
            delete_rows,
            archive,
        } => {
            let age = barwise_jobs::parse_duration(&older_than)
                .map_err(|e| anyhow::anyhow!("--older-than: {e}"))?;
            let store = archive.database.open()?;
            store.ensure_current()?;
            let url = archive
                .archive_url
                .unwrap_or_else(archive::default_archive_url);
            archive::prune(&store, &url, age, dry_run, delete_rows)
        }
    }
}

#[derive(Debug, Subcommand)]
enum MigrateAction {
    /// Apply every pending migration.
    Run(DatabaseArgs),
    /// Revert the newest applied migration.
    Revert(DatabaseArgs),
    /// Revert and re-apply the newest migration.
    Redo(DatabaseArgs),
    /// Show applied, pending and unknown migrations (exit code 1 when any is pending or unknown).
    Status {
        #[command(flatten)]
        database: DatabaseArgs,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, clap::Args)]
struct DatabaseArgs {
    /// Database URL (postgres://... or sqlite:///path) [default: $DATABASE_URL, else
    /// sqlite://$BARWISE_DATA_DIR/results.db, else sqlite://.barwise/results.db].
    #[arg(long)]
    database_url: Option<String>,
}

impl DatabaseArgs {
    fn open(&self) -> Result<Store> {
        let url = self
            .database_url
            .clone()
            .unwrap_or_else(default_database_url);
        // Connect only: SQLite databases are migrated on open by barwise, not here.
        Ok(Store::connect(&url)?)
    }
}

fn migrate(action: MigrateAction) -> Result<i32> {
    match action {
        MigrateAction::Run(db) => {
            let store = db.open()?;
            let applied = store.migrate_run().context("applying migrations")?;
            if applied.is_empty() {
                println!(
                    "{}: schema is current, nothing to apply",
                    store.display_url()
                );
            }
            for version in applied {
                println!("{}: applied {version}", store.display_url());
            }
        }
        MigrateAction::Revert(db) => {
            let store = db.open()?;
            match store.migrate_revert().context("reverting a migration")? {
                Some(version) => println!("{}: reverted {version}", store.display_url()),
                None => println!("{}: no migration to revert", store.display_url()),
            }
        }
        MigrateAction::Redo(db) => {
            let store = db.open()?;
            match store
                .migrate_redo()
                .context("redoing the newest migration")?
            {
                Some(version) => {
                    println!("{}: reverted and re-applied {version}", store.display_url())
                }
                None => println!("{}: no migration to redo", store.display_url()),
            }
        }
        MigrateAction::Status { database, json } => {
            let store = database.open()?;
            let status = store.migration_status()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                println!("database: {}", store.display_url());
                for name in &status.applied {
                    println!("  applied  {name}");
                }
                for name in &status.pending {
                    println!("  pending  {name}");
                }
                for version in &status.unknown {
                    println!("  unknown  {version} (applied by a newer barwise)");
                }
            }
            if !status.pending.is_empty() || !status.unknown.is_empty() {
                return Ok(1);
            }
        }
    }
    Ok(0)
}

fn load_config(path: Option<&std::path::Path>) -> Result<barwise::daemon::config::Config> {
    Ok(barwise::daemon::config::Config::load(path)?)
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the I/O runtime")
}

fn health(config: Option<&std::path::Path>, json: bool) -> Result<i32> {
    let config = load_config(config)?;
    let checks = runtime()?.block_on(barwise::health::run_checks(&config, None));
    let overall = barwise::health::overall(&checks);
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "status": overall,
                "checks": checks,
            }))?
        );
    } else {
        print!("{}", barwise::health::render(&checks));
        println!("overall: {}", overall.as_str());
    }
    Ok(overall as i32)
}

fn monitor(config: Option<&std::path::Path>, interval: &str, rounds: Option<u64>) -> Result<i32> {
    let every =
        barwise_jobs::parse_duration(interval).map_err(|e| anyhow::anyhow!("--interval: {e}"))?;
    let config = load_config(config)?;
    let runtime = runtime()?;
    let alerts = runtime.block_on(async { barwise::alerts::Alerts::start(&config.health) });
    let mut last: std::collections::BTreeMap<&'static str, barwise::health::Severity> =
        std::collections::BTreeMap::new();
    let mut round = 0;
    loop {
        let checks = runtime.block_on(barwise::health::run_checks(&config, None));
        let now = barwise_engine::TimeMs(barwise::execute::now_ms());
        for c in &checks {
            let before = last.insert(c.name, c.status);
            if before != Some(c.status) {
                println!("{now} {} {}: {}", c.name, c.status.as_str(), c.detail);
                if before.is_some() {
                    alerts.check_changed(c, before);
                }
            }
        }
        round += 1;
        if rounds.is_some_and(|r| round >= r) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(every));
    }
    // Give queued alerts a moment to go out.
    runtime.block_on(alerts.flush(std::time::Duration::from_secs(5)));
    Ok(0)
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Migrate { action } => migrate(action),
        Command::Archive { action } => archive_command(action),
        Command::Backup { action } => backup_command(action),
        Command::Health { config, json } => health(config.as_deref(), json),
        Command::Monitor {
            config,
            interval,
            rounds,
        } => monitor(config.as_deref(), &interval, rounds),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::exit(2);
        }
    }
}
