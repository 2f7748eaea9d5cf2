//! The identification pipeline: one path from a request to an answer for
//! HTTP, HTTPS and TFTP (R-FLOW, R-HTTP-3, R-HTTPS-5, R-TFTP-1, R-RESULT),
//! after wazo-provd's extract → retrieve → update → route.
//!
//! 1. **extract** (the front ends, [`crate::http`] and
//!    [`crate::tftp_front`]): the decoded path, the source and local
//!    addresses, the User-Agent ([`Ua`]), the verified client certificate,
//!    the credentials and `If-None-Match` go into a [`Request`]; [`run`]
//!    then sorts the path ([`Target`]): `/firmware/…`, a profile path
//!    pattern naming a MAC (in the path, else the certificate's, else the
//!    User-Agent's), or a static file.
//! 2. **retrieve**: the device row, through the device cache.
//! 3. **decide** ([`decide`]): certificate/MAC match, unknown or pending
//!    device (auto-registration), redirect, authentication, and the
//!    variant: the plaintext bootstrap profile (HTTPS with a matching
//!    client certificate or `bootstrap_without_client_cert`, or a source
//!    address in `security.preprovision_networks`) or the encrypted one.
//!    A refusal ([`Refusal`]) ends the request here.
//! 4. **produce**: render (through the render cache), or resolve the static
//!    or firmware file inside its root.
//! 5. **record** ([`Record`]): the status update and timeline event.
//!    A [`Record`] is only made from an admitted decision, so nothing
//!    reaches the store for a request that failed authentication (and a
//!    POSTed resync body is recorded only once the request is admitted).
//!    The one exception is the 403 for a client certificate that names
//!    another device, noted by [`note_refusal`] (an event on the named
//!    device, as before this pipeline existed).
//!
//! The front ends only map the [`Answer`] to their protocol.
//!
//! # What each protocol does
//! | behaviour | HTTP | HTTPS | TFTP |
//! |---|---|---|---|
//! | MAC from the path pattern | yes | yes | yes |
//! | MAC from the client certificate, 403 on mismatch | – | yes | – (no certificates) |
//! | MAC, model and firmware from the User-Agent | yes | yes | – (no headers) |
//! | unknown device: 404 and event, auto-registration | yes | yes | yes |
//! | pending device: 404 and event | yes | yes | yes |
//! | bootstrap profile to `preprovision_networks` | yes | yes | yes |
//! | bootstrap profile to a matching certificate | – | yes | – |
//! | redirect of a moved device | yes | yes | no: served as usual |
//! | `[[auth]]` (Basic/Digest) | yes | yes | no: served encrypted |
//! | `If-None-Match` → 304 | yes | yes | – (no conditional read) |
//! | resync by POST (body in the timeline) | yes | yes | – (read requests only) |
//!
//! TFTP has no redirect answer (an error packet carries a message only) and
//! no way to send credentials, so a moved or `[[auth]]`-covered device
//! asking over TFTP gets its profile as before: encrypted with its own key,
//! which is what protects it on every unauthenticated path.

use std::borrow::Cow;
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use phoneprov_pki::PhoneIdentity;
use phoneprov_store::{EventKind, Mac, NewDevice, Outcome};

use crate::auth::AuthResult;
use crate::metrics_setup::{handles, Proto};
use crate::paths::parse_user_agent;
use crate::policy::{is_pending, vars, Policy};
use crate::render::{DevEntry, Rendered, Variant};
use crate::state::AppState;
use crate::store_io::{StatusMsg, FOLD_WINDOW};

/// Owned User-Agent facts (R-HTTP-3).
#[derive(Debug, Clone, Default)]
pub struct Ua {
    /// Model (`CP-8841-3PCC`).
    pub model: Option<String>,
    /// Firmware version.
    pub firmware: Option<String>,
    /// MAC, when the User-Agent carries one.
    pub mac: Option<Mac>,
}

impl Ua {
    /// Parses a `User-Agent` header; unknown shapes give no facts.
    pub fn parse(header: Option<&str>) -> Ua {
        header
            .and_then(parse_user_agent)
            .map(|u| Ua {
                model: Some(u.model.to_string()),
                firmware: Some(u.firmware.to_string()),
                mac: u.mac,
            })
            .unwrap_or_default()
    }
}

/// HTTP credentials, checked against `[[auth]]`.
#[derive(Debug, Clone, Copy)]
pub struct Credentials<'a> {
    /// Request method (Digest hashes it).
    pub method: &'a str,
    /// Request URI with the query (Digest hashes it).
    pub uri: &'a str,
    /// The `Authorization` header, if any.
    pub authorization: Option<&'a str>,
}

