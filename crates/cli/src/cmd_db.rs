//! `phoneprov db status [--json]` and `phoneprov db migrate`: the schema of
//! the store, on SQLite or PostgreSQL (issue 13). The logic is
//! `phoneprov_server::database`; this module parses flags and prints.
//!
//! The database is `--database-url URL` (or `PHONEPROV_DATABASE_URL`), else
//! the config's `[database] url`, else the SQLite file of the data
//! directory (`--data`, `--config` as for every command).
//!
//! `db copy --from URL --to URL [--force]` moves a whole installation
//! between databases (`phoneprov_store::copy_database`), with a progress
//! bar on a terminal.
//!
//! `db status` exits 0 when the schema is this build's, 1 when it is
//! empty, older (run `db migrate`) or newer (upgrade phoneprov), and 2 when
//! the database cannot be read. It changes nothing.

use std::io::IsTerminal as _;

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use phoneprov_server::database::{self, SchemaState};
use phoneprov_store::Database;

pub use crate::sysconf::DbUrl;

/// The database flags of `phoneprov serve`.
#[derive(Args, Debug, Clone, Default)]
pub struct ServeDb {
    #[command(flatten)]
    url: DbUrl,
    /// Bring an older database schema up to date before serving (the
    /// default for SQLite; for PostgreSQL see [database] auto_migrate).
    #[arg(long)]
    migrate: bool,
}

impl ServeDb {
    /// Applies the flags to the configuration.
    pub fn apply(&self, cfg: &mut phoneprov_server::Config) {
        if let Some(url) = &self.url.database_url {
            cfg.database.url = Some(url.clone());
        }
        if self.migrate {
            cfg.database.auto_migrate = Some(true);
        }
    }
}

/// `phoneprov db ...`.
#[derive(Subcommand, Debug)]
pub enum DbCommand {
    /// Print the database's schema version and this build's; exit 1 when
    /// they differ.
    Status(StatusArgs),
    /// Bring the database's schema up to this build's version (creating it
    /// in an empty database). Safe while other nodes run the same version.
    Migrate(Target),
    /// Copy a whole installation (devices with their keys, timeline, ACS
    /// tasks, activation, secrets) into another database, e.g. SQLite to
    /// PostgreSQL, and verify the row counts. Stop serve on a PostgreSQL
    /// source first (a SQLite source is read as one snapshot).
    Copy(CopyArgs),
}

/// Arguments of `phoneprov db copy`.
#[derive(Args, Debug)]
pub struct CopyArgs {
    /// Source: sqlite:DIR (the data directory) or postgres://….
    #[arg(long, value_name = "URL", value_parser = Database::parse)]
    from: Database,
    /// Target: postgres://… or sqlite:DIR; migrated to this build's
    /// schema first.
    #[arg(long, value_name = "URL", value_parser = Database::parse)]
    to: Database,
    /// Replace everything in a target that is not empty.
    #[arg(long)]
    force: bool,
}

/// Which database: `--database-url`, else the config, else `--data`.
use crate::sysconf::StoreArgs as Target;

/// Arguments of `phoneprov db status`.
#[derive(Args, Debug)]
pub struct StatusArgs {
    #[command(flatten)]
    target: Target,
    /// Print one JSON object (database, backend, found, known, state).
    #[arg(long)]
    json: bool,
}

/// Runs the command; returns the exit code.
pub fn run(cmd: DbCommand) -> anyhow::Result<i32> {
    match cmd {
        DbCommand::Status(args) => {
            let st = database::status(&args.target.database()?)?;
            if args.json {
                println!("{}", serde_json::to_string(&st)?);
            } else {
                println!("{}", st.line());
            }
            Ok(i32::from(st.state != SchemaState::Current))
        }
        DbCommand::Migrate(target) => {
            let (before, after) = database::migrate(&target.database()?)?;
            if before.found == after.found {
                println!("{}", after.line());
            } else {
                println!(
                    "database {}: schema migrated from version {} to {}",
                    after.database, before.found, after.found
                );
            }
            Ok(0)
        }
        DbCommand::Copy(args) => {
            let bar = if std::io::stderr().is_terminal() {
                let bar = ProgressBar::new(0);
                bar.set_style(
                    ProgressStyle::with_template("{msg:24} {bar:40} {pos}/{len} rows ({eta} left)")
                        .expect("static template"),
                );
                bar
            } else {
                ProgressBar::hidden()
            };
            let counts = database::copy(&args.from, &args.to, args.force, |table, done, total| {
                bar.set_message(table.to_string());
                bar.set_length(total);
                bar.set_position(done);
            })?;
            bar.finish_and_clear();
            let list: Vec<String> = counts.iter().map(|(t, n)| format!("{t} {n}")).collect();
            println!(
                "copied {} to {}; rows verified: {}",
                args.from,
                args.to,
                list.join(", ")
            );
            Ok(0)
        }
    }
}
