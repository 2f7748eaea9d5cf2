//! `phoneprov-types`: the few value types and helpers that every layer of
//! phoneprov shares, kept in one small crate at the bottom of the
//! dependency graph.
//!
//! Why a crate of its own: the rule engine, the PKI, the syslog parser, the
//! inventory (`store`), the ACS and the server all name phones by MAC, and
//! each used to carry its own MAC parser, and they had drifted apart (the
//! PKI accepted the dotted Cisco spelling that `device add` refused). The
//! lowest crates (`rule`, `pki`, `syslog`) must not depend on the inventory
//! just to read a MAC, so the one type lives here, below all of them, with
//! no dependency heavier than `serde`, `subtle` and `thiserror`. `store` re-exports
//! [`Mac`] so inventory users need no second import.
//!
//! Contents:
//! - [`Mac`]: the one MAC address type (R-MACRO `$MA`, R-HTTP-3,
//!   R-HTTPS-5, R-LOG-3).
//! - [`xml::escape`]: the one XML escaper (profiles, CWMP, push bodies).
//! - [`Identified`]: a request's MAC and where it came from (path,
//!   User-Agent, certificate, query, Inform), for the access log.
//! - [`secret_eq`]: the one constant-time comparison of secrets (`subtle`).
//! - `http_error` (feature `http`): the one JSON error answer of the admin
//!   routes, `{"error": …, "hint": …}`; behind a feature so that only the
//!   crates serving HTTP pull in axum.

mod identified;
mod mac;
mod secret;
pub mod xml;

#[cfg(feature = "http")]
pub mod http_error;

pub use identified::{IdBy, Identified};
pub use mac::{Mac, MacError};
pub use secret::secret_eq;
