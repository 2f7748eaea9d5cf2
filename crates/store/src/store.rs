//! [`Store`]: the inventory API used by the CLI and by `phoneprov serve`.
//!
//! Every write is one short `BEGIN IMMEDIATE` transaction (taking the write
//! lock up front, so the busy timeout applies instead of a deadlock-avoiding
//! `SQLITE_BUSY` halfway through). Reads run outside explicit transactions.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};

use crate::error::{Result, StoreError};
use crate::key::DeviceKey;
use crate::model::{now_ms, Device, DeviceStatus, Event, NewDevice, NewEvent, Outcome};
use crate::schema;
use crate::Mac;

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

/// The device inventory, backed by one SQLite connection.
///
/// A `Store` is `Send` but not `Sync`: give each thread its own (opening is
/// cheap) or put one behind a mutex. Several processes may open the same
/// data directory at once.
///
/// PostgreSQL: scale-out nodes will share a PostgreSQL database. The methods
/// below are the whole surface the CLI and server use, their types carry no
/// SQLite detail, and the SQL is portable (`ON CONFLICT` upserts, integer
/// millisecond times, JSON text variables); a PostgreSQL backend becomes a
/// second variant behind these same methods (or a trait extracted from them).
pub struct Store {
    pub(crate) conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

const DEVICE_COLS: &str = "mac, serial, model, grp, vars, secret_key, created_ms, updated_ms, \
                           last_seen_ms, last_ip, firmware, last_outcome";

/// Upsert of one device row. `?1..?6` are the operator's fields and the key
/// for a new row; an existing row keeps its key, creation time and status.
pub(crate) const UPSERT_TAIL: &str = "ON CONFLICT(mac) DO UPDATE SET \
    serial = excluded.serial, model = excluded.model, grp = excluded.grp, \
    vars = excluded.vars, updated_ms = excluded.updated_ms";

impl Store {
    /// Opens the inventory in `dir`, creating the directory and the
    /// database if needed. For commands that write (add, import) and for
    /// the server.
    pub fn open(dir: &Path) -> Result<Store> {
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
        let path = dir.join(DB_FILE);
        if !path.exists() {
            file.open(&path).map_err(create_err)?;
        }
        let conn = schema::open(&path, true)?;
        Ok(Store { conn, path })
    }

    /// Opens the inventory in `dir`, failing with
    /// [`StoreError::NoDatabase`] if there is none: for commands that only
    /// read or remove, where a mistyped `--data` should not silently create
    /// an empty inventory.
    pub fn open_existing(dir: &Path) -> Result<Store> {
        let path = dir.join(DB_FILE);
        if !path.is_file() {
            return Err(StoreError::NoDatabase { path });
        }
        let conn = schema::open(&path, false)?;
        Ok(Store { conn, path })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Adds a new device with a fresh key; fails with
    /// [`StoreError::Exists`] if the MAC is already there.
    pub fn add_device(&mut self, dev: &NewDevice) -> Result<Device> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let exists: bool = tx.query_row(
            "SELECT EXISTS(SELECT 1 FROM devices WHERE mac = ?1)",
            [dev.mac.to_string()],
            |r| r.get(0),
        )?;
        if exists {
            return Err(StoreError::Exists(dev.mac));
        }
        upsert(&tx, dev, &DeviceKey::generate(), now_ms())?;
        tx.commit()?;
        self.device(dev.mac)?.ok_or(StoreError::NotFound(dev.mac))
    }

    /// Creates the device or replaces its serial, model, group and
    /// variables, keeping its key, creation time and status. Returns the
    /// stored device and whether it was created.
    pub fn upsert_device(&mut self, dev: &NewDevice) -> Result<(Device, bool)> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let existed: bool = tx.query_row(
            "SELECT EXISTS(SELECT 1 FROM devices WHERE mac = ?1)",
            [dev.mac.to_string()],
            |r| r.get(0),
        )?;
        upsert(&tx, dev, &DeviceKey::generate(), now_ms())?;
        tx.commit()?;
        let stored = self.device(dev.mac)?.ok_or(StoreError::NotFound(dev.mac))?;
        Ok((stored, !existed))
    }

