//! [`TimelineWriter`]: the one writer of the device timeline and status,
//! with group commit, serving every producer of a process: the HTTP/TFTP
//! status of each request (and reports), the syslog filer, the ACS (an
//! Inform's rows and task results), the activation service.
//!
//! One thread owns one connection. Producers queue jobs into one bounded
//! channel; the thread takes every job waiting at that moment and commits
//! them in **one** transaction (a WAL append per batch instead of one per
//! write), then answers the jobs that wait. Batches form by themselves:
//! while one commits, the next queues up; a job alone is committed at once
//! (no timer, no added latency).
//!
//! Under a load of sessions (the previous commit held at least
//! [`LINGER_AFTER`] session writes) a batch that holds session writes but
//! fewer than [`LINGER_TARGET`] lingers up to [`LINGER`] for more to
//! arrive before it commits: the writes of concurrent CWMP sessions come
//! a few at a time, and each commit costs the writer a transaction and
//! every waiting session a wake-up. A quiet writer (one session at a time)
//! never lingers. Issue 11's Inform benchmark measured the groups (rows
//! per commit in `phoneprov_acs_writes_total / _write_groups_total`).
//!
//! Durability rules, as before the writers were merged:
//! - **Status writes are fire-and-forget** ([`TimelineWriter::status`]):
//!   `try_send`, dropped when the queue is full (the caller counts it in
//!   `phoneprov_status_dropped_total`): serving phones wins over
//!   bookkeeping. Identical repeats of a device's last status within
//!   [`FOLD_WINDOW`] are folded (`phoneprov_status_folded_total`).
//! - **Session writes are acknowledged after their commit**
//!   ([`TimelineWriter::session`]): the ACS answers a CWMP message only
//!   once the rows it implies are committed (counted in
//!   `phoneprov_acs_writes_total` / `phoneprov_acs_write_groups_total`).
//! - Events may be waited for ([`TimelineWriter::event_committed`]) or not
//!   ([`TimelineWriter::event`]).
//!
//! If a whole batch fails, its status rows and events are written alone
//! (logged if that fails too) and each session write is retried alone, so
//! one bad write fails only itself.
//!
//! Retention ([`Retention`]) runs on the same thread between batches, one
//! bounded pass at a time, so pruning never competes with the writes for
//! the lock.
//!
//! One writer per database per process: [`TimelineWriter::for_db`] (and
//! [`TimelineWriter::for_dir`] for a SQLite data directory) returns the
//! running writer of a database (starting it on first use), so every
//! producer that opens the same database shares it without
//! the assembly passing a handle around. The thread ends, after writing
//! what is queued, when the last handle is dropped.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::acs::{AcsRepo, Claimed, SessionWrite};
use crate::db::Database;
use crate::error::{Result, StoreError};
use crate::model::{now_ms, EventKind, NewDevice, NewEvent, Outcome};
use crate::retention::{Pruned, Retention, PRUNE_BATCH};
use crate::store::{StatusUpdate, Store};
use crate::Mac;

/// Jobs waiting for the writer, at most.
pub const WRITER_QUEUE: usize = 65_536;
/// Jobs taken into one transaction, at most.
const MAX_BATCH: usize = 1024;
/// Identical status repeats (same device, kind, outcome, address,
/// firmware and message) within this window are folded into the first.
pub const FOLD_WINDOW: Duration = Duration::from_secs(10);
/// Devices remembered for folding before the memory is cleared.
const FOLD_MEMORY: usize = 100_000;
/// The first retention pass runs this long after the writer starts.
const FIRST_PRUNE: Duration = Duration::from_secs(60);
/// The longest a batch waits for more session writes (see the module docs).
pub const LINGER: Duration = Duration::from_micros(1500);
/// Session writes in a batch at which it stops lingering.
pub const LINGER_TARGET: usize = 16;
/// Session writes in the previous commit from which a batch lingers.
pub const LINGER_AFTER: usize = 2;

/// A request seen from a device: its status and a timeline event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// Device.
    pub mac: Mac,
    /// Source address.
    pub ip: IpAddr,
    /// Firmware from the User-Agent; `None` keeps the stored one.
    pub firmware: Option<String>,
    /// Outcome (R-RESULT class); `None` keeps the stored one.
    pub outcome: Option<Outcome>,
    /// Event kind.
    pub kind: EventKind,
    /// Event text (URL, error; never a key or a profile body).
    pub message: String,
}

