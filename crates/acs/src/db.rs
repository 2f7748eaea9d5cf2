//! The durable task queue and per-device data-model cache, in the
//! inventory's own SQLite file (`<data>/phoneprov.db`).
//!
//! The tables are this crate's (`acs_tasks`, `acs_datamodel`), created with
//! `CREATE TABLE IF NOT EXISTS` on a connection of our own, so the store's
//! schema versioning (`user_version`) is untouched. The connection uses
//! the same settings as the store (WAL, `synchronous = NORMAL`, a busy
//! timeout), so the CLI, the inventory and the ACS share the file safely.
//!
//! Task states: `queued` → `sent` (claimed by a session) → `done` or
//! `fault`; a Download answered with status 1 is `transferring` until its
//! TransferComplete arrives. A task `sent` in a session that dies goes back
//! to `queued`: at the device's next Inform every `sent` task of that
//! device is requeued (one session per device at a time, so they are
//! orphans), and the shell requeues the tasks of sessions it drops.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::Serialize;
use serde_json::Value;

use crate::error::AcsError;
use crate::task::{xml_name, TaskRpc};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS acs_tasks (
    id          INTEGER PRIMARY KEY,
    mac         TEXT    NOT NULL,
    method      TEXT    NOT NULL,
    rpc         TEXT    NOT NULL,              -- TaskRpc as JSON
    state       TEXT    NOT NULL,              -- queued|sent|transferring|done|fault
    priority    INTEGER NOT NULL DEFAULT 0,    -- presets 1: sent first
    source      TEXT    NOT NULL,              -- api|preset
    command_key TEXT,                          -- Reboot/Download, set when sent
    attempts    INTEGER NOT NULL DEFAULT 0,
    result      TEXT,                          -- JSON
    created_ms  INTEGER NOT NULL,
    updated_ms  INTEGER NOT NULL
);
-- The queue order (priority DESC, id) straight from the index: with the
-- first version's (priority, id) every claim sorted in a temp b-tree.
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
";

/// State of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskState {
    /// Waiting for the device's next session.
    Queued,
    /// Sent in a live session, not answered yet.
    Sent,
    /// A Download accepted with status 1: waiting for TransferComplete.
    Transferring,
    /// Answered (result holds the response).
    Done,
    /// Refused (result holds the fault).
    Fault,
}

impl TaskState {
    fn as_str(self) -> &'static str {
        match self {
            TaskState::Queued => "queued",
            TaskState::Sent => "sent",
            TaskState::Transferring => "transferring",
            TaskState::Done => "done",
            TaskState::Fault => "fault",
        }
    }

    fn parse(s: &str) -> Option<TaskState> {
        Some(match s {
            "queued" => TaskState::Queued,
            "sent" => TaskState::Sent,
            "transferring" => TaskState::Transferring,
            "done" => TaskState::Done,
            "fault" => TaskState::Fault,
            _ => return None,
        })
    }
}

/// A stored task, as the REST API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskRecord {
    /// Row id.
    pub id: i64,
    /// Device MAC (12 lowercase hex digits).
    pub mac: String,
    /// The request, as given (XML names already mapped to paths).
    pub rpc: TaskRpc,
    /// Current state.
    pub state: TaskState,
    /// `api` or `preset`.
    pub source: String,
    /// CommandKey sent (Reboot, Download).
    pub command_key: Option<String>,
    /// How many times it was sent.
    pub attempts: i64,
    /// Response or fault, as JSON.
    pub result: Option<Value>,
    /// Unix ms.
    pub created_ms: i64,
    /// Unix ms.
    pub updated_ms: i64,
}

/// One cached parameter of a device's data model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DataModelEntry {
    /// TR-069 path.
    pub path: String,
    /// The XML parameter name the schema gives this path (R-TR69-4).
    pub xml_name: Option<&'static str>,
    /// Last known value (absent when only the name is known).
    pub value: Option<String>,
    /// `xsd` type name.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Writable, from GetParameterNames.
    pub writable: Option<bool>,
    /// Unix ms.
    pub updated_ms: i64,
}

/// A cached (value, type) pair; either may be unknown.
pub type ValueAndType = (Option<String>, Option<String>);

