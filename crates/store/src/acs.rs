//! [`AcsRepo`]: the TR-069 ACS's durable task queue and per-device
//! data-model cache, and its SQLite implementation on [`Store`].
//!
//! Tasks are stored as the ACS gives them: a method name and the task as
//! JSON (the ACS crate owns the task type; storage only needs the JSON's
//! `command_key` field of Reboot and Download tasks, which a claim records).
//!
//! Task states: `queued` → `sent` (claimed by a session) → `done` or
//! `fault`; a Download answered with status 1 is `transferring` until its
//! TransferComplete arrives. A task `sent` in a session that dies goes back
//! to `queued`: at the device's next Inform every `sent` task of that
//! device is requeued (one session per device at a time, so they are
//! orphans), and the ACS requeues the tasks of sessions it drops. A task
//! sent its `max_attempts` times ([`TaskLimits`], default
//! [`DEFAULT_TASK_ATTEMPTS`]) without an answer becomes `fault`, and one
//! still queued past its `expires_ms` becomes `expired`, each with the
//! reason in its result, at its next claim (schema v7, issue 14 item 4);
//! an operator can cancel a `queued` task ([`AcsRepo::cancel_task`]:
//! `cancelled`, never sent).
//!
//! The session's hot-path writes ([`SessionWrite`]: an Inform's rows with
//! the claim of its first tasks, a task's result) are written in groups by
//! [`AcsRepo::session_writes`], one transaction per group (the timeline
//! writer, `crate::writer`, is the caller). A backend that serves several
//! nodes claims with `FOR UPDATE SKIP LOCKED` inside the same method.
//!
//! # Several nodes on one PostgreSQL database (issue 13)
//! - A claim locks the task row it takes (`FOR UPDATE SKIP LOCKED`): two
//!   sessions claiming at once, on one node or two, never get the same
//!   task, and neither waits for the other.
//! - A claim's lease is the device's session: the task stays `sent` until
//!   its result is written, its session ends (the ACS requeues it), or the
//!   device's **next Inform, on whichever node it arrives**, requeues
//!   every `sent` task of that device. A node killed in the middle of a
//!   session therefore holds nothing: the CPE's retry reaches another node
//!   and its first Inform there takes the tasks back. No clock is needed,
//!   because a device runs one session at a time (TR-069 §3.7.1.5).
//! - Every write of a session is committed before the ACS answers the
//!   CPE, so nothing is acknowledged that was not committed.

use serde::Serialize;

use crate::db::{vals, Dialect, Exec, Row};
use crate::error::Result;
use crate::model::{now_ms, NewEvent};
use crate::store::{write_batch_on, StatusUpdate, Store};
use crate::Mac;

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
    /// Cancelled by an operator before it was sent (issue 14 item 4).
    Cancelled,
    /// Not sent before its deadline (`expires_after`, issue 14 item 4).
    Expired,
}

impl TaskState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Queued => "queued",
            TaskState::Sent => "sent",
            TaskState::Transferring => "transferring",
            TaskState::Done => "done",
            TaskState::Fault => "fault",
            TaskState::Cancelled => "cancelled",
            TaskState::Expired => "expired",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<TaskState> {
        Some(match s {
            "queued" => TaskState::Queued,
            "sent" => TaskState::Sent,
            "transferring" => TaskState::Transferring,
            "done" => TaskState::Done,
            "fault" => TaskState::Fault,
            "cancelled" => TaskState::Cancelled,
            "expired" => TaskState::Expired,
            _ => return None,
        })
    }
}

/// A stored task row, before the ACS decodes its JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRow {
    /// Row id.
    pub id: i64,
    /// Device MAC (12 lowercase hex digits).
    pub mac: String,
    /// The task, as JSON.
    pub rpc: String,
    /// Current state, as stored.
    pub state: String,
    /// `api` or `preset`.
    pub source: String,
    /// CommandKey sent (Reboot, Download).
    pub command_key: Option<String>,
    /// How many times it was sent.
    pub attempts: i64,
    /// Response or fault, as JSON.
    pub result: Option<String>,
    /// Unix ms.
    pub created_ms: i64,
    /// Unix ms.
    pub updated_ms: i64,
    /// How many sends before it is given up (`fault`).
    pub max_attempts: i64,
    /// Unix ms after which it is no longer sent (`expired`); `None`: never.
    pub expires_ms: Option<i64>,
}

/// A task to queue.
#[derive(Debug, Clone, Copy)]
pub struct NewTask<'a> {
    /// The CWMP method (`Reboot`, `Download`, …).
    pub method: &'a str,
    /// The task as JSON.
    pub rpc: &'a str,
}

/// When a task stops being retried (issue 14 item 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskLimits {
    /// Sends without an answer before the task becomes `fault` (at least 1).
    pub max_attempts: i64,
    /// Unix ms after which a still queued task becomes `expired` instead
    /// of being sent; `None`: never.
    pub expires_ms: Option<i64>,
}

impl Default for TaskLimits {
    fn default() -> Self {
        TaskLimits {
            max_attempts: DEFAULT_TASK_ATTEMPTS,
            expires_ms: None,
        }
    }
}

/// One cached parameter of a device's data model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmEntry {
    /// TR-069 path.
    pub path: String,
    /// Last known value.
    pub value: Option<String>,
    /// `xsd` type name.
    pub kind: Option<String>,
    /// Writable, from GetParameterNames.
    pub writable: Option<bool>,
    /// Unix ms.
    pub updated_ms: i64,
}

/// A cached (value, type) pair; either may be unknown.
pub type ValueAndType = (Option<String>, Option<String>);

/// One parameter fact to cache; `None` fields keep what is stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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

/// A claimed task: its id and the task JSON.
pub type Claimed = (i64, String);

/// The timeline side of an Inform: the device's status and its event.
#[derive(Debug, Clone)]
pub struct InformRecord {
    /// The device.
    pub mac: Mac,
    /// Where the Inform came from.
    pub ip: std::net::IpAddr,
    /// The software version it reported.
    pub firmware: Option<String>,
    /// The `inform` timeline entry.
    pub event: NewEvent,
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
    /// Presets to queue (unless the same one is already queued):
    /// (method, task JSON).
    pub presets: Vec<(String, String)>,
    /// Status and timeline entry, for inventory devices.
    pub timeline: Option<InformRecord>,
    /// Tasks to claim for the session, at most.
    pub claim: usize,
}

/// A task's outcome and what it changes in the data-model cache, and up
/// to `claim` next tasks claimed for the session (returned), in one
/// transaction.
#[derive(Debug, Clone)]
pub struct FinishWrite {
    /// Task id.
    pub id: i64,
    /// New state.
    pub state: TaskState,
    /// Result JSON.
    pub result: String,
    /// The device.
    pub mac: String,
    /// Facts to cache.
    pub updates: Vec<DmUpdate>,
    /// An object path whose cached parameters are gone.
    pub deleted_prefix: Option<String>,
    /// Tasks of `mac` to claim for the session in the same transaction, at
    /// most (the session's next work, without a round trip of its own).
    pub claim: usize,
}

