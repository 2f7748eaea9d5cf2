//! Plain data types the store reads and writes.
//!
//! They are backend-neutral (no SQLite types leak out) so a PostgreSQL
//! backend can return the same values. Times are Unix milliseconds (`i64`):
//! they sort, compare and store as one integer in both SQLite and
//! PostgreSQL (`BIGINT`), and the CLI formats them as RFC 3339.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::key::DeviceKey;
use crate::Mac;

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// What an operator says about a device: the inventory row minus what the
/// store owns (key, times, status). Used by `device add` and each CSV row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDevice {
    /// The key of the inventory.
    pub mac: Mac,
    /// `$SN` (R-MACRO).
    pub serial: Option<String>,
    /// Product name, `$PN` (R-MACRO), e.g. `CP-8841-3PCC`.
    pub model: Option<String>,
    /// Group: picks the profile template shared by several devices.
    pub group: Option<String>,
    /// Free variables for templates (account user, password, display name…).
    pub vars: BTreeMap<String, String>,
}

impl NewDevice {
    /// A device with only its MAC set.
    pub fn new(mac: Mac) -> Self {
        NewDevice {
            mac,
            serial: None,
            model: None,
            group: None,
            vars: BTreeMap::new(),
        }
    }
}

/// What the server last saw of a device (R-HTTP-3 User-Agent, R-RESULT).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeviceStatus {
    /// When the device last fetched something or reported, Unix ms.
    pub last_seen_ms: Option<i64>,
    /// Source address of that request.
    pub ip: Option<String>,
    /// Firmware from the User-Agent (`Cisco-<PN>/<firmware> (<MAC>)`).
    pub firmware: Option<String>,
    /// Outcome of the last resync.
    pub last_outcome: Option<Outcome>,
}

/// One inventory row as stored. The key is deliberately skipped by
/// `Serialize` (see [`DeviceKey`]); `device show` adds it explicitly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Device {
    /// 12 lowercase hex digits when serialized.
    pub mac: Mac,
    /// `$SN`.
    pub serial: Option<String>,
    /// `$PN`.
    pub model: Option<String>,
    /// Template group.
    pub group: Option<String>,
    /// Free template variables.
    pub vars: BTreeMap<String, String>,
    /// Per-device secret, generated at creation and kept across updates.
    #[serde(skip)]
    pub key: DeviceKey,
    /// When the device was first added, Unix ms.
    pub created_ms: i64,
    /// When the operator last changed it (add/import), Unix ms.
    pub updated_ms: i64,
    /// What the server saw last.
    pub status: DeviceStatus,
}

/// Outcome of a resync, upgrade or report, in the classes of R-RESULT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Class A: the profile (or firmware) was served and applied.
    Success,
    /// Class B: file not found.
    NotFound,
    /// Class B: the file was found but corrupt (bad decrypt, bad XML).
    Corrupt,
    /// Class C: any other failure.
    Failed,
}

impl Outcome {
    /// The stored and printed spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::NotFound => "not-found",
            Outcome::Corrupt => "corrupt",
            Outcome::Failed => "failed",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown outcome or event-kind name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {got:?}; use one of: {expected}")]
pub struct UnknownName {
    /// `outcome` or `event kind`.
    pub what: &'static str,
    /// The text given.
    pub got: String,
    /// The accepted names.
    pub expected: &'static str,
}

impl FromStr for Outcome {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        Ok(match s {
            "success" => Outcome::Success,
            "not-found" => Outcome::NotFound,
            "corrupt" => Outcome::Corrupt,
            "failed" => Outcome::Failed,
            _ => {
                return Err(UnknownName {
                    what: "outcome",
                    got: s.to_string(),
                    expected: "success, not-found, corrupt, failed",
                })
            }
        })
    }
}

/// What a timeline event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    /// A profile fetch (R-FLOW-5).
    Resync,
    /// A firmware fetch (R-FLOW-3).
    Upgrade,
    /// A syslog line from the phone (R-LOG).
    Syslog,
    /// A status report (HTTP POST, R-HTTP-2).
    Report,
    /// A TR-069 Inform (R-TR69).
    Inform,
    /// An activation step (R-ACT).
    Activation,
}

impl EventKind {
    /// The stored and printed spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Resync => "resync",
            EventKind::Upgrade => "upgrade",
            EventKind::Syslog => "syslog",
            EventKind::Report => "report",
            EventKind::Inform => "inform",
            EventKind::Activation => "activation",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventKind {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        Ok(match s {
            "resync" => EventKind::Resync,
            "upgrade" => EventKind::Upgrade,
            "syslog" => EventKind::Syslog,
            "report" => EventKind::Report,
            "inform" => EventKind::Inform,
            "activation" => EventKind::Activation,
            _ => {
                return Err(UnknownName {
                    what: "event kind",
                    got: s.to_string(),
                    expected: "resync, upgrade, syslog, report, inform, activation",
                })
            }
        })
    }
}

/// An event to append to a device's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// Whose timeline. Events of MACs not (yet) in the inventory are kept:
    /// an unknown phone hammering the server is worth seeing.
    pub mac: Mac,
    /// When it happened, Unix ms ([`now_ms`] for "now").
    pub at_ms: i64,
    /// What it is about.
    pub kind: EventKind,
    /// How it ended, when it has an outcome (a syslog line may not).
    pub outcome: Option<Outcome>,
    /// Where the request came from.
    pub source_ip: Option<IpAddr>,
    /// Free text: the URL fetched, the syslog line, the error.
    pub message: String,
}

/// A stored timeline event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// Increasing with insertion order.
    pub id: i64,
    /// Whose timeline.
    pub mac: Mac,
    /// When, Unix ms.
    pub at_ms: i64,
    /// What it is about.
    pub kind: EventKind,
    /// How it ended.
    pub outcome: Option<Outcome>,
    /// Where the request came from.
    pub source_ip: Option<String>,
    /// Free text.
    pub message: String,
}
