//! [`Store`]: the inventory API used by the CLI and by `phoneprov serve`,
//! on either backend ([`Database`]).
//!
//! Every write is one short transaction (SQLite `BEGIN IMMEDIATE`, taking
//! the write lock up front, so the busy timeout applies instead of a
//! deadlock-avoiding `SQLITE_BUSY` halfway through; PostgreSQL `BEGIN`).
//! Reads run outside explicit transactions.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::db::{vals, Conn, Database, Dialect, Exec, PgConn, Row, Val};
use crate::error::{Result, StoreError};
use crate::key::DeviceKey;
use crate::model::{now_ms, Device, DeviceStatus, Event, NewDevice, NewEvent, Outcome};
use crate::schema::{self, SchemaStatus};
use crate::Mac;

/// The one SQL text that adds a timeline event, with `$tail` appended
/// (`" RETURNING id"` where the caller wants the new row's id).
macro_rules! insert_event_sql {
    ($tail:literal) => {
        concat!(
            "INSERT INTO events (mac, at_ms, kind, outcome, source_ip, message) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            $tail
        )
    };
}

/// One device's status for [`Store::write_batch`] (the arguments of
/// [`Store::record_status`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusUpdate<'a> {
    /// Device.
    pub mac: Mac,
    /// Source address of its latest request.
    pub ip: IpAddr,
    /// Firmware from its User-Agent; `None` keeps the stored value.
    pub firmware: Option<&'a str>,
    /// Resync outcome; `None` keeps the stored value.
    pub outcome: Option<Outcome>,
}

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "phoneprov.db";

/// The device inventory and every other repository of the store, on one
/// connection to a SQLite file or a PostgreSQL database.
///
/// A `Store` is `Send` but not `Sync`: give each thread its own (opening is
/// cheap) or put one behind a mutex. Several processes (and, on
/// PostgreSQL, several nodes) may open the same database at once. On
/// PostgreSQL a `Store` holds one connection; a lost connection fails the
/// call in progress with [`StoreError::Unavailable`] and the next call
/// reconnects. Call it from blocking threads only (see the `db` module).
pub struct Store {
    pub(crate) conn: RefCell<Conn>,
    db: Database,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("db", &self.db).finish()
    }
}

pub(crate) const DEVICE_COLS: &str =
    "mac, serial, model, grp, vars, secret_key, created_ms, updated_ms, \
                           last_seen_ms, last_ip, firmware, last_outcome";

/// The upsert clause of a device row: an existing row keeps its key,
/// creation time and status.
pub(crate) const UPSERT_TAIL: &str = "ON CONFLICT(mac) DO UPDATE SET \
    serial = excluded.serial, model = excluded.model, grp = excluded.grp, \
    vars = excluded.vars, updated_ms = excluded.updated_ms";

impl Store {
    /// Opens the inventory in `dir`, creating the directory and the
    /// database if needed, and migrates it. For commands that write (add,
    /// import) and for the server.
    pub fn open(dir: &Path) -> Result<Store> {
        Store::open_sqlite(dir, true)?.migrated(true)
    }

    /// Opens the inventory in `dir`, failing with
    /// [`StoreError::NoDatabase`] if there is none: for commands that only
    /// read or remove, where a mistyped `--data` should not silently create
    /// an empty inventory.
    pub fn open_existing(dir: &Path) -> Result<Store> {
        Store::open_sqlite(dir, false)?.migrated(true)
    }

    /// Opens `db` (creating a SQLite data directory if needed) and
    /// migrates it: [`Store::open`] for either backend.
    pub fn connect(db: &Database) -> Result<Store> {
        Store::connect_with(db, true)
    }

    /// [`Store::open_existing`] for either backend: a SQLite directory
    /// without a database fails with [`StoreError::NoDatabase`], a
    /// PostgreSQL database without phoneprov's tables with
    /// [`StoreError::NoSchema`].
    pub fn open_existing_db(db: &Database) -> Result<Store> {
        Store::open_existing_with(db, true)
    }

    /// [`Store::open_existing_db`] under a migration policy, as
    /// [`Store::connect_with`]: an older schema is migrated only when
    /// `migrate` is set (the CLI's data commands follow `serve`'s policy).
    pub fn open_existing_with(db: &Database, migrate: bool) -> Result<Store> {
        match db {
            Database::Sqlite(dir) => Store::open_sqlite(dir, false)?.migrated(migrate),
            Database::Postgres(_) => {
                let store = Store::connect_unmigrated(db)?;
                if store.schema_status()?.found == 0 {
                    return Err(StoreError::NoSchema {
                        target: db.to_string(),
                    });
                }
                store.migrated(migrate)
            }
        }
    }

