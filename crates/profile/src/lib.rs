//! The flat-profile language shared by both halves of phoneprov (SPEC §4
//! R-FMT, §12 R-SEC): XML parsing and canonical serialization
//! ([`FlatProfile`]), the parameter schema ([`schema`]), GPP alias maps
//! ([`alias`], R-FMT-8) and the profile lint ([`lint`]).
//!
//! # Why some of it is hand-written
//! - XML is tokenized by `quick-xml`, but the element structure (tag stack,
//!   error recovery) is done here (`scan.rs`): quick-xml stops at the first
//!   ill-formed construct, while the lint must report every problem with a
//!   position and a fix and keep going (R-FMT-5).
//! - The value grammars (`Firewall_Config`, resync schedules, DHCP option
//!   lists, OpenSSL cipher strings, alias maps) are specific to the phone
//!   firmware; no crate implements them, and each is a few lines.
//!
//! Rule and template values are checked by `phoneprov-rule`, so the profile
//! lint and the rule engine can never disagree about a rule.

pub mod alias;
pub mod lint;
mod position;
mod profile;
mod rulecheck;
mod scan;
pub mod schema;

pub use phoneprov_rule::Severity;
pub use profile::{Access, FlatProfile, Param, UnknownElement, UnknownKind, XmlError};

#[cfg(test)]
mod tests;
