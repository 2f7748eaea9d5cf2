//! TR-069 inform scheduling of the phone's CPE agent (SPEC §10,
//! R-TR69-3), sans-IO: which events are pending, when a session is due,
//! the back-off after a failed session, the periodic inform timer.
//! [`crate::Device`] composes it; the executor runs the CWMP session
//! (HTTP, the data model) and reports back.
//!
//! # Events
//! `0 BOOTSTRAP` on first contact (power-on of a device never informed,
//! a factory reset, an ACS URL change), `1 BOOT` after every boot (power
//! on, reboot, firmware install), `2 PERIODIC` every
//! `PeriodicInformInterval` s while `PeriodicInformEnable`,
//! `6 CONNECTION REQUEST`, and what the executor adds (`4 VALUE CHANGE`,
//! `7 TRANSFER COMPLETE`, `M Download`, `M Reboot`). A code is pending at
//! most once, except `M Reboot` / `M Download`, once per command key.
//! Events stay pending until a session delivers them; events that arrive
//! during a session wait for the next one.
//!
//! # Back-off (TR-069 3.2.1.1)
//! Retry `n` (1-based) of a failed session waits a random time in
//! `[m·2^(n-1), m·2^n]`, `n` capped at 10, `m` the minimum wait (the
//! spec's 5 s); the Inform carries `RetryCount = n`. A connection request
//! cuts the wait short.

use phoneprov_cwmp::{Event, EventCode};
use rand::Rng;

use crate::types::Time;

/// TR-069 settings of one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tr069Setup {
    /// Initial `PeriodicInformInterval`, seconds (0: no periodic inform).
    pub interval_s: u64,
    /// The back-off base `m`, ms (the spec's 5 000).
    pub retry_min_wait_ms: u64,
    /// The device was bootstrapped with this ACS before: the first
    /// session carries `2 PERIODIC` instead of `0 BOOTSTRAP` + `1 BOOT`.
    pub bootstrapped: bool,
}

impl Default for Tr069Setup {
    fn default() -> Self {
        Tr069Setup {
            interval_s: 3600,
            retry_min_wait_ms: 5_000,
            bootstrapped: false,
        }
    }
}

/// The inform scheduler's state.
#[derive(Debug)]
pub struct InformSchedule {
    setup: Tr069Setup,
    /// Pending events, in arrival order.
    events: Vec<Event>,
    /// While a session runs: how many of `events` (a prefix) it carries.
    in_session: Option<usize>,
    /// Failed sessions since the last success (`RetryCount`).
    pub retries: u32,
    retry_at: Option<Time>,
    next_periodic: Option<Time>,
    periodic: (bool, u64),
    /// Whether this device ever informed (else power-on is BOOTSTRAP).
    pub sessions_ok: u64,
    pub sessions_failed: u64,
    pub last_error: Option<String>,
    contacted: bool,
}

/// TR-069 3.2.1.1: the wait before retry `n` (1-based), ms.
pub fn backoff_ms(min_wait_ms: u64, n: u32, rng: &mut impl Rng) -> u64 {
    let n = n.clamp(1, 10);
    let lo = min_wait_ms.saturating_mul(1 << (n - 1));
    let hi = lo.saturating_mul(2);
    rng.gen_range(lo..=hi.max(lo))
}

impl InformSchedule {
    pub(crate) fn new(setup: Tr069Setup) -> Self {
        let periodic = (true, setup.interval_s);
        InformSchedule {
            contacted: setup.bootstrapped,
            setup,
            events: Vec::new(),
            in_session: None,
            retries: 0,
            retry_at: None,
            next_periodic: None,
            periodic,
            sessions_ok: 0,
            sessions_failed: 0,
            last_error: None,
        }
    }

    /// Adds an event unless one like it is pending.
    pub fn add(&mut self, code: EventCode, key: &str) {
        let multi = matches!(code, EventCode::MReboot | EventCode::MDownload);
        // Events of the session in flight do not count: a new one is for
        // the next session.
        let from = self.in_session.unwrap_or(0).min(self.events.len());
        let present = self.events[from..]
            .iter()
            .any(|x| x.code == code && (!multi || x.command_key == key));
        if !present {
            self.events.push(Event {
                code,
                command_key: key.to_string(),
            });
        }
    }

    /// The device booted: `1 BOOT`, plus `0 BOOTSTRAP` before the first
    /// contact; the periodic timer starts again.
    pub fn boot(&mut self, now: Time) {
        if !self.contacted {
            self.add(EventCode::Bootstrap, "");
            self.add(EventCode::Boot, "");
        } else if self.sessions_ok == 0 && self.setup.bootstrapped && self.events.is_empty() {
            // Bootstrapped before the run: the first session is periodic.
            self.add(EventCode::Periodic, "");
        } else {
            self.add(EventCode::Boot, "");
        }
        self.schedule_periodic(now);
    }