    /// Opens `db` and checks its schema: a newer one fails with
    /// [`StoreError::NewerSchema`]; an older (or empty) one is migrated
    /// when `migrate` is set and fails with [`StoreError::OlderSchema`]
    /// otherwise (serve without `--migrate`).
    pub fn connect_with(db: &Database, migrate: bool) -> Result<Store> {
        Store::connect_unmigrated(db)?.migrated(migrate)
    }

    /// Opens `db` without reading or changing its schema: for `phoneprov
    /// db status` and `db migrate` ([`Store::schema_status`],
    /// [`Store::migrate`]). Repository calls on an outdated schema fail.
    pub fn connect_unmigrated(db: &Database) -> Result<Store> {
        match db {
            Database::Sqlite(dir) => Store::open_sqlite(dir, true),
            Database::Postgres(url) => Ok(Store {
                conn: RefCell::new(Conn::Pg(Box::new(PgConn::connect(url)?))),
                db: db.clone(),
            }),
        }
    }

    /// The schema version the database holds, and this build's.
    pub fn schema_status(&self) -> Result<SchemaStatus> {
        schema::status(&mut self.conn.borrow_mut())
    }

    /// Migrates the schema to this build's version (each step in its own
    /// transaction, safe against concurrent migrations); returns the
    /// status before. A newer schema fails with [`StoreError::NewerSchema`].
    pub fn migrate(&mut self) -> Result<SchemaStatus> {
        schema::migrate(&mut self.conn.borrow_mut())
    }

    fn migrated(mut self, migrate: bool) -> Result<Store> {
        if migrate {
            self.migrate()?;
            return Ok(self);
        }
        let st = self.schema_status()?;
        if st.found > st.known {
            return Err(StoreError::NewerSchema {
                found: st.found,
                supported: st.known,
            });
        }
        if st.found < st.known {
            return Err(StoreError::OlderSchema {
                found: st.found,
                supported: st.known,
            });
        }
        Ok(self)
    }

    fn open_sqlite(dir: &Path, create: bool) -> Result<Store> {
        let path = dir.join(DB_FILE);
        if !create {
            if !path.is_file() {
                return Err(StoreError::NoDatabase { path });
            }
        } else {
            let create_err = |cause| StoreError::CreateDir {
                dir: dir.to_path_buf(),
                cause,
            };
            // The database holds every device key (issue 12 item 4): a new
            // data directory is 0700 and a new database file 0600 from the
            // start. SQLite gives the WAL and SHM files the database's mode.
            let mut dirs = std::fs::DirBuilder::new();
            dirs.recursive(true);
            let mut file = std::fs::OpenOptions::new();
            file.write(true).create(true).truncate(false);
            #[cfg(unix)]
            {
                use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
                dirs.mode(0o700);
                file.mode(0o600);
            }
            dirs.create(dir).map_err(create_err)?;
            if !path.exists() {
                file.open(&path).map_err(create_err)?;
            }
        }
        let conn = schema::open(&path, create)?;
        Ok(Store {
            conn: RefCell::new(Conn::Lite(conn)),
            db: Database::Sqlite(dir.to_path_buf()),
        })
    }

    /// The database this store is open on (`Display` redacts passwords).
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// The SQLite database file; `None` on PostgreSQL.
    pub fn path(&self) -> Option<PathBuf> {
        self.db.sqlite_dir().map(|d| d.join(DB_FILE))
    }

    /// Runs `f` on the connection outside an explicit transaction.
    pub(crate) fn run<T>(&self, f: impl FnOnce(&mut Exec<'_, '_>) -> Result<T>) -> Result<T> {
        self.conn.borrow_mut().run(f)
    }

    /// Runs `f` in one write transaction (see `Conn::write`).
    pub(crate) fn tx<T>(&self, f: impl FnOnce(&mut Exec<'_, '_>) -> Result<T>) -> Result<T> {
        self.conn.borrow_mut().write(f)
    }

    /// The SQLite connection, for tests of SQLite-only behaviour.
    #[cfg(test)]
    pub(crate) fn sqlite<T>(&self, f: impl FnOnce(&rusqlite::Connection) -> T) -> T {
        match &*self.conn.borrow() {
            Conn::Lite(c) => f(c),
            Conn::Pg(_) => panic!("not a SQLite store"),
        }
    }

