//! Opening a database and its schema migrations, for every table of the
//! store (inventory, timeline, ACS, activation, secrets), on both backends.
//!
//! One ordered list, [`MIGRATIONS`]: version `n` is the first `n` steps
//! applied in order. Each [`Migration`] carries its SQLite and its
//! PostgreSQL text (both fields are required, so a step cannot be added
//! for one backend only). The version lives in `PRAGMA user_version`
//! (SQLite) and in the one-row table `schema_version` (PostgreSQL).
//!
//! Each step runs in one transaction with its version bump, so two
//! processes migrating at once cannot both apply it: SQLite's
//! `BEGIN IMMEDIATE` write lock, PostgreSQL's `pg_advisory_xact_lock`
//! taken first in the transaction (DDL is transactional there), and each
//! re-reads the version under the lock.
//!
//! PostgreSQL texts differ only where the dialects do: `BIGINT` for every
//! integer (the store binds `i64`), `BIGSERIAL` row ids for SQLite's
//! `INTEGER PRIMARY KEY`, `BYTEA` for `BLOB`, no `WITHOUT ROWID`, and
//! `COLLATE "C"` on the text keys that are sorted or compared by range
//! (MACs, serials, codes, parameter paths), so both backends order them
//! bytewise whatever the database's locale. How opening uses the list
//! (`migrate`, refusing a newer schema, [`SchemaStatus`]) is in
//! [`crate::Store::connect_with`].

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::db::{vals, Conn, Dialect, Exec};
use crate::error::{Result, StoreError};

/// The newest schema this build writes (the length of [`MIGRATIONS`]).
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// One schema step, in both dialects.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Migration {
    /// The SQLite statements.
    pub sqlite: &'static str,
    /// The same step for PostgreSQL.
    pub postgres: &'static str,
}

/// Every schema step, oldest first; the stored version counts the steps
/// applied.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        sqlite: SCHEMA_V1,
        postgres: PG_V1,
    },
    Migration {
        sqlite: SCHEMA_V2_ACS,
        postgres: PG_V2_ACS,
    },
    Migration {
        sqlite: SCHEMA_V3_ACTIVATION,
        postgres: PG_V3_ACTIVATION,
    },
    Migration {
        sqlite: SCHEMA_V4_RETENTION,
        postgres: SCHEMA_V4_RETENTION,
    },
    Migration {
        sqlite: SCHEMA_V5_SECRETS,
        postgres: PG_V5_SECRETS,
    },
    Migration {
        sqlite: SCHEMA_V6_CONSOLE,
        postgres: PG_V6_CONSOLE,
    },
    Migration {
        sqlite: SCHEMA_V7_TASK_LIMITS,
        postgres: PG_V7_TASK_LIMITS,
    },
    Migration {
        sqlite: SCHEMA_V8_TERMS_UNION,
        postgres: PG_V8_NOTHING,
    },
    Migration {
        sqlite: SCHEMA_V9_BULK_JOBS,
        postgres: PG_V9_BULK_JOBS,
    },
    Migration {
        sqlite: SCHEMA_V10_ROLLOUTS,
        postgres: PG_V10_ROLLOUTS,
    },
    Migration {
        sqlite: SCHEMA_V11_API_TOKENS,
        postgres: SCHEMA_V11_API_TOKENS,
    },
    Migration {
        sqlite: SQLITE_V12_NOTHING,
        postgres: PG_V12_LIST_ORDERS,
    },
];

/// The schema texts holding the search index's triggers, which skip the
/// variables [`crate::is_secret_var`] calls secret (a test in `access`
/// checks each names every part).
#[cfg(test)]
pub(crate) const SEARCH_TRIGGER_TEXTS: &[&str] =
    &[SCHEMA_V6_CONSOLE, PG_V6_CONSOLE, SCHEMA_V8_TERMS_UNION];

/// Version 11: console users' API tokens (issue 14 item 2, module
/// `access`): the SHA-256 of the user's bearer token, unique, `NULL` for
/// a user without one. The same text on both backends.
const SCHEMA_V11_API_TOKENS: &str = "
ALTER TABLE console_users ADD COLUMN api_token TEXT;
CREATE UNIQUE INDEX console_users_by_token ON console_users (api_token);
";

