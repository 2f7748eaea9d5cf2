//! The overview's fleet-wide numbers at scale (issue 14: the overview page
//! within 300 ms at 1 000 000 devices).
//!
//! Counting a million devices by outcome, model and firmware, and a day of
//! resync events by hour (and, in a healthy fleet, finding the last
//! failures far back in the timeline), reads every entry of those indexes: about two
//! seconds at a million devices on SQLite (`scripts/bench-console`). So the
//! console keeps the last counts in memory ([`OverviewCounts`]):
//!
//! * younger than [`FRESH`], they are shown as they are;
//! * older (up to [`STALE`]), they are shown at once while one background
//!   thread counts again, through its own store connection, so neither this
//!   view nor the console's other pages wait for the count;
//! * with none, or older than [`STALE`] (nobody looked for a while), the
//!   view counts and waits.
//!
//! `serve` counts once in the background as it starts
//! ([`OverviewCounts::warm`]), so the first view after a start is not the
//! one that waits: it shows the warmed counts, or, while that count still
//! runs, waits for it instead of counting a second time.
//!
//! The page says when the numbers were counted. Exact counts kept by
//! triggers were the alternative: every device write would update a few
//! shared counter rows, which serialises the writers of several nodes on
//! PostgreSQL (and can deadlock them), for numbers an operator reads at a
//! glance.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use phoneprov_store::{now_ms, ConsoleRepo, Database, Event, EventKind, FleetCounts, Store};

/// Counts younger than this are shown without counting again.
pub(crate) const FRESH_MS: i64 = 15_000;
/// Counts older than this are not shown: the view counts again and waits.
pub(crate) const STALE_MS: i64 = 600_000;

/// How many recent failures the overview lists.
pub(crate) const RECENT_ERRORS: usize = 20;

/// One count of the fleet.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    /// When counted (Unix ms).
    pub(crate) at_ms: i64,
    /// By outcome, model and firmware.
    pub(crate) counts: FleetCounts,
    /// Resync events per hour over the 24 hours before `at_ms`.
    pub(crate) hours: Vec<(i64, u64)>,
    /// The latest failures (in a healthy fleet, finding them reads far back
    /// in the timeline).
    pub(crate) errors: Vec<Event>,
}

struct State {
    last: Option<Arc<Snapshot>>,
    refreshing: bool,
}

/// The overview's counts, kept between views (see the module docs).
pub(crate) struct OverviewCounts {
    db: Database,
    state: Mutex<State>,
    /// The counting connection (opened on first use), apart from the
    /// console's own so a count never holds up its other pages.
    conn: Mutex<Option<Store>>,
    /// Counts waiting for the connection (another count holds it); the
    /// tests watch it.
    waiting: AtomicUsize,
}

impl OverviewCounts {
    pub(crate) fn new(db: Database) -> OverviewCounts {
        OverviewCounts {
            db,
            state: Mutex::new(State {
                last: None,
                refreshing: false,
            }),
            conn: Mutex::new(None),
            waiting: AtomicUsize::new(0),
        }
    }

    /// Counts in the background now, on a thread of its own (at start, so
    /// that the first view finds counts). A failed count is logged; the
    /// first view then counts and reports.
    pub(crate) fn warm(self: &Arc<Self>) {
        let me = Arc::clone(self);
        // A view that comes while this runs waits for the connection and
        // then takes these counts (see `count`).
        std::thread::spawn(move || {
            if let Err(e) = me.count() {
                tracing::warn!(error = %e, "cannot count the overview at start; the first view counts");
            }
        });
    }

    /// The counts to show now; blocking (call from a blocking thread).
    pub(crate) fn get(self: &Arc<Self>) -> Result<Arc<Snapshot>, String> {
        let now = now_ms();
        {
            let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(last) = st.last.clone() {
                let age = now - last.at_ms;
                if age < FRESH_MS {
                    return Ok(last);
                }
                if age < STALE_MS {
                    if !st.refreshing {
                        st.refreshing = true;
                        let me = Arc::clone(self);
                        std::thread::spawn(move || {
                            // A failed background count keeps the old one;
                            // the next view past STALE counts and reports.
                            let _ = me.count();
                            me.state
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .refreshing = false;
                        });
                    }
                    return Ok(last);
                }
            }
        }
        self.count()
    }