    /// [`Store::tx`] taking no SQLite lock until it writes to the main
    /// database.
    pub(crate) fn tx_deferred<T>(
        &self,
        f: impl FnOnce(&mut Exec<'_, '_>) -> Result<T>,
    ) -> Result<T> {
        self.conn.borrow_mut().write_deferred(f)
    }

    /// Adds a new device with a fresh key; fails with
    /// [`StoreError::Exists`] if the MAC is already there.
    pub fn add_device(&mut self, dev: &NewDevice) -> Result<Device> {
        let key = DeviceKey::generate();
        let inserted = self.tx(|x| write_device(x, dev, &key, now_ms(), false))?;
        if inserted == 0 {
            return Err(StoreError::Exists(dev.mac));
        }
        self.device(dev.mac)?.ok_or(StoreError::NotFound(dev.mac))
    }

    /// Creates the device or replaces its serial, model, group and
    /// variables, keeping its key, creation time and status. Returns the
    /// stored device and whether it was created.
    pub fn upsert_device(&mut self, dev: &NewDevice) -> Result<(Device, bool)> {
        let key = DeviceKey::generate();
        let existed = self.tx(|x| {
            let existed: bool = x
                .one(
                    "SELECT EXISTS(SELECT 1 FROM devices WHERE mac = ?1)",
                    vals![dev.mac.to_string()],
                )?
                .get(0)?;
            write_device(x, dev, &key, now_ms(), true)?;
            Ok(existed)
        })?;
        let stored = self.device(dev.mac)?.ok_or(StoreError::NotFound(dev.mac))?;
        Ok((stored, !existed))
    }

    /// One device, or `None`.
    pub fn device(&self, mac: Mac) -> Result<Option<Device>> {
        self.run(|x| device_on(x, mac))
    }

    /// The MAC of the inventory device with this serial number (the first
    /// by MAC when several share it): how the ACS names a CPE from its
    /// Inform (index `devices_by_serial`).
    pub fn mac_by_serial(&self, serial: &str) -> Result<Option<Mac>> {
        Ok(self.macs_by_serials(&[serial])?.remove(serial))
    }

    /// The rows of several MACs at once, in no order; a MAC not in the
    /// inventory has none (the batched [`Store::device`] of
    /// [`crate::Lookups`]: one query on PostgreSQL, one lookup each on
    /// SQLite, where a lookup is a local page read).
    pub fn devices_by_macs(&self, macs: &[Mac]) -> Result<Vec<Device>> {
        self.run(|x| match x.dialect() {
            Dialect::Sqlite => Ok(macs
                .iter()
                .map(|m| device_on(x, *m))
                .collect::<Result<Vec<_>>>()?
                .into_iter()
                .flatten()
                .collect()),
            Dialect::Postgres => {
                let keys: Vec<Option<String>> = macs.iter().map(|m| Some(m.to_string())).collect();
                x.rows(
                    &format!("SELECT {DEVICE_COLS} FROM devices WHERE mac = ANY(?1)"),
                    vals![keys],
                )?
                .iter()
                .map(|r| RawDevice::from_row(r)?.decode())
                .collect()
            }
        })
    }

    /// The MACs of several serial numbers at once, each as
    /// [`Store::mac_by_serial`] gives it; a serial no device has is absent
    /// (one query on PostgreSQL, one lookup each on SQLite).
    pub fn macs_by_serials(&self, serials: &[&str]) -> Result<HashMap<String, Mac>> {
        let rows: Vec<(String, String)> = self.run(|x| match x.dialect() {
            Dialect::Sqlite => {
                let mut out = Vec::new();
                for s in serials {
                    if let Some(r) = x.row(
                        "SELECT mac FROM devices WHERE serial = ?1 ORDER BY mac LIMIT 1",
                        vals![*s],
                    )? {
                        out.push((s.to_string(), r.get(0)?));
                    }
                }
                Ok(out)
            }
            Dialect::Postgres => {
                let keys: Vec<Option<String>> =
                    serials.iter().map(|s| Some(s.to_string())).collect();
                x.rows(
                    "SELECT serial, min(mac) FROM devices WHERE serial = ANY(?1) GROUP BY serial",
                    vals![keys],
                )?
                .iter()
                .map(|r| Ok((r.get(0)?, r.get(1)?)))
                .collect()
            }
        })?;
        rows.into_iter()
            .map(|(serial, m)| {
                let mac = Mac::parse(&m).map_err(|e| StoreError::BadStored {
                    mac: m.clone(),
                    what: "MAC",
                    why: e.to_string(),
                })?;
                Ok((serial, mac))
            })
            .collect()
    }