    /// One device, or `None`.
    pub fn device(&self, mac: Mac) -> Result<Option<Device>> {
        let raw = self
            .conn
            .prepare_cached(&format!("SELECT {DEVICE_COLS} FROM devices WHERE mac = ?1"))?
            .query_row([mac.to_string()], RawDevice::from_row)
            .optional()?;
        raw.map(RawDevice::decode).transpose()
    }

    /// The MAC of the inventory device with this serial number (the first
    /// by MAC when several share it): how the ACS names a CPE from its
    /// Inform (index `devices_by_serial`).
    pub fn mac_by_serial(&self, serial: &str) -> Result<Option<Mac>> {
        let raw: Option<String> = self
            .conn
            .prepare_cached("SELECT mac FROM devices WHERE serial = ?1 ORDER BY mac LIMIT 1")?
            .query_row([serial], |r| r.get(0))
            .optional()?;
        raw.map(|m| {
            Mac::parse(&m).map_err(|e| StoreError::BadStored {
                mac: m.clone(),
                what: "MAC",
                why: e.to_string(),
            })
        })
        .transpose()
    }

    /// Removes a device and its events. Returns `false` if it was not there.
    pub fn remove_device(&mut self, mac: Mac) -> Result<bool> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let n = tx.execute("DELETE FROM devices WHERE mac = ?1", [mac.to_string()])?;
        tx.execute("DELETE FROM events WHERE mac = ?1", [mac.to_string()])?;
        tx.commit()?;
        Ok(n > 0)
    }

    /// Calls `f` for each device (optionally of one group) in MAC order,
    /// streaming: a million devices are never held in memory at once.
    /// Stops at the first error `f` returns.
    pub fn for_each_device<E: From<StoreError>>(
        &self,
        group: Option<&str>,
        mut f: impl FnMut(Device) -> Result<(), E>,
    ) -> Result<(), E> {
        let sql = match group {
            Some(_) => format!("SELECT {DEVICE_COLS} FROM devices WHERE grp = ?1 ORDER BY mac"),
            None => format!("SELECT {DEVICE_COLS} FROM devices ORDER BY mac"),
        };
        let mut stmt = self.conn.prepare(&sql).map_err(StoreError::from)?;
        let mut rows = match group {
            Some(g) => stmt.query([g]),
            None => stmt.query([]),
        }
        .map_err(StoreError::from)?;
        while let Some(row) = rows.next().map_err(StoreError::from)? {
            let dev = RawDevice::from_row(row)
                .map_err(StoreError::from)?
                .decode()?;
            f(dev)?;
        }
        Ok(())
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
        let n: i64 = match group {
            Some(g) => {
                self.conn
                    .query_row("SELECT count(*) FROM devices WHERE grp = ?1", [g], |r| {
                        r.get(0)
                    })?
            }
            None => self
                .conn
                .query_row("SELECT count(*) FROM devices", [], |r| r.get(0))?,
        };
        Ok(n as u64)
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
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let n = tx
            .prepare_cached(
                "UPDATE devices SET last_seen_ms = ?2, last_ip = ?3, \
                 firmware = coalesce(?4, firmware), last_outcome = coalesce(?5, last_outcome) \
                 WHERE mac = ?1",
            )?
            .execute(params![
                mac.to_string(),
                now_ms(),
                ip.to_string(),
                firmware,
                outcome.map(Outcome::as_str)
            ])?;
        tx.commit()?;
        if n == 0 {
            return Err(StoreError::NotFound(mac));
        }
        Ok(())
    }

    /// Appends an event to a device's timeline; returns its id.
    pub fn append_event(&mut self, ev: &NewEvent) -> Result<i64> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        write_batch_on(&tx, &[], std::slice::from_ref(ev))?;
        let id = tx.last_insert_rowid();
        tx.commit()?;
        Ok(id)
    }

    /// Writes many status updates and events in **one** `BEGIN IMMEDIATE`
    /// transaction: what the server's status writer does with a batch of
    /// requests, so a busy server pays one commit (one WAL append) per batch
    /// instead of two per request. Status updates are applied in order, as
    /// [`Store::record_status`] would (each `None` keeps the stored value);
    /// updates of MACs not in the inventory are skipped and returned, their
    /// events are still kept. All or nothing: on an error nothing of the
    /// batch is written.
    pub fn write_batch(
        &mut self,
        statuses: &[StatusUpdate<'_>],
        events: &[NewEvent],
    ) -> Result<Vec<Mac>> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let missing = write_batch_on(&tx, statuses, events)?;
        tx.commit()?;
        Ok(missing)
    }

    /// The latest `limit` events of a device, oldest first (a timeline
    /// reads top to bottom).
    pub fn events(&self, mac: Mac, limit: usize) -> Result<Vec<Event>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, at_ms, kind, outcome, source_ip, message FROM \
             (SELECT * FROM events WHERE mac = ?1 ORDER BY id DESC LIMIT ?2) ORDER BY id",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![mac.to_string(), limit], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, String>(5)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, at_ms, kind, outcome, source_ip, message) = row?;
            let bad = |what: &'static str, why: String| StoreError::BadStored {
                mac: mac.to_string(),
                what,
                why,
            };
            out.push(Event {
                id,
                mac,
                at_ms,
                kind: kind
                    .parse()
                    .map_err(|e| bad("event kind", format!("{e}")))?,
                outcome: outcome
                    .map(|o| o.parse())
                    .transpose()
                    .map_err(|e| bad("event outcome", format!("{e}")))?,
                source_ip,
                message,
            });
        }
        Ok(out)
    }

    /// Deletes the events older than `before_ms`; returns how many. Works
    /// in batches of 10 000 rows, each its own short transaction, so
    /// pruning a big backlog never holds the write lock for long (the
    /// background retention is [`Store::prune_timeline`]).
    pub fn prune_events(&mut self, before_ms: i64) -> Result<u64> {
        self.prune_older(before_ms, u64::MAX)
    }

    /// Runs `PRAGMA integrity_check`; returns its lines (`["ok"]` when the
    /// file is sound).
    pub fn integrity_check(&self) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare("PRAGMA integrity_check")?;
        let lines = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(lines)
    }
}