/// Version 12 (issue 14 at 1 000 000 devices on PostgreSQL): the
/// device list's indexes in the list's orders. On SQLite `devices` is
/// `WITHOUT ROWID`, so each index carries the MAC after its column and
/// `grp = ? ORDER BY mac` (a filter's page in MAC order, the API's and
/// the console's keyset) reads a group's devices in order. PostgreSQL's
/// indexes point at heap rows, so the planner walked the primary key and
/// filtered: about 460 ms for a group whose devices sit late in MAC
/// order. The filter indexes now end with `mac` as SQLite's do, and the
/// last-seen index is in the list's order (`last_seen_ms DESC NULLS
/// LAST, mac`; the v6 one is ascending with NULLs last, so each page
/// sorted the fleet, about 340 ms); it still serves the older-than and
/// never-seen filters. Same names, so nothing else changes.
const PG_V12_LIST_ORDERS: &str = "
DROP INDEX devices_by_seen;
CREATE INDEX devices_by_seen ON devices (last_seen_ms DESC NULLS LAST, mac);
DROP INDEX devices_by_group;
CREATE INDEX devices_by_group ON devices (grp, mac);
DROP INDEX devices_by_model;
CREATE INDEX devices_by_model ON devices (model, mac);
DROP INDEX devices_by_firmware;
CREATE INDEX devices_by_firmware ON devices (firmware, mac);
DROP INDEX devices_by_outcome;
CREATE INDEX devices_by_outcome ON devices (last_outcome, mac);
";

/// Version 12 on SQLite: nothing (see [`PG_V12_LIST_ORDERS`]).
const SQLITE_V12_NOTHING: &str = "SELECT 1";

/// Found and known schema versions of a database
/// ([`crate::Store::schema_status`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemaStatus {
    /// The version the database holds (0: empty).
    pub found: i64,
    /// The newest version this build knows ([`SCHEMA_VERSION`]).
    pub known: i64,
}

impl SchemaStatus {
    /// Whether the database is at this build's version.
    pub fn current(&self) -> bool {
        self.found == self.known
    }
}

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

