//! Database access off the hot path.
//!
//! * [`ReadPool`]: a few SQLite read connections used through
//!   `spawn_blocking` (WAL readers never wait for the writer), so a slow
//!   disk never stalls the async workers and no global mutex serializes
//!   requests. Most requests do not reach it at all: device rows are cached
//!   (see `render.rs`).
//! * [`StatusWriter`]: one thread owning the only write connection. Request
//!   handlers `try_send` a [`StatusMsg`] into a bounded channel and move on;
//!   the thread drains it in batches, folds the status updates of one MAC
//!   within a batch into one `record_status`, and appends the events;
//!   identical repeats of a device's last event within 10 s are folded
//!   (`phoneprov_status_folded_total`), so a client hammering the server
//!   costs one write per window. When
//!   the channel is full the message is dropped and counted
//!   (`phoneprov_status_dropped_total`): serving phones wins over
//!   bookkeeping.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use phoneprov_store::{
    now_ms, Device, EventKind, Mac, NewDevice, NewEvent, Outcome, StatusUpdate, Store, StoreError,
};
use tokio::sync::{mpsc, Semaphore};

/// Read connections kept open.
const READERS: usize = 4;
/// Largest batch the writer takes at once.
const BATCH: usize = 1024;
/// Status channel capacity.
pub const STATUS_QUEUE: usize = 65_536;

/// A small pool of read-only uses of the inventory.
pub struct ReadPool {
    dir: PathBuf,
    idle: Mutex<Vec<Store>>,
    permits: Semaphore,
}

impl std::fmt::Debug for ReadPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadPool").field("dir", &self.dir).finish()
    }
}

impl ReadPool {
    /// Opens one connection now (so a broken database fails the start).
    pub fn open(dir: &Path) -> Result<Arc<ReadPool>, StoreError> {
        let first = Store::open(dir)?;
        Ok(Arc::new(ReadPool {
            dir: dir.to_path_buf(),
            idle: Mutex::new(vec![first]),
            permits: Semaphore::new(READERS),
        }))
    }

    /// One device by MAC.
    pub async fn device(self: &Arc<Self>, mac: Mac) -> Result<Option<Device>, StoreError> {
        let _permit = self.permits.acquire().await.expect("never closed");
        let pool = self.clone();
        tokio::task::spawn_blocking(move || {
            let conn = pool.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
            let conn = match conn {
                Some(c) => c,
                None => Store::open_existing(&pool.dir)?,
            };
            let result = conn.device(mac);
            pool.idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(conn);
            result
        })
        .await
        .unwrap_or_else(|e| panic!("device lookup task panicked: {e}"))
    }
}

/// One thing the writer thread should record.
#[derive(Debug)]
pub enum StatusMsg {
    /// A request from a device: status update plus a timeline event.
    Seen {
        /// Device.
        mac: Mac,
        /// Source address.
        ip: IpAddr,
        /// Firmware from the User-Agent.
        firmware: Option<String>,
        /// Outcome (R-RESULT class).
        outcome: Option<Outcome>,
        /// Event kind.
        kind: EventKind,
        /// Event text (URL, error; never a key or a profile body).
        message: String,
    },
    /// Register an unknown device as pending (auto-registration).
    Register(NewDevice),
    /// Reply once everything queued before it is written (tests, shutdown).
    Flush(std::sync::mpsc::Sender<()>),
}

/// Handle to the writer thread.
#[derive(Debug, Clone)]
pub struct StatusWriter {
    tx: mpsc::Sender<StatusMsg>,
}

impl StatusWriter {
    /// Starts the writer thread with its own connection.
    pub fn start(dir: &Path) -> Result<(StatusWriter, JoinHandle<()>), StoreError> {
        let store = Store::open(dir)?;
        let (tx, rx) = mpsc::channel(STATUS_QUEUE);
        let handle = std::thread::Builder::new()
            .name("phoneprov-status".into())
            .spawn(move || writer_loop(store, rx))
            .expect("spawning the status writer thread");
        Ok((StatusWriter { tx }, handle))
    }

    /// Queues a message without waiting; drops it (and counts it) when the
    /// queue is full.
    pub fn send(&self, msg: StatusMsg) {
        if self.tx.try_send(msg).is_err() {
            crate::metrics_setup::handles().status_dropped.increment(1);
        }
    }