/// A status update that goes with an event ([`TimelineWriter::event`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusNote {
    /// Device.
    pub mac: Mac,
    /// Source address.
    pub ip: IpAddr,
    /// Firmware; `None` keeps the stored one.
    pub firmware: Option<String>,
    /// Outcome; `None` keeps the stored one.
    pub outcome: Option<Outcome>,
}

type SessionReply = oneshot::Sender<Result<Vec<Claimed>>>;

/// Where an answer goes: an async waiter, or a blocked thread (a tokio
/// oneshot cannot be waited for by blocking inside a runtime).
enum Reply<T> {
    Async(oneshot::Sender<T>),
    Blocking(mpsc::SyncSender<T>),
}

impl<T> Reply<T> {
    fn send(self, value: T) {
        match self {
            Reply::Async(tx) => {
                let _ = tx.send(value);
            }
            Reply::Blocking(tx) => {
                let _ = tx.send(value);
            }
        }
    }
}

/// A reply channel for a blocked caller.
fn blocking<T>() -> (Reply<T>, mpsc::Receiver<T>) {
    let (tx, rx) = mpsc::sync_channel(1);
    (Reply::Blocking(tx), rx)
}

enum Job {
    Seen(Seen),
    /// A device to auto-register, unless this many await approval.
    Register(NewDevice, u64),
    Event {
        event: NewEvent,
        status: Option<StatusNote>,
        done: Option<Reply<Result<()>>>,
    },
    Session(SessionWrite, SessionReply),
    Flush(Reply<()>),
    Prune(i64, Reply<Result<Pruned>>),
    SetRetention(Retention),
}

struct Shared {
    db: Database,
    tx: Option<SyncSender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Shared {
    /// The last handle is gone: the thread writes what is queued and
    /// ends; waiting for it means a process that drops its writer before
    /// exiting loses nothing it queued.
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Handle of the timeline writer of one database. Cheap to clone.
#[derive(Clone)]
pub struct TimelineWriter {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for TimelineWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimelineWriter")
            .field("db", &self.shared.db)
            .finish()
    }
}

fn registry() -> &'static Mutex<HashMap<Database, Weak<Shared>>> {
    static REGISTRY: std::sync::OnceLock<Mutex<HashMap<Database, Weak<Shared>>>> =
        std::sync::OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

fn stopped() -> StoreError {
    StoreError::Internal("the timeline writer thread stopped".into())
}

impl TimelineWriter {
    /// The writer of the database in `dir` (created if needed): the one
    /// already running in this process, or a new one with the default
    /// [`Retention`].
    pub fn for_dir(dir: &Path) -> Result<TimelineWriter> {
        TimelineWriter::for_db(&Database::Sqlite(dir.to_path_buf()))
    }

    /// The writer of `db`: the one already running in this process, or a
    /// new one with the default [`Retention`] (its store connected and
    /// migrated, see [`Store::connect`]).
    pub fn for_db(db: &Database) -> Result<TimelineWriter> {
        let key = match db {
            Database::Sqlite(dir) => {
                Database::Sqlite(std::fs::canonicalize(dir).unwrap_or_else(|_| dir.clone()))
            }
            Database::Postgres(_) => db.clone(),
        };
        let mut reg = registry().lock().unwrap_or_else(|p| p.into_inner());
        if let Some(shared) = reg.get(&key).and_then(Weak::upgrade) {
            return Ok(TimelineWriter { shared });
        }
        let w = TimelineWriter::start_db(db, Retention::default())?;
        reg.retain(|_, w| w.strong_count() > 0);
        reg.insert(key, Arc::downgrade(&w.shared));
        Ok(w)
    }

    /// Starts a writer of its own on `dir` (tests; processes use
    /// [`TimelineWriter::for_dir`]).
    pub fn start(dir: &Path, retention: Retention) -> Result<TimelineWriter> {
        TimelineWriter::start_db(&Database::Sqlite(dir.to_path_buf()), retention)
    }

    /// Starts a writer of its own on `db` (tests; processes use
    /// [`TimelineWriter::for_db`]).
    pub fn start_db(db: &Database, retention: Retention) -> Result<TimelineWriter> {
        let store = Store::connect(db)?;
        Self::start_on(store, retention)
    }

