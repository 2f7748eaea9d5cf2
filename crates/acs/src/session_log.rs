//! The end of a CWMP session as one record ([`SessionSummary`]), handed to
//! the server's access log (issue 17 item 4) through the hook set with
//! [`crate::Acs::set_session_log`]: who the CPE was, what the ACS sent it,
//! how the session ended and how long it took.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use phoneprov_store::Mac;

/// How a CWMP session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    /// The ACS had nothing more to say (`204`) and the connection closed.
    Done,
    /// Refused: an unknown CPE with `unknown_cpes = "deny"` (403).
    Denied,
    /// Ended on an error answer (a protocol error, a task fetch failure).
    Error,
    /// Idle past the idle timeout; its tasks went back to the queue.
    Timeout,
    /// The server shut down.
    Shutdown,
    /// A newer session of the same device (its Inform) took over: the
    /// CPE gave this one up (TR-069 §3.7.1.5, one session per device).
    Superseded,
}

impl SessionEnd {
    /// The access log's word: `done`, `denied`, `error`, `timeout`,
    /// `shutdown`, `superseded`.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionEnd::Done => "done",
            SessionEnd::Denied => "denied",
            SessionEnd::Error => "error",
            SessionEnd::Timeout => "timeout",
            SessionEnd::Shutdown => "shutdown",
            SessionEnd::Superseded => "superseded",
        }
    }
}

/// One finished CWMP session.
#[derive(Debug, Clone)]
pub struct SessionSummary {
    /// The CPE's address (of its first POST).
    pub client: Option<SocketAddr>,
    /// The Inform's device id, `OUI-ProductClass-SerialNumber` (`None`
    /// before an Inform).
    pub device: Option<String>,
    /// The device's MAC, when the Inform named one the ACS resolved.
    pub mac: Option<Mac>,
    /// The connection's verified client certificate named that MAC (the
    /// ACS over TLS).
    pub cert: bool,
    /// The CPE proved itself with the ACS's Digest or Basic credentials
    /// (`[acs] auth`): the access log's `proof=password`.
    pub password: bool,
    /// RPCs the ACS sent (tasks and presets).
    pub rpcs: u32,
    /// Of those, tasks from the queue.
    pub tasks: u32,
    /// RPCs the CPE answered with a fault.
    pub faults: u32,
    /// How it ended.
    pub end: SessionEnd,
    /// From the first POST to the end.
    pub duration: Duration,
    /// Bytes of the ACS's answers.
    pub bytes: u64,
}

/// Receives every finished session ([`crate::Acs::set_session_log`]).
pub type SessionLog = Arc<dyn Fn(&SessionSummary) + Send + Sync>;
