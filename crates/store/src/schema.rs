//! Opening a database file: pragmas and schema migrations.
//!
//! The schema is versioned with `PRAGMA user_version`; each migration runs
//! in one `BEGIN IMMEDIATE` transaction so two processes opening a fresh
//! data directory at the same moment (a `device add` racing `serve`) cannot
//! both create the tables.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use crate::error::{Result, StoreError};

/// The newest schema this build writes.
pub const SCHEMA_VERSION: i64 = 1;

/// How long a writer waits for another process's write transaction (the
/// server's status writes, the final step of an import) before giving up
/// with [`StoreError::Busy`].
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(15);

/// Version 1. Notes:
/// - `devices` is `WITHOUT ROWID`, clustered on the MAC: lookups by MAC
///   (every profile request) touch one b-tree, and an import sorted by MAC
///   appends pages in order instead of maintaining a second index.
/// - `vars` is a JSON object (`{"name":"value"}`): variables are only ever
///   read and written with their device, so one column beats a child table
///   with three to ten rows per device (and maps to `JSONB` in PostgreSQL).
/// - The status columns live on the device row: `record_status` is one
///   in-place update keyed by MAC.
/// - `events` has no foreign key to `devices`: events of MACs not in the
///   inventory are worth keeping (an unknown phone asking for profiles).
const SCHEMA_V1: &str = "
CREATE TABLE devices (
    mac          TEXT    NOT NULL PRIMARY KEY,  -- 12 lowercase hex digits ($MA)
    serial       TEXT,                          -- $SN
    model        TEXT,                          -- $PN
    grp          TEXT,                          -- template group
    vars         TEXT    NOT NULL DEFAULT '{}', -- JSON object of free variables
    secret_key   TEXT    NOT NULL,              -- per-device profile key
    created_ms   INTEGER NOT NULL,
    updated_ms   INTEGER NOT NULL,
    last_seen_ms INTEGER,
    last_ip      TEXT,
    firmware     TEXT,
    last_outcome TEXT
) WITHOUT ROWID;
CREATE INDEX devices_by_group ON devices (grp);
CREATE TABLE events (
    id        INTEGER PRIMARY KEY,
    mac       TEXT    NOT NULL,
    at_ms     INTEGER NOT NULL,
    kind      TEXT    NOT NULL,
    outcome   TEXT,
    source_ip TEXT,
    message   TEXT    NOT NULL
);
CREATE INDEX events_by_mac ON events (mac, id);
";

/// Opens (and, with `create`, creates) the database file, sets the
/// connection pragmas and brings the schema up to date.
pub(crate) fn open(path: &Path, create: bool) -> Result<Connection> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let open_err = |cause| StoreError::Open {
        path: path.to_path_buf(),
        cause,
    };
    let mut conn = Connection::open_with_flags(path, flags).map_err(open_err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
    // WAL: readers (the server answering phones) never block on a writer
    // and a writer never blocks readers; a commit is one append to the WAL.
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(open_err)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(open_err(rusqlite::Error::InvalidParameterName(format!(
            "journal_mode stayed {mode:?} instead of wal (is the file on a network filesystem?)"
        ))));
    }
    // NORMAL in WAL mode: a commit is written to the WAL file before
    // COMMIT returns (so it survives the process being killed) but only
    // fsynced at checkpoints. See the crate docs.
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(open_err)?;
    // A million-row import grows the WAL to the size of the changed pages;
    // once a checkpoint has copied them back, cut the file down to this
    // size instead of keeping it at its peak. (Not `wal_checkpoint
    // (TRUNCATE)` after the import: that waits for the server's readers.)
    conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)
        .map_err(open_err)?;
    // Keep every statement the server, the ACS and the syslog filer use
    // prepared: rusqlite's default cache of 16 is smaller than that set,
    // and its LRU then re-parsed statements on every request.
    conn.set_prepared_statement_cache_capacity(64);
    // Query-planner stability: plans do not depend on bound values. Without
    // it the bundled SQLite (STAT4) marks statements with an ORDER BY to be
    // re-prepared whenever a parameter is rebound, i.e. on every request
    // (the ACS's task claim spent 7 % of the server's CPU re-parsing).
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )
    .map_err(open_err)?;
    migrate(&mut conn)?;
    Ok(conn)
}

fn user_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.pragma_query_value(None, "user_version", |r| r.get(0))
}

fn migrate(conn: &mut Connection) -> Result<()> {
    let found = user_version(conn)?;
    if found == SCHEMA_VERSION {
        return Ok(());
    }
    if found > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Re-read under the write lock: another process may have migrated.
    let found = user_version(&tx)?;
    if found == 0 {
        tx.execute_batch(SCHEMA_V1)?;
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    }
    tx.commit()?;
    Ok(())
}