    /// Waits until everything queued so far is written.
    pub async fn flush(&self) {
        let (tx, rx) = std::sync::mpsc::channel();
        if self.tx.send(StatusMsg::Flush(tx)).await.is_ok() {
            let _ = tokio::task::spawn_blocking(move || rx.recv()).await;
        }
    }
}

/// Writes one batch of status rows and events in one transaction
/// ([`Store::write_batch`]); on an error the batch is logged and dropped
/// (status bookkeeping never stops serving).
fn write(store: &mut Store, status: &mut HashMap<Mac, Pending>, events: &mut Vec<NewEvent>) {
    if status.is_empty() && events.is_empty() {
        return;
    }
    let updates: Vec<StatusUpdate<'_>> = status
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
    if let Err(e) = store.write_batch(&updates, events) {
        tracing::warn!(error = %e, rows = updates.len(), events = events.len(), "could not record a status batch");
    }
    status.clear();
    events.clear();
}

#[derive(Default)]
struct Pending {
    ip: Option<IpAddr>,
    firmware: Option<String>,
    outcome: Option<Outcome>,
}

/// Identical repeats (same device, kind, outcome, address, firmware and
/// message) within this window are folded into the first one: a phone
/// that hammers the server (or a benchmark) costs one write per window,
/// while every change, and every new resync after the window, is kept.
pub(crate) const FOLD_WINDOW: Duration = Duration::from_secs(10);
/// Devices remembered for folding before the memory is cleared.
const FOLD_MEMORY: usize = 100_000;

/// What was last written for a device.
#[derive(PartialEq, Eq)]
struct LastSeen {
    ip: IpAddr,
    firmware: Option<String>,
    outcome: Option<Outcome>,
    kind: EventKind,
    message: String,
}

fn writer_loop(mut store: Store, mut rx: mpsc::Receiver<StatusMsg>) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut last: HashMap<Mac, (Instant, LastSeen)> = HashMap::new();
    while rx.blocking_recv().map(|m| batch.push(m)).is_some() {
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(m) => batch.push(m),
                Err(_) => break,
            }
        }
        let mut status: HashMap<Mac, Pending> = HashMap::new();
        let mut events: Vec<NewEvent> = Vec::new();
        let mut flushes = Vec::new();
        for msg in batch.drain(..) {
            match msg {
                StatusMsg::Seen {
                    mac,
                    ip,
                    firmware,
                    outcome,
                    kind,
                    message,
                } => {
                    let now = Instant::now();
                    let seen = LastSeen {
                        ip,
                        firmware,
                        outcome,
                        kind,
                        message,
                    };
                    if let Some((at, prev)) = last.get(&mac) {
                        if *prev == seen && now.duration_since(*at) < FOLD_WINDOW {
                            crate::metrics_setup::handles().status_folded.increment(1);
                            continue;
                        }
                    }
                    if last.len() >= FOLD_MEMORY {
                        last.clear();
                    }
                    let p = status.entry(mac).or_default();
                    p.ip = Some(ip);
                    if seen.firmware.is_some() {
                        p.firmware.clone_from(&seen.firmware);
                    }
                    if outcome.is_some() {
                        p.outcome = outcome;
                    }
                    events.push(NewEvent {
                        mac,
                        at_ms: now_ms(),
                        kind,
                        outcome,
                        source_ip: Some(ip),
                        message: seen.message.clone(),
                    });
                    last.insert(mac, (now, seen));
                }
                StatusMsg::Register(dev) => {
                    // Registrations are rare and must see the rows written
                    // so far: write what is pending first.
                    write(&mut store, &mut status, &mut events);
                    match store.device(dev.mac) {
                        Ok(None) => {
                            if let Err(e) = store.add_device(&dev) {
                                tracing::warn!(mac = %dev.mac, error = %e, "auto-registration failed");
                            } else {
                                tracing::info!(mac = %dev.mac, "unknown device registered as pending");
                            }
                        }
                        Ok(Some(_)) => {}
                        Err(e) => tracing::warn!(error = %e, "auto-registration lookup failed"),
                    }
                }
                StatusMsg::Flush(done) => flushes.push(done),
            }
        }
        write(&mut store, &mut status, &mut events);
        for f in flushes {
            let _ = f.send(());
        }
    }
}
