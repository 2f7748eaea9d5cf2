//! Where the configuration and the data directory come from, for every
//! subcommand that touches data (`serve`, `device`, `ca`, `activation`), so
//! an installed system needs no `--data` (issue 17 item 1).
//!
//! The configuration file is `--config FILE` (or `$PHONEPROV_CONFIG`);
//! without one, the system file `/etc/phoneprov/phoneprov.toml` is used
//! when it exists (the directory is `$PHONEPROV_SYSCONFDIR` when set, which
//! the tests use). The data directory is `--data DIR` (or
//! `$PHONEPROV_DATA`), else the file's `data_dir`, else
//! `/var/lib/phoneprov` when the system file is the one in use (the
//! Debian package's `StateDirectory`), else `./phoneprov-data`.
//!
//! The commands that read or write the store (`device`, `activation`,
//! `db`) take [`StoreArgs`]: the database is `--database-url URL` (or
//! `$PHONEPROV_DATABASE_URL`), else the file's `[database] url`, else the
//! SQLite file of the data directory: the same target as `serve`
//! (`phoneprov_server::database::target`, issue 13), so a node's CLI
//! works on the PostgreSQL database its servers share. Without a URL, a
//! data directory whose `serve` runs on PostgreSQL is refused rather than
//! its SQLite file written (`database::command_target`).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use phoneprov_server::database;
use phoneprov_server::Config;
use phoneprov_store::{Database, Store};

/// The system configuration directory when `$PHONEPROV_SYSCONFDIR` is unset.
pub const SYSCONFDIR: &str = "/etc/phoneprov";
/// The configuration file's name inside it.
pub const CONFIG_FILE: &str = "phoneprov.toml";
/// The data directory of an installed system.
pub const INSTALLED_DATA_DIR: &str = "/var/lib/phoneprov";
/// The data directory of a checkout (no system configuration).
pub const LOCAL_DATA_DIR: &str = "phoneprov-data";

/// `--data` and `--config`, flattened into every subcommand that touches data.
#[derive(Args, Debug, Clone, Default)]
pub struct DataArgs {
    /// Data directory (database, CA, templates, static, firmware).
    /// Default: the config's data_dir; /var/lib/phoneprov with the system
    /// config /etc/phoneprov/phoneprov.toml; else ./phoneprov-data.
    #[arg(long = "data", value_name = "DIR", env = "PHONEPROV_DATA")]
    pub data: Option<PathBuf>,
    /// TOML configuration file (see examples/phoneprov.toml). Default:
    /// /etc/phoneprov/phoneprov.toml when it exists.
    #[arg(long, value_name = "FILE", env = "PHONEPROV_CONFIG")]
    pub config: Option<PathBuf>,
}

/// The configuration in effect and where it came from.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The parsed file, or the defaults when there is none.
    pub config: Config,
    /// The file read (for SIGHUP reloads), if any.
    pub file: Option<PathBuf>,
    /// The data directory.
    pub data: PathBuf,
}

/// `$PHONEPROV_SYSCONFDIR`, else [`SYSCONFDIR`].
pub fn sysconfdir() -> PathBuf {
    std::env::var_os("PHONEPROV_SYSCONFDIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(SYSCONFDIR))
}

impl DataArgs {
    /// Reads the configuration (see the module docs for the lookup).
    pub fn resolve(&self) -> anyhow::Result<Resolved> {
        let system = sysconfdir().join(CONFIG_FILE);
        let (file, is_system) = match &self.config {
            Some(f) => (Some(f.clone()), false),
            None if system.is_file() => (Some(system), true),
            None => (None, false),
        };
        let config = match &file {
            Some(f) => Config::load(f)?,
            None => Config::default(),
        };
        let data = self
            .data
            .clone()
            .or_else(|| config.data_dir.clone())
            .unwrap_or_else(|| {
                PathBuf::from(if is_system {
                    INSTALLED_DATA_DIR
                } else {
                    LOCAL_DATA_DIR
                })
            });
        Ok(Resolved { config, file, data })
    }

    /// The data directory alone (the configuration is read for its
    /// `data_dir` only when `--data` is not given).
    pub fn dir(&self) -> anyhow::Result<PathBuf> {
        if let Some(d) = &self.data {
            return Ok(d.clone());
        }
        let r = self
            .resolve()
            .context("cannot find the data directory (pass --data DIR)")?;
        Ok(r.data)
    }
}

/// `--database-url`, shared by `serve`, `db` and every command that opens
/// the store.
#[derive(Args, Debug, Clone, Default)]
pub struct DbUrl {
    /// Database: postgres://USER:PASSWORD@HOST:PORT/DBNAME[?sslmode=require]
    /// (several nodes on one database) or sqlite:DIR. Default: the
    /// config's [database] url, else the SQLite file of the data directory.
    #[arg(long = "database-url", value_name = "URL", env = "PHONEPROV_DATABASE_URL",
          value_parser = Database::parse, hide_env_values = true)]
    pub database_url: Option<Database>,
}

/// `--data`, `--config` and `--database-url`: for the commands that open
/// the store (see the module docs).
#[derive(Args, Debug, Clone, Default)]
pub struct StoreArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub url: DbUrl,
}

impl StoreArgs {
    /// The database in effect and whether an older schema may be
    /// migrated on open (`[database] auto_migrate`; SQLite's default).
    fn target(&self) -> anyhow::Result<(Database, bool)> {
        let r = self.data.resolve()?;
        let mut cfg = r.config.database;
        let flag = self.url.database_url.as_ref();
        let db = database::command_target(flag, &cfg, &r.data)?;
        cfg.url = flag.cloned().or(cfg.url);
        Ok((db, cfg.migrates()))
    }

    /// The database in effect, as `serve` computes it.
    pub fn database(&self) -> anyhow::Result<Database> {
        Ok(self.target()?.0)
    }

    /// Opens the store to write (`device add`, `import`, `activation
    /// bind`): a SQLite data directory is created if needed; an older
    /// schema is migrated under the same policy as `serve` (a PostgreSQL
    /// schema only with `[database] auto_migrate`, else the error says to
    /// run `phoneprov db migrate`).
    pub fn open(&self) -> anyhow::Result<Store> {
        let (db, migrates) = self.target()?;
        Ok(database::open_for_serve(&db, migrates)?)
    }

    /// Opens a store that must exist (commands that read or remove): a
    /// mistyped `--data` or an empty PostgreSQL database is an error, not
    /// a new empty inventory.
    pub fn open_existing(&self) -> anyhow::Result<Store> {
        let (db, migrates) = self.target()?;
        Ok(database::open_existing(&db, migrates)?)
    }
}