/// One write of a CWMP session, for [`AcsRepo::session_writes`].
#[derive(Debug, Clone)]
pub enum SessionWrite {
    /// An Inform.
    Inform(InformWrite),
    /// A task's result.
    Finish(FinishWrite),
}

/// Storage of the ACS.
pub trait AcsRepo {
    /// Queues a task for `mac` with the default [`TaskLimits`]; `source`
    /// is `api` or `preset` (presets get priority, so they are sent
    /// first). Returns its id.
    fn insert_task(&mut self, mac: &str, task: NewTask<'_>, source: &str) -> Result<i64> {
        self.queue_task(mac, task, source, TaskLimits::default())
    }

    /// [`AcsRepo::insert_task`] with the task's own limits.
    fn queue_task(
        &mut self,
        mac: &str,
        task: NewTask<'_>,
        source: &str,
        limits: TaskLimits,
    ) -> Result<i64>;

    /// Writes a group of session writes in one transaction and returns one
    /// result per write, in order (the tasks each write claimed). If the group fails as a whole each write is retried
    /// alone, so one bad write fails only itself.
    fn session_writes(&mut self, writes: &[SessionWrite]) -> Vec<Result<Vec<Claimed>>>;

    /// The tasks of `mac`, newest first (at most `limit`).
    fn tasks(&self, mac: &str, limit: usize) -> Result<Vec<TaskRow>>;

    /// One task of `mac`.
    fn task(&self, mac: &str, id: i64) -> Result<Option<TaskRow>>;

    /// Claims up to `limit` queued tasks of `mac` (presets first, then
    /// oldest): each is marked `sent`, its CommandKey recorded. Rows whose
    /// JSON does not parse are marked `fault` and skipped.
    fn claim_tasks(&mut self, mac: &str, limit: usize) -> Result<Vec<Claimed>>;

    /// Puts a `sent` task back in the queue (its session died).
    fn requeue_task(&mut self, id: i64) -> Result<bool>;

    /// Cancels a `queued` task of `mac` (state `cancelled`, never sent).
    /// Returns the task as it is afterwards and whether this call
    /// cancelled it (`false`: it was already sent or finished, see its
    /// state); `None` when `mac` has no such task.
    fn cancel_task(&mut self, mac: &str, id: i64) -> Result<Option<(bool, TaskRow)>>;

    /// The Download task of `mac` with this CommandKey (newest), and its
    /// result JSON.
    fn task_by_command_key(&self, mac: &str, key: &str) -> Result<Option<(i64, Option<String>)>>;

    /// The cached data model of `mac`, by path.
    fn data_model(&self, mac: &str) -> Result<Vec<DmEntry>>;

    /// One cached value and type.
    fn dm_param(&self, mac: &str, path: &str) -> Result<Option<ValueAndType>>;
}

/// How many times a task is sent, unless it says otherwise
/// ([`TaskLimits`]), before the ACS gives up on it: a task whose sessions
/// keep dying (the CPE reboots on it, the connection drops) is marked
/// `fault` with the reason at its next claim instead of being sent
/// forever. Also the column's default (schema v7).
pub const DEFAULT_TASK_ATTEMPTS: i64 = 5;

const COLS: &str = "id, mac, rpc, state, source, command_key, attempts, result, created_ms, \
     updated_ms, max_attempts, expires_ms";

/// The next task of a device's queue (SQLite: the caller holds the
/// write lock).
pub(crate) const NEXT_QUEUED: &str =
    "SELECT id, method, rpc, attempts, max_attempts, expires_ms FROM acs_tasks \
     WHERE mac = ?1 AND state = 'queued' ORDER BY priority DESC, id LIMIT 1";

/// The same for PostgreSQL: the row is locked for this transaction, and a
/// row another transaction has locked is skipped instead of waited for.
const NEXT_QUEUED_PG: &str =
    "SELECT id, method, rpc, attempts, max_attempts, expires_ms FROM acs_tasks \
     WHERE mac = ?1 AND state = 'queued' ORDER BY priority DESC, id LIMIT 1 \
     FOR UPDATE SKIP LOCKED";

fn insert_task_on(
    x: &mut Exec<'_, '_>,
    mac: &str,
    task: NewTask<'_>,
    source: &str,
    limits: TaskLimits,
) -> Result<i64> {
    let now = now_ms();
    let prio = i64::from(source == "preset");
    x.one(
        "INSERT INTO acs_tasks (mac, method, rpc, state, priority, source, created_ms, updated_ms, \
         max_attempts, expires_ms) \
         VALUES (?1, ?2, ?3, 'queued', ?4, ?5, ?6, ?6, ?7, ?8) RETURNING id",
        vals![
            mac,
            task.method,
            task.rpc,
            prio,
            source,
            now,
            limits.max_attempts.max(1),
            limits.expires_ms
        ],
    )?
    .get(0)
}

/// Queues a preset unless the same one is already queued for `mac` (a
/// session that dies before running its presets must not pile up copies).
fn insert_preset_on(x: &mut Exec<'_, '_>, mac: &str, task: NewTask<'_>) -> Result<()> {
    let exists = x.row(
        "SELECT id FROM acs_tasks WHERE mac = ?1 AND state = 'queued' AND source = 'preset' AND rpc = ?2",
        vals![mac, task.rpc],
    )?;
    if exists.is_none() {
        insert_task_on(x, mac, task, "preset", TaskLimits::default())?;
    }
    Ok(())
}

fn requeue_device_on(x: &mut Exec<'_, '_>, mac: &str) -> Result<u64> {
    x.exec(
        "UPDATE acs_tasks SET state = 'queued', updated_ms = ?2 WHERE mac = ?1 AND state = 'sent'",
        vals![mac, now_ms()],
    )
}

fn dm_upsert_on(x: &mut Exec<'_, '_>, mac: &str, updates: &[DmUpdate]) -> Result<()> {
    if updates.is_empty() {
        return Ok(());
    }
    let now = now_ms();
    if x.dialect() == Dialect::Postgres {
        return dm_upsert_set(x, mac, updates, now);
    }
    for u in updates {
        x.exec(
            "INSERT INTO acs_datamodel (mac, path, value, type, writable, updated_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(mac, path) DO UPDATE SET \
             value = coalesce(excluded.value, acs_datamodel.value), \
             type = coalesce(excluded.type, acs_datamodel.type), \
             writable = coalesce(excluded.writable, acs_datamodel.writable), \
             updated_ms = excluded.updated_ms",
            vals![
                mac,
                u.path.as_str(),
                u.value.as_deref(),
                u.kind.as_deref(),
                u.writable.map(i64::from),
                now
            ],
        )?;
    }
    Ok(())
}

/// PostgreSQL: all of an Inform's (or a response's) parameters in one
/// statement.
fn dm_upsert_set(x: &mut Exec<'_, '_>, mac: &str, updates: &[DmUpdate], now: i64) -> Result<()> {
    dm_upsert_sets(x, &[(mac, updates)], now)
}