/// Version 2: the ACS's task queue and data-model cache, and the lookup of
/// a CPE by serial number. Until this version the ACS created these with
/// `IF NOT EXISTS` on a connection of its own, so a file written by an
/// older phoneprov may already hold them: every statement is idempotent.
/// - `acs_tasks` (SQLite row id; `BIGSERIAL` in PostgreSQL). Queue order
///   is `(priority DESC, id)` straight from `acs_tasks_next` (the first
///   version's `acs_tasks_queue` sorted every claim in a temp b-tree).
/// - `acs_datamodel`: one row per (device, parameter path), clustered.
/// - `devices_by_serial`: an Inform names its CPE by serial number; without
///   the index that is a scan of the inventory per Inform.
const SCHEMA_V2_ACS: &str = "
CREATE TABLE IF NOT EXISTS acs_tasks (
    id          INTEGER PRIMARY KEY,
    mac         TEXT    NOT NULL,
    method      TEXT    NOT NULL,
    rpc         TEXT    NOT NULL,              -- the task as JSON
    state       TEXT    NOT NULL,              -- queued|sent|transferring|done|fault
    priority    INTEGER NOT NULL DEFAULT 0,    -- presets 1: sent first
    source      TEXT    NOT NULL,              -- api|preset
    command_key TEXT,                          -- Reboot/Download, set when sent
    attempts    INTEGER NOT NULL DEFAULT 0,
    result      TEXT,                          -- JSON
    created_ms  INTEGER NOT NULL,
    updated_ms  INTEGER NOT NULL
);
DROP INDEX IF EXISTS acs_tasks_queue;
CREATE INDEX IF NOT EXISTS acs_tasks_next ON acs_tasks (mac, state, priority DESC, id);
CREATE TABLE IF NOT EXISTS acs_datamodel (
    mac        TEXT    NOT NULL,
    path       TEXT    NOT NULL,
    value      TEXT,
    type       TEXT,
    writable   INTEGER,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (mac, path)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS devices_by_serial ON devices (serial);
";

/// Version 3: the activation service's bindings, single-use codes and
/// short codes (until this version created by the activation crate with
/// `IF NOT EXISTS`, hence idempotent).
const SCHEMA_V3_ACTIVATION: &str = "
CREATE TABLE IF NOT EXISTS activation_bindings (
    id          INTEGER PRIMARY KEY,
    mac         TEXT UNIQUE,        -- 12 lowercase hex digits, or NULL for a serial range
    serial_from TEXT,               -- inclusive, upper case, same length as serial_to
    serial_to   TEXT,
    model       TEXT,               -- optional $PN filter
    url         TEXT NOT NULL,      -- the provider's profile rule
    source      TEXT NOT NULL,      -- 'operator', or the code that bound it
    created_ms  INTEGER NOT NULL,
    UNIQUE (serial_from, serial_to)
);
CREATE TABLE IF NOT EXISTS activation_codes (
    code       TEXT PRIMARY KEY,    -- 16 digits
    url        TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    used_ms    INTEGER,
    used_by    TEXT                 -- MAC that redeemed it
);
CREATE TABLE IF NOT EXISTS activation_short_codes (
    code       TEXT PRIMARY KEY,    -- 3 to 16 digits
    url        TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
";

/// Version 5: named server secrets ([`crate::SecretRepo`]).
const SCHEMA_V5_SECRETS: &str = "
CREATE TABLE IF NOT EXISTS secrets (
    name       TEXT    NOT NULL PRIMARY KEY,
    value      BLOB    NOT NULL,               -- BYTEA in PostgreSQL
    created_ms INTEGER NOT NULL
);
";

/// Version 4: timeline retention deletes by age; the index keeps that a
/// range scan (appends at the right edge, as `at_ms` only grows).
const SCHEMA_V4_RETENTION: &str = "
CREATE INDEX IF NOT EXISTS events_by_time ON events (at_ms);
";

/// Version 1, PostgreSQL.
/// Version 6: the operator's console (issue 14; [`crate::ConsoleRepo`]).
/// - `console_users`: sign-in names, role (`admin`|`helpdesk`) and the
///   argon2 PHC string of the password (never the password).
/// - `device_terms`: the search index of the device list: one row per
///   (lower-cased serial or variable value, MAC), kept by triggers so every
///   writer (add, import, API, activation) keeps it without knowing it.
///   Variables whose name says they hold a secret (`pass`, `secret`, `key`
///   in the name) are not indexed: a search must not be a password oracle.
///   A search by value is a prefix range scan of its primary key. Only
///   ASCII letters are lower-cased (SQLite's `lower`, PostgreSQL's under
///   `COLLATE "C"`), as the query side does.
/// - Indexes for the console's filters and the overview's counts
///   (index-only scans instead of reading a million device rows), and
///   `events_by_kind_time` for resyncs per hour.
/// - The triggers are the per-dialect part: SQLite trigger bodies,
///   a PL/pgSQL trigger function in PostgreSQL.
const SCHEMA_V6_CONSOLE: &str = "
CREATE TABLE IF NOT EXISTS console_users (
    name       TEXT    NOT NULL PRIMARY KEY,
    role       TEXT    NOT NULL,               -- admin|helpdesk
    pw_hash    TEXT    NOT NULL,               -- argon2 PHC string
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS device_terms (
    term TEXT NOT NULL,
    mac  TEXT NOT NULL,
    PRIMARY KEY (term, mac)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS device_terms_by_mac ON device_terms (mac);
INSERT OR IGNORE INTO device_terms (term, mac)
    SELECT lower(serial), mac FROM devices WHERE serial IS NOT NULL AND serial <> '';
INSERT OR IGNORE INTO device_terms (term, mac)
    SELECT lower(j.value), d.mac FROM devices d, json_each(d.vars) j
    WHERE j.value <> '' AND j.key NOT LIKE '%pass%' AND j.key NOT LIKE '%secret%'
      AND j.key NOT LIKE '%key%';
CREATE TRIGGER IF NOT EXISTS device_terms_ins AFTER INSERT ON devices BEGIN
    INSERT OR IGNORE INTO device_terms (term, mac)
        SELECT lower(NEW.serial), NEW.mac WHERE NEW.serial IS NOT NULL AND NEW.serial <> '';
    INSERT OR IGNORE INTO device_terms (term, mac)
        SELECT lower(j.value), NEW.mac FROM json_each(NEW.vars) j
        WHERE j.value <> '' AND j.key NOT LIKE '%pass%' AND j.key NOT LIKE '%secret%'
          AND j.key NOT LIKE '%key%';
END;
CREATE TRIGGER IF NOT EXISTS device_terms_upd AFTER UPDATE OF serial, vars ON devices BEGIN
    DELETE FROM device_terms WHERE mac = OLD.mac;
    INSERT OR IGNORE INTO device_terms (term, mac)
        SELECT lower(NEW.serial), NEW.mac WHERE NEW.serial IS NOT NULL AND NEW.serial <> '';
    INSERT OR IGNORE INTO device_terms (term, mac)
        SELECT lower(j.value), NEW.mac FROM json_each(NEW.vars) j
        WHERE j.value <> '' AND j.key NOT LIKE '%pass%' AND j.key NOT LIKE '%secret%'
          AND j.key NOT LIKE '%key%';
END;
CREATE TRIGGER IF NOT EXISTS device_terms_del AFTER DELETE ON devices BEGIN
    DELETE FROM device_terms WHERE mac = OLD.mac;
END;
CREATE INDEX IF NOT EXISTS devices_by_model ON devices (model);
CREATE INDEX IF NOT EXISTS devices_by_firmware ON devices (firmware);
CREATE INDEX IF NOT EXISTS devices_by_outcome ON devices (last_outcome);
CREATE INDEX IF NOT EXISTS devices_by_seen ON devices (last_seen_ms);
CREATE INDEX IF NOT EXISTS events_by_kind_time ON events (kind, at_ms);
";

/// Version 8: the SQLite search-index triggers insert one deduplicated
/// set of terms (serial and values, `UNION`). Version 6 inserted the
/// serial and the values in two statements with `OR IGNORE`, but inside a
/// trigger fired by an upsert SQLite applies the outer statement's
/// conflict policy, so two values equal but for case (`a=foo b=Foo`), or a
/// value equal to the serial, made the device write fail with a UNIQUE
/// error. PostgreSQL's `ON CONFLICT DO NOTHING` is not overridden: nothing
/// to change there.
const SCHEMA_V8_TERMS_UNION: &str = "
DROP TRIGGER IF EXISTS device_terms_ins;
DROP TRIGGER IF EXISTS device_terms_upd;
CREATE TRIGGER device_terms_ins AFTER INSERT ON devices BEGIN
    INSERT OR IGNORE INTO device_terms (term, mac)
        SELECT t, NEW.mac FROM (
            SELECT lower(NEW.serial) AS t WHERE NEW.serial IS NOT NULL AND NEW.serial <> ''
            UNION
            SELECT lower(j.value) FROM json_each(NEW.vars) j
            WHERE j.value <> '' AND j.key NOT LIKE '%pass%' AND j.key NOT LIKE '%secret%'
              AND j.key NOT LIKE '%key%');
END;
CREATE TRIGGER device_terms_upd AFTER UPDATE OF serial, vars ON devices BEGIN
    DELETE FROM device_terms WHERE mac = OLD.mac;
    INSERT OR IGNORE INTO device_terms (term, mac)
        SELECT t, NEW.mac FROM (
            SELECT lower(NEW.serial) AS t WHERE NEW.serial IS NOT NULL AND NEW.serial <> ''
            UNION
            SELECT lower(j.value) FROM json_each(NEW.vars) j
            WHERE j.value <> '' AND j.key NOT LIKE '%pass%' AND j.key NOT LIKE '%secret%'
              AND j.key NOT LIKE '%key%');
END;
";

/// Version 8 on PostgreSQL: nothing (see [`SCHEMA_V8_TERMS_UNION`]).
const PG_V8_NOTHING: &str = "SELECT 1";

const PG_V6_CONSOLE: &str = r#"
CREATE TABLE console_users (
    name       TEXT   NOT NULL PRIMARY KEY,
    role       TEXT   NOT NULL,
    pw_hash    TEXT   NOT NULL,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);
CREATE TABLE device_terms (
    term TEXT COLLATE "C" NOT NULL,
    mac  TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (term, mac)
);
CREATE INDEX device_terms_by_mac ON device_terms (mac);
CREATE FUNCTION device_terms_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        DELETE FROM device_terms WHERE mac = OLD.mac;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    INSERT INTO device_terms (term, mac)
        SELECT lower(NEW.serial COLLATE "C"), NEW.mac
        WHERE NEW.serial IS NOT NULL AND NEW.serial <> ''
        ON CONFLICT DO NOTHING;
    INSERT INTO device_terms (term, mac)
        SELECT lower(j.value COLLATE "C"), NEW.mac FROM json_each_text(NEW.vars::json) AS j
        WHERE j.value <> '' AND j.key NOT LIKE '%pass%' AND j.key NOT LIKE '%secret%'
          AND j.key NOT LIKE '%key%'
        ON CONFLICT DO NOTHING;
    RETURN NEW;
END
$$;
INSERT INTO device_terms (term, mac)
    SELECT lower(serial COLLATE "C"), mac FROM devices WHERE serial IS NOT NULL AND serial <> ''
    ON CONFLICT DO NOTHING;
INSERT INTO device_terms (term, mac)
    SELECT lower(j.value COLLATE "C"), d.mac FROM devices AS d, json_each_text(d.vars::json) AS j
    WHERE j.value <> '' AND j.key NOT LIKE '%pass%' AND j.key NOT LIKE '%secret%'
      AND j.key NOT LIKE '%key%'
    ON CONFLICT DO NOTHING;
CREATE TRIGGER device_terms_ins AFTER INSERT ON devices
    FOR EACH ROW EXECUTE FUNCTION device_terms_sync();
CREATE TRIGGER device_terms_upd AFTER UPDATE OF serial, vars ON devices
    FOR EACH ROW EXECUTE FUNCTION device_terms_sync();
CREATE TRIGGER device_terms_del AFTER DELETE ON devices
    FOR EACH ROW EXECUTE FUNCTION device_terms_sync();
CREATE INDEX devices_by_model ON devices (model);
CREATE INDEX devices_by_firmware ON devices (firmware);
CREATE INDEX devices_by_outcome ON devices (last_outcome);
CREATE INDEX devices_by_seen ON devices (last_seen_ms);
CREATE INDEX events_by_kind_time ON events (kind, at_ms);
"#;

/// Version 7 (issue 14 item 4): each ACS task's own retry limit and
/// deadline, replacing the one constant. `max_attempts` defaults to
/// [`crate::DEFAULT_TASK_ATTEMPTS`] (5, the old constant), so existing
/// rows keep their behaviour; `expires_ms` is the Unix-ms deadline
/// (`created_ms` + the task's `expires_after`), `NULL` for none. A claim
/// reads both from the row it takes, so no new index is needed.
const SCHEMA_V7_TASK_LIMITS: &str = "
ALTER TABLE acs_tasks ADD COLUMN max_attempts INTEGER NOT NULL DEFAULT 5;
ALTER TABLE acs_tasks ADD COLUMN expires_ms INTEGER;
";

/// Version 9 (issue 14 item 4): bulk jobs, a resync or an ACS task for a
/// selection of devices at a rate, with their progress (`crate::bulk`).
const SCHEMA_V9_BULK_JOBS: &str = "
CREATE TABLE bulk_jobs (
    id          INTEGER PRIMARY KEY,
    action      TEXT    NOT NULL,      -- resync|task
    task        TEXT,                  -- the task JSON of a task job
    selection   TEXT    NOT NULL,      -- JSON, as given
    rate_per_s  INTEGER NOT NULL,
    state       TEXT    NOT NULL,      -- running|done|cancelled|interrupted
    total       INTEGER NOT NULL,
    succeeded   INTEGER NOT NULL,
    failed      INTEGER NOT NULL,
    skipped     INTEGER NOT NULL,
    cursor      TEXT,                  -- last MAC handed out
    failures    TEXT    NOT NULL,      -- JSON array, the first 100
    created_by  TEXT    NOT NULL,
    created_ms  INTEGER NOT NULL,
    updated_ms  INTEGER NOT NULL,
    finished_ms INTEGER
);
";

/// Version 9, PostgreSQL.
const PG_V9_BULK_JOBS: &str = "
CREATE TABLE bulk_jobs (
    id          BIGSERIAL PRIMARY KEY,
    action      TEXT   NOT NULL,
    task        TEXT,
    selection   TEXT   NOT NULL,
    rate_per_s  BIGINT NOT NULL,
    state       TEXT   NOT NULL,
    total       BIGINT NOT NULL,
    succeeded   BIGINT NOT NULL,
    failed      BIGINT NOT NULL,
    skipped     BIGINT NOT NULL,
    cursor      TEXT,
    failures    TEXT   NOT NULL,
    created_by  TEXT   NOT NULL,
    created_ms  BIGINT NOT NULL,
    updated_ms  BIGINT NOT NULL,
    finished_ms BIGINT
);
";

/// Version 10: staged firmware rollouts (issue 14 item 5b, module
/// `rollout`): one row per rollout (its target, waves, health gate and
/// where it stands) and one per device of its selection (its wave, the
/// firmware variables it had before, what it reported).
const SCHEMA_V10_ROLLOUTS: &str = "
CREATE TABLE rollouts (
    id              INTEGER PRIMARY KEY,
    version         TEXT    NOT NULL,
    file            TEXT    NOT NULL,
    selection       TEXT    NOT NULL,  -- JSON, as given
    waves           TEXT    NOT NULL,  -- JSON array of cumulative percents
    threshold_pct   INTEGER NOT NULL,
    wave_timeout_ms INTEGER NOT NULL,
    soak_ms         INTEGER NOT NULL,
    push_rate       INTEGER NOT NULL,  -- resyncs pushed per second, 0: none
    state           TEXT    NOT NULL,  -- running|paused|halted|done|rolled-back
    wave            INTEGER NOT NULL,  -- the wave started last, -1: none
    wave_started_ms INTEGER,
    soak_until_ms   INTEGER,
    reason          TEXT,
    total           INTEGER NOT NULL,
    created_by      TEXT    NOT NULL,
    created_ms      INTEGER NOT NULL,
    updated_ms      INTEGER NOT NULL,
    finished_ms     INTEGER
);
CREATE TABLE rollout_devices (
    rollout_id   INTEGER NOT NULL,
    mac          TEXT    NOT NULL,
    wave         INTEGER NOT NULL,
    result       TEXT    NOT NULL,  -- waiting|upgrading|success|failed|skipped|rolled-back
    reason       TEXT,
    prev_version TEXT,
    prev_file    TEXT,
    assigned_ms  INTEGER,
    PRIMARY KEY (rollout_id, mac)
);
CREATE INDEX rollout_devices_by_wave ON rollout_devices (rollout_id, wave, mac);
";

/// Version 10, PostgreSQL.
const PG_V10_ROLLOUTS: &str = r#"
CREATE TABLE rollouts (
    id              BIGSERIAL PRIMARY KEY,
    version         TEXT   NOT NULL,
    file            TEXT   NOT NULL,
    selection       TEXT   NOT NULL,
    waves           TEXT   NOT NULL,
    threshold_pct   BIGINT NOT NULL,
    wave_timeout_ms BIGINT NOT NULL,
    soak_ms         BIGINT NOT NULL,
    push_rate       BIGINT NOT NULL,
    state           TEXT   NOT NULL,
    wave            BIGINT NOT NULL,
    wave_started_ms BIGINT,
    soak_until_ms   BIGINT,
    reason          TEXT,
    total           BIGINT NOT NULL,
    created_by      TEXT   NOT NULL,
    created_ms      BIGINT NOT NULL,
    updated_ms      BIGINT NOT NULL,
    finished_ms     BIGINT
);
CREATE TABLE rollout_devices (
    rollout_id   BIGINT NOT NULL,
    mac          TEXT COLLATE "C" NOT NULL,
    wave         BIGINT NOT NULL,
    result       TEXT   NOT NULL,
    reason       TEXT,
    prev_version TEXT,
    prev_file    TEXT,
    assigned_ms  BIGINT,
    PRIMARY KEY (rollout_id, mac)
);
CREATE INDEX rollout_devices_by_wave ON rollout_devices (rollout_id, wave, mac);
"#;

/// Version 7, PostgreSQL.
const PG_V7_TASK_LIMITS: &str = "
ALTER TABLE acs_tasks ADD COLUMN max_attempts BIGINT NOT NULL DEFAULT 5;
ALTER TABLE acs_tasks ADD COLUMN expires_ms BIGINT;
";

const PG_V1: &str = r#"
CREATE TABLE devices (
    mac          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    serial       TEXT COLLATE "C",
    model        TEXT,
    grp          TEXT,
    vars         TEXT   NOT NULL DEFAULT '{}',
    secret_key   TEXT   NOT NULL,
    created_ms   BIGINT NOT NULL,
    updated_ms   BIGINT NOT NULL,
    last_seen_ms BIGINT,
    last_ip      TEXT,
    firmware     TEXT,
    last_outcome TEXT
);
CREATE INDEX devices_by_group ON devices (grp);
CREATE TABLE events (
    id        BIGSERIAL PRIMARY KEY,
    mac       TEXT COLLATE "C" NOT NULL,
    at_ms     BIGINT NOT NULL,
    kind      TEXT   NOT NULL,
    outcome   TEXT,
    source_ip TEXT,
    message   TEXT   NOT NULL
);
CREATE INDEX events_by_mac ON events (mac, id);
"#;

/// Version 2, PostgreSQL (no earlier ACS tables to adopt).
const PG_V2_ACS: &str = r#"
CREATE TABLE acs_tasks (
    id          BIGSERIAL PRIMARY KEY,
    mac         TEXT COLLATE "C" NOT NULL,
    method      TEXT   NOT NULL,
    rpc         TEXT   NOT NULL,
    state       TEXT   NOT NULL,
    priority    BIGINT NOT NULL DEFAULT 0,
    source      TEXT   NOT NULL,
    command_key TEXT,
    attempts    BIGINT NOT NULL DEFAULT 0,
    result      TEXT,
    created_ms  BIGINT NOT NULL,
    updated_ms  BIGINT NOT NULL
);
CREATE INDEX acs_tasks_next ON acs_tasks (mac, state, priority DESC, id);
CREATE TABLE acs_datamodel (
    mac        TEXT COLLATE "C" NOT NULL,
    path       TEXT COLLATE "C" NOT NULL,
    value      TEXT,
    type       TEXT,
    writable   BIGINT,
    updated_ms BIGINT NOT NULL,
    PRIMARY KEY (mac, path)
);
CREATE INDEX devices_by_serial ON devices (serial);
"#;

/// Version 3, PostgreSQL.
const PG_V3_ACTIVATION: &str = r#"
CREATE TABLE activation_bindings (
    id          BIGSERIAL PRIMARY KEY,
    mac         TEXT COLLATE "C" UNIQUE,
    serial_from TEXT COLLATE "C",
    serial_to   TEXT COLLATE "C",
    model       TEXT,
    url         TEXT   NOT NULL,
    source      TEXT   NOT NULL,
    created_ms  BIGINT NOT NULL,
    UNIQUE (serial_from, serial_to)
);
CREATE TABLE activation_codes (
    code       TEXT COLLATE "C" PRIMARY KEY,
    url        TEXT   NOT NULL,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL,
    used_ms    BIGINT,
    used_by    TEXT
);
CREATE TABLE activation_short_codes (
    code       TEXT COLLATE "C" PRIMARY KEY,
    url        TEXT   NOT NULL,
    created_ms BIGINT NOT NULL
);
"#;

/// Version 5, PostgreSQL.
const PG_V5_SECRETS: &str = "
CREATE TABLE secrets (
    name       TEXT   NOT NULL PRIMARY KEY,
    value      BYTEA  NOT NULL,
    created_ms BIGINT NOT NULL
);
";

/// Opens (and, with `create`, creates) the database file and sets the
/// connection pragmas (the schema is [`migrate`]'s business).
pub(crate) fn open(path: &Path, create: bool) -> Result<Connection> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let open_err = |cause: rusqlite::Error| StoreError::Open {
        path: path.to_path_buf(),
        cause: cause.into(),
    };
    let conn = Connection::open_with_flags(path, flags).map_err(open_err)?;
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
    Ok(conn)
}

/// Key of the advisory lock PostgreSQL migrations take ("phoneprv").
const PG_MIGRATION_LOCK: i64 = 0x7068_6f6e_6570_7276;

/// The version a database holds (0 when empty).
pub(crate) fn found_version(x: &mut Exec<'_, '_>) -> Result<i64> {
    match x.dialect() {
        Dialect::Sqlite => x.one("PRAGMA user_version", &[])?.get(0),
        Dialect::Postgres => {
            let exists: bool = x
                .one("SELECT to_regclass('schema_version') IS NOT NULL", &[])?
                .get(0)?;
            if !exists {
                return Ok(0);
            }
            Ok(x.row("SELECT max(version) FROM schema_version", &[])?
                .map(|r| r.get::<Option<i64>>(0))
                .transpose()?
                .flatten()
                .unwrap_or(0))
        }
    }
}

/// Found and known versions.
pub(crate) fn status(conn: &mut Conn) -> Result<SchemaStatus> {
    Ok(SchemaStatus {
        found: conn.run(found_version)?,
        known: SCHEMA_VERSION,
    })
}

/// Brings the schema up to [`SCHEMA_VERSION`], one step per transaction;
/// fails with [`StoreError::NewerSchema`] on a newer one. Returns the
/// status before.
pub(crate) fn migrate(conn: &mut Conn) -> Result<SchemaStatus> {
    let before = status(conn)?;
    if before.found > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            found: before.found,
            supported: SCHEMA_VERSION,
        });
    }
    if before.current() {
        return Ok(before);
    }
    while conn.write(step)? {}
    Ok(before)
}

