//! [`Lookups`]: the hot path's short reads (a device by MAC, the MAC of a
//! serial number) from async code, gathered into one query per batch on a
//! thread and connection of their own.
//!
//! On PostgreSQL each read is a network round trip, and the sync client
//! must not run on an async worker (see the `db` module): a read one at a
//! time costs a hop to a blocking thread (or a `block_in_place`, which
//! hands the worker's core to another thread) and a round trip per
//! request. Here a request is a message on a channel; the thread takes
//! every request waiting at that moment and answers them all from one
//! `… WHERE mac = ANY(…)` / `… WHERE serial = ANY(…)` query per kind, then
//! wakes each waiter. One thread per database per process
//! ([`Lookups::for_db`]) (issue 13: the Inform sessions' serial lookup and the
//! profile GETs' device reads, measured by `scripts/bench-pg`). Batches
//! form by themselves, as the timeline writer's do: while one query runs,
//! the next batch queues up; a request alone is answered at once.
//!
//! The answers are those of [`Store::device`] and [`Store::mac_by_serial`]
//! one at a time (the store's tests check it on both backends). A failed
//! batch fails each of its requests with the same error (a lost connection
//! is [`StoreError::Unavailable`]; the next batch reconnects). The thread
//! ends when the last handle is dropped.

use std::collections::HashMap;
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use tokio::sync::oneshot;

use crate::db::Database;
use crate::error::{DbError, Result, StoreError};
use crate::model::Device;
use crate::store::Store;
use crate::Mac;

/// Requests waiting, at most, before a sender waits for room.
const QUEUE: usize = 16_384;
/// Keys answered by one query, at most.
const MAX_BATCH: usize = 512;

enum Ask {
    Device(Mac, oneshot::Sender<Result<Option<Device>>>),
    Serial(String, oneshot::Sender<Result<Option<Mac>>>),
}

/// Handle of a lookup thread. Cheap to clone.
#[derive(Clone)]
pub struct Lookups {
    tx: Arc<SyncSender<Ask>>,
}

impl std::fmt::Debug for Lookups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lookups").finish_non_exhaustive()
    }
}

fn stopped() -> StoreError {
    StoreError::Internal("the lookup thread stopped".into())
}

fn registry() -> &'static Mutex<HashMap<Database, Weak<SyncSender<Ask>>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<Database, Weak<SyncSender<Ask>>>>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

impl Lookups {
    /// The lookups of `db`: the thread already running in this process
    /// (the ACS's and the HTTP server's reads share it, and so its
    /// batches), or a new one on a connection of its own (connected and
    /// migrated, see [`Store::connect`]).
    pub fn for_db(db: &Database) -> Result<Lookups> {
        let mut reg = registry().lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = reg.get(db).and_then(Weak::upgrade) {
            return Ok(Lookups { tx });
        }
        let l = Lookups::start(Store::connect(db)?)?;
        reg.retain(|_, w| w.strong_count() > 0);
        reg.insert(db.clone(), Arc::downgrade(&l.tx));
        Ok(l)
    }

    /// Starts a thread of its own on the connection `store` (tests;
    /// processes use [`Lookups::for_db`]).
    pub fn start(store: Store) -> Result<Lookups> {
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        std::thread::Builder::new()
            .name("phoneprov-lookup".into())
            .spawn(move || run(store, rx))
            .map_err(|e| StoreError::Internal(format!("cannot start the lookup thread: {e}")))?;
        Ok(Lookups { tx: Arc::new(tx) })
    }

    /// [`Store::device`], batched with the other requests waiting.
    pub async fn device(&self, mac: Mac) -> Result<Option<Device>> {
        let (reply, answer) = oneshot::channel();
        self.send(Ask::Device(mac, reply)).await?;
        answer.await.map_err(|_| stopped())?
    }

    /// [`Store::mac_by_serial`], batched with the other requests waiting.
    pub async fn mac_by_serial(&self, serial: &str) -> Result<Option<Mac>> {
        let (reply, answer) = oneshot::channel();
        self.send(Ask::Serial(serial.to_string(), reply)).await?;
        answer.await.map_err(|_| stopped())?
    }

    /// Queues `ask`, waiting for room off the async workers.
    async fn send(&self, ask: Ask) -> Result<()> {
        match self.tx.try_send(ask) {
            Ok(()) => Ok(()),
            Err(TrySendError::Disconnected(_)) => Err(stopped()),
            Err(TrySendError::Full(ask)) => {
                let tx = self.tx.clone();
                tokio::task::spawn_blocking(move || tx.send(ask).is_ok())
                    .await
                    .unwrap_or(false)
                    .then_some(())
                    .ok_or_else(stopped)
            }
        }
    }
}

/// One error for each request of a failed batch (the store's errors are
/// not `Clone`): the same kind, the same text.
fn copy_err(e: &StoreError) -> StoreError {
    let again = || DbError::new(std::io::Error::other(e.to_string()));
    match e {
        StoreError::Unavailable(_) => StoreError::Unavailable(again()),
        StoreError::Busy(_) => StoreError::Busy(again()),
        _ => StoreError::Db(again()),
    }
}

fn run(store: Store, rx: Receiver<Ask>) {
    let mut asks = Vec::with_capacity(MAX_BATCH);
    while let Ok(first) = rx.recv() {
        asks.push(first);
        while asks.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(a) => asks.push(a),
                Err(_) => break,
            }
        }
        let mut devices = Vec::new();
        let mut serials = Vec::new();
        for a in asks.drain(..) {
            match a {
                Ask::Device(mac, reply) => devices.push((mac, reply)),
                Ask::Serial(serial, reply) => serials.push((serial, reply)),
            }
        }
        if !devices.is_empty() {
            let macs: Vec<Mac> = devices.iter().map(|(m, _)| *m).collect();
            match store.devices_by_macs(&macs) {
                Ok(found) => {
                    let found: HashMap<Mac, Device> =
                        found.into_iter().map(|d| (d.mac, d)).collect();
                    for (mac, reply) in devices {
                        let _ = reply.send(Ok(found.get(&mac).cloned()));
                    }
                }
                Err(e) => {
                    for (_, reply) in devices {
                        let _ = reply.send(Err(copy_err(&e)));
                    }
                }
            }
        }
        if !serials.is_empty() {
            let keys: Vec<&str> = serials.iter().map(|(s, _)| s.as_str()).collect();
            match store.macs_by_serials(&keys) {
                Ok(found) => {
                    for (serial, reply) in serials {
                        let _ = reply.send(Ok(found.get(&serial).copied()));
                    }
                }
                Err(e) => {
                    for (_, reply) in serials {
                        let _ = reply.send(Err(copy_err(&e)));
                    }
                }
            }
        }
    }
}