    /// Removes a device and its events. Returns `false` if it was not there.
    pub fn remove_device(&mut self, mac: Mac) -> Result<bool> {
        let n = self.tx(|x| {
            let n = x.exec("DELETE FROM devices WHERE mac = ?1", vals![mac.to_string()])?;
            x.exec("DELETE FROM events WHERE mac = ?1", vals![mac.to_string()])?;
            crate::changes::notify_device(x, Some(mac))?;
            Ok(n)
        })?;
        Ok(n > 0)
    }

    /// Calls `f` for each device (optionally of one group) in MAC order,
    /// streaming: a million devices are never held in memory at once (they
    /// are read [`DEVICE_PAGE`] at a time, each page after the last MAC of
    /// the one before). Stops at the first error `f` returns.
    pub fn for_each_device<E: From<StoreError>>(
        &self,
        group: Option<&str>,
        mut f: impl FnMut(Device) -> Result<(), E>,
    ) -> Result<(), E> {
        let sql = match group {
            Some(_) => format!(
                "SELECT {DEVICE_COLS} FROM devices WHERE mac > ?1 AND grp = ?3 ORDER BY mac LIMIT ?2"
            ),
            None => format!("SELECT {DEVICE_COLS} FROM devices WHERE mac > ?1 ORDER BY mac LIMIT ?2"),
        };
        let mut after = String::new();
        loop {
            let rows = self.run(|x| match group {
                Some(g) => x.rows(&sql, vals![after.as_str(), DEVICE_PAGE, g]),
                None => x.rows(&sql, vals![after.as_str(), DEVICE_PAGE]),
            })?;
            let full = rows.len() as i64 == DEVICE_PAGE;
            for r in rows {
                let dev = RawDevice::from_row(&r)?.decode()?;
                after = dev.mac.to_string();
                f(dev)?;
            }
            if !full {
                return Ok(());
            }
        }
    }

    /// All devices (optionally of one group) in MAC order. Prefer
    /// [`Store::for_each_device`] for large inventories.
    pub fn devices(&self, group: Option<&str>) -> Result<Vec<Device>> {
        let mut out = Vec::new();
        self.for_each_device(group, |d| {
            out.push(d);
            Ok::<_, StoreError>(())
        })?;
        Ok(out)
    }

    /// Number of devices (optionally of one group).
    pub fn count_devices(&self, group: Option<&str>) -> Result<u64> {
        let n: i64 = self.run(|x| match group {
            Some(g) => x
                .one("SELECT count(*) FROM devices WHERE grp = ?1", vals![g])?
                .get(0),
            None => x.one("SELECT count(*) FROM devices", &[])?.get(0),
        })?;
        Ok(n as u64)
    }

    /// Devices by the outcome of their last request (`None`: no outcome
    /// recorded yet), for the server's `phoneprov_devices_by_outcome`.
    pub fn outcome_counts(&self) -> Result<Vec<(Option<Outcome>, u64)>> {
        let rows = self.run(|x| {
            x.rows(
                "SELECT last_outcome, count(*) FROM devices GROUP BY last_outcome",
                &[],
            )
        })?;
        rows.into_iter()
            .map(|r| {
                let outcome: Option<String> = r.get(0)?;
                let n: i64 = r.get(1)?;
                // An unknown spelling (written by a newer version) counts
                // as no outcome rather than failing the scrape.
                Ok((outcome.and_then(|o| o.parse().ok()), n as u64))
            })
            .collect()
    }

    /// Records what the server saw of a device: now as last seen, the
    /// source address, and, when given, the firmware from its User-Agent
    /// (R-HTTP-3) and the resync outcome (R-RESULT). `None` leaves the
    /// stored value as it was. Fails with [`StoreError::NotFound`] for a
    /// MAC not in the inventory (the caller may still `append_event`).
    pub fn record_status(
        &mut self,
        mac: Mac,
        ip: IpAddr,
        firmware: Option<&str>,
        outcome: Option<Outcome>,
    ) -> Result<()> {
        let status = StatusUpdate {
            mac,
            ip,
            firmware,
            outcome,
        };
        let missing = self.tx(|x| write_batch_on(x, &[status], &[]))?;
        if !missing.is_empty() {
            return Err(StoreError::NotFound(mac));
        }
        Ok(())
    }

    /// Appends an event to a device's timeline; returns its id.
    pub fn append_event(&mut self, ev: &NewEvent) -> Result<i64> {
        self.tx(|x| {
            x.one(insert_event_sql!(" RETURNING id"), &event_vals(ev))?
                .get(0)
        })
    }