/// One parameter fact to cache; `None` fields keep what is stored.
#[derive(Debug, Clone, Default)]
pub struct DmUpdate {
    /// TR-069 path.
    pub path: String,
    /// Value.
    pub value: Option<String>,
    /// Type name.
    pub kind: Option<String>,
    /// Writable.
    pub writable: Option<bool>,
}

impl From<&phoneprov_cwmp::ParameterValue> for DmUpdate {
    /// A reported value (Inform, GetParameterValuesResponse): value and
    /// type; the writable flag is kept.
    fn from(p: &phoneprov_cwmp::ParameterValue) -> DmUpdate {
        DmUpdate {
            path: p.name.clone(),
            value: Some(p.value.clone()),
            kind: Some(p.kind.as_str().to_string()),
            writable: None,
        }
    }
}

/// The ACS tables, behind one connection (writes are serialized by SQLite
/// anyway; a mutex keeps the prepared-statement cache simple).
pub struct AcsDb {
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for AcsDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AcsDb")
    }
}

const COLS: &str =
    "id, mac, rpc, state, source, command_key, attempts, result, created_ms, updated_ms";

/// Inserts a queued task (inside the caller's transaction); returns its id.
fn insert_task_on(
    conn: &Connection,
    mac: &str,
    rpc: &TaskRpc,
    source: &str,
) -> Result<i64, AcsError> {
    let json = serde_json::to_string(rpc).map_err(|e| AcsError::Internal(e.to_string()))?;
    let now = now_ms();
    let prio = i64::from(source == "preset");
    conn.prepare_cached(
        "INSERT INTO acs_tasks (mac, method, rpc, state, priority, source, created_ms, updated_ms) \
         VALUES (?1, ?2, ?3, 'queued', ?4, ?5, ?6, ?6)",
    )?
    .execute(params![mac, rpc.method(), json, prio, source, now])?;
    Ok(conn.last_insert_rowid())
}

/// Queues a preset unless the same one is already queued for `mac`.
fn insert_preset_on(conn: &Connection, mac: &str, rpc: &TaskRpc) -> Result<(), AcsError> {
    let json = serde_json::to_string(rpc).map_err(|e| AcsError::Internal(e.to_string()))?;
    let exists: Option<i64> = conn
        .prepare_cached(
            "SELECT id FROM acs_tasks WHERE mac = ?1 AND state = 'queued' AND source = 'preset' AND rpc = ?2",
        )?
        .query_row(params![mac, json], |r| r.get(0))
        .optional()?;
    if exists.is_none() {
        insert_task_on(conn, mac, rpc, "preset")?;
    }
    Ok(())
}

/// Puts every `sent` task of `mac` back in the queue.
fn requeue_device_on(conn: &Connection, mac: &str) -> Result<usize, AcsError> {
    Ok(conn
        .prepare_cached(
            "UPDATE acs_tasks SET state = 'queued', updated_ms = ?2 WHERE mac = ?1 AND state = 'sent'",
        )?
        .execute(params![mac, now_ms()])?)
}

/// Upserts cached parameter facts of `mac` (inside the caller's transaction).
fn dm_upsert_on(conn: &Connection, mac: &str, updates: &[DmUpdate]) -> Result<(), AcsError> {
    let now = now_ms();
    let mut stmt = conn.prepare_cached(
        "INSERT INTO acs_datamodel (mac, path, value, type, writable, updated_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(mac, path) DO UPDATE SET \
         value = coalesce(excluded.value, value), type = coalesce(excluded.type, type), \
         writable = coalesce(excluded.writable, writable), updated_ms = excluded.updated_ms",
    )?;
    for u in updates {
        stmt.execute(params![mac, u.path, u.value, u.kind, u.writable, now])?;
    }
    Ok(())
}

/// Forgets the cached parameters of `mac` under the object path `prefix`.
fn delete_prefix_on(conn: &Connection, mac: &str, prefix: &str) -> Result<(), AcsError> {
    conn.prepare_cached(
        "DELETE FROM acs_datamodel WHERE mac = ?1 AND substr(path, 1, length(?2)) = ?2",
    )?
    .execute(params![mac, prefix])?;
    Ok(())
}