/// Step 1, extract: what a front end knows about one request.
#[derive(Debug)]
pub struct Request<'a> {
    /// The protocol it came on.
    pub proto: Proto,
    /// Decoded path, starting with `/` (path safety checked by the front
    /// end).
    pub path: &'a str,
    /// Client address.
    pub peer: SocketAddr,
    /// Local address it arrived on (TFTP: the listener's, possibly
    /// unspecified).
    pub local: SocketAddr,
    /// The HTTP `Host` header.
    pub host: Option<&'a str>,
    /// User-Agent facts (none on TFTP).
    pub ua: Ua,
    /// The verified client certificate's identity (HTTPS only).
    pub identity: Option<&'a PhoneIdentity>,
    /// Credentials (`None`: the protocol cannot carry any, so `[[auth]]`
    /// does not apply).
    pub credentials: Option<Credentials<'a>>,
    /// `If-None-Match` (HTTP only).
    pub if_none_match: Option<&'a str>,
    /// Whether the protocol can answer with a redirect.
    pub can_redirect: bool,
    /// A resync by POST: the body's text, recorded once admitted.
    pub posted: Option<String>,
}

impl Request<'_> {
    fn cert_mac(&self) -> Option<Mac> {
        self.identity.and_then(|i| Mac::parse(&i.mac).ok())
    }
}

/// What a path asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// A file under the firmware root (the path after `/firmware/`).
    Firmware(&'a str),
    /// A device's profile.
    Profile(Mac),
    /// A file under the static root (also a profile-shaped path that
    /// names no device, such as `/$PN.cfg` from a phone whose User-Agent
    /// carries no MAC).
    Static,
}

/// Sorts a request's path: firmware, profile (with the device's MAC: path,
/// else client certificate, else User-Agent) or static.
pub fn target<'a>(policy: &Policy, req: &Request<'a>) -> Target<'a> {
    if let Some(rest) = req.path.strip_prefix("/firmware/") {
        return Target::Firmware(rest);
    }
    policy
        .patterns
        .iter()
        .find_map(|p| p.matches(req.path))
        .and_then(|m| m.mac.or(req.cert_mac()).or(req.ua.mac))
        .map_or(Target::Static, Target::Profile)
}

/// The pipeline's answer; each front end maps it to its protocol.
#[derive(Debug)]
pub enum Answer {
    /// A device profile (`not_modified`: `If-None-Match` matched its ETag).
    Profile {
        /// The encoded profile.
        rendered: Arc<Rendered>,
        /// Answer 304 without a body.
        not_modified: bool,
    },
    /// A static or firmware file: its canonical path inside the root, or
    /// why not (not there, or not allowed).
    File(Result<PathBuf, phoneprov_tftp::HandlerError>),
    /// Unknown or pending device (404, TFTP file-not-found).
    NotFound(&'static str),
    /// The device has moved.
    Redirect {
        /// 301 instead of 302.
        permanent: bool,
        /// Where to.
        location: String,
    },
    /// Refused before anything was served or recorded.
    Refused(Refusal),
    /// The profile could not be rendered (500; recorded).
    RenderFailed,
}

/// Why a request is refused at the decide step.
#[derive(Debug)]
pub enum Refusal {
    /// The client certificate names another device (403).
    CertMismatch {
        /// The certificate's MAC.
        cert_mac: String,
    },
    /// Credentials missing or wrong (401 with these challenges).
    Challenge(Vec<String>),
    /// The inventory could not be read (503).
    Unavailable,
}

/// Step 3's verdict for a known request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Serve this form of the profile.
    Serve(Variant),
    /// Redirect (`permanent`: 301) to the URL.
    Redirect(bool, String),
    /// Not in the inventory (auto-registered when configured).
    Unknown,
    /// Awaiting approval.
    Pending,
}