    /// Writes many status updates and events in **one** transaction: what
    /// the server's status writer does with a batch of requests, so a busy
    /// server pays one commit per batch instead of two per request. Status
    /// updates are applied in order, as [`Store::record_status`] would
    /// (each `None` keeps the stored value); updates of MACs not in the
    /// inventory are skipped and returned, their events are still kept.
    /// All or nothing: on an error nothing of the batch is written.
    pub fn write_batch(
        &mut self,
        statuses: &[StatusUpdate<'_>],
        events: &[NewEvent],
    ) -> Result<Vec<Mac>> {
        self.tx(|x| write_batch_on(x, statuses, events))
    }

    /// The latest `limit` events of a device, oldest first (a timeline
    /// reads top to bottom).
    pub fn events(&self, mac: Mac, limit: usize) -> Result<Vec<Event>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(|x| {
            x.rows(
                "SELECT id, mac, at_ms, kind, outcome, source_ip, message FROM \
                 (SELECT * FROM events WHERE mac = ?1 ORDER BY id DESC LIMIT ?2) AS e ORDER BY id",
                vals![mac.to_string(), limit],
            )
        })?
        .iter()
        .map(event_from_row)
        .collect()
    }

    /// Deletes the events older than `before_ms`; returns how many. Works
    /// in batches of 10 000 rows, each its own short transaction, so
    /// pruning a big backlog never holds the write lock for long (the
    /// background retention is [`Store::prune_timeline`]).
    pub fn prune_events(&mut self, before_ms: i64) -> Result<u64> {
        self.prune_older(before_ms, u64::MAX)
    }

    /// Checks the database: SQLite's `PRAGMA integrity_check` (its lines,
    /// `["ok"]` when the file is sound). PostgreSQL checks its own pages
    /// as it reads them; there every table of the store is read through
    /// (a damaged page fails the call) and the answer is `["ok"]`.
    pub fn integrity_check(&self) -> Result<Vec<String>> {
        self.run(|x| match x.dialect() {
            Dialect::Sqlite => x
                .rows("PRAGMA integrity_check", &[])?
                .iter()
                .map(|r| r.get(0))
                .collect(),
            Dialect::Postgres => {
                for table in TABLES {
                    x.one(&format!("SELECT count(*) FROM {table}"), &[])?;
                }
                Ok(vec!["ok".to_string()])
            }
        })
    }
}

/// Devices read per page by [`Store::for_each_device`].
pub const DEVICE_PAGE: i64 = 1000;

/// Every table of the store (for checks and copies).
pub(crate) const TABLES: &[&str] = &[
    "devices",
    "events",
    "acs_tasks",
    "acs_datamodel",
    "activation_bindings",
    "activation_codes",
    "activation_short_codes",
    "secrets",
];

/// Writes one device row: an insert that does nothing when the MAC exists
/// (`replace` off), or an upsert keeping key, creation time and status,
/// with the other nodes' change notice (`crate::changes`). Returns the
/// rows written.
pub(crate) fn write_device(
    x: &mut Exec<'_, '_>,
    dev: &NewDevice,
    key: &DeviceKey,
    now: i64,
    replace: bool,
) -> Result<u64> {
    let vars = serde_json::to_string(&dev.vars).expect("a string map always serializes");
    let sql = if replace {
        format!("{DEVICE_INSERT} {UPSERT_TAIL}")
    } else {
        format!("{DEVICE_INSERT} ON CONFLICT(mac) DO NOTHING")
    };
    let n = x.exec(
        &sql,
        vals![
            dev.mac.to_string(),
            dev.serial.as_deref(),
            dev.model.as_deref(),
            dev.group.as_deref(),
            vars,
            key.expose_secret(),
            now
        ],
    )?;
    if n > 0 {
        crate::changes::notify_device(x, Some(dev.mac))?;
    }
    Ok(n)
}

/// One device, read on the caller's connection or transaction.
pub(crate) fn device_on(x: &mut Exec<'_, '_>, mac: Mac) -> Result<Option<Device>> {
    let row = x.row(
        &format!("SELECT {DEVICE_COLS} FROM devices WHERE mac = ?1"),
        vals![mac.to_string()],
    )?;
    row.map(|r| RawDevice::from_row(&r)?.decode()).transpose()
}

const DEVICE_INSERT: &str = "INSERT INTO devices \
    (mac, serial, model, grp, vars, secret_key, created_ms, updated_ms) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)";

