//! Step 1 of the identification pipeline ([`crate::pipeline`]), extract:
//! what a front end knows about one request ([`Request`]), and which kind
//! of thing its path asks for ([`Target`]).

use std::net::SocketAddr;

use phoneprov_pki::PhoneIdentity;
use phoneprov_store::Mac;
use phoneprov_types::{IdBy, Identified};

use crate::metrics_setup::Proto;
use crate::paths::parse_user_agent;
use crate::policy::Policy;

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
    /// The MAC the verified client certificate names.
    pub fn cert_mac(&self) -> Option<Mac> {
        self.identity.and_then(|i| Mac::parse(&i.mac).ok())
    }

    /// The device the request names without its path: the verified
    /// client certificate's MAC, else the User-Agent's.
    pub fn named_by_cert_or_ua(&self) -> Option<Identified> {
        self.cert_mac()
            .map(|m| Identified::new(m, IdBy::Certificate))
            .or_else(|| self.ua.mac.map(|m| Identified::new(m, IdBy::UserAgent)))
    }
}

/// What a path asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// A file under the firmware root (the path after `/firmware/`).
    Firmware(&'a str),
    /// A device's profile, with where its MAC came from.
    Profile(Identified),
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
        .and_then(|m| {
            m.mac
                .map(|mac| Identified::new(mac, IdBy::Path))
                .or_else(|| req.named_by_cert_or_ua())
        })
        .map_or(Target::Static, Target::Profile)
}
