//! Filing received messages into the device inventory's timeline.
//!
//! A message is filed under the MAC in its text (R-LOG-3 templates carry
//! `$MAC`), else under the device last seen at the sender's IP. The store
//! has no index on `last_ip`, so that second lookup uses an in-memory
//! [`IpIndex`] (IP → MAC), loaded once from the store's statuses with a
//! streaming scan and kept current from every MAC-bearing message and from
//! whatever the server feeds it ([`StoreFiler::note_ip`]) when it records a
//! device status. A million devices cost a few tens of MB; a lookup is a
//! hash probe instead of a table scan per datagram.
//!
//! [`StoreFiler`] matches messages on a dedicated thread behind a bounded
//! queue and hands the rows to the data directory's one timeline writer
//! (`phoneprov_store::TimelineWriter`, group commit with the server's
//! status writes and the ACS): the UDP receive loop never waits for the
//! database, and a flood of datagrams is dropped (and counted) rather than
//! buffered without limit. Outcomes count in
//! `phoneprov_syslog_filed_total{result="filed|unmatched|dropped|failed"}`
//! (the `metrics` facade) as well as in [`FilerCounters`].
//!
//! Only devices in the inventory get events (issue 12): a message naming
//! a MAC the inventory does not hold writes nothing, does not teach the
//! [`IpIndex`] its sender, and is counted instead
//! (`phoneprov_unknown_devices_total{proto="syslog"}`, and
//! `result="unknown"` above), so datagrams cannot fill the timeline with
//! invented devices. [`KnownMacs`] answers "is it in the inventory" with a
//! short-lived memory of the store's answers.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;

use phoneprov_store::{
    EventKind, Mac, NewEvent, Outcome, StatusNote, Store, StoreError, TimelineWriter,
};

use phoneprov_syslog::{PhoneLogKind, Received};

/// Where a device was last seen: IP → MAC.
#[derive(Debug, Default, Clone)]
pub struct IpIndex {
    map: HashMap<IpAddr, Mac>,
}

impl IpIndex {
    /// An empty index.
    pub fn new() -> Self {
        IpIndex::default()
    }

    /// Builds the index from every device's `status.ip` (streaming scan).
    /// Devices sharing an IP (behind NAT) leave the last one in MAC order;
    /// messages carrying a MAC are never affected by that.
    pub fn load(store: &Store) -> Result<Self, StoreError> {
        let mut idx = IpIndex::new();
        store.for_each_device(None, |d| {
            if let Some(ip) = d
                .status
                .ip
                .as_deref()
                .and_then(|s| s.parse::<IpAddr>().ok())
            {
                idx.insert(ip, d.mac);
            }
            Ok::<_, StoreError>(())
        })?;
        Ok(idx)
    }

    /// Records that `mac` was seen at `ip`.
    pub fn insert(&mut self, ip: IpAddr, mac: Mac) {
        self.map.insert(ip.to_canonical(), mac);
    }

    /// The device last seen at `ip`.
    pub fn get(&self, ip: IpAddr) -> Option<Mac> {
        self.map.get(&ip.to_canonical()).copied()
    }

    /// Number of addresses known.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no address is known.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// How a filed message was matched to its device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchedBy {
    /// A MAC in the message text (or hostname/tag).
    Text,
    /// The sender's IP, through [`IpIndex`].
    SourceIp,
}

/// A message filed into a device's timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filed {
    /// Whose timeline.
    pub mac: Mac,
    /// The event id.
    pub event_id: i64,
    /// How the device was found.
    pub by: MatchedBy,
}

/// The R-RESULT class a phone-reported outcome falls in. A failure text
/// naming a missing file is class B not-found; one naming a bad file is
/// class B corrupt; anything else class C.
pub fn outcome_of(kind: PhoneLogKind, msg: &str) -> Option<Outcome> {
    match kind {
        PhoneLogKind::ResyncSuccess | PhoneLogKind::UpgradeSuccess => Some(Outcome::Success),
        PhoneLogKind::ResyncFailure | PhoneLogKind::UpgradeFailure => {
            let m = msg.to_lowercase();
            Some(if m.contains("404") || m.contains("not found") {
                Outcome::NotFound
            } else if ["corrupt", "decrypt", "parse", "malformed"]
                .iter()
                .any(|w| m.contains(w))
            {
                Outcome::Corrupt
            } else {
                Outcome::Failed
            })
        }
        _ => None,
    }
}

/// Whether MACs are in the inventory, from the store, each answer
/// remembered for [`KnownMacs::TTL`] (a chatty phone costs one lookup per
/// interval; a device added or removed is seen within it). The memory is
/// bounded: full, it starts over.
#[derive(Debug)]
pub struct KnownMacs {
    seen: HashMap<Mac, (bool, std::time::Instant)>,
}

impl KnownMacs {
    /// How long an answer is trusted.
    pub const TTL: std::time::Duration = std::time::Duration::from_secs(2);
    /// Answers remembered at most.
    const MAX: usize = 16_384;

