//! How a request named its device: the MAC and where it came from, which
//! the access log of `phoneprov serve` prints (issue 17 item 4) for every
//! protocol. The front ends and services that identify a device (the
//! server's identification pipeline, the ACS, the activation service)
//! hand one over; nothing re-parses a request to log it.

use crate::Mac;

/// Where the MAC of a request came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdBy {
    /// The request path (a profile path pattern, R-HTTP-3).
    Path,
    /// The User-Agent header (R-HTTP-3).
    UserAgent,
    /// The verified TLS client certificate (R-HTTPS-5).
    Certificate,
    /// A query-string or body field (the activation service's `mac`).
    Query,
    /// The CWMP Inform (serial number or a `…MACAddress` parameter).
    Inform,
}

impl IdBy {
    /// The word the access log writes: `path`, `ua`, `cert`, `query`,
    /// `inform`.
    pub fn as_str(self) -> &'static str {
        match self {
            IdBy::Path => "path",
            IdBy::UserAgent => "ua",
            IdBy::Certificate => "cert",
            IdBy::Query => "query",
            IdBy::Inform => "inform",
        }
    }
}

/// A request's device: its MAC and how the MAC was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Identified {
    /// The device.
    pub mac: Mac,
    /// Where the MAC came from.
    pub by: IdBy,
}

impl Identified {
    /// `mac` found by `by`.
    pub fn new(mac: Mac, by: IdBy) -> Identified {
        Identified { mac, by }
    }
}
