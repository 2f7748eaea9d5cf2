//! Step 5 of the identification pipeline ([`crate::pipeline`]), record:
//! the status update and timeline event of a request, queued to the
//! status writer ([`crate::store_io`]). A [`Record`] is made only from the
//! decide step's [`Admitted`], so a request that failed authentication
//! writes nothing (nor its POSTed body); [`refused`] is the one refusal
//! that is noted.

use std::hash::{Hash, Hasher};
use std::time::Instant;

use phoneprov_store::{EventKind, Mac, NewDevice, Outcome};

use crate::decide::{Admitted, FileAccess, Refusal};
use crate::extract::Request;
use crate::metrics_setup::{handles, Proto};
use crate::render::DevEntry;
use crate::state::AppState;
use crate::store_io::{StatusMsg, FOLD_WINDOW};

/// A refused request records nothing (issue 12 item 2): failed
/// authentication, an unavailable inventory, `[[auth]]` over TFTP, and a
/// client certificate that names another device (logged here, since a
/// valid certificate used against another device is worth an operator's
/// look; nothing reaches the store, so a certificate holder cannot fill
/// another device's timeline).
pub fn refused(req: &Request<'_>, mac: Mac, refusal: &Refusal) {
    if let Refusal::CertMismatch { cert_mac } = refusal {
        tracing::warn!(%mac, %cert_mac, ip = %req.peer.ip(), "client certificate names another device");
    }
}

/// The timeline text: `http /000e08abcdef.cfg: 404, unknown device` over
/// HTTP(S) (the status code first), `tftp /000e08abcdef.cfg: unknown
/// device` over TFTP (no status codes there).
fn message(proto: Proto, path: &str, code: u16, why: &str) -> String {
    match (proto, why.is_empty()) {
        (Proto::Tftp, true) => format!("tftp {path}"),
        (Proto::Tftp, false) => format!("tftp {path}: {why}"),
        (p, true) => format!("{} {path}: {code}", p.as_str()),
        (p, false) => format!("{} {path}: {code}, {why}", p.as_str()),
    }
}

/// The record step for one admitted request on one device.
pub struct Record<'r, 'a> {
    req: &'r Request<'a>,
    mac: Mac,
    entry: Option<&'r DevEntry>,
    kind: EventKind,
    /// The firmware the request's User-Agent names, kept only for an
    /// identified request ([`Admitted::identified`]).
    firmware: Option<&'r str>,
}

impl<'r, 'a> Record<'r, 'a> {
    /// For a profile request (`entry`: its cached row, which keeps the
    /// folding memory). Takes the decide step's [`Admitted`].
    pub fn profile(
        admitted: &Admitted,
        req: &'r Request<'a>,
        mac: Mac,
        entry: &'r DevEntry,
    ) -> Self {
        Record {
            req,
            mac,
            entry: Some(entry),
            kind: EventKind::Resync,
            firmware: req.ua.firmware.as_deref().filter(|_| admitted.identified()),
        }
    }

    /// For a firmware download by the device `mac`.
    pub fn firmware(admitted: &Admitted<FileAccess>, req: &'r Request<'a>, mac: Mac) -> Self {
        Record {
            req,
            mac,
            entry: None,
            kind: EventKind::Upgrade,
            firmware: req.ua.firmware.as_deref().filter(|_| admitted.identified()),
        }
    }

    /// Adds an auto-registered device (pending approval) unless
    /// `max_pending` devices already await it.
    pub fn register(&self, state: &AppState, device: NewDevice, max_pending: u64) {
        state.status.send(StatusMsg::Register(device, max_pending));
        state.cache.forget(self.mac);
    }

    /// The POSTed resync body (R-HTTP-2), before the outcome.
    pub fn posted(&self, state: &AppState) {
        if let Some(text) = &self.req.posted {
            self.send(state, None, format!("POST {}: {text}", self.req.path));
        }
    }

    fn send(&self, state: &AppState, outcome: Option<Outcome>, message: String) {
        state.cache.reset_fold(self.mac);
        state.status.send(StatusMsg::Seen {
            mac: self.mac,
            ip: self.req.peer.ip(),
            firmware: self.firmware.map(str::to_string),
            outcome,
            kind: self.kind,
            message,
        });
    }

    /// A redirect: `http /000e08abcdef.cfg: 302 to URL`.
    pub fn redirected(&self, state: &AppState, code: u16, location: &str) {
        let text = format!(
            "{} {}: {code} to {location}",
            self.req.proto.as_str(),
            self.req.path
        );
        self.send(state, Some(Outcome::Success), text);
    }

    /// A firmware download: `http /firmware/sip88xx.loads 200` (404 when
    /// the file is not there).
    pub fn downloaded(&self, state: &AppState, found: bool) {
        let (outcome, code) = match found {
            true => (Outcome::Success, 200),
            false => (Outcome::NotFound, 404),
        };
        let text = format!("{} {} {code}", self.req.proto.as_str(), self.req.path);
        self.send(state, Some(outcome), text);
    }

    /// Records an answer that is not repeated often (a render error).
    pub fn once(&self, state: &AppState, outcome: Outcome, code: u16, why: &str) {
        let text = message(self.req.proto, self.req.path, code, why);
        self.send(state, Some(outcome), text);
    }

    /// Records a common answer (200, 304, 404): an identical repeat (same
    /// protocol, path, answer, address and firmware) within
    /// [`FOLD_WINDOW`] of the one last queued for this device is only
    /// counted (`phoneprov_status_folded_total`), exactly as the writer
    /// thread would fold it, but without formatting or queueing anything.
    pub fn folded(&self, state: &AppState, outcome: Outcome, code: u16, why: &'static str) {
        let Some(entry) = self.entry else {
            return self.once(state, outcome, code, why);
        };
        let req = self.req;
        let ip = req.peer.ip();
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (
            req.proto as u8,
            req.path,
            code,
            why,
            ip,
            self.firmware,
            outcome.as_str(),
        )
            .hash(&mut h);
        let key = h.finish();
        let now = Instant::now();
        {
            let mut last = entry.last_status.lock().unwrap_or_else(|p| p.into_inner());
            if last.1 == key && last.0.is_some_and(|t| now.duration_since(t) < FOLD_WINDOW) {
                drop(last);
                handles().status_folded.increment(1);
                return;
            }
            *last = (Some(now), key);
        }
        state.status.send(StatusMsg::Seen {
            mac: self.mac,
            ip,
            firmware: self.firmware.map(str::to_string),
            outcome: Some(outcome),
            kind: self.kind,
            message: message(req.proto, req.path, code, why),
        });
    }
}
