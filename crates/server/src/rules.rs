//! The rules a served profile carries, built through the `phoneprov-rule`
//! crate's syntax tree (R-RULE) so their text is the rule printer's
//! canonical form: `Profile_Rule` keeps the device's key on the phone
//! across resyncs (`[--key K] http://host/$MA.cfg`; a key the parser could
//! misread, such as one starting with `-`, is quoted by the printer), and
//! `Upgrade_Rule` points the phone at its target firmware (issue 4 items 4
//! and 7). [`insert_param`] adds them to a rendered profile that does not
//! set them itself.

use phoneprov_rule::{Alternative, OptionSpec, ProfileRule};
use phoneprov_types::xml::{escape, XmlContext};

/// `[--key KEY] URL`: fetch `URL` and decrypt it with `KEY` (R-RULE-2,
/// R-FMT-7). `url` is the listener's base URL followed by the profile path
/// pattern with its macros (`http://prov:8080/$MA.cfg`).
pub fn profile_rule(url: String, key: &str) -> ProfileRule {
    ProfileRule::from_alternatives(vec![Alternative {
        condition: None,
        assignments: Vec::new(),
        options: vec![OptionSpec::Key(key.to_string())],
        url,
    }])
}

/// The firmware image's URL under the listener's `/firmware/` path.
pub fn upgrade_rule(base: &str, file: &str) -> String {
    format!("{base}/firmware/{file}")
}

/// Adds `<name>value</name>` before `</flat-profile>` unless the profile
/// already sets `name` (the template's choice wins).
pub fn insert_param(xml: &mut String, name: &str, value: &str) {
    if xml.contains(&format!("<{name}>")) || xml.contains(&format!("<{name} ")) {
        return;
    }
    if let Some(at) = xml.rfind("</flat-profile>") {
        xml.insert_str(
            at,
            &format!("  <{name}>{}</{name}>\n", escape(value, XmlContext::Text)),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn insert_param_adds_missing_and_keeps_existing() {
        let mut x = "<flat-profile>\n  <A>1</A>\n</flat-profile>\n".to_string();
        insert_param(&mut x, "Profile_Rule", "[--key k] http://h/$MA.cfg?a&b");
        assert!(
            x.contains(
                "<Profile_Rule>[--key k] http://h/$MA.cfg?a&amp;b</Profile_Rule>\n</flat-profile>"
            ),
            "{x}"
        );
        let before = x.clone();
        insert_param(&mut x, "Profile_Rule", "other");
        assert_eq!(x, before);
        let mut y =
            "<flat-profile><Upgrade_Rule ua=\"na\">x</Upgrade_Rule></flat-profile>".to_string();
        insert_param(&mut y, "Upgrade_Rule", "z");
        assert!(!y.contains(">z<"));
    }

    #[test]
    fn a_key_starting_with_a_dash_is_quoted_by_the_rule_printer() {
        let r = profile_rule("http://h:8080/$MA.cfg".into(), "--abc");
        assert_eq!(r.to_string(), "[--key \"--abc\"] http://h:8080/$MA.cfg");
        let r = profile_rule("http://h/$MA.cfg".into(), "Zm9vYmFy_-");
        assert_eq!(r.to_string(), "[--key Zm9vYmFy_-] http://h/$MA.cfg");
    }

    /// The keys `phoneprov-store` makes: 43 base64url characters (32
    /// random bytes), any of which may be `-` (the first one too).
    fn key() -> impl Strategy<Value = String> {
        "[A-Za-z0-9_-]{43}"
    }

    /// The base URLs `context::server_urls` builds, followed by a
    /// `[profiles] paths` entry (macros included).
    fn url() -> impl Strategy<Value = String> {
        let host = prop_oneof![
            "[a-z][a-z0-9-]{0,20}(\\.[a-z][a-z0-9-]{0,10}){0,3}",
            "(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])(\\.(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])){3}",
            Just("[::1]".to_string()),
            Just("[fd00::5]".to_string()),
        ];
        let port = prop_oneof![Just(String::new()), (1u16..).prop_map(|p| format!(":{p}"))];
        let path = prop_oneof![
            Just("/$MA.cfg".to_string()),
            Just("/cisco/$PN/$MA.xml".to_string()),
            Just("/spa$MA.xml".to_string()),
            Just("/prov/$(MA).cfg".to_string()),
            "(/[A-Za-z0-9._-]{1,12}){0,3}/\\$MA\\.cfg",
        ];
        (prop_oneof![Just("http"), Just("https")], host, port, path)
            .prop_map(|(s, h, p, path)| format!("{s}://{h}{p}{path}"))
    }

    proptest! {
        /// Issue 11 item 4: every generated `Profile_Rule` parses back
        /// (the rule crate's parser) to the same key and URL.
        #[test]
        fn profile_rule_round_trips_through_the_rule_parser(k in key(), u in url()) {
            let text = profile_rule(u.clone(), &k).to_string();
            let parsed: ProfileRule = text.parse().map_err(|e| {
                TestCaseError::fail(format!("{text:?} does not parse: {e}"))
            })?;
            prop_assert_eq!(parsed.alternatives().len(), 1, "{}", text);
            let alt = &parsed.alternatives()[0];
            prop_assert_eq!(&alt.options, &vec![OptionSpec::Key(k.clone())], "{}", text);
            prop_assert_eq!(&alt.url, &u, "{}", text);
            prop_assert!(alt.condition.is_none() && alt.assignments.is_empty());
        }
    }
}
