//! The redirect profile: the activation server's answer to a phone.
//!
//! A flat profile (R-FMT) that sets only `Profile_Rule` (with `ua="na"`,
//! so the user cannot change where the phone provisions from). Both halves
//! go through `phoneprov_profile::FlatProfile`, so what the server writes
//! is exactly what the phone side reads (DESIGN: one implementation of the
//! profile language for both sides).

use phoneprov_profile::{Access, FlatProfile};

/// MIME type of the redirect profile.
pub const REDIRECT_CONTENT_TYPE: &str = "application/xml";

/// The parameter a redirect sets.
pub const PROFILE_RULE: &str = "Profile_Rule";

/// Why a body is not a usable redirect profile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedirectError {
    /// Not a flat profile.
    #[error("the activation answer is not a flat profile ({0}); check that the activation server URL points at phoneprov's /activation/v1 endpoints")]
    Xml(String),
    /// A flat profile without a non-empty `Profile_Rule`.
    #[error(
        "the activation answer sets no Profile_Rule; the server's binding has no URL, rebind it"
    )]
    NoRule,
}

/// The redirect profile for `url`.
pub fn redirect_profile(url: &str) -> String {
    let mut p = FlatProfile::new();
    p.set_with_access(PROFILE_RULE, url, Some(Access::Na));
    p.to_xml()
}

/// The `Profile_Rule` a redirect profile sets.
pub fn parse_redirect(body: &[u8]) -> Result<String, RedirectError> {
    let p = FlatProfile::parse_bytes(body).map_err(|e| RedirectError::Xml(e.to_string()))?;
    match p.get(PROFILE_RULE) {
        Some(rule) if !rule.trim().is_empty() => Ok(rule.to_string()),
        _ => Err(RedirectError::NoRule),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_characters_that_need_escaping() {
        let url = "(\"$PN\" eq \"CP-8841-3PCC\")? https://p.example.com/a?x=1&y=<2>|https://p.example.com/$MA.xml";
        let xml = redirect_profile(url);
        assert!(xml.contains("ua=\"na\""), "{xml}");
        assert!(xml.contains("&amp;"), "{xml}");
        assert_eq!(parse_redirect(xml.as_bytes()).as_deref(), Ok(url));
    }

    #[test]
    fn bodies_without_a_rule_are_refused() {
        assert_eq!(
            parse_redirect(b"<flat-profile><GPP_A>1</GPP_A></flat-profile>"),
            Err(RedirectError::NoRule)
        );
        assert!(matches!(
            parse_redirect(b"<html>"),
            Err(RedirectError::Xml(_))
        ));
    }
}
