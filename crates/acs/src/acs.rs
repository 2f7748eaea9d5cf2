//! [`Acs`]: the shared state of the ACS (database, inventory, sessions,
//! authentication) and what happens to every POST once its body is read:
//! the sans-IO [`AcsSession`] answers it, and its [`AcsEvent`]s become
//! rows (task results, data-model cache, timeline events).
//!
//! The session's own writes (an Inform's rows, task results) are group
//! committed by the data directory's one timeline writer
//! ([`TimelineWriter`], with the server's status writes and the syslog
//! filer's events); the rest is synchronous SQLite work
//! that is short (reads, a rare claim).

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use phoneprov_cwmp::{
    AcsConfig, AcsEvent, AcsSession, AcsStep, EventCode, Inform, Rpc, Task, TransferComplete,
};
use phoneprov_store::{
    AcsRepo, Claimed, Database, EventKind, FinishWrite, InformRecord, InformWrite, Mac, NewEvent,
    Outcome, SessionWrite, Store, TimelineWriter,
};
use serde_json::json;

use crate::auth::CpeAuth;
use crate::config::{AcsSettings, UnknownCpes};
use crate::db::{self, DataModelEntry, Db, DmUpdate, TaskRecord, TaskState};
use crate::error::AcsError;
use crate::session_log::{SessionEnd, SessionLog, SessionSummary};
use crate::task::{fault_json, response_json, TaskOptions, TaskRpc};

/// Parameters that carry the CPE's MAC address, most specific first
/// (TR-181 `Device.`, TR-098 `InternetGatewayDevice.`); after them any
/// parameter ending in `.MACAddress` is tried.
const MAC_PARAMS: [&str; 5] = [
    "Device.Ethernet.Interface.1.MACAddress",
    "Device.LANDevice.1.LANEthernetInterfaceConfig.1.MACAddress",
    "InternetGatewayDevice.LANDevice.1.LANEthernetInterfaceConfig.1.MACAddress",
    "InternetGatewayDevice.LANDevice.1.LANHostConfigManagement.MACAddress",
    "InternetGatewayDevice.WANDevice.1.WANConnectionDevice.1.WANIPConnection.1.MACAddress",
];

/// The TR-069 ACS of `phoneprov serve`. Cheap to clone (one `Arc`).
///
/// Build it with [`Acs::open`], serve CPEs with [`Acs::serve`] (port 7547
/// by default), mount [`Acs::api_router`] in the admin API.
#[derive(Clone)]
pub struct Acs {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Acs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acs")
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub(crate) settings: AcsSettings,
    pub(crate) db: Db,
    /// The data directory's one timeline writer: group commit of the
    /// sessions' Inform and task-result writes with every other producer.
    writer: TimelineWriter,
    pub(crate) auth: CpeAuth,
    /// The server's failed-authentication log and slow-down, shared with
    /// its other doors (issue 12 item 3; `door=acs`). Unset: failures are
    /// only answered.
    pub(crate) guard: std::sync::OnceLock<Arc<phoneprov_httpauth::AuthGuard>>,
    sessions: Mutex<Sessions>,
    machine_config: AcsConfig,
    /// Where finished sessions are reported (the server's access log).
    session_log: std::sync::OnceLock<SessionLog>,
}

#[derive(Default)]
struct Sessions {
    by_cookie: HashMap<String, Arc<SessionEntry>>,
    by_mac: HashMap<String, String>,
}

/// One CWMP session of the shell: the machine plus what the shell knows.
pub(crate) struct SessionEntry {
    pub(crate) cookie: String,
    /// Reaped, superseded by a newer session of the device, or ended on
    /// an error: never fed again.
    pub(crate) dead: AtomicBool,
    state: Mutex<SessionState>,
}

struct SessionState {
    machine: AcsSession,
    mac: Option<String>,
    /// The MAC of the verified client certificate of the connection that
    /// sent the current POST (`[listen] acs_tls`); `None` without one.
    cert_mac: Option<Mac>,
    last_active: Instant,
    /// Tasks claimed with the Inform's transaction, not yet handed to the
    /// machine: most sessions need no other queue access.
    prefetched: VecDeque<Claimed>,
    /// For the session's access-log line.
    log: SessionTally,
}

