//! Timeline retention: events older than a maximum age, or beyond a
//! maximum count per device, are deleted in the background by the
//! timeline writer (`crate::writer`), a bounded batch at a time so a big
//! backlog never holds the write lock for long. Times are injected
//! (`now_ms`), so tests run on a virtual clock.

use std::time::Duration;

use serde::Deserialize;

use crate::db::vals;
use crate::error::Result;
use crate::store::Store;

/// Default `[store] events_max_age`: 90 days.
pub const DEFAULT_EVENTS_MAX_AGE: Duration = Duration::from_secs(90 * 24 * 3600);
/// Default `[store] events_max_per_device`.
pub const DEFAULT_EVENTS_MAX_PER_DEVICE: u64 = 10_000;
/// Default `[store] events_max_total`: the whole timeline's cap, whatever
/// the number of devices (issue 12 item 2: many devices each under their
/// own cap, or a flood of syslog lines naming MACs, cannot grow it
/// without bound).
pub const DEFAULT_EVENTS_MAX_TOTAL: u64 = 10_000_000;
/// Rows deleted per transaction.
pub const PRUNE_BATCH: u64 = 10_000;

/// What to keep of the timeline (`[store]` in the server's config).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Events older than this are deleted; `None` keeps them.
    pub max_age: Option<Duration>,
    /// Only the newest this many events of each device are kept; `None`
    /// keeps them all.
    pub max_per_device: Option<u64>,
    /// Only the newest this many events in all are kept; `None` keeps
    /// them all.
    pub max_total: Option<u64>,
    /// How often the writer prunes.
    pub every: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            max_age: Some(DEFAULT_EVENTS_MAX_AGE),
            max_per_device: Some(DEFAULT_EVENTS_MAX_PER_DEVICE),
            max_total: Some(DEFAULT_EVENTS_MAX_TOTAL),
            every: Duration::from_secs(3600),
        }
    }
}

impl Retention {
    /// Keeps everything (no pruning).
    pub fn keep_all() -> Retention {
        Retention {
            max_age: None,
            max_per_device: None,
            max_total: None,
            every: Duration::from_secs(3600),
        }
    }

    /// Whether anything is ever pruned.
    pub fn prunes(&self) -> bool {
        self.max_age.is_some() || self.max_per_device.is_some() || self.max_total.is_some()
    }
}

/// The `[store]` section of the server's configuration:
///
/// ```toml
/// [store]
/// events_max_age = "90days"      # or "off"; humantime units (h, days, weeks)
/// events_max_per_device = 10000  # 0: no limit
/// events_max_total = 10000000    # the whole timeline; 0: no limit
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSettings {
    /// Events older than this are pruned; `None` (`"off"`) keeps them.
    #[serde(deserialize_with = "max_age")]
    pub events_max_age: Option<Duration>,
    /// Each device keeps its newest this many events; 0 keeps them all.
    pub events_max_per_device: u64,
    /// The timeline keeps its newest this many events in all; 0 keeps
    /// them all.
    pub events_max_total: u64,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            events_max_age: Some(DEFAULT_EVENTS_MAX_AGE),
            events_max_per_device: DEFAULT_EVENTS_MAX_PER_DEVICE,
            events_max_total: DEFAULT_EVENTS_MAX_TOTAL,
        }
    }
}

impl StoreSettings {
    /// The writer's retention policy.
    pub fn retention(&self) -> Retention {
        Retention {
            max_age: self.events_max_age,
            max_per_device: (self.events_max_per_device > 0).then_some(self.events_max_per_device),
            max_total: (self.events_max_total > 0).then_some(self.events_max_total),
            ..Retention::default()
        }
    }
}

fn max_age<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let text = String::deserialize(d)?;
    if text.trim().eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    match humantime::parse_duration(text.trim()) {
        Ok(age) if !age.is_zero() => Ok(Some(age)),
        Ok(_) => Err(serde::de::Error::custom(
            "events_max_age = 0 would delete every event; write a duration such as \"90days\", or \"off\"",
        )),
        Err(e) => Err(serde::de::Error::custom(format!(
            "events_max_age {text:?}: {e}; write a duration such as \"90days\" or \"2160h\", or \"off\""
        ))),
    }
}

/// What one pruning pass deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Events deleted for their age.
    pub by_age: u64,
    /// Events deleted beyond a device's maximum count.
    pub by_count: u64,
    /// Events deleted beyond the whole timeline's maximum count.
    pub by_total: u64,
    /// The pass stopped at its batch limit: more is due now.
    pub more: bool,
}