/// PostgreSQL: the parameters of several devices (a group's writes) in
/// one statement. Facts about one path of one device are folded first, as
/// applying them in order would leave the row (an upsert may not touch a
/// row twice).
fn dm_upsert_sets(x: &mut Exec<'_, '_>, writes: &[(&str, &[DmUpdate])], now: i64) -> Result<()> {
    /// Value, type, writable.
    type Facts<'a> = (Option<&'a str>, Option<&'a str>, Option<bool>);
    let mut folded: std::collections::BTreeMap<(&str, &str), Facts<'_>> =
        std::collections::BTreeMap::new();
    for (mac, updates) in writes {
        for u in *updates {
            let e = folded.entry((mac, u.path.as_str())).or_default();
            e.0 = u.value.as_deref().or(e.0);
            e.1 = u.kind.as_deref().or(e.1);
            e.2 = u.writable.or(e.2);
        }
    }
    if folded.is_empty() {
        return Ok(());
    }
    let (mut macs, mut paths, mut values, mut kinds, mut writables) =
        (vec![], vec![], vec![], vec![], vec![]);
    for ((mac, path), (value, kind, writable)) in folded {
        macs.push(Some(mac.to_string()));
        paths.push(Some(path.to_string()));
        values.push(value.map(str::to_string));
        kinds.push(kind.map(str::to_string));
        writables.push(writable.map(i64::from));
    }
    x.exec(
        "INSERT INTO acs_datamodel (mac, path, value, type, writable, updated_ms) \
         SELECT mac, path, value, type, writable, ?6 \
         FROM unnest(?1::text[], ?2::text[], ?3::text[], ?4::text[], ?5::bigint[]) \
         AS u(mac, path, value, type, writable) \
         ON CONFLICT(mac, path) DO UPDATE SET \
         value = coalesce(excluded.value, acs_datamodel.value), \
         type = coalesce(excluded.type, acs_datamodel.type), \
         writable = coalesce(excluded.writable, acs_datamodel.writable), \
         updated_ms = excluded.updated_ms",
        vals![macs, paths, values, kinds, writables, now],
    )?;
    Ok(())
}

fn delete_prefix_on(x: &mut Exec<'_, '_>, mac: &str, prefix: &str) -> Result<()> {
    x.exec(
        "DELETE FROM acs_datamodel WHERE mac = ?1 AND substr(path, 1, length(?2)) = ?2",
        vals![mac, prefix],
    )?;
    Ok(())
}

fn inform_on(x: &mut Exec<'_, '_>, w: &InformWrite) -> Result<Vec<Claimed>> {
    requeue_device_on(x, &w.mac)?;
    if w.clear {
        x.exec(
            "DELETE FROM acs_datamodel WHERE mac = ?1",
            vals![w.mac.as_str()],
        )?;
    }
    dm_upsert_on(x, &w.mac, &w.updates)?;
    for (method, rpc) in &w.presets {
        insert_preset_on(x, &w.mac, NewTask { method, rpc })?;
    }
    if let Some(t) = &w.timeline {
        let status = StatusUpdate {
            mac: t.mac,
            ip: t.ip,
            firmware: t.firmware.as_deref(),
            outcome: None,
        };
        write_batch_on(
            x,
            std::slice::from_ref(&status),
            std::slice::from_ref(&t.event),
        )?;
    }
    claim_on(x, &w.mac, w.claim)
}

fn finish_on(x: &mut Exec<'_, '_>, w: &FinishWrite) -> Result<Vec<Claimed>> {
    x.exec(
        "UPDATE acs_tasks SET state = ?2, result = ?3, updated_ms = ?4 WHERE id = ?1",
        vals![w.id, w.state.as_str(), w.result.as_str(), now_ms()],
    )?;
    dm_upsert_on(x, &w.mac, &w.updates)?;
    if let Some(prefix) = &w.deleted_prefix {
        delete_prefix_on(x, &w.mac, prefix)?;
    }
    claim_on(x, &w.mac, w.claim)
}

/// One session write, inside the caller's transaction.
pub(crate) fn session_write_on(x: &mut Exec<'_, '_>, w: &SessionWrite) -> Result<Vec<Claimed>> {
    match w {
        SessionWrite::Inform(i) => inform_on(x, i),
        SessionWrite::Finish(f) => finish_on(x, f),
    }
}

/// A group of session writes inside the caller's transaction; what each
/// claimed. On PostgreSQL a group whose writes name distinct devices runs
/// set-based ([`session_group_sets`]); otherwise (SQLite, where a
/// statement is a b-tree step in the same process, or a device named
/// twice, whose writes must apply in order) one write after the other.
pub(crate) fn session_group_on(
    x: &mut Exec<'_, '_>,
    writes: &[SessionWrite],
) -> Result<Vec<Vec<Claimed>>> {
    if x.dialect() == Dialect::Postgres && writes.len() > 1 {
        let mut macs: Vec<&str> = writes.iter().map(SessionWrite::mac).collect();
        macs.sort_unstable();
        let distinct = macs.windows(2).all(|w| w[0] != w[1]);
        if distinct && macs.iter().all(|m| !m.is_empty()) {
            return session_group_sets(x, writes);
        }
    }
    writes.iter().map(|w| session_write_on(x, w)).collect()
}

impl SessionWrite {
    /// The device the write is about (empty: a transfer's result, found by
    /// its CommandKey).
    fn mac(&self) -> &str {
        match self {
            SessionWrite::Inform(i) => &i.mac,
            SessionWrite::Finish(f) => &f.mac,
        }
    }
}