/// Applies the next step under the migration lock; `false` when there was
/// none.
fn step(x: &mut Exec<'_, '_>) -> Result<bool> {
    if x.dialect() == Dialect::Postgres {
        x.exec("SELECT pg_advisory_xact_lock(?1)", vals![PG_MIGRATION_LOCK])?;
        x.batch("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")?;
    }
    // Re-read under the lock: another process may have migrated.
    let found = found_version(x)?;
    let Some(m) = usize::try_from(found).ok().and_then(|i| MIGRATIONS.get(i)) else {
        return Ok(false);
    };
    match x.dialect() {
        Dialect::Sqlite => {
            x.batch(m.sqlite)?;
            x.batch(&format!("PRAGMA user_version = {}", found + 1))?;
        }
        Dialect::Postgres => {
            x.batch(m.postgres)?;
            x.exec("DELETE FROM schema_version", &[])?;
            x.exec(
                "INSERT INTO schema_version (version) VALUES (?1)",
                vals![found + 1],
            )?;
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TestDb;
    use crate::{AcsRepo, ActivationRepo, Store, DB_FILE};

    /// Version 12: on PostgreSQL the device list's indexes are in the
    /// list's orders (each filter column then the MAC, as SQLite's
    /// `WITHOUT ROWID` indexes are; last seen descending, NULLs last),
    /// and the planner takes them for a filter's page in MAC order and
    /// for a page in last-seen order.
    #[test]
    fn postgres_list_indexes_are_in_the_list_orders() {
        let db = TestDb::postgres();
        let s = db.store();
        let defs: Vec<(String, String)> = s
            .run(|x| {
                x.rows(
                    "SELECT indexname::text, indexdef FROM pg_indexes \
                     WHERE tablename = 'devices' ORDER BY indexname",
                    &[],
                )
            })
            .unwrap()
            .iter()
            .map(|r| (r.get(0).unwrap(), r.get(1).unwrap()))
            .collect();
        for (name, cols) in [
            ("devices_by_group", "(grp, mac)"),
            ("devices_by_model", "(model, mac)"),
            ("devices_by_firmware", "(firmware, mac)"),
            ("devices_by_outcome", "(last_outcome, mac)"),
            ("devices_by_seen", "(last_seen_ms DESC NULLS LAST, mac)"),
        ] {
            assert!(
                defs.iter().any(|(n, d)| n == name && d.ends_with(cols)),
                "{name} {cols} in {defs:?}"
            );
        }
        // With sequential scans and sorts priced out, the pages' queries
        // are answered from these indexes in order (no Sort node; with the
        // v6 `(grp)` index a group's page walked the primary key).
        for (sql, index) in [
            (
                "SELECT mac FROM devices WHERE grp = 'a' AND mac > '0' ORDER BY mac LIMIT 50",
                "devices_by_group",
            ),
            (
                "SELECT mac FROM devices ORDER BY last_seen_ms DESC NULLS LAST, mac LIMIT 50",
                "devices_by_seen",
            ),
        ] {
            let plan: Vec<String> = s
                .run(|x| {
                    x.exec("SET enable_sort = off", &[])?;
                    x.exec("SET enable_seqscan = off", &[])?;
                    x.rows(&format!("EXPLAIN {sql}"), &[])
                })
                .unwrap()
                .iter()
                .map(|r| r.get(0).unwrap())
                .collect();
            let plan = plan.join("\n");
            assert!(
                plan.contains(index) && !plan.contains("Sort"),
                "{sql}:\n{plan}"
            );
        }
    }

    /// A file of the previous layout (schema version 1, the ACS's tables
    /// created beside it by the ACS itself, with its first queue index)
    /// migrates to the current version and keeps its rows.
    #[test]
    fn a_version_1_file_with_acs_tables_migrates_and_keeps_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        {
            let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
            conn.execute_batch(SCHEMA_V1).unwrap();
            conn.execute_batch(
                "CREATE TABLE acs_tasks (id INTEGER PRIMARY KEY, mac TEXT NOT NULL,
                   method TEXT NOT NULL, rpc TEXT NOT NULL, state TEXT NOT NULL,
                   priority INTEGER NOT NULL DEFAULT 0, source TEXT NOT NULL,
                   command_key TEXT, attempts INTEGER NOT NULL DEFAULT 0, result TEXT,
                   created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL);
                 CREATE INDEX acs_tasks_queue ON acs_tasks (priority, id);
                 INSERT INTO acs_tasks (mac, method, rpc, state, source, created_ms, updated_ms)
                   VALUES ('000e08abcdef', 'FactoryReset', '{\"rpc\":\"FactoryReset\"}',
                           'queued', 'api', 1, 1);
                 PRAGMA user_version = 1;",
            )
            .unwrap();
        }
        let mut s = Store::open(dir.path()).unwrap();
        let version: i64 = s.sqlite(|c| {
            c.pragma_query_value(None, "user_version", |r| r.get(0))
                .unwrap()
        });
        assert_eq!(version, SCHEMA_VERSION);
        let indexes: Vec<String> = s.sqlite(|c| {
            c.prepare("SELECT name FROM sqlite_master WHERE type = 'index' ORDER BY name")
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap()
        });
        assert!(
            !indexes.contains(&"acs_tasks_queue".to_string()),
            "{indexes:?}"
        );
        for want in ["acs_tasks_next", "devices_by_serial", "events_by_time"] {
            assert!(
                indexes.contains(&want.to_string()),
                "{want} missing: {indexes:?}"
            );
        }
        let claimed = s.claim_tasks("000e08abcdef", 4).unwrap();
        assert_eq!(claimed.len(), 1, "the queued task survived the migration");
        assert_eq!(
            s.activation_listing().unwrap().bindings.len(),
            0,
            "the activation tables exist"
        );
    }

    on_both! {
        /// `db status` / `db migrate` / serve's policy: an empty database
        /// is version 0 and is not migrated unless asked; a migrated one
        /// is current; a newer one is refused, asked to migrate or not.
        fn schema_status_and_the_migration_policy(db: &TestDb) {
            let empty = Store::connect_unmigrated(&db.db).unwrap();
            let st = empty.schema_status().unwrap();
            assert_eq!((st.found, st.known, st.current()), (0, SCHEMA_VERSION, false));
            let e = Store::connect_with(&db.db, false).unwrap_err();
            assert!(matches!(e, StoreError::OlderSchema { found: 0, .. }), "{e:?}");
            assert!(e.to_string().contains("phoneprov db migrate"), "{e}");
            assert_eq!(empty.schema_status().unwrap().found, 0, "nothing migrated");

            let mut s = Store::connect_unmigrated(&db.db).unwrap();
            assert_eq!(s.migrate().unwrap().found, 0, "the status before");
            assert!(s.schema_status().unwrap().current());
            assert_eq!(s.migrate().unwrap().found, SCHEMA_VERSION, "idempotent");
            Store::connect_with(&db.db, false).unwrap();

            s.tx(|x| match x.dialect() {
                Dialect::Sqlite => x.batch(&format!("PRAGMA user_version = {}", SCHEMA_VERSION + 1)),
                Dialect::Postgres => x
                    .exec("UPDATE schema_version SET version = ?1", vals![SCHEMA_VERSION + 1])
                    .map(drop),
            })
            .unwrap();
            for migrate in [false, true] {
                let e = Store::connect_with(&db.db, migrate).unwrap_err();
                assert!(
                    matches!(e, StoreError::NewerSchema { found, .. } if found == SCHEMA_VERSION + 1),
                    "{e:?}"
                );
            }
        }
    }
}
