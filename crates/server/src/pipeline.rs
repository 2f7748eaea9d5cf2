//! The identification pipeline: one path from a request to an answer for
//! HTTP, HTTPS and TFTP (R-FLOW, R-HTTP-3, R-HTTPS-5, R-TFTP-1, R-RESULT),
//! after wazo-provd's extract → retrieve → update → route.
//!
//! Each step is a module: [`crate::extract`], retrieve (the device cache,
//! [`crate::render::RenderCache::device`]), [`crate::decide`], produce
//! ([`crate::render`] and the file roots), [`crate::record`].
//!
//! 1. **extract** (the front ends, [`crate::http`] and
//!    [`crate::tftp_front`]): the decoded path, the source and local
//!    addresses, the User-Agent ([`Ua`]), the verified client certificate,
//!    the credentials and `If-None-Match` go into a [`Request`]; [`run`]
//!    then sorts the path ([`Target`]): `/firmware/…`, a profile path
//!    pattern naming a MAC (in the path, else the certificate's, else the
//!    User-Agent's), or a static file.
//! 2. **retrieve**: the device row, through the device cache.
//! 3. **decide** ([`crate::decide`]): certificate/MAC match, unknown or pending
//!    device (auto-registration), redirect, authentication, and the
//!    variant: the plaintext bootstrap profile (HTTPS with a matching
//!    client certificate or `bootstrap_without_client_cert`, or a source
//!    address in `security.preprovision_networks`) or the encrypted one.
//!    A refusal ([`Refusal`]) ends the request here.
//! 4. **produce**: render (through the render cache), or resolve the static
//!    or firmware file inside its root.
//! 5. **record** ([`crate::record`]): the status update and timeline
//!    event, auto-registration. A record is only made from the decide
//!    step's `Admitted` (which only `decide` makes), so nothing reaches
//!    the store for a refused request: failed authentication, a client
//!    certificate for another device (403; logged only), `[[auth]]` over
//!    TFTP (and a POSTed resync body is recorded only once the request is
//!    admitted). A request for a MAC that is not in the inventory is
//!    counted and summarised in the log
//!    ([`crate::unknown::UnknownDevices`]), never a timeline row (issue 12
//!    item 2). The recorded firmware comes only from an identified request
//!    (credentials checked by `[[auth]]`, or a client certificate): a bare
//!    User-Agent never sets it.
//!
//! The front ends only map the [`Answer`] to their protocol.
//!
//! # What each protocol does
//! | behaviour | HTTP | HTTPS | TFTP |
//! |---|---|---|---|
//! | MAC from the path pattern | yes | yes | yes |
//! | MAC from the client certificate, 403 on mismatch | – | yes | – (no certificates) |
//! | MAC, model and firmware from the User-Agent | yes | yes | – (no headers) |
//! | unknown device: 404, counted (no event), auto-registration | yes | yes | yes |
//! | pending device: 404 and event | yes | yes | yes |
//! | bootstrap profile to `preprovision_networks` | yes | yes | yes |
//! | bootstrap profile to a matching certificate | – | yes | – |
//! | redirect of a moved device | yes | yes | no: served as usual |
//! | `[[auth]]` (Basic/Digest) | yes | yes | no credentials: answered as unknown |
//! | `If-None-Match` → 304 | yes | yes | – (no conditional read) |
//! | resync by POST (body in the timeline) | yes | yes | – (read requests only) |
//!
//! TFTP has no redirect answer (an error packet carries a message only), so
//! a moved device asking over TFTP gets its profile as before. TFTP has no
//! way to send credentials either, so a device that `[[auth]]` covers is
//! not served over TFTP at all: it gets the one TFTP error an unknown MAC
//! gets and nothing is recorded (issue 12 item 5: over TFTP, a known
//! credential-protected MAC and an unknown one are indistinguishable),
//! except from a `preprovision_networks` address, which is trusted with
//! the plaintext bootstrap profile anyway. Such a device provisions over
//! HTTP(S), where it can authenticate.

use std::borrow::Cow;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use phoneprov_store::{Mac, Outcome};
use phoneprov_types::Identified;

use crate::decide::{self, Decision, Proof};
use crate::policy::Policy;
use crate::record::{self, Record};
use crate::render::Rendered;
use crate::state::AppState;

pub use crate::decide::Refusal;
pub use crate::extract::{target, Credentials, Request, Target, Ua};

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