/// PostgreSQL: a group's writes (each of another device) in a fixed number
/// of statements whatever the group's size, instead of about ten round
/// trips per write (issue 13: the writer thread waits for each). Each
/// device sees its own writes in the order [`inform_on`] / [`finish_on`]
/// apply them; devices are independent, so phase by phase is the same.
fn session_group_sets(x: &mut Exec<'_, '_>, writes: &[SessionWrite]) -> Result<Vec<Vec<Claimed>>> {
    let now = now_ms();
    let informs: Vec<&InformWrite> = writes
        .iter()
        .filter_map(|w| match w {
            SessionWrite::Inform(i) => Some(i),
            SessionWrite::Finish(_) => None,
        })
        .collect();
    let finishes: Vec<&FinishWrite> = writes
        .iter()
        .filter_map(|w| match w {
            SessionWrite::Finish(f) => Some(f),
            SessionWrite::Inform(_) => None,
        })
        .collect();
    let text = |v: &mut dyn Iterator<Item = &str>| -> Vec<Option<String>> {
        v.map(|s| Some(s.to_string())).collect()
    };
    if !informs.is_empty() {
        // Tasks left `sent` by the devices' earlier sessions.
        x.exec(
            "UPDATE acs_tasks SET state = 'queued', updated_ms = ?2 \
             WHERE mac = ANY(?1::text[]) AND state = 'sent'",
            vals![text(&mut informs.iter().map(|i| i.mac.as_str())), now],
        )?;
        let cleared = text(&mut informs.iter().filter(|i| i.clear).map(|i| i.mac.as_str()));
        if !cleared.is_empty() {
            x.exec(
                "DELETE FROM acs_datamodel WHERE mac = ANY(?1::text[])",
                vals![cleared],
            )?;
        }
    }
    if !finishes.is_empty() {
        let ids: Vec<Option<i64>> = finishes.iter().map(|f| Some(f.id)).collect();
        x.exec(
            "UPDATE acs_tasks AS t SET state = u.state, result = u.result, updated_ms = ?4 \
             FROM unnest(?1::bigint[], ?2::text[], ?3::text[]) AS u(id, state, result) \
             WHERE t.id = u.id",
            vals![
                ids,
                text(&mut finishes.iter().map(|f| f.state.as_str())),
                text(&mut finishes.iter().map(|f| f.result.as_str())),
                now
            ],
        )?;
    }
    let updates: Vec<(&str, &[DmUpdate])> = writes
        .iter()
        .map(|w| match w {
            SessionWrite::Inform(i) => (i.mac.as_str(), i.updates.as_slice()),
            SessionWrite::Finish(f) => (f.mac.as_str(), f.updates.as_slice()),
        })
        .collect();
    dm_upsert_sets(x, &updates, now)?;
    for f in &finishes {
        if let Some(prefix) = &f.deleted_prefix {
            delete_prefix_on(x, &f.mac, prefix)?;
        }
    }
    // Presets, in order, unless the same one is queued already (or comes
    // earlier in the same Inform).
    let mut presets: Vec<(&str, &str, &str)> = Vec::new();
    for i in &informs {
        for (method, rpc) in &i.presets {
            let p = (i.mac.as_str(), method.as_str(), rpc.as_str());
            if !presets.iter().any(|q| (q.0, q.2) == (p.0, p.2)) {
                presets.push(p);
            }
        }
    }
    if !presets.is_empty() {
        x.exec(
            "INSERT INTO acs_tasks (mac, method, rpc, state, priority, source, created_ms, \
             updated_ms, max_attempts, expires_ms) \
             SELECT u.mac, u.method, u.rpc, 'queued', 1, 'preset', ?4, ?4, ?5, NULL \
             FROM unnest(?1::text[], ?2::text[], ?3::text[]) WITH ORDINALITY AS u(mac, method, rpc, n) \
             WHERE NOT EXISTS (SELECT 1 FROM acs_tasks AS q WHERE q.mac = u.mac \
             AND q.state = 'queued' AND q.source = 'preset' AND q.rpc = u.rpc) \
             ORDER BY u.n",
            vals![
                text(&mut presets.iter().map(|p| p.0)),
                text(&mut presets.iter().map(|p| p.1)),
                text(&mut presets.iter().map(|p| p.2)),
                now,
                TaskLimits::default().max_attempts.max(1)
            ],
        )?;
    }
    let statuses: Vec<StatusUpdate<'_>> = informs
        .iter()
        .filter_map(|i| i.timeline.as_ref())
        .map(|t| StatusUpdate {
            mac: t.mac,
            ip: t.ip,
            firmware: t.firmware.as_deref(),
            outcome: None,
        })
        .collect();
    let events: Vec<NewEvent> = informs
        .iter()
        .filter_map(|i| i.timeline.as_ref())
        .map(|t| t.event.clone())
        .collect();
    if !statuses.is_empty() {
        write_batch_on(x, &statuses, &events)?;
    }
    let wants: Vec<(&str, usize)> = writes
        .iter()
        .map(|w| match w {
            SessionWrite::Inform(i) => (i.mac.as_str(), i.claim),
            SessionWrite::Finish(f) => (f.mac.as_str(), f.claim),
        })
        .collect();
    let mut claimed = claim_sets(x, &wants)?;
    Ok(wants
        .iter()
        .map(|(mac, _)| claimed.remove(*mac).unwrap_or_default())
        .collect())
}

/// PostgreSQL: claims up to `limit` queued tasks of each device in one
/// query (rows locked, locked ones skipped, as [`claim_on`]) and one
/// update; a device whose candidates were given up ([`give_up`]) or did
/// not parse is asked again for the rest, as [`claim_on`] goes on.
fn claim_sets<'m>(
    x: &mut Exec<'_, '_>,
    wants: &[(&'m str, usize)],
) -> Result<std::collections::HashMap<&'m str, Vec<Claimed>>> {
    let mut out: std::collections::HashMap<&str, Vec<Claimed>> = std::collections::HashMap::new();
    let mut ask: Vec<(&str, usize)> = wants.iter().copied().filter(|w| w.1 > 0).collect();
    while !ask.is_empty() {
        let macs: Vec<Option<String>> = ask.iter().map(|a| Some(a.0.to_string())).collect();
        let limits: Vec<Option<i64>> = ask
            .iter()
            .map(|a| Some(i64::try_from(a.1).unwrap_or(i64::MAX)))
            .collect();
        let rows = x.rows(
            "SELECT m.mac, t.id, t.method, t.rpc, t.attempts, t.max_attempts, t.expires_ms \
             FROM unnest(?1::text[], ?2::bigint[]) WITH ORDINALITY AS m(mac, lim, n) \
             CROSS JOIN LATERAL (SELECT id, method, rpc, attempts, max_attempts, expires_ms, \
             priority FROM acs_tasks WHERE mac = m.mac AND state = 'queued' \
             ORDER BY priority DESC, id LIMIT m.lim FOR UPDATE SKIP LOCKED) AS t \
             ORDER BY m.n, t.priority DESC, t.id",
            vals![macs, limits],
        )?;
        let now = now_ms();
        let (mut sent_ids, mut sent_keys) = (Vec::new(), Vec::new());
        let (mut end_ids, mut end_states, mut end_results) = (Vec::new(), Vec::new(), Vec::new());
        let mut short: std::collections::HashMap<String, usize> = Default::default();
        for row in &rows {
            let mac: String = row.get(0)?;
            let (id, method, json): (i64, String, String) = (row.get(1)?, row.get(2)?, row.get(3)?);
            let (attempts, max): (i64, i64) = (row.get(4)?, row.get(5)?);
            let expires: Option<i64> = row.get(6)?;
            let ended = if let Some((state, result)) = give_up(attempts, max, expires, now) {
                Some((state, result))
            } else {
                match serde_json::from_str::<serde_json::Value>(&json) {
                    Ok(task) => {
                        sent_ids.push(Some(id));
                        sent_keys.push(command_key(id, &method, &task));
                        let (key, _) = ask.iter().find(|a| a.0 == mac).copied().unwrap_or_default();
                        out.entry(key).or_default().push((id, json));
                        None
                    }
                    Err(e) => Some((
                        TaskState::Fault,
                        serde_json::json!({"error": format!("unreadable task: {e}")}),
                    )),
                }
            };
            if let Some((state, result)) = ended {
                end_ids.push(Some(id));
                end_states.push(Some(state.as_str().to_string()));
                end_results.push(Some(result.to_string()));
                *short.entry(mac).or_default() += 1;
            }
        }
        if !sent_ids.is_empty() {
            x.exec(
                "UPDATE acs_tasks AS t SET state = 'sent', command_key = u.key, \
                 attempts = t.attempts + 1, updated_ms = ?3 \
                 FROM unnest(?1::bigint[], ?2::text[]) AS u(id, key) WHERE t.id = u.id",
                vals![sent_ids, sent_keys, now],
            )?;
        }
        if !end_ids.is_empty() {
            x.exec(
                "UPDATE acs_tasks AS t SET state = u.state, result = u.result, updated_ms = ?4 \
                 FROM unnest(?1::bigint[], ?2::text[], ?3::text[]) AS u(id, state, result) \
                 WHERE t.id = u.id",
                vals![end_ids, end_states, end_results, now],
            )?;
        }
        // Only a device that lost candidates may have more queued than it
        // got; it is asked for what it still wants.
        ask = ask
            .into_iter()
            .filter(|a| short.contains_key(a.0))
            .map(|(mac, lim)| (mac, lim - out.get(mac).map_or(0, Vec::len)))
            .filter(|a| a.1 > 0)
            .collect();
    }
    Ok(out)
}