/// What the session's access-log line counts.
struct SessionTally {
    started: Instant,
    client: Option<SocketAddr>,
    rpcs: u32,
    tasks: u32,
    faults: u32,
    bytes: u64,
    /// A POST of the session was authenticated by credentials.
    password: bool,
}

impl SessionTally {
    /// Counts one event of the session: an RPC sent (a queued task, or a
    /// preset run from memory), a fault answered.
    fn tally(&mut self, ev: &AcsEvent) {
        match ev {
            AcsEvent::TaskSent { task_id, .. } => {
                self.rpcs += 1;
                // Queued tasks have the queue's numeric ids; presets run
                // from memory are `preset-N`.
                if task_id.parse::<i64>().is_ok() {
                    self.tasks += 1;
                }
            }
            AcsEvent::TaskFault { .. } => self.faults += 1,
            _ => {}
        }
    }
}

/// Tasks claimed together with an Inform (the rest, if any, one by one).
const PREFETCH: usize = 4;

/// The HTTP answer to one POST.
#[derive(Debug)]
pub(crate) struct PostOutcome {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
}

/// A client certificate used for another device's session or Inform:
/// a WARN in the throttle's fail2ban form (target `phoneprov::auth`) and
/// `phoneprov_auth_failures_total{door="acs"}`.
fn cert_refused(peer: IpAddr, cert: Mac, device: Option<&str>) {
    metrics::counter!("phoneprov_auth_failures_total", "door" => "acs").increment(1);
    tracing::warn!(
        target: "phoneprov::auth",
        "client certificate names another device: door=acs client={peer} cert_mac={cert} device={}",
        device.unwrap_or("?")
    );
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Acs {
    /// Opens the ACS on the data directory `data_dir` (the inventory's
    /// `phoneprov.db` is created if needed, then the ACS tables in it).
    /// Tasks left `sent` by a previous process are requeued at each
    /// device's next Inform.
    pub fn open(data_dir: &Path, settings: AcsSettings) -> Result<Acs, AcsError> {
        Acs::open_db(&Database::Sqlite(data_dir.to_path_buf()), settings)
    }

    /// [`Acs::open`] on a database of either backend (issue 13: several
    /// nodes' ACSs share one PostgreSQL queue).
    pub fn open_db(database: &Database, settings: AcsSettings) -> Result<Acs, AcsError> {
        let db = Db::new(Store::connect(database)?)?;
        let writer = TimelineWriter::for_db(database)?;
        let machine_config = AcsConfig {
            hold_requests: settings.hold_requests,
            ..AcsConfig::default()
        };
        Ok(Acs {
            inner: Arc::new(Inner {
                auth: CpeAuth::new(&settings),
                guard: std::sync::OnceLock::new(),
                settings,
                db,
                writer,
                sessions: Mutex::new(Sessions::default()),
                machine_config,
                session_log: std::sync::OnceLock::new(),
            }),
        })
    }

    /// Logs, counts and slows down failed CPE authentication through
    /// `guard` (the server's, shared by every door): a failure is a WARN
    /// `authentication failed: door=acs client=ADDR user="…"`, and an
    /// address past its free failures gets 429 with `Retry-After` without
    /// its credentials being checked. Set once; later calls are ignored.
    pub fn set_auth_guard(&self, guard: Arc<phoneprov_httpauth::AuthGuard>) {
        let _ = self.inner.guard.set(guard);
    }

    /// Reports every finished session to `log` (the server's access log:
    /// one line per CWMP session). Set once; later calls are ignored.
    pub fn set_session_log(&self, log: SessionLog) {
        let _ = self.inner.session_log.set(log);
    }

    /// The settings.
    pub fn settings(&self) -> &AcsSettings {
        &self.inner.settings
    }

    /// Queues a task for the device (XML parameter names are mapped to
    /// TR-069 paths first). Blocking SQLite IO: call it from
    /// `spawn_blocking` in async code.
    pub fn enqueue(&self, mac: Mac, rpc: TaskRpc) -> Result<TaskRecord, AcsError> {
        self.enqueue_with(mac, rpc, TaskOptions::default())
    }

    /// [`Acs::enqueue`] with the task's own retry limit and deadline.
    /// Blocking.
    pub fn enqueue_with(
        &self,
        mac: Mac,
        rpc: TaskRpc,
        opts: TaskOptions,
    ) -> Result<TaskRecord, AcsError> {
        db::enqueue(
            &mut self.inner.db.lock(),
            mac,
            rpc,
            opts,
            self.inner.settings.profile_url.as_deref(),
        )
    }

    /// The device's tasks, newest first (at most `limit`). Blocking.
    pub fn tasks(&self, mac: Mac, limit: usize) -> Result<Vec<TaskRecord>, AcsError> {
        self.inner
            .db
            .lock()
            .tasks(&mac.to_string(), limit)?
            .into_iter()
            .map(db::record)
            .collect()
    }

    /// One task of the device. Blocking.
    pub fn task(&self, mac: Mac, id: i64) -> Result<Option<TaskRecord>, AcsError> {
        let row = self.inner.db.lock().task(&mac.to_string(), id)?;
        row.map(db::record).transpose()
    }

    /// Cancels a queued task of `mac`: the task as it is afterwards and
    /// whether it was cancelled now (`false`: already sent or finished,
    /// its state says which); `None` when there is no such task.
    /// Blocking.
    pub fn cancel_task(&self, mac: Mac, id: i64) -> Result<Option<(bool, TaskRecord)>, AcsError> {
        let row = self.inner.db.lock().cancel_task(&mac.to_string(), id)?;
        row.map(|(did, r)| Ok((did, db::record(r)?))).transpose()
    }

    /// The device's cached data model, by path. Blocking.
    pub fn data_model(&self, mac: Mac) -> Result<Vec<DataModelEntry>, AcsError> {
        db::data_model(&self.inner.db.lock(), &mac.to_string())
    }

    /// Number of live CWMP sessions.
    pub fn active_sessions(&self) -> usize {
        lock(&self.inner.sessions).by_cookie.len()
    }

    pub(crate) fn lookup_session(&self, cookie: &str) -> Option<Arc<SessionEntry>> {
        lock(&self.inner.sessions)
            .by_cookie
            .get(cookie)
            .filter(|e| !e.dead.load(Ordering::Acquire))
            .cloned()
    }

    pub(crate) fn new_session(&self) -> Arc<SessionEntry> {
        metrics::counter!("phoneprov_acs_sessions_total").increment(1);
        let cookie = phoneprov_cwmp::session::new_cookie_value(rand::random());
        let entry = Arc::new(SessionEntry {
            cookie: cookie.clone(),
            dead: AtomicBool::new(false),
            state: Mutex::new(SessionState {
                machine: AcsSession::new(self.inner.machine_config.clone()),
                mac: None,
                cert_mac: None,
                last_active: Instant::now(),
                prefetched: VecDeque::new(),
                log: SessionTally {
                    started: Instant::now(),
                    client: None,
                    rpcs: 0,
                    tasks: 0,
                    faults: 0,
                    bytes: 0,
                    password: false,
                },
            }),
        });
        lock(&self.inner.sessions)
            .by_cookie
            .insert(cookie, entry.clone());
        entry
    }

    /// Forgets a session, requeueing what it had claimed.
    pub(crate) fn end_session(&self, entry: &SessionEntry, end: SessionEnd) {
        let was_dead = entry.dead.swap(true, Ordering::AcqRel);
        let (ids, mac) = {
            let mut st = lock(&entry.state);
            if !was_dead {
                self.log_end(&st, end);
            }
            let mut ids: Vec<i64> = st
                .machine
                .unfinished_tasks()
                .iter()
                .filter_map(|t| t.id.parse().ok())
                .collect();
            ids.extend(st.prefetched.drain(..).map(|(id, _)| id));
            (ids, st.mac.clone())
        };
        for id in ids {
            if let Err(e) = self.inner.db.with(|s| s.requeue_task(id)) {
                tracing::warn!(task = id, error = %e, "cannot requeue an ACS task");
            }
        }
        let mut s = lock(&self.inner.sessions);
        s.by_cookie.remove(&entry.cookie);
        if let Some(mac) = mac {
            if s.by_mac.get(&mac) == Some(&entry.cookie) {
                s.by_mac.remove(&mac);
            }
        }
    }

    /// The session's access-log line ([`Acs::set_session_log`]), once.
    fn log_end(&self, st: &SessionState, end: SessionEnd) {
        let Some(log) = self.inner.session_log.get() else {
            return;
        };
        let t = &st.log;
        log(&SessionSummary {
            client: t.client,
            device: st.machine.device().map(|d| d.key()),
            mac: st.mac.as_deref().and_then(|m| Mac::parse(m).ok()),
            cert: st
                .cert_mac
                .is_some_and(|c| st.mac.as_deref() == Some(c.to_string().as_str())),
            password: t.password,
            rpcs: t.rpcs,
            tasks: t.tasks,
            faults: t.faults,
            end,
            duration: t.started.elapsed(),
            bytes: t.bytes,
        });
    }

    /// The connection carrying `entry` closed: a finished session is
    /// forgotten; an unfinished one waits (for a reconnect with its cookie)
    /// until the reaper drops it.
    pub(crate) fn connection_closed(&self, entry: &SessionEntry) {
        let done = lock(&entry.state).machine.is_done();
        if done {
            self.end_session(entry, SessionEnd::Done);
        }
    }

    /// Drops sessions idle longer than the idle timeout; returns how many.
    pub(crate) fn reap(&self) -> usize {
        let idle = self.inner.settings.idle_timeout();
        let entries: Vec<_> = lock(&self.inner.sessions)
            .by_cookie
            .values()
            .cloned()
            .collect();
        let mut n = 0;
        for e in entries {
            let stale = lock(&e.state).last_active.elapsed() > idle;
            if stale {
                self.end_session(&e, SessionEnd::Timeout);
                n += 1;
            }
        }
        n
    }

    /// Ends every session (shutdown).
    pub(crate) fn end_all(&self) {
        let entries: Vec<_> = lock(&self.inner.sessions)
            .by_cookie
            .values()
            .cloned()
            .collect();
        for e in entries {
            self.end_session(&e, SessionEnd::Shutdown);
        }
    }

    /// Feeds one POST body to the session and records what happened.
    /// The session's writes go through the timeline writer; the answer is
    /// returned once they are committed. `cert_mac`: the MAC of the
    /// connection's verified client certificate; a session of another
    /// device (its cookie replayed) is refused (403) before anything is
    /// read, and so is an Inform of another device ([`Self::on_inform`]).
    /// `password`: the POST was authenticated by the ACS's credentials.
    pub(crate) async fn handle_post(
        &self,
        entry: &Arc<SessionEntry>,
        body: &[u8],
        client: SocketAddr,
        cert_mac: Option<Mac>,
        password: bool,
    ) -> PostOutcome {
        let peer = client.ip();
        let mut step = {
            let mut st = lock(&entry.state);
            let other = match (cert_mac, &st.mac) {
                (Some(cert), Some(mac)) => (cert.to_string() != *mac).then(|| mac.clone()),
                _ => None,
            };
            if let (Some(cert), Some(mac)) = (cert_mac, other) {
                drop(st);
                cert_refused(peer, cert, Some(&mac));
                return PostOutcome {
                    status: 403,
                    body: Vec::new(),
                };
            }
            st.cert_mac = cert_mac;
            st.last_active = Instant::now();
            st.log.client.get_or_insert(client);
            st.log.password |= password;
            st.machine.handle(body)
        };
        // The machine asks for work; the tasks come from those claimed with
        // the Inform or a task's result, then from the queue, read off the
        // async workers.
        let mut deny = false;
        let reply = loop {
            match step {
                AcsStep::Reply(reply) => break reply,
                AcsStep::NeedTasks(_) => {
                    // The POST's events so far (a task's result) are
                    // recorded first; with no claimed task left, that
                    // commit claims the next ones too, so the fetch needs
                    // no round trip of its own.
                    let early = {
                        let mut st = lock(&entry.state);
                        let early = st.machine.take_pending_events();
                        for ev in &early {
                            st.log.tally(ev);
                        }
                        early
                    };
                    let mut checked = false;
                    for ev in early {
                        match self.apply_event(entry, ev, peer, &mut deny, !checked).await {
                            Ok(claimed) => checked |= claimed,
                            Err(e) => {
                                tracing::warn!(error = %e, "cannot record an ACS session event")
                            }
                        }
                    }
                    let fetched = self.fetch_tasks(entry, checked).await.map_err(|e| {
                        let mac = Self::session_mac(entry);
                        tracing::warn!(?mac, error = %e, "cannot fetch the ACS tasks of a session");
                        e.to_string()
                    });
                    step = lock(&entry.state).machine.tasks_fetched(fetched);
                }
            }
        };
        {
            let mut st = lock(&entry.state);
            st.log.bytes += reply.body.len() as u64;
            for ev in &reply.events {
                st.log.tally(ev);
            }
        }
        for ev in reply.events {
            if let Err(e) = self.apply_event(entry, ev, peer, &mut deny, false).await {
                tracing::warn!(error = %e, "cannot record an ACS session event");
            }
        }
        let end = deny || (reply.done && reply.status >= 400);
        if end {
            let why = if deny {
                SessionEnd::Denied
            } else {
                SessionEnd::Error
            };
            self.end_session(entry, why);
        }
        if deny {
            return PostOutcome {
                status: 403,
                body: Vec::new(),
            };
        }
        PostOutcome {
            status: reply.status,
            body: reply.body,
        }
    }

    /// The next task of the session's device: one claimed with the Inform
    /// or a task's result (without a database round trip when it needs no
    /// cached parameter type), else the next one claimed from the queue on
    /// the blocking pool. `checked`: a commit of this POST claimed what was
    /// queued, so nothing claimed left means nothing queued. Empty: the
    /// device has nothing queued.
    async fn fetch_tasks(
        &self,
        entry: &SessionEntry,
        checked: bool,
    ) -> Result<Vec<Task>, AcsError> {
        let (mac, prefetched) = {
            let mut st = lock(&entry.state);
            let next = st.prefetched.pop_front();
            (st.mac.clone(), next)
        };
        let Some(mac) = mac else {
            return Ok(Vec::new());
        };
        if prefetched.is_none() && checked {
            return Ok(Vec::new());
        }
        if let Some((id, json)) = &prefetched {
            if let Ok(rpc) = db::decode_task(*id, json) {
                if !rpc.needs_types() {
                    return Ok(vec![Task::new(id.to_string(), rpc.to_rpc(*id, &|_| None))]);
                }
            }
        }
        let acs = self.clone();
        tokio::task::spawn_blocking(move || acs.claim_blocking(&mac, prefetched))
            .await
            .map_err(|e| AcsError::Internal(format!("task fetch failed: {e}")))?
    }

    /// [`Acs::fetch_tasks`]' database side (blocking). A claimed task that
    /// does not decode is recorded as a fault and the next one is taken.
    fn claim_blocking(&self, mac: &str, mut next: Option<Claimed>) -> Result<Vec<Task>, AcsError> {
        let mut db = self.inner.db.lock();
        loop {
            let (id, json) = match next.take() {
                Some(c) => c,
                None => match db.claim_tasks(mac, 1)?.into_iter().next() {
                    Some(c) => c,
                    None => return Ok(Vec::new()),
                },
            };
            match db::decode_task(id, &json) {
                Ok(rpc) => {
                    let kind_of =
                        |path: &str| db.dm_param(mac, path).ok().flatten().and_then(|(_, k)| k);
                    return Ok(vec![Task::new(id.to_string(), rpc.to_rpc(id, &kind_of))]);
                }
                Err(e) => {
                    tracing::warn!(mac, error = %e, "an unreadable ACS task is marked fault");
                    metrics::counter!("phoneprov_acs_tasks_total", "result" => "fault")
                        .increment(1);
                    let fault = SessionWrite::Finish(FinishWrite {
                        id,
                        state: TaskState::Fault,
                        result: json!({ "error": e.to_string() }).to_string(),
                        mac: mac.to_string(),
                        updates: Vec::new(),
                        deleted_prefix: None,
                        claim: 0,
                    });
                    db.session_writes(&[fault]).into_iter().next().transpose()?;
                }
            }
        }
    }

    fn session_mac(entry: &SessionEntry) -> Option<String> {
        lock(&entry.state).mac.clone()
    }

    /// Records one event of the session. `claim`: a task's result also
    /// claims the device's next tasks in its commit when none claimed
    /// earlier is left (they join the session's prefetched tasks); returns
    /// whether it did.
    async fn apply_event(
        &self,
        entry: &SessionEntry,
        ev: AcsEvent,
        peer: IpAddr,
        deny: &mut bool,
        claim: bool,
    ) -> Result<bool, AcsError> {
        let claim = if claim && lock(&entry.state).prefetched.is_empty() {
            PREFETCH
        } else {
            0
        };
        match ev {
            AcsEvent::Inform(inform) => self.on_inform(entry, &inform, peer, deny).await?,
            AcsEvent::TaskSent { .. } => {}
            AcsEvent::TaskDone { task_id, response } => {
                let (Ok(id), Some(mac)) = (task_id.parse::<i64>(), Self::session_mac(entry)) else {
                    return Ok(false);
                };
                let (state, label) = match response {
                    Rpc::DownloadResponse { status: 1, .. } => {
                        (TaskState::Transferring, "transferring")
                    }
                    _ => (TaskState::Done, "done"),
                };
                metrics::counter!("phoneprov_acs_tasks_total", "result" => label).increment(1);
                let (updates, deleted_prefix) = self.dm_change_of(&mac, id, &response)?;
                let result = response_json(&response).to_string();
                let finish = FinishWrite {
                    id,
                    state,
                    result,
                    mac,
                    updates,
                    deleted_prefix,
                    claim,
                };
                return self.finish(entry, finish).await;
            }
            AcsEvent::TaskFault { task_id, fault } => {
                metrics::counter!("phoneprov_acs_tasks_total", "result" => "fault").increment(1);
                let (Ok(id), Some(mac)) = (task_id.parse::<i64>(), Self::session_mac(entry)) else {
                    return Ok(false);
                };
                let finish = FinishWrite {
                    id,
                    state: TaskState::Fault,
                    result: fault_json(&fault).to_string(),
                    mac,
                    updates: Vec::new(),
                    deleted_prefix: None,
                    claim,
                };
                return self.finish(entry, finish).await;
            }
            AcsEvent::TransferComplete(tc) => {
                if let Some(mac) = Self::session_mac(entry) {
                    self.on_transfer_complete(&mac, &tc, peer).await?;
                }
            }
            AcsEvent::TaskFetchFailed(_) => {}
            AcsEvent::ProtocolError(msg) => {
                let mac = Self::session_mac(entry);
                tracing::info!(?mac, %peer, "CWMP protocol error: {msg}");
            }
        }
        Ok(false)
    }

    /// Writes a task's result (acknowledged once committed); the tasks it
    /// claimed join the session's. Returns whether it claimed.
    async fn finish(&self, entry: &SessionEntry, w: FinishWrite) -> Result<bool, AcsError> {
        let claim = w.claim > 0;
        let claimed = self.inner.writer.session(SessionWrite::Finish(w)).await?;
        lock(&entry.state).prefetched.extend(claimed);
        Ok(claim)
    }

    /// Maps the Inform to an inventory MAC: by serial number in the
    /// inventory, else by a MAC address parameter, else the serial number
    /// read as a MAC. Returns the MAC and whether the inventory knows it.
    async fn resolve(&self, inform: &Inform) -> Result<(Option<Mac>, bool), AcsError> {
        let serial = inform.device_id.serial_number.trim();
        if !serial.is_empty() {
            if let Some(mac) = self.inner.db.mac_by_serial(serial).await? {
                return Ok((Some(mac), true));
            }
        }
        let from_params = MAC_PARAMS
            .iter()
            .filter_map(|n| inform.parameter(n))
            .chain(
                inform
                    .parameters
                    .iter()
                    .filter(|p| p.name.ends_with(".MACAddress"))
                    .map(|p| p.value.as_str()),
            )
            .chain(std::iter::once(serial))
            .find_map(|v| Mac::parse(v.trim()).ok());
        let Some(mac) = from_params else {
            return Ok((None, false));
        };
        let known = self.inner.db.known(mac).await?;
        Ok((Some(mac), known))
    }

    async fn on_inform(
        &self,
        entry: &SessionEntry,
        inform: &Inform,
        peer: IpAddr,
        deny: &mut bool,
    ) -> Result<(), AcsError> {
        let (mac, known) = self.resolve(inform).await?;
        // Issue 12: over HTTPS a client certificate proves one device; an
        // Inform for another one (its serial or MAC) is refused, nothing
        // written.
        let cert_mac = lock(&entry.state).cert_mac;
        if let Some(cert) = cert_mac.filter(|c| mac != Some(*c)) {
            *deny = true;
            let claimed = mac.map(|m| m.to_string());
            cert_refused(peer, cert, Some(claimed.as_deref().unwrap_or("?")));
            return Ok(());
        }
        if !known && self.inner.settings.unknown_cpes == UnknownCpes::Deny {
            *deny = true;
            tracing::info!(device = %inform.device_id.key(), %peer, "refused an unknown CPE");
            return Ok(());
        }
        let Some(mac) = mac else {
            let mut st = lock(&entry.state);
            st.mac = None;
            // No MAC: the presets run from memory, results only logged.
            for (i, p) in self.applying_presets(inform).into_iter().enumerate() {
                let rpc = p.to_rpc(0, &|_| None);
                st.machine.enqueue(Task::new(format!("preset-{i}"), rpc));
            }
            return Ok(());
        };
        let key = mac.to_string();
        // One session per device: an older one is over, and whatever it
        // (or a crashed process) left `sent` goes back to the queue.
        let old = {
            let mut s = lock(&self.inner.sessions);
            s.by_mac.insert(key.clone(), entry.cookie.clone())
        };
        if let Some(old) = old.filter(|c| *c != entry.cookie) {
            let old = lock(&self.inner.sessions).by_cookie.remove(&old);
            // Its `sent` tasks go back to the queue in this Inform's
            // commit; its line says who took over.
            if let Some(e) = old.filter(|e| !e.dead.swap(true, Ordering::AcqRel)) {
                self.log_end(&lock(&e.state), SessionEnd::Superseded);
            }
        }
        lock(&entry.state).mac = Some(key.clone());
        let updates: Vec<DmUpdate> = inform.parameters.iter().map(db::reported).collect();
        let presets = self
            .applying_presets(inform)
            .iter()
            .map(db::task_json)
            .collect::<Result<_, _>>()?;
        // Last seen, address and firmware, as for profile fetches, and the
        // timeline entry, in the same transaction as the ACS's own rows.
        let sw = inform
            .parameter("Device.DeviceInfo.SoftwareVersion")
            .or_else(|| inform.parameter("InternetGatewayDevice.DeviceInfo.SoftwareVersion"));
        let timeline = known.then(|| {
            let events: Vec<&str> = inform.events.iter().map(|e| e.code.as_str()).collect();
            InformRecord {
                mac,
                ip: peer,
                firmware: sw.map(str::to_string),
                event: NewEvent {
                    mac,
                    at_ms: phoneprov_store::now_ms(),
                    kind: EventKind::Inform,
                    outcome: None,
                    source_ip: Some(peer),
                    message: format!(
                        "Inform [{}] from {} (software {})",
                        events.join(", "),
                        inform.device_id.key(),
                        sw.unwrap_or("?")
                    ),
                },
            }
        });
        let claimed = self
            .inner
            .writer
            .session(SessionWrite::Inform(InformWrite {
                mac: key,
                clear: inform.has_event(&EventCode::Bootstrap),
                updates,
                presets,
                timeline,
                claim: PREFETCH,
            }))
            .await?;
        lock(&entry.state).prefetched = claimed.into();
        Ok(())
    }

    fn applying_presets(&self, inform: &Inform) -> Vec<TaskRpc> {
        self.inner
            .settings
            .presets
            .iter()
            .filter(|p| p.applies(inform))
            .filter_map(|p| {
                p.task
                    .clone()
                    .normalize("", self.inner.settings.profile_url.as_deref())
                    .map_err(|e| tracing::warn!(error = %e, "preset skipped"))
                    .ok()
            })
            .collect()
    }

    /// What a response says about the data model: facts to cache, or an
    /// object path whose cached parameters are gone.
    fn dm_change_of(
        &self,
        mac: &str,
        id: i64,
        response: &Rpc,
    ) -> Result<(Vec<DmUpdate>, Option<String>), AcsError> {
        let task = || -> Result<Option<TaskRecord>, AcsError> {
            let row = self.inner.db.with(|s| s.task(mac, id))?;
            row.map(db::record).transpose()
        };
        let updates = match response {
            Rpc::GetParameterValuesResponse(values) => values.iter().map(db::reported).collect(),
            Rpc::GetParameterNamesResponse(infos) => infos
                .iter()
                .filter(|i| !i.name.ends_with('.'))
                .map(|i| DmUpdate {
                    path: i.name.clone(),
                    writable: Some(i.writable),
                    ..DmUpdate::default()
                })
                .collect(),
            Rpc::SetParameterValuesResponse { .. } => match task()? {
                Some(TaskRecord {
                    rpc: TaskRpc::SetParameterValues { values, .. },
                    ..
                }) => values
                    .into_iter()
                    .map(|v| DmUpdate {
                        path: v.name,
                        value: Some(v.value),
                        kind: v.kind,
                        writable: Some(true),
                    })
                    .collect(),
                _ => Vec::new(),
            },
            Rpc::DeleteObjectResponse { .. } => {
                if let Some(TaskRecord {
                    rpc: TaskRpc::DeleteObject { object_name, .. },
                    ..
                }) = task()?
                {
                    return Ok((Vec::new(), Some(object_name)));
                }
                Vec::new()
            }
            _ => Vec::new(),
        };
        Ok((updates, None))
    }

    /// Matches a TransferComplete to its Download task by CommandKey and
    /// records the transfer's outcome (and an upgrade event).
    async fn on_transfer_complete(
        &self,
        mac: &str,
        tc: &TransferComplete,
        peer: IpAddr,
    ) -> Result<(), AcsError> {
        let transfer = json!({
            "fault_code": tc.fault_code,
            "fault_string": tc.fault_string,
            "start_time": tc.start_time,
            "complete_time": tc.complete_time,
        });
        let ok = tc.fault_code == 0;
        let found = self
            .inner
            .db
            .with(|s| s.task_by_command_key(mac, &tc.command_key))?;
        if let Some((id, prev)) = found {
            let prev = prev.and_then(|r| serde_json::from_str::<serde_json::Value>(&r).ok());
            let result = json!({ "download": prev, "transfer_complete": transfer });
            let state = if ok {
                TaskState::Done
            } else {
                TaskState::Fault
            };
            let finish = SessionWrite::Finish(FinishWrite {
                id,
                state,
                result: result.to_string(),
                mac: String::new(),
                updates: Vec::new(),
                deleted_prefix: None,
                claim: 0,
            });
            self.inner.writer.session(finish).await?;
        }
        if let Ok(m) = Mac::parse(mac) {
            if self.inner.db.known(m).await? {
                // Queued behind this session's own writes: committed before
                // the session's next acknowledged write.
                let event = NewEvent {
                    mac: m,
                    at_ms: phoneprov_store::now_ms(),
                    kind: EventKind::Upgrade,
                    outcome: Some(if ok {
                        Outcome::Success
                    } else {
                        Outcome::Failed
                    }),
                    source_ip: Some(peer),
                    message: format!(
                        "TransferComplete {:?}: fault {} {}",
                        tc.command_key, tc.fault_code, tc.fault_string
                    ),
                };
                if !self.inner.writer.event(event, None) {
                    tracing::warn!(
                        mac,
                        "the timeline writer is overloaded; an upgrade event was dropped"
                    );
                }
            }
        }
        Ok(())
    }
}