/// An Inform's writes ([`InformWrite`]), inside the caller's transaction.
fn inform_on(conn: &Connection, w: &InformWrite) -> Result<Vec<Claimed>, AcsError> {
    requeue_device_on(conn, &w.mac)?;
    if w.clear {
        conn.prepare_cached("DELETE FROM acs_datamodel WHERE mac = ?1")?
            .execute(params![w.mac])?;
    }
    dm_upsert_on(conn, &w.mac, &w.updates)?;
    for p in &w.presets {
        insert_preset_on(conn, &w.mac, p)?;
    }
    if let Some(t) = &w.timeline {
        let status = phoneprov_store::StatusUpdate {
            mac: t.mac,
            ip: t.ip,
            firmware: t.firmware.as_deref(),
            outcome: None,
        };
        phoneprov_store::write_batch_on(
            conn,
            std::slice::from_ref(&status),
            std::slice::from_ref(&t.event),
        )?;
    }
    claim_on(conn, &w.mac, w.claim)
}

/// A task result's writes ([`FinishWrite`]), inside the caller's transaction.
fn finish_on(conn: &Connection, w: &FinishWrite) -> Result<(), AcsError> {
    conn.prepare_cached(
        "UPDATE acs_tasks SET state = ?2, result = ?3, updated_ms = ?4 WHERE id = ?1",
    )?
    .execute(params![
        w.id,
        w.state.as_str(),
        w.result.to_string(),
        now_ms()
    ])?;
    dm_upsert_on(conn, &w.mac, &w.updates)?;
    if let Some(prefix) = &w.deleted_prefix {
        delete_prefix_on(conn, &w.mac, prefix)?;
    }
    Ok(())
}

/// One session write in a transaction of its own.
fn write_alone(conn: &mut Connection, w: &SessionWrite) -> Result<Vec<Claimed>, AcsError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let out = write_on(&tx, w)?;
    tx.commit()?;
    Ok(out)
}

fn write_on(conn: &Connection, w: &SessionWrite) -> Result<Vec<Claimed>, AcsError> {
    match w {
        SessionWrite::Inform(i) => inform_on(conn, i),
        SessionWrite::Finish(f) => finish_on(conn, f).map(|()| Vec::new()),
    }
}

fn now_ms() -> i64 {
    phoneprov_store::now_ms()
}

/// The next task of a device's queue.
const NEXT_QUEUED: &str = "SELECT id, rpc FROM acs_tasks WHERE mac = ?1 AND state = 'queued' \
                           ORDER BY priority DESC, id LIMIT 1";

/// A claimed task: its id and what to send.
pub type Claimed = (i64, TaskRpc);