    /// Factory reset: everything pending is dropped; first contact again.
    pub fn factory_reset(&mut self, now: Time) {
        self.events.clear();
        self.in_session = None;
        self.retries = 0;
        self.retry_at = None;
        self.contacted = false;
        self.periodic = (true, self.setup.interval_s);
        self.boot(now);
    }

    /// An accepted connection request: a session now, even during back-off.
    pub fn connection_request(&mut self) {
        self.add(EventCode::ConnectionRequest, "");
        self.retry_at = None;
    }

    /// ManagementServer values after a session.
    pub fn settings(&mut self, periodic_enable: bool, interval_s: u64, new_acs: bool, now: Time) {
        if new_acs {
            self.add(EventCode::Bootstrap, "");
        }
        if (periodic_enable, interval_s) != self.periodic {
            self.periodic = (periodic_enable, interval_s);
            self.schedule_periodic(now);
        }
    }

    fn schedule_periodic(&mut self, now: Time) {
        let (on, secs) = self.periodic;
        self.next_periodic = (on && secs > 0).then(|| now.plus_secs(secs));
    }

    /// Starts a session when one is due: the events it carries and the
    /// `RetryCount`.
    pub fn start(&mut self, now: Time) -> Option<(Vec<Event>, u32)> {
        let due = self.in_session.is_none()
            && !self.events.is_empty()
            && self.retry_at.is_none_or(|t| t <= now);
        if !due {
            return None;
        }
        self.retry_at = None;
        self.in_session = Some(self.events.len());
        Some((self.events.clone(), self.retries))
    }

    /// The session ended.
    pub fn done(&mut self, result: Result<(), String>, now: Time, rng: &mut impl Rng) {
        let Some(sent) = self.in_session.take() else {
            return;
        };
        let sent = sent.min(self.events.len());
        match result {
            Ok(()) => {
                self.sessions_ok += 1;
                self.contacted = true;
                self.retries = 0;
                self.events.drain(..sent);
            }
            Err(e) => {
                // Undelivered: merged with what came meanwhile.
                let later = self.events.split_off(sent);
                for e in later {
                    self.add(e.code, &e.command_key);
                }
                self.sessions_failed += 1;
                self.last_error = Some(e);
                self.retries = self.retries.saturating_add(1);
                let wait = backoff_ms(self.setup.retry_min_wait_ms, self.retries, rng);
                self.retry_at = Some(now.plus_millis(wait));
            }
        }
    }

    /// Fires the periodic timer when due.
    pub fn on_timer(&mut self, now: Time) {
        if let Some(t) = self.next_periodic.filter(|t| *t <= now) {
            self.add(EventCode::Periodic, "");
            let secs = self.periodic.1.max(1);
            let mut next = t.plus_secs(secs);
            if next <= now {
                next = now.plus_secs(secs);
            }
            self.next_periodic = Some(next);
        }
    }

    /// The next time the scheduler has work.
    pub fn poll_timeout(&self) -> Option<Time> {
        let retry = self
            .retry_at
            .filter(|_| self.in_session.is_none() && !self.events.is_empty());
        [retry, self.next_periodic].into_iter().flatten().min()
    }

    /// A session is in flight.
    pub fn in_session(&self) -> bool {
        self.in_session.is_some()
    }

    /// The `tr069` object of the status page.
    pub fn status(&self, now: Time) -> serde_json::Value {
        serde_json::json!({
            "pending_events": self.events.iter().map(|e| e.code.as_str()).collect::<Vec<_>>(),
            "in_session": self.in_session.is_some(),
            "retry_count": self.retries,
            "retry_in_ms": self.retry_at.map(|t| t.0.saturating_sub(now.0)),
            "next_periodic_in_ms": self.next_periodic.map(|t| t.0.saturating_sub(now.0)),
            "periodic_inform_enable": self.periodic.0,
            "periodic_inform_interval": self.periodic.1,
            "sessions_ok": self.sessions_ok,
            "sessions_failed": self.sessions_failed,
            "last_error": self.last_error,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn backoff_windows_double_up_to_the_tenth_retry() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        for n in 1..=12u32 {
            let k = 1u64 << (n.min(10) - 1);
            let w = backoff_ms(5000, n, &mut rng);
            assert!(w >= 5000 * k && w <= 10_000 * k, "retry {n}: {w}");
        }
        assert!(
            backoff_ms(5000, 0, &mut rng) >= 5000,
            "retry 0 counts as the first"
        );
    }
}