    /// An empty memory.
    pub fn new() -> Self {
        KnownMacs {
            seen: HashMap::new(),
        }
    }

    /// Whether `mac` is in `store`'s inventory. A store error counts as
    /// unknown (nothing is written for it) and is not remembered.
    pub fn contains(&mut self, store: &Store, mac: Mac) -> bool {
        let now = std::time::Instant::now();
        if let Some(&(known, at)) = self.seen.get(&mac) {
            if now.duration_since(at) < Self::TTL {
                return known;
            }
        }
        match store.device(mac) {
            Ok(d) => {
                if self.seen.len() >= Self::MAX {
                    self.seen.clear();
                }
                self.seen.insert(mac, (d.is_some(), now));
                d.is_some()
            }
            Err(e) => {
                tracing::warn!(error = %e, "syslog: cannot read the inventory; message not filed");
                false
            }
        }
    }
}

impl Default for KnownMacs {
    fn default() -> Self {
        KnownMacs::new()
    }
}

/// Why a message was not filed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unfiled {
    /// No MAC in the text and an unknown sender IP.
    Unmatched,
    /// The device it names (or was last seen at its address) is not in
    /// the inventory.
    UnknownDevice(Mac),
}

/// What filing `r` writes: the `syslog` event (with the outcome the phone
/// reported, if any), the status update of the device seen at the
/// sender's address (with the outcome of a resync), and how the device was
/// found. Nothing when no device could be matched (no MAC in the text and
/// an unknown sender IP) or the device is not in the inventory (`known`
/// says; then the sender's address is not learnt either).
pub fn match_received(
    index: &mut IpIndex,
    r: &Received,
    known: &mut dyn FnMut(Mac) -> bool,
) -> Result<(NewEvent, StatusNote, MatchedBy), Unfiled> {
    let ip = r.from.ip().to_canonical();
    let (mac, by) = match r.mac {
        Some(mac) => (mac, MatchedBy::Text),
        None => (
            index.get(ip).ok_or(Unfiled::Unmatched)?,
            MatchedBy::SourceIp,
        ),
    };
    if !known(mac) {
        return Err(Unfiled::UnknownDevice(mac));
    }
    if by == MatchedBy::Text {
        index.insert(ip, mac);
    }
    let outcome = outcome_of(r.kind, &r.message.msg);
    let message = if r.message.msg.is_empty() {
        r.message.to_wire()
    } else {
        r.message.msg.clone()
    };
    let event = NewEvent {
        mac,
        at_ms: r.at_ms,
        kind: EventKind::Syslog,
        outcome,
        source_ip: Some(ip),
        message,
    };
    let resync_outcome = matches!(
        r.kind,
        PhoneLogKind::ResyncSuccess | PhoneLogKind::ResyncFailure
    )
    .then_some(outcome)
    .flatten();
    let status = StatusNote {
        mac,
        ip,
        firmware: None,
        outcome: resync_outcome,
    };
    Ok((event, status, by))
}

/// Files one message right away on `store` (what [`StoreFiler`] hands to
/// the timeline writer): the event of [`match_received`] and the device's
/// status. Returns `None` when no device in the inventory could be
/// matched: nothing is written.
pub fn file_received(
    store: &mut Store,
    index: &mut IpIndex,
    r: &Received,
) -> Result<Option<Filed>, StoreError> {
    let mut known = |mac| store.device(mac).is_ok_and(|d| d.is_some());
    let Ok((event, status, by)) = match_received(index, r, &mut known) else {
        return Ok(None);
    };
    let event_id = store.append_event(&event)?;
    match store.record_status(status.mac, status.ip, None, status.outcome) {
        Ok(()) | Err(StoreError::NotFound(_)) => {}
        Err(e) => return Err(e),
    }
    Ok(Some(Filed {
        mac: event.mac,
        event_id,
        by,
    }))
}

/// Counters of a [`StoreFiler`].
#[derive(Debug, Default)]
pub struct FilerCounters {
    /// Messages filed into a timeline.
    pub filed: AtomicU64,
    /// Messages with no matching device (not written).
    pub unmatched: AtomicU64,
    /// Messages naming a device not in the inventory (not written).
    pub unknown: AtomicU64,
    /// Messages dropped because the queue was full.
    pub dropped: AtomicU64,
    /// Messages the timeline writer refused (its queue was full).
    pub failed: AtomicU64,
}

/// A snapshot of [`FilerCounters`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FilerStats {
    /// See [`FilerCounters::filed`].
    pub filed: u64,
    /// See [`FilerCounters::unmatched`].
    pub unmatched: u64,
    /// See [`FilerCounters::unknown`].
    pub unknown: u64,
    /// See [`FilerCounters::dropped`].
    pub dropped: u64,
    /// See [`FilerCounters::failed`].
    pub failed: u64,
}