/// The CommandKey a claim records: the task's own `command_key` for the
/// methods that carry one (Reboot, Download), `phoneprov-task-<id>` when
/// it is empty; `None` for the other methods.
fn command_key(id: i64, method: &str, task: &serde_json::Value) -> Option<String> {
    if method != "Reboot" && method != "Download" {
        return None;
    }
    let key = task
        .get("command_key")
        .and_then(|k| k.as_str())
        .unwrap_or("");
    Some(if key.is_empty() {
        format!("phoneprov-task-{id}")
    } else {
        key.to_string()
    })
}

/// Claims up to `limit` queued tasks of `mac`, inside the caller's
/// transaction.
fn claim_on(x: &mut Exec<'_, '_>, mac: &str, limit: usize) -> Result<Vec<Claimed>> {
    let next = match x.dialect() {
        Dialect::Sqlite => NEXT_QUEUED,
        Dialect::Postgres => NEXT_QUEUED_PG,
    };
    let mut out = Vec::new();
    while out.len() < limit {
        let Some(row) = x.row(next, vals![mac])? else {
            break;
        };
        let (id, method, json): (i64, String, String) = (row.get(0)?, row.get(1)?, row.get(2)?);
        let (attempts, max): (i64, i64) = (row.get(3)?, row.get(4)?);
        let expires: Option<i64> = row.get(5)?;
        let now = now_ms();
        if let Some((state, result)) = give_up(attempts, max, expires, now) {
            x.exec(
                "UPDATE acs_tasks SET state = ?2, result = ?3, updated_ms = ?4 WHERE id = ?1",
                vals![id, state.as_str(), result.to_string(), now],
            )?;
            continue;
        }
        match serde_json::from_str::<serde_json::Value>(&json) {
            Ok(task) => {
                x.exec(
                    "UPDATE acs_tasks SET state = 'sent', command_key = ?2, \
                     attempts = attempts + 1, updated_ms = ?3 WHERE id = ?1",
                    vals![id, command_key(id, &method, &task), now_ms()],
                )?;
                out.push((id, json));
            }
            Err(e) => {
                let result = serde_json::json!({"error": format!("unreadable task: {e}")});
                x.exec(
                    "UPDATE acs_tasks SET state = 'fault', result = ?2, updated_ms = ?3 WHERE id = ?1",
                    vals![id, result.to_string(), now_ms()],
                )?;
            }
        }
    }
    Ok(out)
}

/// Whether a queued task is no longer sent, and why (issue 14 item 4):
/// past its deadline it is `expired`; sent `max` times and never answered
/// (every session ended before the CPE's response) it is `fault`.
fn give_up(
    attempts: i64,
    max: i64,
    expires: Option<i64>,
    now: i64,
) -> Option<(TaskState, serde_json::Value)> {
    if let Some(at) = expires.filter(|&at| now >= at) {
        let at = humantime::format_rfc3339_seconds(
            std::time::UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(at).ok()?),
        );
        return Some((
            TaskState::Expired,
            serde_json::json!({
                "error": format!(
                    "expired at {at} (expires_after) before the device's session could run it \
                     ({attempts} attempts)"
                ),
                "attempts": attempts,
            }),
        ));
    }
    (attempts >= max).then(|| {
        (
            TaskState::Fault,
            serde_json::json!({
                "error": format!(
                    "gave up after {attempts} attempts (max_attempts {max}): each session \
                     ended before the CPE answered"
                ),
                "attempts": attempts,
            }),
        )
    })
}

fn task_row(r: &Row) -> Result<TaskRow> {
    Ok(TaskRow {
        id: r.get(0)?,
        mac: r.get(1)?,
        rpc: r.get(2)?,
        state: r.get(3)?,
        source: r.get(4)?,
        command_key: r.get(5)?,
        attempts: r.get(6)?,
        result: r.get(7)?,
        created_ms: r.get(8)?,
        updated_ms: r.get(9)?,
        max_attempts: r.get(10)?,
        expires_ms: r.get(11)?,
    })
}

impl Store {
    /// The timeline writer's batch in one transaction: status rows and
    /// events ([`Store::write_batch`]'s writes) and session writes; returns
    /// what each session write claimed. All or nothing.
    pub(crate) fn write_group(
        &mut self,
        statuses: &[StatusUpdate<'_>],
        events: &[NewEvent],
        sessions: &[SessionWrite],
    ) -> Result<Vec<Vec<Claimed>>> {
        self.tx(|x| {
            write_batch_on(x, statuses, events)?;
            session_group_on(x, sessions)
        })
    }

    /// One session write in a transaction of its own.
    fn session_write_alone(&mut self, w: &SessionWrite) -> Result<Vec<Claimed>> {
        self.tx(|x| session_write_on(x, w))
    }
}

impl AcsRepo for Store {
    fn queue_task(
        &mut self,
        mac: &str,
        task: NewTask<'_>,
        source: &str,
        limits: TaskLimits,
    ) -> Result<i64> {
        self.tx(|x| insert_task_on(x, mac, task, source, limits))
    }

    fn session_writes(&mut self, writes: &[SessionWrite]) -> Vec<Result<Vec<Claimed>>> {
        if let [w] = writes {
            return vec![self.session_write_alone(w)];
        }
        let together = self.tx(|x| session_group_on(x, writes));
        match together {
            Ok(out) => out.into_iter().map(Ok).collect(),
            Err(_) => writes.iter().map(|w| self.session_write_alone(w)).collect(),
        }
    }

    fn tasks(&self, mac: &str, limit: usize) -> Result<Vec<TaskRow>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(|x| {
            x.rows(
                &format!("SELECT {COLS} FROM acs_tasks WHERE mac = ?1 ORDER BY id DESC LIMIT ?2"),
                vals![mac, limit],
            )
        })?
        .iter()
        .map(task_row)
        .collect()
    }

    fn task(&self, mac: &str, id: i64) -> Result<Option<TaskRow>> {
        self.run(|x| {
            x.row(
                &format!("SELECT {COLS} FROM acs_tasks WHERE mac = ?1 AND id = ?2"),
                vals![mac, id],
            )
        })?
        .as_ref()
        .map(task_row)
        .transpose()
    }

    fn claim_tasks(&mut self, mac: &str, limit: usize) -> Result<Vec<Claimed>> {
        // The common answer, nothing queued, is a read without a write
        // transaction.
        let queued: bool = self.run(|x| {
            x.one(
                "SELECT EXISTS (SELECT 1 FROM acs_tasks WHERE mac = ?1 AND state = 'queued')",
                vals![mac],
            )?
            .get(0)
        })?;
        if !queued {
            return Ok(Vec::new());
        }
        self.tx(|x| claim_on(x, mac, limit))
    }

