//! `barwise-ops`: operating a Barwise installation. For now: schema migrations of the results
//! database (`migrate run|revert|status|redo`).

use anyhow::{Context as _, Result};
use barwise_storage::{Store, default_database_url};
use clap::{Parser, Subcommand};

/// Operate Barwise: migrate the results database.
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

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Migrate { action } => migrate(action),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::exit(2);
        }
    }
}
