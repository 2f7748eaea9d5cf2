//! Database access off the hot path.
//!
//! * [`ReadPool`]: a few SQLite read connections used through
//!   `spawn_blocking` (WAL readers never wait for the writer), so a slow
//!   disk never stalls the async workers and no global mutex serializes
//!   requests. Most requests do not reach it at all: device rows are cached
//!   (see `render.rs`). On PostgreSQL a device read is a message to the
//!   store's batched lookups (`phoneprov_store::Lookups`): the reads of
//!   concurrent requests share one query and no request takes a blocking
//!   thread for a network round trip (issue 13).
//! * [`StatusWriter`]: the server's handle on the data directory's one
//!   timeline writer (`phoneprov_store::TimelineWriter`, shared with the
//!   ACS, the syslog filer and the activation service). Request handlers
//!   `try_send` a [`StatusMsg`] and move on; the writer commits what is
//!   waiting in one transaction, folds identical repeats of a device's
//!   last event within [`FOLD_WINDOW`] (`phoneprov_status_folded_total`),
//!   and prunes old events (`[store]`). When the queue is full the message
//!   is dropped and counted (`phoneprov_status_dropped_total`): serving
//!   phones wins over bookkeeping.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

pub use phoneprov_store::FOLD_WINDOW;
use phoneprov_store::{
    Database, Device, EventKind, Lookups, Mac, NewDevice, Outcome, Retention, Seen, Store,
    StoreError, TimelineWriter,
};
use tokio::sync::Semaphore;

/// Read connections kept open on SQLite (a lookup is a local page read).
const READERS: usize = 4;

/// Read connections on PostgreSQL: a lookup waits one network round trip,
/// so more of them are in flight at once.
const PG_READERS: usize = 16;

/// A small pool of read-only uses of the inventory.
pub struct ReadPool {
    db: Database,
    idle: Mutex<Vec<Store>>,
    permits: Semaphore,
    /// PostgreSQL: device reads, batched.
    lookups: Option<Lookups>,
}

impl std::fmt::Debug for ReadPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadPool").field("db", &self.db).finish()
    }
}

impl ReadPool {
    /// Opens one connection now (so a broken database fails the start).
    pub fn open(db: &Database) -> Result<Arc<ReadPool>, StoreError> {
        let first = Store::connect(db)?;
        let lookups = if db.is_postgres() {
            Some(Lookups::for_db(db)?)
        } else {
            None
        };
        Ok(Arc::new(ReadPool {
            lookups,
            db: db.clone(),
            idle: Mutex::new(vec![first]),
            permits: Semaphore::new(if db.is_postgres() {
                PG_READERS
            } else {
                READERS
            }),
        }))
    }

    /// One device by MAC.
    pub async fn device(self: &Arc<Self>, mac: Mac) -> Result<Option<Device>, StoreError> {
        match &self.lookups {
            Some(l) => l.device(mac).await,
            None => self.read(move |conn| conn.device(mac)).await,
        }
    }

    /// Devices by last outcome (`None`: no outcome yet), for the
    /// `phoneprov_devices*` gauges.
    pub async fn outcome_counts(
        self: &Arc<Self>,
    ) -> Result<Vec<(Option<phoneprov_store::Outcome>, u64)>, StoreError> {
        self.read(|conn| conn.outcome_counts()).await
    }

    /// Runs `f` on a pooled connection on a blocking thread.
    async fn read<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let _permit = self.permits.acquire().await.expect("never closed");
        let pool = self.clone();
        tokio::task::spawn_blocking(move || {
            let conn = pool.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
            let conn = match conn {
                Some(c) => c,
                None => Store::open_existing_db(&pool.db)?,
            };
            let result = f(&conn);
            pool.idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(conn);
            result
        })
        .await
        .unwrap_or_else(|e| panic!("store read task panicked: {e}"))
    }
}

/// One thing the status writer should record.
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
    /// Register an unknown device as pending (auto-registration), unless
    /// this many devices already await approval.
    Register(NewDevice, u64),
}

/// The server's side of the data directory's one [`TimelineWriter`]
/// (shared with the ACS, the syslog filer and the activation service).
#[derive(Debug, Clone)]
pub struct StatusWriter {
    writer: TimelineWriter,
}

impl StatusWriter {
    /// Joins (or starts) the timeline writer of `db` and sets its
    /// retention (`[store]`).
    pub fn start(db: &Database, retention: Retention) -> Result<StatusWriter, StoreError> {
        let writer = TimelineWriter::for_db(db)?;
        writer.set_retention(retention);
        Ok(StatusWriter { writer })
    }

    /// Queues a message without waiting; drops it (and counts it) when the
    /// queue is full.
    pub fn send(&self, msg: StatusMsg) {
        let queued = match msg {
            StatusMsg::Seen {
                mac,
                ip,
                firmware,
                outcome,
                kind,
                message,
            } => self.writer.status(Seen {
                mac,
                ip,
                firmware,
                outcome,
                kind,
                message,
            }),
            StatusMsg::Register(dev, cap) => self.writer.register(dev, cap),
        };
        if !queued {
            crate::metrics_setup::handles().status_dropped.increment(1);
        }
    }

    /// Waits until everything queued so far is written.
    pub async fn flush(&self) {
        self.writer.flush().await;
    }
}
