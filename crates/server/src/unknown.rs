//! Requests for MACs that are not in the inventory (issue 12 item 2): a
//! counter and a bounded, rate-limited log instead of timeline rows. Its
//! own module so that [`crate::state`] can hold one without importing the
//! record step (which imports `decide`, which imports `state`).
//!
//! Auto-registration (`[profiles] auto_register`) is bounded here too:
//! a token bucket per client address ([`UnknownDevices::may_register`];
//! hand-written in a few lines like the throttle's tables, where a
//! keyed rate-limiter crate would bring a concurrent map and a clock of
//! its own), and a cap on pending rows checked by the timeline writer.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use phoneprov_store::Mac;

use crate::metrics_setup::Proto;

/// How often the "unknown devices" summary is logged at most.
pub const UNKNOWN_LOG_EVERY: Duration = Duration::from_secs(60);
/// Distinct unknown MACs remembered per summary window (the count
/// saturates there, so a MAC sweep costs bounded memory).
const UNKNOWN_DISTINCT_MAX: usize = 1024;
/// Client addresses whose auto-registration bucket is remembered at
/// most; when full, refilled buckets are forgotten, and a new address
/// beyond the bound registers nothing until some are.
const REGISTER_TRACKED_MAX: usize = 65_536;

/// Requests for MACs that are not in the inventory (issue 12 item 2):
/// counted in `phoneprov_unknown_devices_total{proto}` and summarised in
/// a bounded, rate-limited log (the first one of a quiet period at once,
/// then at most one summary line per [`UNKNOWN_LOG_EVERY`]), never in
/// per-device timeline rows, so a sweep over unknown MACs writes nothing
/// to the store (auto-registration, when on, still adds its pending row).
#[derive(Debug, Default)]
pub struct UnknownDevices {
    window: Mutex<UnknownWindow>,
    registrations: Mutex<RegisterBuckets>,
}

/// The auto-registration token buckets: per client address, tokens left
/// and when they were counted.
#[derive(Debug, Default)]
struct RegisterBuckets {
    by_addr: HashMap<IpAddr, (f64, Instant)>,
}

impl RegisterBuckets {
    /// Takes one token of `ip`'s bucket (`per_minute` tokens, refilled
    /// evenly over a minute) at `now`; `false` when it is empty.
    fn take(&mut self, now: Instant, ip: IpAddr, per_minute: u32) -> bool {
        if per_minute == 0 {
            return false;
        }
        let size = f64::from(per_minute);
        let refill = |tokens: f64, at: Instant| {
            (tokens + now.saturating_duration_since(at).as_secs_f64() * size / 60.0).min(size)
        };
        if !self.by_addr.contains_key(&ip) && self.by_addr.len() >= REGISTER_TRACKED_MAX {
            self.by_addr.retain(|_, (t, at)| refill(*t, *at) < size);
            if self.by_addr.len() >= REGISTER_TRACKED_MAX {
                return false;
            }
        }
        let (tokens, at) = self.by_addr.entry(ip).or_insert((size, now));
        let left = refill(*tokens, *at);
        *at = now;
        let took = left >= 1.0;
        *tokens = if took { left - 1.0 } else { left };
        took
    }
}

#[derive(Debug, Default)]
struct UnknownWindow {
    /// When the current window started (`None`: quiet).
    since: Option<Instant>,
    requests: u64,
    macs: HashSet<Mac>,
    last: Option<(Mac, IpAddr)>,
}

impl UnknownDevices {
    /// Notes one request for the unknown device `mac` from `ip`.
    pub fn note(&self, proto: Proto, mac: Mac, ip: IpAddr) {
        metrics::counter!("phoneprov_unknown_devices_total", "proto" => proto.as_str())
            .increment(1);
        if let Some(line) = self.note_at(Instant::now(), mac, ip) {
            // WARN: a sweep over MACs is worth an operator's look, and the
            // line comes at most once a window.
            tracing::warn!("{line}");
        }
    }

    /// Whether an unknown device asked for by `ip` may be auto-registered
    /// now: at most `per_minute` registrations per client address and
    /// minute (0: none). A refused one is answered and counted like any
    /// unknown device ([`note`](Self::note)), and nothing is written.
    pub fn may_register(&self, ip: IpAddr, per_minute: u32) -> bool {
        let mut b = self.registrations.lock().unwrap_or_else(|p| p.into_inner());
        b.take(Instant::now(), ip, per_minute)
    }

