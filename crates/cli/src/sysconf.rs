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

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use phoneprov_server::Config;

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