/// Step 3, decide, for a profile request whose device row (step 2) is
/// `entry`. Auto-registration of an unknown device happens here.
pub fn decide(
    state: &AppState,
    policy: &Policy,
    req: &Request<'_>,
    mac: Mac,
    entry: &DevEntry,
) -> Result<Decision, Refusal> {
    // A certificate for MAC X never gets MAC Y's profile.
    if let Some(id) = req.identity {
        if !id.authorizes_mac(&mac.to_string()) {
            return Err(Refusal::CertMismatch {
                cert_mac: id.mac.clone(),
            });
        }
    }
    let Some(device) = entry.device.as_deref() else {
        if policy.config.profiles.auto_register {
            let mut nd = NewDevice::new(mac);
            nd.model = req
                .ua
                .model
                .clone()
                .or_else(|| req.identity.and_then(|i| i.model.clone()));
            nd.serial = req.identity.and_then(|i| i.serial.clone());
            nd.vars.insert(vars::STATUS.into(), "pending".into());
            state.status.send(StatusMsg::Register(nd));
            state.cache.forget(mac);
        }
        return Ok(Decision::Unknown);
    };
    if is_pending(&device.vars) {
        return Ok(Decision::Pending);
    }
    if req.can_redirect {
        let url = policy
            .redirects
            .get(&mac)
            .or_else(|| device.vars.get(vars::REDIRECT));
        // A URL that cannot be a header value is ignored (served as usual).
        if let Some(url) = url.filter(|u| http::HeaderValue::from_str(u).is_ok()) {
            let permanent = policy.config.redirect_status == Some(301);
            return Ok(Decision::Redirect(permanent, url.clone()));
        }
    }
    if let (Some(rule), Some(c)) = (
        policy.auth_for(mac, device.group.as_deref()),
        req.credentials,
    ) {
        match state
            .auth
            .check(c.method, c.uri, c.authorization, &rule.users, &rule.schemes)
        {
            AuthResult::Ok(_) => {}
            AuthResult::Challenge { stale } => {
                return Err(Refusal::Challenge(
                    state.auth.challenges(&rule.schemes, stale),
                ))
            }
        }
    }
    let preprov = policy
        .config
        .security
        .preprovision_networks
        .iter()
        .any(|n| n.contains(&req.peer.ip()));
    let https_bootstrap = req.proto == Proto::Https
        && (req.identity.is_some() || policy.config.security.bootstrap_without_client_cert);
    Ok(Decision::Serve(if preprov || https_bootstrap {
        Variant::Bootstrap
    } else {
        Variant::Encrypted
    }))
}

/// The host phones should use in generated URLs: `public_host`, else the
/// request's `Host` (when it is a plain name or address), else the local
/// address (`127.0.0.1` for an unspecified one).
pub fn url_host<'a>(policy: &'a Policy, req_host: Option<&'a str>, local: IpAddr) -> Cow<'a, str> {
    if let Some(h) = &policy.config.profiles.public_host {
        return Cow::Borrowed(h);
    }
    if let Some(h) = req_host {
        let host = if let Some(rest) = h.strip_prefix('[') {
            rest.split(']').next().unwrap_or(rest)
        } else {
            h.rsplit_once(':').map_or(h, |(a, _)| a)
        };
        if !host.is_empty()
            && host
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b".-:".contains(&c))
        {
            return Cow::Borrowed(host);
        }
    }
    if local.is_unspecified() {
        return Cow::Borrowed("127.0.0.1");
    }
    Cow::Owned(local.to_string())
}

/// Runs the whole pipeline for one request.
pub async fn run(state: &Arc<AppState>, policy: &Arc<Policy>, req: &Request<'_>) -> Answer {
    match target(policy, req) {
        Target::Firmware(rest) => {
            let file = resolve(&policy.dirs.firmware_root, rest).await;
            // A firmware download is recorded for the device the request
            // names (User-Agent or certificate; nothing on TFTP).
            if let Some(mac) = req.ua.mac.or_else(|| req.cert_mac()) {
                let (outcome, code) = match file {
                    Ok(_) => (Outcome::Success, 200),
                    Err(_) => (Outcome::NotFound, 404),
                };
                Record::firmware(req, mac).once(state, outcome, code, "");
            }
            Answer::File(file)
        }
        Target::Static => Answer::File(resolve(&policy.dirs.static_root, req.path).await),
        Target::Profile(mac) => profile(state, policy, req, mac).await,
    }
}

async fn profile(
    state: &Arc<AppState>,
    policy: &Arc<Policy>,
    req: &Request<'_>,
    mac: Mac,
) -> Answer {
    // Step 2, retrieve.
    let ttl = std::time::Duration::from_millis(policy.config.profiles.device_ttl_ms);
    let entry = match state.cache.device(&state.reader, mac, ttl).await {
        Ok(e) => e,
        Err(e) => {
            tracing::error!(%mac, error = %e, "device lookup failed");
            return Answer::Refused(Refusal::Unavailable);
        }
    };
    // Step 3, decide.
    let decision = match decide(state, policy, req, mac, &entry) {
        Ok(d) => d,
        Err(refusal) => {
            note_refusal(state, req, mac, &refusal);
            return Answer::Refused(refusal);
        }
    };
    let rec = Record::admitted(req, mac, &entry);
    rec.posted(state);
    // Step 4, produce; step 5, record.
    match decision {
        Decision::Unknown => {
            rec.folded(state, Outcome::NotFound, 404, "unknown device");
            Answer::NotFound("unknown device")
        }
        Decision::Pending => {
            rec.folded(state, Outcome::NotFound, 404, "device pending approval");
            Answer::NotFound("device pending approval")
        }
        Decision::Redirect(permanent, location) => {
            let code = if permanent { 301 } else { 302 };
            rec.once(state, Outcome::Success, code, &format!("to {location}"));
            Answer::Redirect {
                permanent,
                location,
            }
        }
        Decision::Serve(variant) => {
            let host = url_host(policy, req.host, req.local.ip());
            let templates = state.templates.load();
            match state
                .cache
                .profile(&state.bound, policy, &templates, &entry, variant, &host)
            {
                Ok((rendered, _hit)) => {
                    let not_modified = req.if_none_match.is_some_and(|v| {
                        v.split(',')
                            .map(|t| t.trim().trim_start_matches("W/"))
                            .any(|t| t == "*" || t.as_bytes() == rendered.etag.as_bytes())
                    });
                    let code = if not_modified { 304 } else { 200 };
                    rec.folded(state, Outcome::Success, code, "");
                    Answer::Profile {
                        rendered,
                        not_modified,
                    }
                }
                Err(e) => {
                    let outcome = match e {
                        crate::render::RenderError::Lint { .. } => Outcome::Corrupt,
                        _ => Outcome::Failed,
                    };
                    tracing::error!(%mac, error = %e, "profile render failed");
                    rec.once(state, outcome, 500, &e.to_string());
                    Answer::RenderFailed
                }
            }
        }
    }
}

