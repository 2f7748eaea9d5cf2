//! Entry point shared by the `rule_parse` cargo-fuzz target and the corpus
//! replay test, so both exercise exactly the same code and invariants.

use crate::{expand, expand_secret, lint_rule, lint_template, MacroContext, ProfileRule};

/// Feeds arbitrary bytes (lossy UTF-8) to the parser, and when it parses, to
/// `select` with a fixed context and to the lint; also to `expand`. Panics
/// when an invariant breaks: canonical text must parse back to the same
/// rule, and lint spans must be valid char-boundary ranges.
pub fn rule_parse(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut ctx = MacroContext::new()
        .with_mac("000e08012345")
        .expect("valid MAC");
    ctx.set("PN", "CP-8841-3PCC");
    ctx.set("SWVER", "sip8845.11-3-2MPP0001-609");
    ctx.set_gpp("a", "gpp$MA").expect("valid GPP");
    ctx.set_gpp("sa", "secret").expect("valid GPP");
    ctx.set_default_server("10.0.0.1");
    if let Ok(rule) = ProfileRule::parse(&text) {
        let _ = rule.select(&ctx);
        let canonical = rule.to_string();
        assert_eq!(
            ProfileRule::parse(&canonical).as_ref(),
            Ok(&rule),
            "canonical text {canonical:?}"
        );
    }
    for p in lint_rule(&text).into_iter().chain(lint_template(&text)) {
        assert!(p.start <= p.end && p.end <= text.len(), "span {p:?}");
        assert!(
            text.is_char_boundary(p.start) && text.is_char_boundary(p.end),
            "span {p:?}"
        );
    }
    let _ = expand(&text, &ctx);
    let _ = expand_secret(&text, &ctx);
}