impl FilerCounters {
    /// Reads all counters.
    pub fn snapshot(&self) -> FilerStats {
        FilerStats {
            filed: self.filed.load(Ordering::Relaxed),
            unmatched: self.unmatched.load(Ordering::Relaxed),
            unknown: self.unknown.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }
}

/// Files received messages through the data directory's timeline writer
/// (group commit with every other producer), matching them to devices on
/// its own thread.
///
/// ```no_run
/// # async fn serve(store: phoneprov_store::Store, sock: tokio::net::UdpSocket) {
/// use phoneprov_store::TimelineWriter;
/// use phoneprov_server::syslog_filing::{IpIndex, StoreFiler};
/// use phoneprov_syslog::run_receiver;
/// let index = IpIndex::load(&store).unwrap();
/// let writer = TimelineWriter::for_dir(std::path::Path::new("phoneprov-data")).unwrap();
/// // `store` answers which MACs are in the inventory (unknown ones are
/// // counted, not filed).
/// let filer = StoreFiler::spawn(writer, store, index, 10_000);
/// let shutdown = async { /* e.g. ctrl-c */ };
/// run_receiver(sock, filer.sink(), shutdown).await.unwrap();
/// let stats = filer.shutdown(); // after the receiver (and its sink) is gone
/// # }
/// ```
pub struct StoreFiler {
    tx: SyncSender<Received>,
    index: Arc<RwLock<IpIndex>>,
    counters: Arc<FilerCounters>,
    thread: JoinHandle<()>,
    writer: TimelineWriter,
}

impl StoreFiler {
    /// Starts the filing thread with a queue of `capacity` messages;
    /// `store` answers which MACs are in the inventory.
    pub fn spawn(
        writer: TimelineWriter,
        store: Store,
        index: IpIndex,
        capacity: usize,
    ) -> StoreFiler {
        let (tx, rx) = sync_channel::<Received>(capacity.max(1));
        let index = Arc::new(RwLock::new(index));
        let counters = Arc::new(FilerCounters::default());
        let (idx, cnt, w) = (index.clone(), counters.clone(), writer.clone());
        let thread = std::thread::Builder::new()
            .name("syslog-filer".into())
            .spawn(move || {
                let mut known_macs = KnownMacs::new();
                for r in rx {
                    let mut known = |mac| known_macs.contains(&store, mac);
                    // A poisoned lock only means a panic elsewhere while
                    // inserting into a HashMap: the map is still usable.
                    let mut guard = idx.write().unwrap_or_else(|p| p.into_inner());
                    let matched = match_received(&mut guard, &r, &mut known);
                    drop(guard);
                    let queued = matched.map(|(event, status, _)| w.event(event, Some(status)));
                    let result = match queued {
                        Ok(true) => {
                            cnt.filed.fetch_add(1, Ordering::Relaxed);
                            "filed"
                        }
                        Ok(false) => {
                            tracing::warn!(from = %r.from, "syslog: the timeline writer is overloaded; message dropped");
                            cnt.failed.fetch_add(1, Ordering::Relaxed);
                            "failed"
                        }
                        Err(Unfiled::Unmatched) => {
                            cnt.unmatched.fetch_add(1, Ordering::Relaxed);
                            "unmatched"
                        }
                        Err(Unfiled::UnknownDevice(_)) => {
                            cnt.unknown.fetch_add(1, Ordering::Relaxed);
                            metrics::counter!("phoneprov_unknown_devices_total", "proto" => "syslog")
                                .increment(1);
                            "unknown"
                        }
                    };
                    metrics::counter!("phoneprov_syslog_filed_total", "result" => result).increment(1);
                }
            })
            .expect("spawning a thread only fails when the OS is out of threads");
        StoreFiler {
            tx,
            index,
            counters,
            thread,
            writer,
        }
    }

    /// A sink for [`phoneprov_syslog::run_receiver`]: enqueues without blocking,
    /// counting a message as dropped when the queue is full.
    pub fn sink(&self) -> impl Fn(Received) + Send + Sync + 'static {
        let tx = self.tx.clone();
        let counters = self.counters.clone();
        move |r| match tx.try_send(r) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                counters.dropped.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("phoneprov_syslog_filed_total", "result" => "dropped")
                    .increment(1);
            }
        }
    }

    /// Tells the filer that `mac` was seen at `ip` (the server calls this
    /// when it records a status), so later MAC-less messages from `ip` are
    /// filed under `mac`.
    pub fn note_ip(&self, ip: IpAddr, mac: Mac) {
        self.index
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(ip, mac);
    }

    /// Live counters (shared, for metrics).
    pub fn counters(&self) -> Arc<FilerCounters> {
        self.counters.clone()
    }

    /// Stops accepting, files what is queued, joins the thread and waits
    /// until the writer has committed it all. Sinks still alive elsewhere
    /// keep the thread running until they are dropped, so drop the
    /// receiver first.
    pub fn shutdown(self) -> FilerStats {
        drop(self.tx);
        let _ = self.thread.join();
        self.writer.flush_blocking();
        self.counters.snapshot()
    }
}