/// One `events` row (`id, mac, at_ms, kind, outcome, source_ip, message`),
/// decoded.
pub(crate) fn event_from_row(r: &Row) -> Result<Event> {
    let mac_text: String = r.get(1)?;
    let bad = |what: &'static str, why: String| StoreError::BadStored {
        mac: mac_text.clone(),
        what,
        why,
    };
    let kind: String = r.get(3)?;
    let outcome: Option<String> = r.get(4)?;
    Ok(Event {
        id: r.get(0)?,
        mac: Mac::parse(&mac_text).map_err(|e| bad("MAC", e.to_string()))?,
        at_ms: r.get(2)?,
        kind: kind
            .parse()
            .map_err(|e| bad("event kind", format!("{e}")))?,
        outcome: outcome
            .map(|o| o.parse())
            .transpose()
            .map_err(|e| bad("event outcome", format!("{e}")))?,
        source_ip: r.get(5)?,
        message: r.get(6)?,
    })
}

/// A device row as the database returns it, before decoding MAC/JSON/outcome.
pub(crate) struct RawDevice {
    mac: String,
    serial: Option<String>,
    model: Option<String>,
    group: Option<String>,
    vars: String,
    key: String,
    created_ms: i64,
    updated_ms: i64,
    last_seen_ms: Option<i64>,
    ip: Option<String>,
    firmware: Option<String>,
    outcome: Option<String>,
}

impl RawDevice {
    pub(crate) fn from_row(r: &Row) -> Result<Self> {
        Ok(RawDevice {
            mac: r.get(0)?,
            serial: r.get(1)?,
            model: r.get(2)?,
            group: r.get(3)?,
            vars: r.get(4)?,
            key: r.get(5)?,
            created_ms: r.get(6)?,
            updated_ms: r.get(7)?,
            last_seen_ms: r.get(8)?,
            ip: r.get(9)?,
            firmware: r.get(10)?,
            outcome: r.get(11)?,
        })
    }

    pub(crate) fn decode(self) -> Result<Device> {
        let mac_text = self.mac;
        let bad = |what: &'static str, why: String| StoreError::BadStored {
            mac: mac_text.clone(),
            what,
            why,
        };
        let mac = Mac::parse(&mac_text).map_err(|e| bad("MAC", e.to_string()))?;
        let vars: BTreeMap<String, String> =
            serde_json::from_str(&self.vars).map_err(|e| bad("variables", e.to_string()))?;
        let last_outcome = self
            .outcome
            .map(|o| o.parse::<Outcome>())
            .transpose()
            .map_err(|e| bad("last outcome", e.to_string()))?;
        Ok(Device {
            mac,
            serial: self.serial,
            model: self.model,
            group: self.group,
            vars,
            key: DeviceKey::from_stored(self.key),
            created_ms: self.created_ms,
            updated_ms: self.updated_ms,
            status: DeviceStatus {
                last_seen_ms: self.last_seen_ms,
                ip: self.ip,
                firmware: self.firmware,
                last_outcome,
            },
        })
    }
}