    /// Starts a writer on an open store (already migrated as the caller
    /// wants it).
    pub fn start_on(store: Store, retention: Retention) -> Result<TimelineWriter> {
        let db = store.database().clone();
        let (tx, rx) = mpsc::sync_channel(WRITER_QUEUE);
        let thread = std::thread::Builder::new()
            .name("phoneprov-writer".into())
            .spawn(move || run(store, rx, retention))
            .map_err(|e| StoreError::Internal(format!("cannot start the writer thread: {e}")))?;
        Ok(TimelineWriter {
            shared: Arc::new(Shared {
                db,
                tx: Some(tx),
                thread: Some(thread),
            }),
        })
    }

    fn tx(&self) -> &SyncSender<Job> {
        self.shared.tx.as_ref().expect("set until drop")
    }

    /// Queues a device's status and event without waiting; `false` when
    /// the queue is full and it was dropped.
    pub fn status(&self, seen: Seen) -> bool {
        self.tx().try_send(Job::Seen(seen)).is_ok()
    }

    /// Registers an unknown device (auto-registration) unless it exists
    /// or `max_pending` devices already await approval (issue 12: a MAC
    /// sweep cannot grow the inventory without bound; the count is
    /// [`Store::pending_count`], read before each registration so
    /// approvals and other nodes' rows count); `false` when dropped.
    pub fn register(&self, dev: NewDevice, max_pending: u64) -> bool {
        self.tx().try_send(Job::Register(dev, max_pending)).is_ok()
    }

    /// Queues an event (and the status that goes with it) without waiting;
    /// `false` when dropped.
    pub fn event(&self, event: NewEvent, status: Option<StatusNote>) -> bool {
        let job = Job::Event {
            event,
            status,
            done: None,
        };
        self.tx().try_send(job).is_ok()
    }

    /// Writes an event (and its status) and waits for the commit; blocks
    /// the calling thread (call it from blocking code).
    pub fn event_committed(&self, event: NewEvent, status: Option<StatusNote>) -> Result<()> {
        let (done, wait) = blocking();
        let job = Job::Event {
            event,
            status,
            done: Some(done),
        };
        self.tx().send(job).map_err(|_| stopped())?;
        wait.recv().map_err(|_| stopped())?
    }

    /// Writes one CWMP session write with whatever else is waiting and
    /// resolves after the commit that holds it, with the tasks an Inform
    /// claimed.
    pub async fn session(&self, w: SessionWrite) -> Result<Vec<Claimed>> {
        let (reply, answer) = oneshot::channel();
        self.send_async(Job::Session(w, reply)).await?;
        answer.await.map_err(|_| stopped())?
    }

    /// Resolves once everything queued before it is written.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self
            .send_async(Job::Flush(Reply::Async(done)))
            .await
            .is_ok()
        {
            let _ = wait.await;
        }
    }

    /// [`TimelineWriter::flush`] for blocking code.
    pub fn flush_blocking(&self) {
        let (done, wait) = blocking();
        if self.tx().send(Job::Flush(done)).is_ok() {
            let _ = wait.recv();
        }
    }

    /// Changes the retention policy (from the server's `[store]` config).
    pub fn set_retention(&self, retention: Retention) {
        let _ = self.tx().send(Job::SetRetention(retention));
    }

    /// Runs one retention pass now, at `now_ms` (an injected clock), and
    /// waits for it. The writer also prunes by itself every
    /// [`Retention::every`].
    pub fn prune_now(&self, now_ms: i64) -> Result<Pruned> {
        let (done, wait) = blocking();
        self.tx()
            .send(Job::Prune(now_ms, done))
            .map_err(|_| stopped())?;
        wait.recv().map_err(|_| stopped())?
    }

    /// Queues `job`, waiting for room without blocking the async workers.
    async fn send_async(&self, job: Job) -> Result<()> {
        match self.tx().try_send(job) {
            Ok(()) => Ok(()),
            Err(TrySendError::Disconnected(_)) => Err(stopped()),
            Err(TrySendError::Full(job)) => {
                let tx = self.tx().clone();
                let sent = tokio::task::spawn_blocking(move || tx.send(job).is_ok())
                    .await
                    .unwrap_or(false);
                if sent {
                    Ok(())
                } else {
                    Err(stopped())
                }
            }
        }
    }
}

/// What was last written for a device (folding).
#[derive(PartialEq, Eq)]
struct LastSeen {
    ip: IpAddr,
    firmware: Option<String>,
    outcome: Option<Outcome>,
    kind: EventKind,
    message: String,
}

