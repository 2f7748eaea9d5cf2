//! Fleet-wide counters (updated by every phone task) and the end-of-run
//! report: resyncs by class A/B/C (R-RESULT), upgrades, latency
//! percentiles, bytes, phones resynced per second.
//!
//! Latencies are kept as one `u32` of milliseconds per event and sorted at
//! the end: 100 000 phones cost 400 kB, and exact percentiles need no
//! histogram crate.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use phoneprov_phone::Class;
use serde::Serialize;

/// A relaxed atomic counter.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn inc(&self) {
        self.add(1);
    }
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Live counters of a running fleet (read them for a progress bar).
#[derive(Debug, Default)]
pub struct FleetStats {
    pub resyncs_a: Counter,
    pub resyncs_b: Counter,
    pub resyncs_c: Counter,
    pub upgrades_ok: Counter,
    pub upgrades_failed: Counter,
    pub reboots: Counter,
    pub fetches: Counter,
    pub bytes: Counter,
    pub syslog: Counter,
    /// Phones whose task has ended.
    pub phones_done: Counter,
    /// TR-069 sessions, faults, connection requests ([`crate::cpe`]).
    pub cwmp: crate::cpe::CwmpStats,
    resync_ms: Mutex<Vec<u32>>,
    fetch_ms: Mutex<Vec<u32>>,
    errors: Mutex<BTreeMap<String, u64>>,
}

impl FleetStats {
    /// Resyncs finished, all classes.
    pub fn resyncs(&self) -> u64 {
        self.resyncs_a.get() + self.resyncs_b.get() + self.resyncs_c.get()
    }

    pub(crate) fn record_resync(&self, class: Class, error: Option<&str>, ms: Option<u64>) {
        match class {
            Class::A => self.resyncs_a.inc(),
            Class::B => self.resyncs_b.inc(),
            Class::C => self.resyncs_c.inc(),
        }
        if let Some(ms) = ms {
            self.resync_ms
                .lock()
                .expect("lock")
                .push(ms.min(u32::MAX as u64) as u32);
        }
        if let Some(e) = error {
            let mut errors = self.errors.lock().expect("lock");
            if errors.len() < 64 || errors.contains_key(e) {
                *errors.entry(e.to_string()).or_default() += 1;
            }
        }
    }

    pub(crate) fn record_upgrade(&self, ok: bool) {
        if ok {
            self.upgrades_ok.inc()
        } else {
            self.upgrades_failed.inc()
        }
    }

    pub(crate) fn record_fetch(&self, ms: u64) {
        self.fetches.inc();
        self.fetch_ms
            .lock()
            .expect("lock")
            .push(ms.min(u32::MAX as u64) as u32);
    }

    /// The report as of now.
    pub fn report(&self, phones: u64, elapsed_s: f64) -> FleetReport {
        let resyncs = ClassCounts {
            a: self.resyncs_a.get(),
            b: self.resyncs_b.get(),
            c: self.resyncs_c.get(),
        };
        let total = resyncs.a + resyncs.b + resyncs.c;
        FleetReport {
            phones,
            elapsed_s,
            resyncs,
            resyncs_per_sec: if elapsed_s > 0.0 {
                total as f64 / elapsed_s
            } else {
                0.0
            },
            upgrades_ok: self.upgrades_ok.get(),
            upgrades_failed: self.upgrades_failed.get(),
            reboots: self.reboots.get(),
            fetches: self.fetches.get(),
            bytes: self.bytes.get(),
            syslog_messages: self.syslog.get(),
            resync_latency_ms: Percentiles::of(&self.resync_ms.lock().expect("lock")),
            fetch_latency_ms: Percentiles::of(&self.fetch_ms.lock().expect("lock")),
            errors: self.errors.lock().expect("lock").clone(),
            phones_failed: 0,
            phones_without_resync: 0,
            final_params: None,
            status: None,
            cwmp: None,
            customization: BTreeMap::new(),
            dhcp: None,
        }
    }
}

/// Resyncs per outcome class (R-RESULT).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ClassCounts {
    #[serde(rename = "A")]
    pub a: u64,
    #[serde(rename = "B")]
    pub b: u64,
    #[serde(rename = "C")]
    pub c: u64,
}

/// Latency percentiles in milliseconds (nearest rank).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Percentiles {
    pub count: u64,
    pub p50: u32,
    pub p90: u32,
    pub p99: u32,
    pub max: u32,
}