/// The request's device, for the access log (issue 17 item 4): the MAC
/// and where it came from (extract), and what proved it (decide; nothing
/// for a refused request).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Named {
    /// The MAC and how it was found; `None` for a static file.
    pub id: Option<Identified>,
    /// What proved it.
    pub proof: Proof,
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

/// [`url_host`] for a rendering outside a phone's request (the template
/// and device change previews, the console's profile view): the local
/// address is the server's HTTP listener in `bound` (`127.0.0.1` when HTTP
/// is off); `req_host` is the `Host` the console was reached by, if any.
pub fn url_host_of<'a>(
    policy: &'a Policy,
    bound: &crate::config::Bound,
    req_host: Option<&'a str>,
) -> Cow<'a, str> {
    let local = bound
        .http
        .map_or(std::net::Ipv4Addr::LOCALHOST.into(), |a| a.ip());
    url_host(policy, req_host, local)
}

/// Runs the whole pipeline for one request: the answer, and the device it
/// named for the access log.
pub async fn run(
    state: &Arc<AppState>,
    policy: &Arc<Policy>,
    req: &Request<'_>,
) -> (Answer, Named) {
    match target(policy, req) {
        Target::Firmware(rest) => {
            let named = Named {
                id: req.named_by_cert_or_ua(),
                proof: if req.identity.is_some() {
                    Proof::Certificate
                } else {
                    Proof::None
                },
            };
            let file = resolve(&policy.dirs.firmware_root, rest).await;
            // A firmware download is recorded for the device the request
            // names (certificate, else User-Agent; nothing on TFTP) when
            // that device is in the inventory: a User-Agent naming an
            // unknown MAC writes nothing (issue 12 item 2).
            if let Some(mac) = req.cert_mac().or(req.ua.mac) {
                let ttl = std::time::Duration::from_millis(policy.config.profiles.device_ttl_ms);
                match state.cache.device(&state.reader, mac, ttl).await {
                    Ok(entry) if entry.device.is_some() => {
                        Record::firmware(&decide::file(req), req, mac)
                            .downloaded(state, file.is_ok());
                    }
                    Ok(_) => state.unknown.note(req.proto, mac, req.peer.ip()),
                    Err(e) => tracing::error!(%mac, error = %e, "device lookup failed"),
                }
            }
            (Answer::File(file), named)
        }
        Target::Static => (
            Answer::File(resolve(&policy.dirs.static_root, req.path).await),
            Named::default(),
        ),
        Target::Profile(id) => {
            let mut proof = Proof::None;
            let answer = profile(state, policy, req, id.mac, &mut proof).await;
            (
                answer,
                Named {
                    id: Some(id),
                    proof,
                },
            )
        }
    }
}

async fn profile(
    state: &Arc<AppState>,
    policy: &Arc<Policy>,
    req: &Request<'_>,
    mac: Mac,
    proof: &mut Proof,
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
    let admitted = match decide::decide(state, policy, req, mac, &entry) {
        Ok(a) => a,
        Err(refusal) => {
            record::refused(req, mac, &refusal);
            if let Refusal::Challenge(_, hold) = &refusal {
                if !hold.is_zero() {
                    tokio::time::sleep(*hold).await;
                }
            }
            return Answer::Refused(refusal);
        }
    };
    *proof = admitted.proof();
    let rec = Record::profile(&admitted, req, mac, &entry);
    // A POSTed body is kept for a device in the inventory only.
    if !matches!(admitted.decision(), Decision::Unknown { .. }) {
        rec.posted(state);
    }
    // Step 4, produce; step 5, record.
    match admitted.decision() {
        Decision::Unknown { register } => {
            // Bounded (issue 12): per client address and minute, and by
            // the pending rows of the database (checked by the writer).
            let profiles = &policy.config.profiles;
            let allowed = || {
                let per_minute = profiles.auto_register_per_minute;
                state.unknown.may_register(req.peer.ip(), per_minute)
            };
            if let Some(device) = register.as_ref().filter(|_| allowed()) {
                rec.register(state, device.clone(), profiles.auto_register_max_pending);
            }
            // Counted and summarised, not a timeline row per MAC.
            state.unknown.note(req.proto, mac, req.peer.ip());
            Answer::NotFound("unknown device")
        }
        Decision::Pending => {
            rec.folded(state, Outcome::NotFound, 404, "device pending approval");
            Answer::NotFound("device pending approval")
        }
        Decision::Redirect(permanent, location) => {
            rec.redirected(state, if *permanent { 301 } else { 302 }, location);
            Answer::Redirect {
                permanent: *permanent,
                location: location.clone(),
            }
        }
        &Decision::Serve(variant) => {
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