#[derive(Default)]
struct Pending {
    ip: Option<IpAddr>,
    firmware: Option<String>,
    outcome: Option<Outcome>,
}

/// One batch being gathered.
#[derive(Default)]
struct Batch {
    status: HashMap<Mac, Pending>,
    events: Vec<NewEvent>,
    event_dones: Vec<Reply<Result<()>>>,
    sessions: Vec<SessionWrite>,
    replies: Vec<SessionReply>,
}

impl Batch {
    fn note_status(
        &mut self,
        mac: Mac,
        ip: IpAddr,
        firmware: Option<String>,
        outcome: Option<Outcome>,
    ) {
        let p = self.status.entry(mac).or_default();
        p.ip = Some(ip);
        if firmware.is_some() {
            p.firmware = firmware;
        }
        if outcome.is_some() {
            p.outcome = outcome;
        }
    }

    fn is_empty(&self) -> bool {
        self.status.is_empty() && self.events.is_empty() && self.sessions.is_empty()
    }

    /// Commits the batch: everything in one transaction, else the status
    /// rows and events alone and each session write alone.
    fn commit(&mut self, store: &mut Store) {
        if self.is_empty() {
            for d in self.event_dones.drain(..) {
                d.send(Ok(()));
            }
            return;
        }
        let updates: Vec<StatusUpdate<'_>> = self
            .status
            .iter()
            .filter_map(|(mac, p)| {
                Some(StatusUpdate {
                    mac: *mac,
                    ip: p.ip?,
                    firmware: p.firmware.as_deref(),
                    outcome: p.outcome,
                })
            })
            .collect();
        if !self.sessions.is_empty() {
            // `writes_total / write_groups_total` is the average number of
            // session writes per commit (how much the group commit saves).
            metrics::counter!("phoneprov_acs_write_groups_total").increment(1);
            metrics::counter!("phoneprov_acs_writes_total").increment(self.sessions.len() as u64);
        }
        match store.write_group(&updates, &self.events, &self.sessions) {
            Ok(claims) => {
                for (reply, c) in self.replies.drain(..).zip(claims) {
                    let _ = reply.send(Ok(c));
                }
                for d in self.event_dones.drain(..) {
                    d.send(Ok(()));
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, "group write failed; writing its parts alone");
                let alone = if updates.is_empty() && self.events.is_empty() {
                    Ok(Vec::new())
                } else {
                    store.write_batch(&updates, &self.events)
                };
                if let Err(e) = &alone {
                    tracing::warn!(error = %e, rows = updates.len(), events = self.events.len(), "could not record a status batch");
                }
                for d in self.event_dones.drain(..) {
                    d.send(match &alone {
                        Ok(_) => Ok(()),
                        Err(e) => Err(StoreError::Internal(e.to_string())),
                    });
                }
                let results = store.session_writes(&self.sessions);
                for (reply, r) in self.replies.drain(..).zip(results) {
                    let _ = reply.send(r);
                }
            }
        }
        drop(updates);
        self.status.clear();
        self.events.clear();
        self.sessions.clear();
    }
}