/// Writes one device row (insert, or update keeping key/created/status).
pub(crate) fn upsert(conn: &Connection, dev: &NewDevice, key: &DeviceKey, now: i64) -> Result<()> {
    let vars = serde_json::to_string(&dev.vars).expect("a string map always serializes");
    conn.prepare_cached(&format!(
        "INSERT INTO devices (mac, serial, model, grp, vars, secret_key, created_ms, updated_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7) {UPSERT_TAIL}"
    ))?
    .execute(params![
        dev.mac.to_string(),
        dev.serial,
        dev.model,
        dev.group,
        vars,
        key.expose_secret(),
        now
    ])?;
    Ok(())
}

/// A device row as SQLite returns it, before decoding MAC/JSON/outcome.
struct RawDevice {
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
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
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

    fn decode(self) -> Result<Device> {
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

/// [`Store::write_batch`]'s writes on a connection of the caller's, inside
/// the caller's transaction: the ACS (`phoneprov-acs`) keeps its own
/// connection to the same file and records an Inform's status, timeline
/// entry and its own tables in one commit. Returns the MACs not in the
/// inventory (their status updates skipped).
pub(crate) fn write_batch_on(
    conn: &Connection,
    statuses: &[StatusUpdate<'_>],
    events: &[NewEvent],
) -> Result<Vec<Mac>> {
    let mut missing = Vec::new();
    let now = now_ms();
    let mut up = conn.prepare_cached(
        "UPDATE devices SET last_seen_ms = ?2, last_ip = ?3, \
         firmware = coalesce(?4, firmware), last_outcome = coalesce(?5, last_outcome) \
         WHERE mac = ?1",
    )?;
    for s in statuses {
        let n = up.execute(params![
            s.mac.to_string(),
            now,
            s.ip.to_string(),
            s.firmware,
            s.outcome.map(Outcome::as_str)
        ])?;
        if n == 0 {
            missing.push(s.mac);
        }
    }
    let mut ins = conn.prepare_cached(
        "INSERT INTO events (mac, at_ms, kind, outcome, source_ip, message) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for ev in events {
        ins.execute(params![
            ev.mac.to_string(),
            ev.at_ms,
            ev.kind.as_str(),
            ev.outcome.map(Outcome::as_str),
            ev.source_ip.map(|ip| ip.to_string()),
            ev.message,
        ])?;
    }
    Ok(missing)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EventKind;

    #[test]
    fn write_batch_applies_statuses_in_order_and_keeps_unknown_events() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
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
