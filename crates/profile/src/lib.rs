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

/// Entry points shared by the cargo-fuzz targets and the corpus replay
/// test, so both exercise exactly the same code.
#[doc(hidden)]
pub mod fuzzing {
    use crate::lint::{lint_bytes, Severity};
    use crate::FlatProfile;

    /// `xml_parse` target: strict parse and lint never panic; a document
    /// that parses serializes canonically and re-parses to the same
    /// entries; and parse/lint agree on whether the XML is well-formed.
    pub fn xml_parse(data: &[u8]) {
        let parsed = FlatProfile::parse_bytes(data);
        let diags = lint_bytes("fuzz.xml", data);
        let xml_error = diags
            .iter()
            .any(|d| d.severity == Severity::Error && d.code.starts_with("xml-"));
        assert_eq!(
            parsed.is_ok(),
            !xml_error,
            "parse {:?} but lint {:?}",
            parsed.as_ref().err(),
            diags
        );
        if let Ok(p) = parsed {
            let xml = p.to_xml();
            let again = FlatProfile::parse(&xml)
                .unwrap_or_else(|e| panic!("canonical output does not re-parse: {e}\n{xml}"));
            assert_eq!(
                again.entries(),
                p.entries(),
                "round trip changed the profile\n{xml}"
            );
        }
    }
}