    /// The bookkeeping of [`note`](Self::note) at `now`; the line to log,
    /// if one is due.
    fn note_at(&self, now: Instant, mac: Mac, ip: IpAddr) -> Option<String> {
        let mut w = self.window.lock().unwrap_or_else(|p| p.into_inner());
        let fresh = UnknownWindow {
            since: Some(now),
            ..UnknownWindow::default()
        };
        let line = match w.since {
            Some(t) if now.duration_since(t) < UNKNOWN_LOG_EVERY => None,
            Some(t) if w.requests > 0 => {
                let (last_mac, last_ip) = w.last.expect("set with requests");
                let at_least = match w.macs.len() >= UNKNOWN_DISTINCT_MAX {
                    true => "at least ",
                    false => "",
                };
                let line = format!(
                    "unknown devices: {} requests for {at_least}{} MACs not in the inventory in the last {} s (last: {last_mac} from {last_ip})",
                    w.requests,
                    w.macs.len(),
                    now.duration_since(t).as_secs(),
                );
                *w = fresh;
                Some(line)
            }
            _ => {
                // The first one after a quiet period: said at once.
                *w = fresh;
                return Some(format!(
                    "unknown device: {mac} from {ip} (further requests for MACs not in the inventory are summarised at most every {} s and counted in phoneprov_unknown_devices_total)",
                    UNKNOWN_LOG_EVERY.as_secs()
                ));
            }
        };
        w.requests += 1;
        if w.macs.len() < UNKNOWN_DISTINCT_MAX {
            w.macs.insert(mac);
        }
        w.last = Some((mac, ip));
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 12: auto-registration from one address is a bucket of
    /// `per_minute` tokens refilled evenly; other addresses have their
    /// own; 0 turns it off; the table of addresses is bounded.
    #[test]
    fn auto_registration_is_rate_limited_per_address() {
        let mut b = RegisterBuckets::default();
        let t0 = Instant::now();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        let burst = (0..1000).filter(|_| b.take(t0, a, 30)).count();
        assert_eq!(burst, 30, "the bucket's size, then nothing");
        assert!(b.take(t0, other, 30), "another address has its own bucket");
        // 2 s refill one token at 30 a minute.
        let later = t0 + Duration::from_secs(2);
        assert!(b.take(later, a, 30));
        assert!(!b.take(later, a, 30));
        // A minute later the bucket is full again, never fuller.
        let full = t0 + Duration::from_secs(600);
        assert_eq!((0..100).filter(|_| b.take(full, a, 30)).count(), 30);
        assert!(!b.take(t0, a, 0), "0 turns auto-registration off");
        // Bounded: a full table forgets refilled buckets first; with
        // every bucket in use a new address registers nothing.
        let mut b = RegisterBuckets::default();
        for i in 0..REGISTER_TRACKED_MAX as u32 {
            let ip = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            assert!(b.take(t0, ip, 1));
        }
        let late: IpAddr = "198.51.100.1".parse().unwrap();
        assert!(!b.take(t0, late, 1), "table full of empty buckets");
        assert!(
            b.take(t0 + Duration::from_secs(61), late, 1),
            "swept once refilled"
        );
        assert!(b.by_addr.len() <= REGISTER_TRACKED_MAX);
    }

    /// Issue 12 item 2: a sweep over unknown MACs gives one line at once,
    /// then at most one summary per window, with bounded memory.
    #[test]
    fn unknown_devices_are_summarised_at_most_once_a_window() {
        let u = UnknownDevices::default();
        let ip: IpAddr = "192.0.2.9".parse().unwrap();
        let t0 = Instant::now();
        let mac = |i: u64| Mac::parse(&format!("{:012x}", 0x000e_0800_0000 + i)).unwrap();
        let first = u
            .note_at(t0, mac(0), ip)
            .expect("the first is said at once");
        assert!(
            first.starts_with("unknown device: 000e08000000 from 192.0.2.9"),
            "{first}"
        );
        let mut lines = 0;
        for i in 1..=5000u64 {
            let at = t0 + Duration::from_millis(i * 10); // 50 s of requests
            lines += usize::from(u.note_at(at, mac(i), ip).is_some());
        }
        assert_eq!(lines, 0, "nothing more within the window");
        assert!(u.window.lock().unwrap().macs.len() <= UNKNOWN_DISTINCT_MAX);
        let summary = u
            .note_at(t0 + Duration::from_secs(61), mac(1), ip)
            .expect("a summary once the window is over");
        assert!(
            summary.starts_with("unknown devices: 5000 requests for at least 1024 MACs"),
            "{summary}"
        );
        assert!(
            summary.contains("last: 000e08001388 from 192.0.2.9"),
            "{summary}"
        );
        // That request opened the next window: the next summary (however
        // late) counts it alone.
        let next = u
            .note_at(t0 + Duration::from_secs(200), mac(2), ip)
            .unwrap();
        assert!(
            next.starts_with("unknown devices: 1 requests for 1 MACs")
                && next.contains("last: 000e08000001"),
            "{next}"
        );
    }
}