    fn requeue_task(&mut self, id: i64) -> Result<bool> {
        let n = self.run(|x| {
            x.exec(
                "UPDATE acs_tasks SET state = 'queued', updated_ms = ?2 WHERE id = ?1 AND state = 'sent'",
                vals![id, now_ms()],
            )
        })?;
        Ok(n > 0)
    }

    fn cancel_task(&mut self, mac: &str, id: i64) -> Result<Option<(bool, TaskRow)>> {
        let n = self.run(|x| {
            x.exec(
                "UPDATE acs_tasks SET state = 'cancelled', result = ?3, updated_ms = ?4 \
                 WHERE mac = ?1 AND id = ?2 AND state = 'queued'",
                vals![mac, id, r#"{"cancelled":"by an operator"}"#, now_ms()],
            )
        })?;
        Ok(self.task(mac, id)?.map(|row| (n > 0, row)))
    }

    fn task_by_command_key(&self, mac: &str, key: &str) -> Result<Option<(i64, Option<String>)>> {
        self.run(|x| {
            x.row(
                "SELECT id, result FROM acs_tasks WHERE mac = ?1 AND command_key = ?2 \
                 AND method = 'Download' ORDER BY id DESC LIMIT 1",
                vals![mac, key],
            )
        })?
        .map(|r| Ok((r.get(0)?, r.get(1)?)))
        .transpose()
    }

    fn data_model(&self, mac: &str) -> Result<Vec<DmEntry>> {
        self.run(|x| {
            x.rows(
                "SELECT path, value, type, writable, updated_ms FROM acs_datamodel WHERE mac = ?1 ORDER BY path",
                vals![mac],
            )
        })?
        .iter()
        .map(|r| {
            Ok(DmEntry {
                path: r.get(0)?,
                value: r.get(1)?,
                kind: r.get(2)?,
                writable: r.get(3)?,
                updated_ms: r.get(4)?,
            })
        })
        .collect()
    }

    fn dm_param(&self, mac: &str, path: &str) -> Result<Option<ValueAndType>> {
        self.run(|x| {
            x.row(
                "SELECT value, type FROM acs_datamodel WHERE mac = ?1 AND path = ?2",
                vals![mac, path],
            )
        })?
        .map(|r| Ok((r.get(0)?, r.get(1)?)))
        .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TestDb;

    /// Tasks claimed with an Inform, as the ACS does.
    const PREFETCH_TEST: usize = 4;

    fn reboot(key: &str) -> String {
        format!(r#"{{"rpc":"Reboot","command_key":"{key}"}}"#)
    }

    on_both! {
        /// Issue 14 item 4: a task whose sessions keep ending stops after
        /// DEFAULT_TASK_ATTEMPTS sends and says why.
        fn a_task_that_keeps_failing_stops_and_says_why(db: &TestDb) {
            let mut s = db.store();
            let mac = "000e08abcdef";
            let rpc = reboot("k");
            let id = s.insert_task(mac, NewTask { method: "Reboot", rpc: &rpc }, "api").unwrap();
            for n in 1..=DEFAULT_TASK_ATTEMPTS {
                let claimed = s.claim_tasks(mac, 4).unwrap();
                assert_eq!(claimed.len(), 1, "attempt {n}");
                assert!(s.requeue_task(id).unwrap());
            }
            assert!(s.claim_tasks(mac, 4).unwrap().is_empty());
            let row = s.task(mac, id).unwrap().unwrap();
            assert_eq!(row.state, "fault");
            assert_eq!(row.attempts, DEFAULT_TASK_ATTEMPTS);
            assert_eq!(row.max_attempts, DEFAULT_TASK_ATTEMPTS);
            let result = row.result.unwrap();
            assert!(result.contains("gave up after 5 attempts"), "{result}");
        }
    }

    on_both! {
        /// Issue 14 item 4: a task's own max_attempts replaces the default;
        /// a task past its deadline is `expired` and never sent, and says
        /// when; one whose deadline is ahead is sent.
        fn per_task_attempts_and_expiry(db: &TestDb) {
            let mut s = db.store();
            let mac = "000e08abcdef";
            let (a, b, c) = (reboot("a"), reboot("b"), reboot("c"));
            let limits = |max_attempts, expires_ms| TaskLimits { max_attempts, expires_ms };
            let twice = s
                .queue_task(mac, NewTask { method: "Reboot", rpc: &a }, "api", limits(2, None))
                .unwrap();
            let past = s
                .queue_task(mac, NewTask { method: "Reboot", rpc: &b }, "api", limits(5, Some(now_ms() - 1)))
                .unwrap();
            let ahead = s
                .queue_task(
                    mac,
                    NewTask { method: "Reboot", rpc: &c },
                    "api",
                    limits(5, Some(now_ms() + 3_600_000)),
                )
                .unwrap();
            let ids = |v: Vec<Claimed>| v.into_iter().map(|c| c.0).collect::<Vec<_>>();
            assert_eq!(ids(s.claim_tasks(mac, 4).unwrap()), [twice, ahead]);
            let expired = s.task(mac, past).unwrap().unwrap();
            assert_eq!(expired.state, "expired");
            assert_eq!(expired.attempts, 0);
            let why = expired.result.unwrap();
            assert!(why.contains("expired at") && why.contains("expires_after"), "{why}");
            assert!(s.requeue_task(twice).unwrap());
            assert_eq!(ids(s.claim_tasks(mac, 4).unwrap()), [twice]);
            assert!(s.requeue_task(twice).unwrap());
            assert!(s.claim_tasks(mac, 4).unwrap().is_empty());
            let row = s.task(mac, twice).unwrap().unwrap();
            assert_eq!((row.state.as_str(), row.attempts, row.max_attempts), ("fault", 2, 2));
            assert!(row.result.unwrap().contains("max_attempts 2"));
            assert!(s.task(mac, ahead).unwrap().unwrap().expires_ms.is_some());
        }
    }

    on_both! {
        /// Issue 14 item 4: a queued task is cancelled and never claimed;
        /// a sent one is not cancelled and says its state; another
        /// device's task id is not found.
        fn a_queued_task_is_cancelled_and_never_sent(db: &TestDb) {
            let mut s = db.store();
            let mac = "000e08abcdef";
            let task = |k: &str| reboot(k);
            let (a, b) = (task("a"), task("b"));
            let first = s.insert_task(mac, NewTask { method: "Reboot", rpc: &a }, "api").unwrap();
            let second = s.insert_task(mac, NewTask { method: "Reboot", rpc: &b }, "api").unwrap();
            let (did, row) = s.cancel_task(mac, second).unwrap().unwrap();
            assert!(did);
            assert_eq!(row.state, "cancelled");
            assert!(row.result.unwrap().contains("operator"));
            let claimed = s.claim_tasks(mac, 4).unwrap();
            assert_eq!(claimed.iter().map(|c| c.0).collect::<Vec<_>>(), [first]);
            let (did, row) = s.cancel_task(mac, first).unwrap().unwrap();
            assert!(!did, "a sent task is not cancelled");
            assert_eq!(row.state, "sent");
            assert!(s.cancel_task("000e08000000", first).unwrap().is_none());
            assert!(s.cancel_task(mac, 9999).unwrap().is_none());
        }
    }

    fn queue(s: &mut Store, mac: &str, json: &str) -> i64 {
        s.insert_task(
            mac,
            NewTask {
                method: "Reboot",
                rpc: json,
            },
            "api",
        )
        .unwrap()
    }

    /// Claims keep their prepared statement: with the bundled SQLite's
    /// STAT4 and no query-planner stability, the queue query (it has an
    /// `ORDER BY`) was re-prepared at every rebinding of the MAC.
    #[test]
    fn claims_do_not_reprepare_the_queue_query() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path()).unwrap();
        for i in 0..50 {
            let mac = format!("0011223344{i:02x}");
            let id = queue(&mut s, &mac, &reboot(""));
            let claimed = s.claim_tasks(&mac, 1).unwrap();
            assert_eq!(claimed.len(), 1);
            assert!(s.claim_tasks(&mac, 1).unwrap().is_empty());
            let row = s.task(&mac, id).unwrap().unwrap();
            assert_eq!(row.state, "sent");
            assert_eq!(
                row.command_key.as_deref(),
                Some(format!("phoneprov-task-{id}").as_str())
            );
        }
        s.sqlite(|c| {
            let stmt = c.prepare_cached(NEXT_QUEUED).unwrap();
            assert_eq!(
                stmt.get_status(rusqlite::StatementStatus::RePrepare),
                0,
                "the queue query was re-prepared"
            );
        });
    }

    on_both! {
        /// One group commit: each Inform claims its own device's tasks (in
        /// queue order), a task result in the same group is recorded and
        /// claims its device's next task, and each write gets its own
        /// answer.
        fn a_group_of_session_writes_commits_together(db: &TestDb) {
            let mut s = db.store();
            let a = queue(&mut s, "0011223344aa", &reboot("a1"));
            queue(&mut s, "0011223344aa", &reboot("a2"));
            let b = queue(&mut s, "0011223344bb", &reboot("b1"));
            let done = queue(&mut s, "0011223344cc", &reboot("c1"));
            // c1 is the session's task in flight; its result claims c2.
            assert_eq!(s.claim_tasks("0011223344cc", 1).unwrap().len(), 1);
            let c2 = queue(&mut s, "0011223344cc", &reboot("c2"));
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
            let results = s.session_writes(&[
                inform("0011223344aa"),
                inform("0011223344bb"),
                SessionWrite::Finish(FinishWrite {
                    id: done,
                    state: TaskState::Done,
                    result: r#"{"ok":true}"#.into(),
                    mac: "0011223344cc".into(),
                    updates: Vec::new(),
                    deleted_prefix: None,
                    claim: 2,
                }),
            ]);
            let ids: Vec<Vec<i64>> = results
                .into_iter()
                .map(|r| r.unwrap().into_iter().map(|(id, _)| id).collect())
                .collect();
            assert_eq!(ids, vec![vec![a], vec![b], vec![c2]]);
            assert_eq!(s.task("0011223344cc", c2).unwrap().unwrap().state, "sent");
            let row = s.task("0011223344aa", a).unwrap().unwrap();
            assert_eq!(
                (row.state.as_str(), row.command_key.as_deref()),
                ("sent", Some("a1"))
            );
            assert_eq!(s.task("0011223344cc", done).unwrap().unwrap().state, "done");
            assert_eq!(
                s.dm_param("0011223344bb", "Device.DeviceInfo.SoftwareVersion")
                    .unwrap()
                    .unwrap()
                    .0
                    .as_deref(),
                Some("sw-0011223344bb")
            );
        }
    }

    on_both! {
        /// A group of writes of several devices (set-based on PostgreSQL)
        /// leaves each device as the same writes one at a time do: tasks of
        /// a dead session requeued, the cache cleared on bootstrap and
        /// filled, presets queued once, status and timeline written, a
        /// result recorded with its deleted object, and each device's next
        /// tasks claimed in queue order, past one that ran out of attempts
        /// and one already expired.
        fn a_group_writes_each_device_as_one_at_a_time(db: &TestDb) {
            let mut s = db.store();
            let ip: std::net::IpAddr = "192.0.2.7".parse().unwrap();
            // Device n of a set: `base` + n.
            let mac = |base: u64, n: u64| Mac::parse(&format!("{:012x}", base + n)).unwrap();
            let setup = |s: &mut Store, base: u64| {
                for n in 0..4 {
                    s.add_device(&crate::NewDevice::new(mac(base, n))).unwrap();
                }
                let m = |n| mac(base, n).to_string();
                // 0: a task left `sent` by a dead session, then two queued.
                queue(s, &m(0), &reboot("left"));
                assert_eq!(s.claim_tasks(&m(0), 1).unwrap().len(), 1);
                queue(s, &m(0), &reboot("q1"));
                // 1: a task out of attempts and an expired one ahead of a good one.
                let tired = TaskLimits { max_attempts: 1, expires_ms: None };
                let tired_id = s
                    .queue_task(&m(1), NewTask { method: "Reboot", rpc: &reboot("tired") }, "api", tired)
                    .unwrap();
                assert_eq!(s.claim_tasks(&m(1), 1).unwrap().len(), 1);
                assert!(s.requeue_task(tired_id).unwrap());
                let gone = TaskLimits { max_attempts: 5, expires_ms: Some(1) };
                s.queue_task(&m(1), NewTask { method: "Reboot", rpc: &reboot("gone") }, "api", gone)
                    .unwrap();
                for k in ["g1", "g2", "g3", "g4", "g5"] {
                    queue(s, &m(1), &reboot(k));
                }
                // 2: the session's task in flight, with a cached object.
                let inflight = queue(s, &m(2), &reboot("run"));
                assert_eq!(s.claim_tasks(&m(2), 1).unwrap().len(), 1);
                queue(s, &m(2), &reboot("next"));
                s.session_writes(&[SessionWrite::Inform(InformWrite {
                    mac: m(2),
                    clear: false,
                    updates: vec![
                        DmUpdate { path: "Device.X.1.A".into(), value: Some("a".into()), ..DmUpdate::default() },
                        DmUpdate { path: "Device.Y".into(), value: Some("y".into()), ..DmUpdate::default() },
                    ],
                    presets: Vec::new(),
                    timeline: None,
                    claim: 0,
                })])
                .pop()
                .unwrap()
                .unwrap();
                // 3: an old cache a bootstrap clears, and a preset already queued.
                s.session_writes(&[SessionWrite::Inform(InformWrite {
                    mac: m(3),
                    clear: false,
                    updates: vec![DmUpdate { path: "Device.Old".into(), value: Some("o".into()), ..DmUpdate::default() }],
                    presets: vec![("Reboot".into(), reboot("p1"))],
                    timeline: None,
                    claim: 0,
                })])
                .pop()
                .unwrap()
                .unwrap();
                inflight
            };
            let writes = |base: u64, inflight: i64| {
                let inform = |n: u64, clear: bool, presets: Vec<(String, String)>| {
                    let mac = mac(base, n);
                    SessionWrite::Inform(InformWrite {
                        mac: mac.to_string(),
                        clear,
                        updates: vec![
                            DmUpdate { path: "Device.DeviceInfo.SoftwareVersion".into(), value: Some(format!("sw{n}")), ..DmUpdate::default() },
                            DmUpdate { path: "Device.DeviceInfo.SoftwareVersion".into(), kind: Some("xsd:string".into()), ..DmUpdate::default() },
                        ],
                        presets,
                        timeline: Some(InformRecord {
                            mac,
                            ip,
                            firmware: Some(format!("sw{n}")),
                            event: NewEvent {
                                mac,
                                at_ms: now_ms(),
                                kind: crate::EventKind::Inform,
                                outcome: None,
                                source_ip: Some(ip),
                                message: format!("Inform {n}"),
                            },
                        }),
                        claim: PREFETCH_TEST,
                    })
                };
                let p = |k: &str| ("Reboot".to_string(), reboot(k));
                vec![
                    inform(0, false, vec![p("p0"), p("p0")]),
                    inform(1, false, Vec::new()),
                    SessionWrite::Finish(FinishWrite {
                        id: inflight,
                        state: TaskState::Done,
                        result: r#"{"ok":true}"#.into(),
                        mac: mac(base, 2).to_string(),
                        updates: vec![DmUpdate { path: "Device.Z".into(), value: Some("z".into()), ..DmUpdate::default() }],
                        deleted_prefix: Some("Device.X.1.".into()),
                        claim: PREFETCH_TEST,
                    }),
                    inform(3, true, vec![p("p1"), p("p2")]),
                ]
            };
            // What a device holds afterwards, without ids (the two sets'
            // ids differ): its tasks, cache, status and timeline.
            let snapshot = |s: &Store, base: u64, claimed: &[Vec<Claimed>]| {
                let rpcs: Vec<Vec<String>> = claimed
                    .iter()
                    .map(|c| c.iter().map(|(_, json)| json.clone()).collect())
                    .collect();
                let per_device: Vec<_> = (0..4)
                    .map(|n| {
                        let m = mac(base, n);
                        let mut tasks: Vec<_> = s
                            .tasks(&m.to_string(), 100)
                            .unwrap()
                            .into_iter()
                            .map(|t| {
                                let key = t.command_key.map(|k| k.starts_with("phoneprov-task-").then(String::new).unwrap_or(k));
                                let result = t.result.map(|r| r.split(" at ").next().unwrap_or_default().to_string());
                                (t.rpc, t.state, key, t.attempts, t.source, result)
                            })
                            .collect();
                        tasks.sort();
                        let dm: Vec<_> = s
                            .data_model(&m.to_string())
                            .unwrap()
                            .into_iter()
                            .map(|e| (e.path, e.value, e.kind, e.writable))
                            .collect();
                        let status = s.device(m).unwrap().unwrap().status;
                        let events: Vec<_> = s.events(m, 10).unwrap().into_iter().map(|e| e.message).collect();
                        (tasks, dm, status.ip, status.firmware, status.last_seen_ms.is_some(), events)
                    })
                    .collect();
                (rpcs, per_device)
            };
            let (one, group) = (0x0011_2233_4400_u64, 0x0011_2233_4500_u64);
            let inflight = setup(&mut s, one);
            let alone: Vec<Vec<Claimed>> = writes(one, inflight)
                .iter()
                .map(|w| s.session_writes(std::slice::from_ref(w)).pop().unwrap().unwrap())
                .collect();
            let inflight = setup(&mut s, group);
            let together: Vec<Vec<Claimed>> = s
                .session_writes(&writes(group, inflight))
                .into_iter()
                .map(|r| r.unwrap())
                .collect();
            let (a, g) = (snapshot(&s, one, &alone), snapshot(&s, group, &together));
            assert_eq!(a, g);
            // And what that is: device 0 claims the requeued task then q1
            // then its preset (queued once, ahead); device 1 skips the
            // tired and the expired task.
            let claimed = &a.0;
            assert_eq!(claimed[0], vec![reboot("p0"), reboot("left"), reboot("q1")]);
            assert_eq!(claimed[1], vec![reboot("g1"), reboot("g2"), reboot("g3"), reboot("g4")]);
            assert_eq!(claimed[2], vec![reboot("next")]);
            assert_eq!(claimed[3], vec![reboot("p1"), reboot("p2")]);
            let dev1 = &a.1[1].0;
            assert!(dev1.iter().any(|t| t.0 == reboot("tired") && t.1 == "fault"), "{dev1:?}");
            assert!(dev1.iter().any(|t| t.0 == reboot("gone") && t.1 == "expired"), "{dev1:?}");
            let dev2_dm: Vec<&str> = a.1[2].1.iter().map(|e| e.0.as_str()).collect();
            assert!(!dev2_dm.contains(&"Device.X.1.A") && dev2_dm.contains(&"Device.Z"), "{dev2_dm:?}");
            assert!(!a.1[3].1.iter().any(|e| e.0 == "Device.Old"), "bootstrap clears the cache");
            assert_eq!(a.1[0].2.as_deref(), Some("192.0.2.7"));
            assert_eq!(a.1[0].5, vec!["Inform 0".to_string()]);
        }
    }

    on_both! {
        /// Cached parameter facts: a later fact about a path wins, a
        /// missing one keeps what is known, within one write and across
        /// writes (PostgreSQL folds a write's facts into one statement).
        fn data_model_facts_fold_in_order(db: &TestDb) {
            let mut s = db.store();
            let mac = "0011223344dd";
            let fact = |path: &str, value: Option<&str>, kind: Option<&str>, writable| DmUpdate {
                path: path.into(),
                value: value.map(Into::into),
                kind: kind.map(Into::into),
                writable,
            };
            let inform = |updates| {
                SessionWrite::Inform(InformWrite {
                    mac: mac.into(),
                    clear: false,
                    updates,
                    presets: Vec::new(),
                    timeline: None,
                    claim: 0,
                })
            };
            let a = "Device.ManagementServer.PeriodicInformInterval";
            let b = "Device.DeviceInfo.SoftwareVersion";
            s.session_writes(&[inform(vec![
                fact(a, Some("60"), Some("xsd:unsignedInt"), None),
                fact(b, Some("12.0"), None, Some(false)),
                fact(a, Some("300"), None, Some(true)),
            ])])
            .pop()
            .unwrap()
            .unwrap();
            s.session_writes(&[inform(vec![fact(b, None, Some("xsd:string"), None)])])
                .pop()
                .unwrap()
                .unwrap();
            let dm: Vec<_> = s
                .data_model(mac)
                .unwrap()
                .into_iter()
                .map(|e| (e.path, e.value, e.kind, e.writable))
                .collect();
            assert_eq!(
                dm,
                [
                    (b.to_string(), Some("12.0".into()), Some("xsd:string".into()), Some(false)),
                    (a.to_string(), Some("300".into()), Some("xsd:unsignedInt".into()), Some(true)),
                ]
            );
        }
    }
}
