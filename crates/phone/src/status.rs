//! Counters and the JSON status page (`status_json`, served by the driver
//! at the phone's status URL).

use crate::engine::{Op, Phone};
use crate::types::{Class, Time};
use serde::Serialize;
use serde_json::{json, Value};

/// Counters and last outcomes of one phone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub boots: u64,
    pub reboots: u64,
    pub resyncs_started: u64,
    pub resyncs_ok: u64,
    pub resyncs_failed_b: u64,
    pub resyncs_failed_c: u64,
    pub profiles_applied: u64,
    pub fetches: u64,
    pub upgrades_started: u64,
    pub upgrades_ok: u64,
    pub upgrades_failed: u64,
    pub reports_started: u64,
    pub reports_ok: u64,
    pub reports_failed: u64,
    pub syslog_messages: u64,
    pub triggers_fired: u64,
    pub refused: u64,
    /// Fetch results with an unknown id (late answers after a reboot).
    pub stale_results: u64,
    pub last_resync_started_at: Option<Time>,
    pub last_resync_at: Option<Time>,
    pub last_class: Option<Class>,
    pub last_error: Option<String>,
    pub last_upgrade_at: Option<Time>,
    pub last_upgrade_error: Option<String>,
}

impl Stats {
    pub(crate) fn record_resync(&mut self, class: Class, error: Option<String>, now: Time) {
        match class {
            Class::A => self.resyncs_ok += 1,
            Class::B => self.resyncs_failed_b += 1,
            Class::C => self.resyncs_failed_c += 1,
        }
        self.last_resync_at = Some(now);
        self.last_class = Some(class);
        self.last_error = error;
    }

    /// `$PRVST`: 0 never resynced, 1 last resync succeeded, 2 it failed.
    pub fn prvst(&self) -> u8 {
        match self.last_class {
            None => 0,
            Some(Class::A) => 1,
            Some(_) => 2,
        }
    }

    /// `$UPGST`: 0 no attempt yet, 1 last upgrade succeeded, 2 it failed.
    pub fn upgst(&self) -> u8 {
        match (self.last_upgrade_at, &self.last_upgrade_error) {
            (None, _) => 0,
            (Some(_), None) => 1,
            (Some(_), Some(_)) => 2,
        }
    }
}

impl Phone {
    /// `off`, `resyncing`, `upgrading`, `install-pending` (image ready, call
    /// up), `reporting`, `fetching-custom-ca`, `in-call`, `idle`.
    pub fn state_name(&self) -> &'static str {
        match (&self.op, self.env.powered, self.env.in_call) {
            (_, false, _) => "off",
            (Some(Op::Resync(_)), ..) => "resyncing",
            (Some(Op::Upgrade(_)), ..) => "upgrading",
            (Some(Op::Install(_)), ..) => "install-pending",
            (Some(Op::Report(_)), ..) => "reporting",
            (Some(Op::CustomCa(_)), ..) => "fetching-custom-ca",
            (None, true, true) => "in-call",
            (None, true, false) => "idle",
        }
    }

    /// When the next scheduled resync is due (periodic, retry or daily).
    pub fn next_resync_at(&self) -> Option<Time> {
        [self.resync.at, self.resync.daily_at]
            .into_iter()
            .flatten()
            .min()
    }

    /// The JSON status page: state, identity, last resync, next resync,
    /// counters. Times are virtual milliseconds ([`Time`]).
    pub fn status_json(&self) -> Value {
        let s = &self.stats;
        json!({
            "state": self.state_name(),
            "mac": self.id.identity.mac,
            "pn": self.id.identity.pn,
            "serial": self.id.identity.serial,
            "swver": self.id.identity.swver,
            "in_call": self.env.in_call,
            "provision_enable": self.provisioning_enabled(),
            "last_resync": {
                "at": s.last_resync_at.map(|t| t.0),
                "class": s.last_class.map(|c| format!("{c:?}")),
                "outcome": match s.last_class { None => "none", Some(Class::A) => "success", Some(_) => "failure" },
                "error": s.last_error,
            },
            "next_resync_at": self.next_resync_at().map(|t| t.0),
            "pending_resync": self.resync.pending.is_some(),
            "consecutive_failures": self.resync.consecutive_failures,
            "last_upgrade": {
                "at": s.last_upgrade_at.map(|t| t.0),
                "error": s.last_upgrade_error,
            },
            "custom_ca": self.custom_ca_status(),
            "counters": s,
        })
    }
}
