//! Start-up and reload errors. Each message says what was wrong and what
//! to do, on one line (the CLI prints `phoneprov: error: <message>`).

use std::net::SocketAddr;
use std::path::PathBuf;

/// Why the server could not start (or a reload was refused).
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The config file could not be read.
    #[error("cannot read config file {}: {error}; check the path given to --config", path.display())]
    ConfigRead {
        /// The file.
        path: PathBuf,
        /// OS error.
        error: std::io::Error,
    },
    /// TOML syntax or type error.
    #[error(
        "{file}:{line}:{column}: {message}; fix the config file (see examples/phoneprov.toml)"
    )]
    ConfigSyntax {
        /// File name.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What toml said.
        message: String,
    },
    /// A value that parses but is not acceptable.
    #[error("{file}: {message}")]
    ConfigValue {
        /// File name.
        file: String,
        /// What is wrong and what to write instead.
        message: String,
    },
    /// A directory could not be created or written.
    #[error("data directory {} is not writable ({error}); pass a writable directory with --data", path.display())]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// OS error.
        error: std::io::Error,
    },
    /// A port is taken or not allowed.
    #[error("cannot listen on {proto} {addr}: {error}; stop the program using it or pick another port (--{proto} ADDR or off, or [listen] {proto} in the config)")]
    Bind {
        /// `http`, `https`, `tftp`, `syslog` or `acs`.
        proto: &'static str,
        /// The address.
        addr: SocketAddr,
        /// OS error.
        error: std::io::Error,
    },
    /// A template does not compile.
    #[error("template {name}: {message}; fix the template (nothing was changed)")]
    Template {
        /// Template name (path under the templates directory).
        name: String,
        /// minijinja's message with the line.
        message: String,
    },
    /// Template directory unreadable.
    #[error("cannot read templates in {}: {error}; check templates_dir", path.display())]
    TemplateDir {
        /// Directory.
        path: PathBuf,
        /// OS error.
        error: std::io::Error,
    },
    /// TLS material missing or bad.
    #[error("HTTPS setup: {0}; fix [tls] cert/key/client_ca or delete <data>/ca to recreate the development CA")]
    Tls(String),
    /// A service beside the listeners (admin API, activation service,
    /// ACS, syslog filer) could not open its part of the data directory.
    #[error("cannot set up the {service} in {}: {message}", dir.display())]
    Service {
        /// Which service.
        service: &'static str,
        /// The data directory.
        dir: PathBuf,
        /// What went wrong and what to do (the service's own message).
        message: String,
    },
    /// `config check` found a problem (one line, see [`crate::check`]).
    #[error("{0}")]
    Check(String),
    /// The database could not be opened at start, or its schema is not
    /// this build's (issue 13; see [`crate::database::open_for_serve`]).
    #[error("database {target}: {message}")]
    Database {
        /// The database, password redacted.
        target: String,
        /// What went wrong and what to do.
        message: String,
    },
    /// A command fell back to the data directory's SQLite file although
    /// `serve` on that directory runs on PostgreSQL (see
    /// [`crate::database::command_target`]).
    #[error("serve on {data} uses PostgreSQL {served} (recorded in {record}); pass --database-url or set PHONEPROV_DATABASE_URL (or [database] url in the config); to use {data}'s own SQLite file, remove {record}", data = data.display(), record = record.display())]
    ServedElsewhere {
        /// The data directory.
        data: PathBuf,
        /// The recorded database, password redacted.
        served: String,
        /// The record file.
        record: PathBuf,
    },
    /// The inventory could not be opened.
    #[error(transparent)]
    Store(#[from] phoneprov_store::StoreError),
}
