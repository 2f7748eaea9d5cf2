//! Store errors. Each message says what went wrong and what to do about it,
//! because the CLI prints them as-is on one line.

use std::path::PathBuf;

use crate::Mac;

/// Everything the store can fail with.
///
/// Causes are part of each message (fields named `cause`, not `source`):
/// the CLI prints an error chain joined on one line, and a cause that is
/// both in the message and the chain would be printed twice.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The data directory could not be created.
    #[error("cannot create data directory {}: {cause}; pass --data DIR naming a directory you can write", dir.display())]
    CreateDir {
        /// The directory.
        dir: PathBuf,
        /// Why.
        cause: std::io::Error,
    },
    /// A read-only command was pointed at a directory without a database.
    #[error("no device inventory at {}; add devices with `phoneprov device add` or `phoneprov device import`, or pass --data DIR", path.display())]
    NoDatabase {
        /// The database file looked for.
        path: PathBuf,
    },
    /// SQLite refused to open or set up the file.
    #[error("cannot open database {}: {cause}; check that it is a phoneprov database and that its directory is writable", path.display())]
    Open {
        /// The database file.
        path: PathBuf,
        /// Why.
        cause: DbError,
    },
    /// The database was written by a newer phoneprov.
    #[error("database schema version {found} is newer than this phoneprov understands ({supported}); upgrade phoneprov")]
    NewerSchema {
        /// `PRAGMA user_version` found.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// The database is older than this phoneprov and was opened without
    /// migrating.
    #[error("database schema version {found} is older than this phoneprov's ({supported}); run `phoneprov db migrate` (or start serve with --migrate)")]
    OlderSchema {
        /// Version found.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// A PostgreSQL database without phoneprov's tables, opened by a
    /// command that only reads.
    #[error("database {target} holds no phoneprov schema; run `phoneprov db migrate` first, or check the URL")]
    NoSchema {
        /// The database (password redacted).
        target: String,
    },
    /// The database server refused the connection for a reason that will
    /// not pass by itself (wrong password, no such database or role, a TLS
    /// setup that cannot work).
    #[error("cannot connect to database {target}: {cause}; check the URL's user, password, host and database name")]
    Connect {
        /// The database (password redacted).
        target: String,
        /// Why.
        cause: DbError,
    },
    /// The database server is unreachable or the connection was lost:
    /// the request failed and was not acknowledged (a write whose COMMIT
    /// got no answer may or may not have been applied); the next use
    /// reconnects. The server answers 503.
    #[error("the database is unavailable ({0}); phoneprov reconnects on the next request: check that PostgreSQL is running and reachable")]
    Unavailable(DbError),
    /// Another process held the write lock longer than the busy timeout.
    #[error("the database stayed locked by another process for too long ({0}); retry, or check for a stuck phoneprov process")]
    Busy(DbError),
    /// The database file or its directory cannot be written.
    #[error("the database is read-only ({0}); make the data directory and phoneprov.db writable")]
    ReadOnly(DbError),
    /// Any other database error.
    #[error("database error: {0}; if it persists, check the disk and run `sqlite3 phoneprov.db 'PRAGMA integrity_check'`")]
    Db(DbError),
    /// The MAC is not in the inventory.
    #[error("no device {0} in the inventory; see `phoneprov device list`")]
    NotFound(Mac),
    /// `add` of a MAC that is already there.
    #[error("device {0} already exists; remove it first with `phoneprov device rm {0}`, or re-import it to update it")]
    Exists(Mac),
    /// A stored value could not be decoded.
    #[error("stored {what} of device {mac} is unreadable ({why}); the database was changed outside phoneprov, fix or re-import the device")]
    BadStored {
        /// Whose row.
        mac: String,
        /// Which column.
        what: &'static str,
        /// The decoding error.
        why: String,
    },
    /// The store's writer thread is gone (the process is shutting down)
    /// or a batch it belonged to failed.
    #[error("timeline writer: {0}; retry, and check the log for the database error")]
    Internal(String),
    /// The CSV header is unusable; nothing was imported.
    #[error("line 1: {0}; nothing imported")]
    ImportHeader(String),
    /// The CSV could not be read at all (I/O error).
    #[error("cannot read the CSV file: {0}; nothing imported")]
    ImportRead(std::io::Error),
    /// The device is not in a state that allows the operation (approving
    /// a device that awaits no approval).
    #[error("{error}; {hint}")]
    State {
        /// What is wrong.
        error: String,
        /// What to do.
        hint: String,
    },
    /// An export could not be written.
    #[error("cannot write the export: {0}; check the output's disk space or the reading end of the pipe")]
    Write(#[from] std::io::Error),
    /// Bad rows were found and `skip_bad` was off: nothing was changed.
    #[error("{bad} bad row(s), nothing imported; fix them, or pass --skip-bad to import only the good rows")]
    ImportRejected {
        /// How many rows were bad.
        bad: u64,
    },
}

/// A database driver's error, as text plus the original (its type is the
/// backend's business: no driver type appears in the store's API).
#[derive(Debug)]
pub struct DbError(Box<dyn std::error::Error + Send + Sync>);

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl DbError {
    /// Wraps a driver error.
    pub fn new(e: impl std::error::Error + Send + Sync + 'static) -> DbError {
        DbError(Box::new(e))
    }

    /// The driver's error, for logging or downcasting.
    pub fn inner(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.0
    }
}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        DbError::new(e)
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode;
        match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => {
                StoreError::Busy(e.into())
            }
            Some(ErrorCode::ReadOnly) => StoreError::ReadOnly(e.into()),
            _ => StoreError::Db(e.into()),
        }
    }
}

/// Result alias for the store.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// One rejected CSV row. `Display` gives `line N: why`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {why}")]
pub struct BadRow {
    /// 1-based line number in the file (the header is line 1).
    pub line: u64,
    /// What is wrong with the row and, where useful, how to fix it.
    pub why: String,
}