/// The one refusal that is recorded: a certificate for another device
/// (an event on the device asked for, naming the certificate's MAC).
/// Failed authentication and an unavailable inventory record nothing.
fn note_refusal(state: &AppState, req: &Request<'_>, mac: Mac, refusal: &Refusal) {
    if let Refusal::CertMismatch { cert_mac } = refusal {
        tracing::warn!(%mac, %cert_mac, ip = %req.peer.ip(), "client certificate names another device");
        state.cache.reset_fold(mac);
        state.status.send(StatusMsg::Seen {
            mac,
            ip: req.peer.ip(),
            firmware: None,
            outcome: Some(Outcome::Failed),
            kind: EventKind::Resync,
            message: message(
                req.proto,
                req.path,
                403,
                &format!("client certificate is for {cert_mac}"),
            ),
        });
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

/// Step 5, record: status update and timeline event of an admitted
/// request (see the module docs for why only admitted ones).
struct Record<'r, 'a> {
    req: &'r Request<'a>,
    mac: Mac,
    entry: Option<&'r DevEntry>,
    kind: EventKind,
}

impl<'r, 'a> Record<'r, 'a> {
    fn admitted(req: &'r Request<'a>, mac: Mac, entry: &'r DevEntry) -> Self {
        Record {
            req,
            mac,
            entry: Some(entry),
            kind: EventKind::Resync,
        }
    }

    fn firmware(req: &'r Request<'a>, mac: Mac) -> Self {
        Record {
            req,
            mac,
            entry: None,
            kind: EventKind::Upgrade,
        }
    }

    /// The POSTed resync body (R-HTTP-2), before the outcome.
    fn posted(&self, state: &AppState) {
        if let Some(text) = &self.req.posted {
            self.send(state, None, format!("POST {}: {text}", self.req.path));
        }
    }

    fn send(&self, state: &AppState, outcome: Option<Outcome>, message: String) {
        state.cache.reset_fold(self.mac);
        state.status.send(StatusMsg::Seen {
            mac: self.mac,
            ip: self.req.peer.ip(),
            firmware: self.req.ua.firmware.clone(),
            outcome,
            kind: self.kind,
            message,
        });
    }

    /// Records an answer that is not repeated often (redirect, render
    /// error, firmware download).
    fn once(&self, state: &AppState, outcome: Outcome, code: u16, why: &str) {
        let text = message(self.req.proto, self.req.path, code, why);
        self.send(state, Some(outcome), text);
    }

    /// Records a common answer (200, 304, 404): an identical repeat (same
    /// protocol, path, answer, address and firmware) within
    /// [`FOLD_WINDOW`] of the one last queued for this device is only
    /// counted (`phoneprov_status_folded_total`), exactly as the writer
    /// thread would fold it, but without formatting or queueing anything.
    fn folded(&self, state: &AppState, outcome: Outcome, code: u16, why: &'static str) {
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
            req.ua.firmware.as_deref(),
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
            firmware: req.ua.firmware.clone(),
            outcome: Some(outcome),
            kind: self.kind,
            message: message(req.proto, req.path, code, why),
        });
    }
}

/// Step 4 for files: the canonical path inside `root` (off the async
/// workers: canonicalisation touches the disk).
async fn resolve(
    root: &std::path::Path,
    rel: &str,
) -> Result<PathBuf, phoneprov_tftp::HandlerError> {
    let root = root.to_path_buf();
    let rel = rel.to_string();
    tokio::task::spawn_blocking(move || phoneprov_tftp::resolve_path(&root, &rel))
        .await
        .map_err(|e| phoneprov_tftp::HandlerError::Other(format!("lookup failed: {e}")))?
}
