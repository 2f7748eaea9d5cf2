//! # phoneprov-transport: the phone side's network executors
//!
//! The resync engine (`phoneprov-phone`, sans-IO) decides *what* to fetch:
//! URL, method, headers (including `Authorization` computed with
//! `phoneprov-httpauth`), body; it also classifies results (R-RESULT). This
//! crate only *executes* one request and returns the raw outcome:
//!
//! - [`HttpClient::send`]: one HTTP/1.1 request (hyper 1 client connection
//!   over tokio, rustls with the ring provider only), no redirect following,
//!   no auth retry, `Connection: close`; every A record tried in turn
//!   (R-HTTPS-6); manual proxy with `CONNECT` for https (R-SEC-4);
//!   [`HttpClient::send_with_server_name`] for SRV targets (R-SRV-4).
//! - [`HttpSession`] ([`HttpClient::session`]): requests over one kept-alive
//!   connection, for a TR-069 CPE's CWMP session (TR-069 3.4.1).
//! - [`Resolver`]: system resolver, or one DNS server `ADDR:PORT` (hickory).
//! - DNS SRV ([`srv_name`], [`order_srv`] per RFC 2782, [`resolve_srv`];
//!   SPEC §7).
//! - [`tftp_get`]: `phoneprov-tftp`'s client with R-RESULT error classes.
//! - [`DhcpLease`] / [`provisioning_target`]: which DHCP option names the
//!   provisioning source (SPEC §8).
//! - [`SyslogSender`]: RFC 3164 over UDP (SPEC §9).
//! - [`send_notify`]: a SIP NOTIFY `check-sync` to a phone (R-RULE-6),
//!   UDP with RFC 3261 retransmission, TCP or TLS, Digest on a challenge:
//!   a tokio shell around [`NotifyClient`], the sans-IO machine on the
//!   phone's non-INVITE client transaction (`phoneprov_phone::sip_txn`).
//! - [`find_proxy`]: `FindProxyForURL` of a PAC file (R-SEC-4,
//!   `Proxy_Mode=Auto`) run by boa with the standard PAC helpers, bounded
//!   by [`PacLimits`].
//! - [`TlsSessions`]: TLS session resumption per phone (each phone offers
//!   only its own sessions when it reconnects).
//!
//! Failures are [`TransportError`]s; [`TransportError::class_hint`] says
//! which R-RESULT class they fall into. HTTP statuses (404, 401, 301...) are
//! *not* errors: they come back in [`HttpResponse`].
//!
//! ## Example
//! ```no_run
//! use phoneprov_transport::*;
//! # async fn demo(tls: std::sync::Arc<rustls::ClientConfig>) -> Result<(), TransportError> {
//! let client = HttpClient::new(HttpClientConfig::new(tls)); // tls: phoneprov_pki::client_config
//! let resp = client
//!     .send(HttpRequest {
//!         method: "GET".into(),
//!         url: "https://pv.example.com/cfg/0011223344ab.xml".into(),
//!         headers: vec![("User-Agent".into(), "Cisco-CP-8841-3PCC/11.0 (0011223344ab)".into())],
//!         body: Vec::new(),
//!     })
//!     .await?;
//! match resp.status {
//!     200 => { /* parse resp.body */ }
//!     301 | 302 => { /* engine retries at resp.header("location") */ }
//!     401 | 407 => { /* engine answers resp.header_all("www-authenticate") */ }
//!     _ => {}
//! }
//! # Ok(()) }
//! ```
//!
//! ## Hand-written parts
//! The proxy `CONNECT` exchange (a dozen lines; hyper-util's proxy tunnel
//! needs its full legacy client stack), SRV ordering (RFC 2782's algorithm
//! is not exposed by hickory), the RFC 3164 timestamp, and the DHCP lease
//! model, the PAC helper functions (JavaScript, a few lines each; no crate
//! offers them for boa). HTTP, TLS, DNS and JavaScript are hyper, rustls,
//! hickory and boa.

mod dhcp;
mod dhcp6_client;
mod dhcp_client;
mod error;
mod http;
mod pac;
mod resolve;
mod sip;
mod srv;
mod syslog;
mod tftp;
mod tls_sessions;

pub use dhcp::{
    provisioning_target, provisioning_target_dual, vendor_class, DhcpLease, DhcpTarget, LeaseError,
    DEFAULT_DHCPV6_OPTION_ORDER, DEFAULT_DHCP_OPTION_ORDER, TR069_VENDOR_CLASS,
};
pub use dhcp6_client::{
    duid_ll, fuzz_entry as dhcp6_fuzz_entry, iaid, Dhcp6Bound, Dhcp6Client, Dhcp6ClientConfig,
    Dhcp6Counters, CISCO_ENTERPRISE, OPTION_REQUEST as DHCPV6_OPTION_REQUEST,
};
pub use dhcp_client::{
    backoff_ms, fuzz_entry as dhcp_fuzz_entry, lease_from_reply, DhcpBound, DhcpClient,
    DhcpClientConfig, DhcpCounters, DEFAULT_GIVE_UP_MS, PARAMETER_REQUEST_LIST,
};
pub use error::{ClassHint, TransportError};
pub use http::{HttpClient, HttpClientConfig, HttpRequest, HttpResponse, HttpSession, Proxy};
pub use pac::{evaluate_blocking, find_proxy, PacError, PacLimits, MAX_PAC_LEN, PAC_HELPERS};
pub use phoneprov_httpauth::Credentials;
pub use resolve::Resolver;
pub use sip::{
    send_notify, NotifyClient, NotifyOptions, NotifyOutcome, SipConn, SipContact, SipSendError,
    SipTransportKind, SIP_T1, SIP_T2,
};
pub use srv::{order_srv, resolve_srv, srv_name, SrvRecord, SrvResolution};
pub use syslog::{format_rfc3164, SyslogSender, MAX_DATAGRAM, SYSLOG_PORT};
pub use tftp::{tftp_get, TftpOptions, PHONE_TFTP_PORTS};
pub use tls_sessions::TlsSessions;

/// Re-exported so callers build configurations with the same rustls.
pub use rustls;