    /// Counts now and keeps the result; when another count (the one at
    /// start, or a background one) finished while this one waited for the
    /// connection, and is younger than [`FRESH_MS`], that one is the result.
    fn count(&self) -> Result<Arc<Snapshot>, String> {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        if let Some(last) = &self.state.lock().unwrap_or_else(|p| p.into_inner()).last {
            if now_ms() - last.at_ms < FRESH_MS {
                return Ok(Arc::clone(last));
            }
        }
        if conn.is_none() {
            *conn = Some(Store::connect(&self.db).map_err(|e| e.to_string())?);
        }
        let s = conn.as_mut().expect("opened above");
        let at_ms = now_ms();
        let counted = (|| {
            let counts = s.fleet_counts()?;
            let hours = s.events_per_hour(EventKind::Resync, at_ms - 24 * 3_600_000)?;
            let errors = s.recent_failures(RECENT_ERRORS)?;
            Ok::<_, phoneprov_store::StoreError>(Snapshot {
                at_ms,
                counts,
                hours,
                errors,
            })
        })();
        let snap = match counted {
            Ok(x) => Arc::new(x),
            Err(e) => {
                // Reconnect on the next count (the database may have
                // restarted).
                *conn = None;
                return Err(e.to_string());
            }
        };
        self.state.lock().unwrap_or_else(|p| p.into_inner()).last = Some(Arc::clone(&snap));
        Ok(snap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use phoneprov_store::{Mac, NewDevice};

    fn add(db: &Database, mac: &str) {
        let mut s = Store::connect(db).unwrap();
        s.add_device(&NewDevice::new(Mac::parse(mac).unwrap()))
            .unwrap();
    }

    /// Fresh counts are reused; once older than FRESH they are still shown
    /// while a background count replaces them; past STALE the view counts.
    #[test]
    fn counts_are_reused_then_refreshed_in_the_background() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::Sqlite(dir.path().to_path_buf());
        add(&db, "000e08000001");
        let c = Arc::new(OverviewCounts::new(db.clone()));
        let first = c.get().unwrap();
        assert_eq!(first.counts.total, 1);
        add(&db, "000e08000002");
        assert!(Arc::ptr_eq(&first, &c.get().unwrap()), "fresh: reused");
        // Age the snapshot past FRESH: shown once more, recounted behind.
        let aged = Arc::new(Snapshot {
            at_ms: now_ms() - FRESH_MS - 1,
            ..(*first).clone()
        });
        c.state.lock().unwrap().last = Some(Arc::clone(&aged));
        assert_eq!(c.get().unwrap().counts.total, 1, "stale: shown at once");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while c.get().unwrap().counts.total != 2 {
            assert!(std::time::Instant::now() < deadline, "no background count");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        // Past STALE: counted in the view.
        add(&db, "000e08000003");
        let old = Arc::new(Snapshot {
            at_ms: now_ms() - STALE_MS - 1,
            ..(*first).clone()
        });
        c.state.lock().unwrap().last = Some(old);
        assert_eq!(c.get().unwrap().counts.total, 3);
    }

    /// The count at start (`warm`) is what the first view shows: a device
    /// added after it is not in the view's numbers, so the view did not
    /// count.
    #[test]
    fn the_first_view_shows_the_counts_warmed_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::Sqlite(dir.path().to_path_buf());
        add(&db, "000e08000001");
        let c = Arc::new(OverviewCounts::new(db.clone()));
        c.warm();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let warmed = loop {
            if let Some(s) = c.state.lock().unwrap().last.clone() {
                break s;
            }
            assert!(std::time::Instant::now() < deadline, "no count at start");
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        assert_eq!(warmed.counts.total, 1);
        add(&db, "000e08000002");
        let first = c.get().unwrap();
        assert!(
            Arc::ptr_eq(&warmed, &first),
            "the view shows the warmed counts"
        );
        assert_eq!(first.counts.total, 1);
    }

    /// A view that comes while the count at start still runs (it holds the
    /// counting connection) waits for that count instead of counting again.
    #[test]
    fn a_view_during_the_count_at_start_takes_its_result() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::Sqlite(dir.path().to_path_buf());
        add(&db, "000e08000001");
        let c = Arc::new(OverviewCounts::new(db.clone()));
        // The count at start, by hand: it holds the connection, then keeps
        // its result (total 42, which no count of this database gives).
        let conn = c.conn.lock().unwrap();
        let view = {
            let c = Arc::clone(&c);
            std::thread::spawn(move || c.get().unwrap())
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while c.waiting.load(Ordering::SeqCst) == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the view never waited"
            );
            std::thread::yield_now();
        }
        let warmed = Arc::new(Snapshot {
            at_ms: now_ms(),
            counts: FleetCounts {
                total: 42,
                ..Default::default()
            },
            hours: Vec::new(),
            errors: Vec::new(),
        });
        c.state.lock().unwrap().last = Some(Arc::clone(&warmed));
        drop(conn);
        let shown = view.join().unwrap();
        assert!(
            Arc::ptr_eq(&warmed, &shown),
            "the view took the running count"
        );
        assert_eq!(shown.counts.total, 42);
    }
}