impl Store {
    /// One bounded retention pass at `now_ms`: at most `limit` events
    /// deleted for their age, then at most `limit` beyond a device's
    /// maximum count, each in short transactions. Counted in
    /// `phoneprov_events_pruned_total{reason="age|count"}`.
    pub fn prune_timeline(
        &mut self,
        policy: &Retention,
        now_ms: i64,
        limit: u64,
    ) -> Result<Pruned> {
        let mut out = Pruned::default();
        if let Some(age) = policy.max_age {
            let before = now_ms.saturating_sub(i64::try_from(age.as_millis()).unwrap_or(i64::MAX));
            let n = self.prune_older(before, limit)?;
            out.by_age = n;
            out.more |= n >= limit;
        }
        if let Some(cap) = policy.max_per_device {
            let (n, more) = self.prune_beyond(cap, limit)?;
            out.by_count = n;
            out.more |= more;
        }
        if let Some(cap) = policy.max_total {
            let (n, more) = self.prune_total(cap, limit)?;
            out.by_total = n;
            out.more |= more;
        }
        metrics::counter!("phoneprov_events_pruned_total", "reason" => "age").increment(out.by_age);
        metrics::counter!("phoneprov_events_pruned_total", "reason" => "count")
            .increment(out.by_count);
        metrics::counter!("phoneprov_events_pruned_total", "reason" => "total")
            .increment(out.by_total);
        Ok(out)
    }

    /// Deletes up to `limit` events with `at_ms < before_ms`, oldest
    /// first, in transactions of at most [`PRUNE_BATCH`] rows.
    pub(crate) fn prune_older(&mut self, before_ms: i64, limit: u64) -> Result<u64> {
        let mut total = 0u64;
        while total < limit {
            let batch = (limit - total).min(PRUNE_BATCH);
            let n = self.tx(|x| {
                x.exec(
                    "DELETE FROM events WHERE id IN \
                     (SELECT id FROM events WHERE at_ms < ?1 ORDER BY at_ms LIMIT ?2)",
                    vals![before_ms, i64::try_from(batch).unwrap_or(i64::MAX)],
                )
            })?;
            total += n;
            if n < batch {
                break;
            }
        }
        Ok(total)
    }

    /// Deletes the oldest events beyond the newest `cap` of the whole
    /// timeline, up to `limit` rows in transactions of at most
    /// [`PRUNE_BATCH`]; returns how many and whether more are due.
    fn prune_total(&mut self, cap: u64, limit: u64) -> Result<(u64, bool)> {
        let count: i64 = self
            .run(|x| x.one("SELECT count(*) FROM events", &[]))?
            .get(0)?;
        let excess = u64::try_from(count).unwrap_or(0).saturating_sub(cap);
        let due = excess.min(limit);
        let mut total = 0u64;
        while total < due {
            let batch = (due - total).min(PRUNE_BATCH);
            let n = self.tx(|x| {
                x.exec(
                    "DELETE FROM events WHERE id IN \
                     (SELECT id FROM events ORDER BY id LIMIT ?1)",
                    vals![i64::try_from(batch).unwrap_or(i64::MAX)],
                )
            })?;
            total += n;
            if n < batch {
                break;
            }
        }
        Ok((total, excess > total))
    }