fn run(mut store: Store, rx: Receiver<Job>, mut retention: Retention) {
    let mut last: HashMap<Mac, (Instant, LastSeen)> = HashMap::new();
    let mut next_prune = Instant::now() + FIRST_PRUNE;
    let mut batch = Batch::default();
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    // Session writes in the previous batch (the load the linger follows).
    let mut last_sessions = 0;
    loop {
        let first = if retention.prunes() {
            match rx.recv_timeout(next_prune.saturating_duration_since(Instant::now())) {
                Ok(job) => Some(job),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        } else {
            match rx.recv() {
                Ok(job) => Some(job),
                Err(_) => return,
            }
        };
        let Some(first) = first else {
            let more = prune(&mut store, &retention, now_ms()).is_ok_and(|p| p.more);
            // A backlog is pruned a batch at a time, writes in between.
            next_prune = Instant::now()
                + if more {
                    Duration::ZERO
                } else {
                    retention.every
                };
            continue;
        };
        jobs.push(first);
        let linger = (last_sessions >= LINGER_AFTER).then_some(LINGER);
        last_sessions = gather(&rx, &mut jobs, linger);
        let mut flushes = Vec::new();
        for job in jobs.drain(..) {
            match job {
                Job::Seen(s) => {
                    let now = Instant::now();
                    let seen = LastSeen {
                        ip: s.ip,
                        firmware: s.firmware,
                        outcome: s.outcome,
                        kind: s.kind,
                        message: s.message,
                    };
                    if let Some((at, prev)) = last.get(&s.mac) {
                        if *prev == seen && now.duration_since(*at) < FOLD_WINDOW {
                            metrics::counter!("phoneprov_status_folded_total").increment(1);
                            continue;
                        }
                    }
                    if last.len() >= FOLD_MEMORY {
                        last.clear();
                    }
                    batch.note_status(s.mac, seen.ip, seen.firmware.clone(), seen.outcome);
                    batch.events.push(NewEvent {
                        mac: s.mac,
                        at_ms: now_ms(),
                        kind: seen.kind,
                        outcome: seen.outcome,
                        source_ip: Some(seen.ip),
                        message: seen.message.clone(),
                    });
                    last.insert(s.mac, (now, seen));
                }
                Job::Register(dev, max_pending) => {
                    // Rare, and must see the rows written so far.
                    batch.commit(&mut store);
                    register(&mut store, &dev, max_pending);
                }
                Job::Event {
                    event,
                    status,
                    done,
                } => {
                    if let Some(s) = status {
                        batch.note_status(s.mac, s.ip, s.firmware, s.outcome);
                    }
                    batch.events.push(event);
                    batch.event_dones.extend(done);
                }
                Job::Session(w, reply) => {
                    batch.sessions.push(w);
                    batch.replies.push(reply);
                }
                Job::Flush(done) => flushes.push(done),
                Job::Prune(at, done) => {
                    batch.commit(&mut store);
                    done.send(prune(&mut store, &retention, at));
                }
                Job::SetRetention(r) => {
                    retention = r;
                    next_prune = Instant::now() + FIRST_PRUNE.min(r.every);
                }
            }
        }
        batch.commit(&mut store);
        for f in flushes {
            f.send(());
        }
    }
}

/// Takes every job waiting after the first (in `jobs`), up to
/// [`MAX_BATCH`]; with `linger`, a batch holding session writes but fewer
/// than [`LINGER_TARGET`] waits that long at most for more, in short
/// sleeps (a sender does not wake a sleeping writer, so lingering costs
/// the producers nothing). Returns the number of session writes gathered.
fn gather(rx: &Receiver<Job>, jobs: &mut Vec<Job>, linger: Option<Duration>) -> usize {
    const STEP: Duration = Duration::from_micros(250);
    let mut sessions = jobs
        .iter()
        .filter(|j| matches!(j, Job::Session(..)))
        .count();
    let deadline = linger.map(|l| Instant::now() + l);
    loop {
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => {
                    sessions += usize::from(matches!(job, Job::Session(..)));
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        let wait = match deadline {
            Some(d) if (1..LINGER_TARGET).contains(&sessions) && jobs.len() < MAX_BATCH => {
                d.saturating_duration_since(Instant::now())
            }
            _ => Duration::ZERO,
        };
        if wait.is_zero() {
            return sessions;
        }
        std::thread::sleep(wait.min(STEP));
    }
}

fn register(store: &mut Store, dev: &NewDevice, max_pending: u64) {
    match store.device(dev.mac) {
        Ok(None) => match store.pending_count() {
            Ok(n) if n >= max_pending => {
                tracing::debug!(mac = %dev.mac, pending = n, "not registered: the pending devices are at their cap");
            }
            Err(e) => tracing::warn!(error = %e, "auto-registration count failed"),
            Ok(_) => register_new(store, dev),
        },
        Ok(Some(_)) => {}
        Err(e) => tracing::warn!(error = %e, "auto-registration lookup failed"),
    }
}

fn register_new(store: &mut Store, dev: &NewDevice) {
    match store.add_device(dev) {
        Ok(_) => tracing::info!(mac = %dev.mac, "unknown device registered as pending"),
        Err(e) => tracing::warn!(mac = %dev.mac, error = %e, "auto-registration failed"),
    }
}

fn prune(store: &mut Store, retention: &Retention, at_ms: i64) -> Result<Pruned> {
    let r = store.prune_timeline(retention, at_ms, PRUNE_BATCH);
    match &r {
        Ok(p) if p.by_age + p.by_count + p.by_total > 0 => tracing::info!(
            by_age = p.by_age,
            by_count = p.by_count,
            by_total = p.by_total,
            "timeline pruned"
        ),
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(error = %e, "timeline retention failed; retrying at the next pass")
        }
    }
    r
}