/// [`Store::write_batch`]'s writes inside the caller's transaction (the
/// timeline writer's group commit adds the ACS's session writes to the
/// same transaction). Returns the MACs not in the inventory (their status
/// updates skipped).
pub(crate) fn write_batch_on(
    x: &mut Exec<'_, '_>,
    statuses: &[StatusUpdate<'_>],
    events: &[NewEvent],
) -> Result<Vec<Mac>> {
    match x.dialect() {
        Dialect::Sqlite => write_batch_rows(x, statuses, events),
        Dialect::Postgres => write_batch_sets(x, statuses, events),
    }
}

/// SQLite: one prepared statement per row (each a b-tree step in the
/// same process: nothing to gain from set-based SQL).
fn write_batch_rows(
    x: &mut Exec<'_, '_>,
    statuses: &[StatusUpdate<'_>],
    events: &[NewEvent],
) -> Result<Vec<Mac>> {
    let mut missing = Vec::new();
    let now = now_ms();
    for s in statuses {
        let (mac, ip) = (s.mac.to_string(), s.ip.to_string());
        let p = vals![
            mac.as_str(),
            now,
            ip.as_str(),
            s.firmware,
            s.outcome.map(Outcome::as_str)
        ];
        // SQLite rewrites the entry of every index on a column an UPDATE
        // sets, changed or not. A repeat (firmware and outcome as stored,
        // the common case of a periodic resync) sets only the time and
        // address, which leaves `devices_by_firmware` and
        // `devices_by_outcome` alone; a change takes the second statement.
        let mut n = x.exec(
            "UPDATE devices SET last_seen_ms = ?2, last_ip = ?3 \
             WHERE mac = ?1 AND firmware IS coalesce(?4, firmware) \
             AND last_outcome IS coalesce(?5, last_outcome)",
            p,
        )?;
        if n == 0 && (s.firmware.is_some() || s.outcome.is_some()) {
            n = x.exec(
                "UPDATE devices SET last_seen_ms = ?2, last_ip = ?3, \
                 firmware = coalesce(?4, firmware), last_outcome = coalesce(?5, last_outcome) \
                 WHERE mac = ?1",
                p,
            )?;
        }
        if n == 0 {
            missing.push(s.mac);
        }
    }
    for ev in events {
        insert_event(x, ev)?;
    }
    Ok(missing)
}

/// PostgreSQL: the whole batch in two statements (one `UPDATE … FROM
/// unnest(arrays)`, one `INSERT … SELECT unnest`), so a group commit costs
/// two round trips to the server instead of two per request. Updates of
/// one MAC are folded first, as applying them in order would leave the
/// row (the last address; the last firmware and outcome given).
fn write_batch_sets(
    x: &mut Exec<'_, '_>,
    statuses: &[StatusUpdate<'_>],
    events: &[NewEvent],
) -> Result<Vec<Mac>> {
    let mut missing = Vec::new();
    if !statuses.is_empty() {
        let mut folded: BTreeMap<Mac, (IpAddr, Option<&str>, Option<Outcome>)> = BTreeMap::new();
        for s in statuses {
            let e = folded.entry(s.mac).or_insert((s.ip, None, None));
            e.0 = s.ip;
            e.1 = s.firmware.or(e.1);
            e.2 = s.outcome.or(e.2);
        }
        let mut cols: [Vec<Option<String>>; 4] = Default::default();
        for (mac, (ip, fw, outcome)) in &folded {
            cols[0].push(Some(mac.to_string()));
            cols[1].push(Some(ip.to_string()));
            cols[2].push(fw.map(str::to_string));
            cols[3].push(outcome.map(|o| o.as_str().to_string()));
        }
        let [macs, ips, fws, outcomes] = cols;
        let found: std::collections::BTreeSet<String> = x
            .rows(
                "UPDATE devices AS d SET last_seen_ms = ?1, last_ip = u.ip, \
                 firmware = coalesce(u.fw, d.firmware), \
                 last_outcome = coalesce(u.outcome, d.last_outcome) \
                 FROM unnest(?2::text[], ?3::text[], ?4::text[], ?5::text[]) AS u(mac, ip, fw, outcome) \
                 WHERE d.mac = u.mac RETURNING d.mac",
                vals![now_ms(), macs, ips, fws, outcomes],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect::<Result<_>>()?;
        missing = statuses
            .iter()
            .filter(|s| !found.contains(&s.mac.to_string()))
            .map(|s| s.mac)
            .collect();
    }
    if !events.is_empty() {
        let mut text: [Vec<Option<String>>; 5] = Default::default();
        let mut at = Vec::with_capacity(events.len());
        for ev in events {
            text[0].push(Some(ev.mac.to_string()));
            at.push(Some(ev.at_ms));
            text[1].push(Some(ev.kind.as_str().to_string()));
            text[2].push(ev.outcome.map(|o| o.as_str().to_string()));
            text[3].push(ev.source_ip.map(|ip| ip.to_string()));
            text[4].push(Some(ev.message.clone()));
        }
        let [macs, kinds, outcomes, ips, messages] = text;
        // WITH ORDINALITY … ORDER BY: ids follow the batch's order.
        x.exec(
            "INSERT INTO events (mac, at_ms, kind, outcome, source_ip, message) \
             SELECT mac, at_ms, kind, outcome, source_ip, message \
             FROM unnest(?1::text[], ?2::bigint[], ?3::text[], ?4::text[], ?5::text[], ?6::text[]) \
             WITH ORDINALITY AS u(mac, at_ms, kind, outcome, source_ip, message, n) ORDER BY n",
            vals![macs, at, kinds, outcomes, ips, messages],
        )?;
    }
    Ok(missing)
}

/// Appends one event; returns its id.
/// The parameters of [`insert_event_sql`] for `ev`.
fn event_vals(ev: &NewEvent) -> [Val<'_>; 6] {
    [
        ev.mac.to_string().into(),
        ev.at_ms.into(),
        ev.kind.as_str().into(),
        ev.outcome.map(Outcome::as_str).into(),
        ev.source_ip.map(|ip| ip.to_string()).into(),
        ev.message.as_str().into(),
    ]
}

/// Adds a timeline event without asking for its id: the status writer's
/// batches never read it, and on SQLite `RETURNING` costs a temporary
/// table and a statement journal per row (about 20 000 instructions of the
/// 30 000 an event insert took on the profile GET path).
fn insert_event(x: &mut Exec<'_, '_>, ev: &NewEvent) -> Result<()> {
    x.exec(insert_event_sql!(""), &event_vals(ev))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EventKind;
    use crate::test_support::TestDb;

    on_both! {
        fn a_repeated_status_moves_the_time_and_address_and_a_change_is_written(db: &TestDb) {
            let mut store = db.store();
            let mac = Mac::parse("000e08abcdef").unwrap();
            store.add_device(&NewDevice::new(mac)).unwrap();
            let status = |ip: &str, firmware, outcome| StatusUpdate {
                mac,
                ip: ip.parse().unwrap(),
                firmware,
                outcome,
            };
            use Outcome::{NotFound, Success};
            // (update, expected firmware, expected outcome)
            let steps = [
                (status("192.0.2.1", Some("11.0"), Some(Success)), Some("11.0"), Some(Success)),
                (status("192.0.2.2", Some("11.0"), Some(Success)), Some("11.0"), Some(Success)),
                (status("192.0.2.3", None, None), Some("11.0"), Some(Success)),
                (status("192.0.2.4", Some("12.0"), None), Some("12.0"), Some(Success)),
                (status("192.0.2.5", None, Some(NotFound)), Some("12.0"), Some(NotFound)),
                (status("192.0.2.6", Some("12.0"), Some(Success)), Some("12.0"), Some(Success)),
            ];
            let mut seen = 0;
            for (i, (update, firmware, outcome)) in steps.into_iter().enumerate() {
                assert!(store.write_batch(&[update], &[]).unwrap().is_empty(), "step {i}");
                let s = store.device(mac).unwrap().unwrap().status;
                assert_eq!(s.ip, Some(update.ip.to_string()), "step {i}: address");
                assert_eq!(s.firmware.as_deref(), firmware, "step {i}: firmware");
                assert_eq!(s.last_outcome, outcome, "step {i}: outcome");
                let at = s.last_seen_ms.expect("seen");
                assert!(at >= seen, "step {i}: the time never goes back");
                seen = at;
            }
            let unknown = status("192.0.2.7", Some("12.0"), Some(Outcome::Success));
            let unknown = StatusUpdate {
                mac: Mac::parse("000e08999999").unwrap(),
                ..unknown
            };
            assert_eq!(store.write_batch(&[unknown], &[]).unwrap(), vec![unknown.mac]);
        }
    }

    on_both! {
        fn write_batch_applies_statuses_in_order_and_keeps_unknown_events(db: &TestDb) {
            let mut store = db.store();
            let known = Mac::parse("000e08abcdef").unwrap();
            let unknown = Mac::parse("000e08999999").unwrap();
            store.add_device(&NewDevice::new(known)).unwrap();
            let ip1: IpAddr = "192.0.2.1".parse().unwrap();
            let ip2: IpAddr = "192.0.2.2".parse().unwrap();
            let ev = |mac, message: &str| NewEvent {
                mac,
                at_ms: now_ms(),
                kind: EventKind::Resync,
                outcome: Some(Outcome::Success),
                source_ip: Some(ip1),
                message: message.into(),
            };
            let missing = store
                .write_batch(
                    &[
                        StatusUpdate {
                            mac: known,
                            ip: ip1,
                            firmware: Some("11.0"),
                            outcome: Some(Outcome::NotFound),
                        },
                        StatusUpdate {
                            mac: unknown,
                            ip: ip1,
                            firmware: None,
                            outcome: None,
                        },
                        StatusUpdate {
                            mac: known,
                            ip: ip2,
                            firmware: None,
                            outcome: Some(Outcome::Success),
                        },
                    ],
                    &[ev(known, "a"), ev(unknown, "b"), ev(known, "c")],
                )
                .unwrap();
            assert_eq!(missing, vec![unknown]);
            let s = store.device(known).unwrap().unwrap().status;
            assert_eq!(s.ip.as_deref(), Some("192.0.2.2"), "the later update wins");
            assert_eq!(s.firmware.as_deref(), Some("11.0"), "None keeps firmware");
            assert_eq!(s.last_outcome, Some(Outcome::Success));
            let msgs: Vec<_> = store
                .events(known, 10)
                .unwrap()
                .into_iter()
                .map(|e| e.message)
                .collect();
            assert_eq!(msgs, ["a", "c"]);
            assert_eq!(store.events(unknown, 10).unwrap().len(), 1);
        }
    }
}