/// Claims up to `limit` queued tasks of `mac` (presets first, then
/// oldest) inside the caller's write transaction: each is marked `sent`
/// with its CommandKey recorded. Unreadable rows are marked `fault` and
/// skipped.
fn claim_on(conn: &Connection, mac: &str, limit: usize) -> Result<Vec<Claimed>, AcsError> {
    let mut out = Vec::new();
    while out.len() < limit {
        let row: Option<(i64, String)> = conn
            .prepare_cached(NEXT_QUEUED)?
            .query_row(params![mac], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let Some((id, json)) = row else {
            break;
        };
        match serde_json::from_str::<TaskRpc>(&json) {
            Ok(rpc) => {
                let key = match &rpc {
                    TaskRpc::Reboot { command_key } => Some(command_key.clone()),
                    TaskRpc::Download(d) => Some(d.command_key.clone()),
                    _ => None,
                }
                .map(|k| {
                    if k.is_empty() {
                        format!("phoneprov-task-{id}")
                    } else {
                        k
                    }
                });
                conn.prepare_cached(
                    "UPDATE acs_tasks SET state = 'sent', command_key = ?2, \
                     attempts = attempts + 1, updated_ms = ?3 WHERE id = ?1",
                )?
                .execute(params![id, key, now_ms()])?;
                out.push((id, rpc));
            }
            Err(e) => {
                let result = serde_json::json!({"error": format!("unreadable task: {e}")});
                conn.prepare_cached(
                    "UPDATE acs_tasks SET state = 'fault', result = ?2, updated_ms = ?3 WHERE id = ?1",
                )?
                .execute(params![id, result.to_string(), now_ms()])?;
            }
        }
    }
    Ok(out)
}

/// The timeline side of an Inform: the device's status and its event.
#[derive(Debug, Clone)]
pub struct InformRecord {
    /// The device.
    pub mac: phoneprov_store::Mac,
    /// Where the Inform came from.
    pub ip: std::net::IpAddr,
    /// The software version it reported.
    pub firmware: Option<String>,
    /// The `inform` timeline entry.
    pub event: phoneprov_store::NewEvent,
}

/// Everything an Inform of `mac` writes, in one transaction: tasks of dead
/// sessions back to the queue, the cached data model cleared on
/// `0 BOOTSTRAP`, the Inform's parameters cached, the presets queued, the
/// device's status and timeline entry, and up to `claim` tasks claimed for
/// the session (returned).
#[derive(Debug, Clone)]
pub struct InformWrite {
    /// The device.
    pub mac: String,
    /// `0 BOOTSTRAP`: the cached data model is cleared first.
    pub clear: bool,
    /// The Inform's parameters.
    pub updates: Vec<DmUpdate>,
    /// Presets to queue.
    pub presets: Vec<TaskRpc>,
    /// Status and timeline entry, for inventory devices.
    pub timeline: Option<InformRecord>,
    /// Tasks to claim for the session, at most.
    pub claim: usize,
}

/// A task's outcome and what it changes in the data-model cache, in one
/// transaction.
#[derive(Debug, Clone)]
pub struct FinishWrite {
    /// Task id.
    pub id: i64,
    /// New state.
    pub state: TaskState,
    /// Result JSON.
    pub result: Value,
    /// The device.
    pub mac: String,
    /// Facts to cache.
    pub updates: Vec<DmUpdate>,
    /// An object path whose cached parameters are gone.
    pub deleted_prefix: Option<String>,
}

/// One write of a CWMP session, for [`AcsDb::write_group`].
#[derive(Debug, Clone)]
pub enum SessionWrite {
    /// An Inform.
    Inform(InformWrite),
    /// A task's result.
    Finish(FinishWrite),
}

impl AcsDb {
    /// Opens `path` (the inventory file) and creates the ACS tables.
    pub fn open(path: &Path) -> Result<AcsDb, AcsError> {
        let err = |cause| AcsError::Open {
            path: path.to_path_buf(),
            cause,
        };
        let conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(phoneprov_store::BUSY_TIMEOUT)
            .map_err(err)?;
        let _: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        // Every statement of a session stays prepared: rusqlite's default
        // cache of 16 is smaller than the set one session uses, so its LRU
        // evicted and re-parsed statements on every request.
        conn.set_prepared_statement_cache_capacity(64);
        // Plans independent of bound values (as the store's connections):
        // otherwise the queue's `ORDER BY` query is re-prepared at every
        // claim.
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )
        .map_err(err)?;
        // Informs identify a CPE by serial number ([`AcsDb::mac_by_serial`]);
        // without an index that is a scan of the whole inventory per
        // Inform (seconds at a million devices). Built once, on the first
        // start with the ACS, when the inventory exists.
        let has_devices: bool = conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'devices')",
                [],
                |r| r.get(0),
            )
            .map_err(err)?;
        if has_devices {
            conn.execute_batch("CREATE INDEX IF NOT EXISTS devices_by_serial ON devices (serial);")
                .map_err(err)?;
        }
        Ok(AcsDb {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(TaskRecordRaw, i64)> {
        Ok((
            TaskRecordRaw {
                mac: r.get(1)?,
                rpc: r.get(2)?,
                state: r.get(3)?,
                source: r.get(4)?,
                command_key: r.get(5)?,
                attempts: r.get(6)?,
                result: r.get(7)?,
                created_ms: r.get(8)?,
                updated_ms: r.get(9)?,
            },
            r.get(0)?,
        ))
    }

    /// Queues a task for `mac`; `source` is `api` or `preset`, presets
    /// get priority so they are sent first.
    pub fn insert_task(
        &self,
        mac: &str,
        rpc: &TaskRpc,
        source: &str,
    ) -> Result<TaskRecord, AcsError> {
        let id = {
            let mut conn = self.conn();
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let id = insert_task_on(&tx, mac, rpc, source)?;
            tx.commit()?;
            id
        };
        self.task(mac, id)?
            .ok_or_else(|| AcsError::Internal(format!("task {id} vanished after insert")))
    }

    /// Queues a preset task unless the same one is already queued for
    /// `mac` (a session that dies before running its presets must not pile
    /// up copies).
    pub fn insert_preset(&self, mac: &str, rpc: &TaskRpc) -> Result<(), AcsError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        insert_preset_on(&tx, mac, rpc)?;
        tx.commit()?;
        Ok(())
    }

    /// Writes a group of session writes in one transaction (group commit:
    /// one WAL append for many sessions, see `crate::writer`). Returns one
    /// result per write, in order: the tasks an Inform claimed, nothing
    /// for a task result. If the group fails as a whole, each write is
    /// retried alone, so one bad write fails only itself.
    pub fn write_group(&self, writes: &[SessionWrite]) -> Vec<Result<Vec<Claimed>, AcsError>> {
        let mut conn = self.conn();
        if let [w] = writes {
            return vec![write_alone(&mut conn, w)];
        }
        let together = (|| -> Result<Vec<Vec<Claimed>>, AcsError> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let out = writes
                .iter()
                .map(|w| write_on(&tx, w))
                .collect::<Result<Vec<_>, _>>()?;
            tx.commit()?;
            Ok(out)
        })();
        match together {
            Ok(out) => out.into_iter().map(Ok).collect(),
            Err(e) => {
                tracing::debug!(error = %e, writes = writes.len(), "group write failed; writing each alone");
                writes.iter().map(|w| write_alone(&mut conn, w)).collect()
            }
        }
    }

    /// The tasks of `mac`, newest first (at most `limit`).
    pub fn tasks(&self, mac: &str, limit: usize) -> Result<Vec<TaskRecord>, AcsError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COLS} FROM acs_tasks WHERE mac = ?1 ORDER BY id DESC LIMIT ?2"
        ))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![mac, limit], Self::row)?;
        let mut out = Vec::new();
        for r in rows {
            let (raw, id) = r?;
            out.push(raw.into_record(id)?);
        }
        Ok(out)
    }

    /// One task of `mac`.
    pub fn task(&self, mac: &str, id: i64) -> Result<Option<TaskRecord>, AcsError> {
        let raw = self
            .conn()
            .prepare_cached(&format!(
                "SELECT {COLS} FROM acs_tasks WHERE mac = ?1 AND id = ?2"
            ))?
            .query_row(params![mac, id], Self::row)
            .optional()?;
        raw.map(|(raw, id)| raw.into_record(id)).transpose()
    }

    /// Claims the next queued task of `mac` (presets first, then oldest):
    /// marks it `sent` and records its CommandKey. Unreadable rows are
    /// marked `fault` and skipped. The common answer, nothing queued, is a
    /// read without a write transaction.
    pub fn claim_next(&self, mac: &str) -> Result<Option<Claimed>, AcsError> {
        let mut conn = self.conn();
        let queued: bool = conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM acs_tasks WHERE mac = ?1 AND state = 'queued')",
            )?
            .query_row(params![mac], |r| r.get(0))?;
        if !queued {
            return Ok(None);
        }
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let claimed = claim_on(&tx, mac, 1)?;
        tx.commit()?;
        Ok(claimed.into_iter().next())
    }

    /// Records the outcome of task `id`.
    pub fn finish(&self, id: i64, state: TaskState, result: &Value) -> Result<(), AcsError> {
        let w = SessionWrite::Finish(FinishWrite {
            id,
            state,
            result: result.clone(),
            mac: String::new(),
            updates: Vec::new(),
            deleted_prefix: None,
        });
        write_alone(&mut self.conn(), &w).map(drop)
    }

    /// Puts a `sent` task back in the queue (its session died).
    pub fn requeue(&self, id: i64) -> Result<bool, AcsError> {
        let n = self
            .conn()
            .prepare_cached(
                "UPDATE acs_tasks SET state = 'queued', updated_ms = ?2 WHERE id = ?1 AND state = 'sent'",
            )?
            .execute(params![id, now_ms()])?;
        Ok(n > 0)
    }

    /// Requeues every `sent` task of `mac` (at a new Inform: their
    /// sessions are over). Returns how many.
    pub fn requeue_device(&self, mac: &str) -> Result<usize, AcsError> {
        requeue_device_on(&self.conn(), mac)
    }

    /// The Download task of `mac` waiting for TransferComplete with this
    /// CommandKey (`transferring`, or `sent`/`done` when the CPE reports
    /// completion in an unusual order).
    pub fn task_by_command_key(
        &self,
        mac: &str,
        key: &str,
    ) -> Result<Option<(i64, Option<Value>)>, AcsError> {
        let row: Option<(i64, Option<String>)> = self
            .conn()
            .prepare_cached(
                "SELECT id, result FROM acs_tasks WHERE mac = ?1 AND command_key = ?2 \
                 AND method = 'Download' ORDER BY id DESC LIMIT 1",
            )?
            .query_row(params![mac, key], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        Ok(row.map(|(id, r)| (id, r.and_then(|r| serde_json::from_str(&r).ok()))))
    }

    /// Caches parameter facts for `mac`.
    pub fn dm_upsert(&self, mac: &str, updates: &[DmUpdate]) -> Result<(), AcsError> {
        if updates.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        dm_upsert_on(&tx, mac, updates)?;
        tx.commit()?;
        Ok(())
    }

    /// Forgets the cached data model of `mac` (on `0 BOOTSTRAP`).
    pub fn dm_clear(&self, mac: &str) -> Result<(), AcsError> {
        self.conn()
            .prepare_cached("DELETE FROM acs_datamodel WHERE mac = ?1")?
            .execute(params![mac])?;
        Ok(())
    }

    /// Forgets the cached parameters under `prefix` (DeleteObject).
    pub fn dm_delete_prefix(&self, mac: &str, prefix: &str) -> Result<(), AcsError> {
        delete_prefix_on(&self.conn(), mac, prefix)
    }

    /// The cached data model of `mac`, by path.
    pub fn dm_get(&self, mac: &str) -> Result<Vec<DataModelEntry>, AcsError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT path, value, type, writable, updated_ms FROM acs_datamodel WHERE mac = ?1 ORDER BY path",
        )?;
        let rows = stmt.query_map(params![mac], |r| {
            let path: String = r.get(0)?;
            Ok(DataModelEntry {
                xml_name: xml_name(&path),
                path,
                value: r.get(1)?,
                kind: r.get(2)?,
                writable: r.get(3)?,
                updated_ms: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// One cached value and type.
    pub fn dm_param(&self, mac: &str, path: &str) -> Result<Option<ValueAndType>, AcsError> {
        Ok(self
            .conn()
            .prepare_cached("SELECT value, type FROM acs_datamodel WHERE mac = ?1 AND path = ?2")?
            .query_row(params![mac, path], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }

    /// The inventory MAC of the device with this serial number. Reads the
    /// store's `devices` table directly: the store has no lookup by
    /// serial, so the ACS adds the `devices_by_serial` index at open.
    pub fn mac_by_serial(&self, serial: &str) -> Result<Option<String>, AcsError> {
        Ok(self
            .conn()
            .prepare_cached("SELECT mac FROM devices WHERE serial = ?1 LIMIT 1")?
            .query_row(params![serial], |r| r.get(0))
            .optional()?)
    }
}

struct TaskRecordRaw {
    mac: String,
    rpc: String,
    state: String,
    source: String,
    command_key: Option<String>,
    attempts: i64,
    result: Option<String>,
    created_ms: i64,
    updated_ms: i64,
}

impl TaskRecordRaw {
    fn into_record(self, id: i64) -> Result<TaskRecord, AcsError> {
        let bad = |why: String| AcsError::BadTask { id, why };
        Ok(TaskRecord {
            id,
            rpc: serde_json::from_str(&self.rpc).map_err(|e| bad(format!("rpc: {e}")))?,
            state: TaskState::parse(&self.state)
                .ok_or_else(|| bad(format!("state {:?}", self.state)))?,
            result: self
                .result
                .map(|r| serde_json::from_str(&r))
                .transpose()
                .map_err(|e| bad(format!("result: {e}")))?,
            mac: self.mac,
            source: self.source,
            command_key: self.command_key,
            attempts: self.attempts,
            created_ms: self.created_ms,
            updated_ms: self.updated_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Claims keep their prepared statement: with the bundled SQLite's
    /// STAT4 and no query-planner stability, the queue query (it has an
    /// `ORDER BY`) was re-prepared at every rebinding of the MAC.
    #[test]
    fn claims_do_not_reprepare_the_queue_query() {
        let dir = tempfile::tempdir().unwrap();
        let db = AcsDb::open(&dir.path().join("t.db")).unwrap();
        let reboot = TaskRpc::Reboot {
            command_key: String::new(),
        };
        for i in 0..50 {
            let mac = format!("0011223344{i:02x}");
            db.insert_task(&mac, &reboot, "api").unwrap();
            let (id, _) = db.claim_next(&mac).unwrap().expect("queued task");
            assert!(db.claim_next(&mac).unwrap().is_none());
            assert_eq!(db.task(&mac, id).unwrap().unwrap().state, TaskState::Sent);
        }
        let conn = db.conn();
        let stmt = conn.prepare_cached(NEXT_QUEUED).unwrap();
        assert_eq!(
            stmt.get_status(rusqlite::StatementStatus::RePrepare),
            0,
            "the queue query was re-prepared"
        );
    }

    /// One group commit: each Inform claims its own device's tasks (in
    /// queue order), a task result in the same group is recorded, and each
    /// write gets its own answer.
    #[test]
    fn a_group_of_session_writes_commits_together() {
        let dir = tempfile::tempdir().unwrap();
        let db = AcsDb::open(&dir.path().join("t.db")).unwrap();
        let reboot = |k: &str| TaskRpc::Reboot {
            command_key: k.into(),
        };
        let a = db
            .insert_task("0011223344aa", &reboot("a1"), "api")
            .unwrap();
        db.insert_task("0011223344aa", &reboot("a2"), "api")
            .unwrap();
        let b = db
            .insert_task("0011223344bb", &reboot("b1"), "api")
            .unwrap();
        let done = db
            .insert_task("0011223344cc", &reboot("c1"), "api")
            .unwrap();
        let inform = |mac: &str| {
            SessionWrite::Inform(InformWrite {
                mac: mac.into(),
                clear: false,
                updates: vec![DmUpdate {
                    path: "Device.DeviceInfo.SoftwareVersion".into(),
                    value: Some(format!("sw-{mac}")),
                    ..DmUpdate::default()
                }],
                presets: Vec::new(),
                timeline: None,
                claim: 1,
            })
        };
        let results = db.write_group(&[
            inform("0011223344aa"),
            inform("0011223344bb"),
            SessionWrite::Finish(FinishWrite {
                id: done.id,
                state: TaskState::Done,
                result: serde_json::json!({"ok": true}),
                mac: "0011223344cc".into(),
                updates: Vec::new(),
                deleted_prefix: None,
            }),
        ]);
        let ids: Vec<Vec<i64>> = results
            .into_iter()
            .map(|r| r.unwrap().into_iter().map(|(id, _)| id).collect())
            .collect();
        assert_eq!(ids, vec![vec![a.id], vec![b.id], vec![]]);
        let state = |mac: &str, id| db.task(mac, id).unwrap().unwrap().state;
        assert_eq!(state("0011223344aa", a.id), TaskState::Sent);
        assert_eq!(state("0011223344cc", done.id), TaskState::Done);
        assert_eq!(
            db.dm_param("0011223344bb", "Device.DeviceInfo.SoftwareVersion")
                .unwrap()
                .unwrap()
                .0
                .as_deref(),
            Some("sw-0011223344bb")
        );
    }
}