    /// Deletes the oldest events of devices holding more than `cap`, up
    /// to about `limit` rows; returns how many and whether more are due.
    /// Finding the devices is a read (an index scan) outside any write
    /// transaction; each device's trim is one short transaction.
    fn prune_beyond(&mut self, cap: u64, limit: u64) -> Result<(u64, bool)> {
        let cap = i64::try_from(cap).unwrap_or(i64::MAX);
        let over: Vec<(String, i64)> = self
            .run(|x| {
                x.rows(
                    "SELECT mac, count(*) FROM events GROUP BY mac HAVING count(*) > ?1",
                    vals![cap],
                )
            })?
            .iter()
            .map(|r| Ok((r.get(0)?, r.get(1)?)))
            .collect::<Result<_>>()?;
        let mut total = 0u64;
        for (mac, count) in &over {
            if total >= limit {
                return Ok((total, true));
            }
            let excess = u64::try_from(count - cap).unwrap_or(0);
            // Everything older than the cap-th newest event of the device.
            let n = self.tx(|x| {
                x.exec(
                    "DELETE FROM events WHERE mac = ?1 AND id < \
                     (SELECT id FROM events WHERE mac = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
                    vals![mac.as_str(), cap - 1],
                )
            })?;
            debug_assert!(n <= excess);
            total += n;
        }
        Ok((total, false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EventKind, NewEvent};
    use crate::test_support::TestDb;
    use crate::Mac;

    const DAY_MS: i64 = 24 * 3600 * 1000;

    fn ev(mac: Mac, at_ms: i64, message: &str) -> NewEvent {
        NewEvent {
            mac,
            at_ms,
            kind: EventKind::Resync,
            outcome: None,
            source_ip: None,
            message: message.into(),
        }
    }

    on_both! {
        /// Issue 11 retention, on a virtual clock: events past `max_age` go,
        /// then each device keeps only its newest `max_per_device`; a pass is
        /// bounded and says when more is due; nothing else is touched.
        fn retention_prunes_by_age_then_by_count_on_a_virtual_clock(db: &TestDb) {
            let mut s = db.store();
            let (a, b) = (
                Mac::parse("000e08000001").unwrap(),
                Mac::parse("000e08000002").unwrap(),
            );
            let now = 1_000 * DAY_MS;
            let mut events = Vec::new();
            // a: 5 old (100 days) and 8 recent; b: 3 recent.
            for i in 0..5 {
                events.push(ev(a, now - 100 * DAY_MS + i, &format!("old{i}")));
            }
            for i in 0..8 {
                events.push(ev(a, now - DAY_MS + i, &format!("new{i}")));
            }
            for i in 0..3 {
                events.push(ev(b, now - DAY_MS + i, &format!("b{i}")));
            }
            s.write_batch(&[], &events).unwrap();
            let policy = Retention {
                max_age: Some(Duration::from_millis(90 * DAY_MS as u64)),
                max_per_device: Some(4),
                max_total: None,
                every: Duration::from_secs(3600),
            };
            // A pass limited to 3 rows per rule: not done yet.
            let first = s.prune_timeline(&policy, now, 3).unwrap();
            assert_eq!((first.by_age, first.more), (3, true));
            let mut total = first;
            loop {
                let p = s.prune_timeline(&policy, now, 3).unwrap();
                total.by_age += p.by_age;
                total.by_count += p.by_count;
                if !p.more {
                    break;
                }
            }
            // The first pass's count rule already trimmed a (2 old + 8 new) to
            // its newest 4.
            assert_eq!((total.by_age, total.by_count), (3, 6));
            let kept: Vec<String> = s
                .events(a, 100)
                .unwrap()
                .into_iter()
                .map(|e| e.message)
                .collect();
            assert_eq!(kept, ["new4", "new5", "new6", "new7"], "the newest 4 of a");
            assert_eq!(s.events(b, 100).unwrap().len(), 3, "b is under both limits");
            // Nothing left to do; keep_all never prunes.
            assert_eq!(
                s.prune_timeline(&policy, now, 3).unwrap(),
                Pruned::default()
            );
            let later = now + 365 * DAY_MS;
            assert_eq!(
                s.prune_timeline(&Retention::keep_all(), later, 100)
                    .unwrap(),
                Pruned::default()
            );
            assert_eq!(s.events(b, 100).unwrap().len(), 3);
        }
    }

    on_both! {
        /// Issue 12 item 2: the whole timeline's cap, over many devices
        /// each under its own cap: the oldest go first, in bounded passes.
        fn retention_caps_the_whole_timeline(db: &TestDb) {
            let mut s = db.store();
            let now = 1_000 * DAY_MS;
            let mac = |d: u64| Mac::parse(&format!("000e08{d:06x}")).unwrap();
            let events: Vec<NewEvent> = (0..50u64)
                .map(|i| ev(mac(i % 10), now - 50 + i as i64, &format!("e{i}")))
                .collect();
            s.write_batch(&[], &events).unwrap();
            let policy = Retention {
                max_age: None,
                max_per_device: Some(100),
                max_total: Some(20),
                every: Duration::from_secs(3600),
            };
            let first = s.prune_timeline(&policy, now, 25).unwrap();
            assert_eq!((first.by_total, first.by_count, first.more), (25, 0, true));
            let second = s.prune_timeline(&policy, now, 25).unwrap();
            assert_eq!((second.by_total, second.more), (5, false));
            let mut kept: Vec<String> = (0..10)
                .flat_map(|d| s.events(mac(d), 100).unwrap().into_iter().map(|e| e.message))
                .collect();
            kept.sort_by_key(|m| m[1..].parse::<u32>().unwrap());
            let want: Vec<String> = (30..50).map(|i| format!("e{i}")).collect();
            assert_eq!(kept, want, "the newest 20 of all");
            assert_eq!(s.prune_timeline(&policy, now, 25).unwrap(), Pruned::default());
        }
    }
}