impl Percentiles {
    /// Nearest-rank percentiles of `samples`.
    pub fn of(samples: &[u32]) -> Percentiles {
        if samples.is_empty() {
            return Percentiles::default();
        }
        let mut v = samples.to_vec();
        v.sort_unstable();
        let rank = |p: f64| v[((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
        Percentiles {
            count: v.len() as u64,
            p50: rank(0.50),
            p90: rank(0.90),
            p99: rank(0.99),
            max: *v.last().expect("non-empty"),
        }
    }
}

/// The end-of-run report (`phoneprov sim`, text or `--json`).
#[derive(Debug, Clone, Serialize)]
pub struct FleetReport {
    pub phones: u64,
    pub elapsed_s: f64,
    pub resyncs: ClassCounts,
    /// Finished resyncs (any class) per second of the run.
    pub resyncs_per_sec: f64,
    pub upgrades_ok: u64,
    pub upgrades_failed: u64,
    pub reboots: u64,
    pub fetches: u64,
    /// Response body bytes received.
    pub bytes: u64,
    pub syslog_messages: u64,
    /// From the first request of a resync to its end, including the wait
    /// for a `--concurrency` slot.
    pub resync_latency_ms: Percentiles,
    /// One transfer, once it had a slot.
    pub fetch_latency_ms: Percentiles,
    /// Failure texts (`$ERR`) and how often (the first 64 distinct).
    pub errors: BTreeMap<String, u64>,
    /// Phones whose last resync was class B or C.
    pub phones_failed: u64,
    /// Phones that never finished a resync.
    pub phones_without_resync: u64,
    /// `--count 1`: every parameter's final value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub final_params: Option<BTreeMap<String, String>>,
    /// `--count 1`: the phone's status page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<serde_json::Value>,
    /// TR-069 sessions when an ACS was in use (R-TR69).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cwmp: Option<crate::cpe::CwmpReport>,
    /// `--activation`: phones per customization state at the end (R-ACT),
    /// keyed by the seeds' spelling (`Acquired`, `Custom Pending`, ...).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub customization: BTreeMap<String, u64>,
    /// `--dhcp-interface`: leases, failures, per-phone addresses (R-DHCP).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dhcp: Option<crate::dhcp_client::DhcpReport>,
}

impl FleetReport {
    /// Exit status under `--once`: 0 only when every phone's resync was
    /// class A (R-RESULT).
    pub fn once_exit_code(&self) -> i32 {
        // With TR-069 on, every phone must also have finished its session.
        let cwmp_short = self
            .cwmp
            .as_ref()
            .is_some_and(|c| c.sessions_ok < self.phones);
        if self.phones_failed > 0 || self.phones_without_resync > 0 || cwmp_short {
            1
        } else {
            0
        }
    }

    /// The human-readable report.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let r = &self.resyncs;
        let _ = writeln!(
            s,
            "phones {}  elapsed {:.2}s  resyncs A {} / B {} / C {}  ({:.1} resyncs/s)",
            self.phones, self.elapsed_s, r.a, r.b, r.c, self.resyncs_per_sec
        );
        let _ = writeln!(
            s,
            "upgrades ok {} failed {}  fetches {}  bytes {}  syslog {}",
            self.upgrades_ok, self.upgrades_failed, self.fetches, self.bytes, self.syslog_messages
        );
        let l = &self.resync_latency_ms;
        let _ = writeln!(
            s,
            "resync latency ms p50 {} p90 {} p99 {} max {}",
            l.p50, l.p90, l.p99, l.max
        );
        let l = &self.fetch_latency_ms;
        let _ = writeln!(
            s,
            "fetch latency ms  p50 {} p90 {} p99 {} max {}",
            l.p50, l.p90, l.p99, l.max
        );
        if self.phones_failed > 0 || self.phones_without_resync > 0 {
            let _ = writeln!(
                s,
                "phones failed (B/C) {}  without a finished resync {}",
                self.phones_failed, self.phones_without_resync
            );
        }
        if !self.customization.is_empty() {
            let states: Vec<String> = self
                .customization
                .iter()
                .map(|(s, n)| format!("{s} {n}"))
                .collect();
            let _ = writeln!(s, "customization: {}", states.join(", "));
        }
        if let Some(d) = &self.dhcp {
            let _ = writeln!(
                s,
                "DHCP on {} ({}): {} bound, {} failed, {} DHCPv6 bound, {} DHCPv6 failed, {} replies ignored, {} NAKs",
                d.interface, d.ip_mode, d.bound, d.failed, d.bound6, d.failed6, d.ignored, d.naks
            );
            for (line, n) in &d.failures {
                let _ = writeln!(s, "  {n} x {line}");
            }
        }
        for (e, n) in self.errors.iter().take(5) {
            let _ = writeln!(s, "  {n} x {e}");
        }
        if let Some(c) = &self.cwmp {
            s.push_str(&c.to_text());
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u32> = (1..=100).collect();
        let p = Percentiles::of(&v);
        assert_eq!(
            (p.p50, p.p90, p.p99, p.max, p.count),
            (50, 90, 99, 100, 100)
        );
        assert_eq!(Percentiles::of(&[]).count, 0);
        assert_eq!(Percentiles::of(&[7]).p99, 7);
    }

    #[test]
    fn r_result_exit_code_counts_b_and_c() {
        let s = FleetStats::default();
        s.record_resync(Class::B, Some("404"), Some(3));
        let mut r = s.report(1, 1.0);
        assert_eq!(r.resyncs.b, 1);
        assert_eq!(r.errors["404"], 1);
        assert_eq!(r.once_exit_code(), 0);
        r.phones_failed = 1;
        assert_eq!(r.once_exit_code(), 1);
        assert!(r.to_text().contains("B 1"));
    }
}
