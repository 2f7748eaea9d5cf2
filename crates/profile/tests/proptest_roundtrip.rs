//! Property tests: canonical serialization round-trips (R-FMT), and the
//! reader never panics on arbitrary or XML-looking input.

use phoneprov_profile::{Access, FlatProfile};
use proptest::prelude::*;

fn access() -> impl Strategy<Value = Option<Access>> {
    prop_oneof![
        Just(None),
        Just(Some(Access::Na)),
        Just(Some(Access::Ro)),
        Just(Some(Access::Rw))
    ]
}

/// Values: any printable Unicode (so `<&"'>` and non-ASCII included),
/// trimmed of XML whitespace as parsed values are.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,40}",
        "[<>&\"' a-z]{0,20}",
        Just("Basic Http Authentication".to_string()),
        Just("/a/b = /flat-profile/User_ID_1_ ;".to_string()),
    ]
    .prop_map(|v| v.trim_matches([' ', '\t', '\r', '\n']).to_string())
}

fn profile() -> impl Strategy<Value = FlatProfile> {
    prop::collection::vec(("[A-Za-z_][A-Za-z0-9_.-]{0,24}", value(), access()), 0..20).prop_map(
        |items| {
            let mut p = FlatProfile::new();
            for (name, value, ua) in items {
                p.set_with_access(&name, &value, ua);
            }
            p
        },
    )
}

/// XML-looking noise: tags, attributes, entities, comments and text.
fn xmlish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "<[/!?]?[A-Za-z_:.-]{0,10}( ?ua ?= ?\"?(na|rw|x)?\"?)?/?>?",
        "&(amp|lt|gt|quot|apos|nbsp|#[0-9]{0,7}|#x[0-9a-fA-F]{0,6})?;?",
        "<!--[a-z <>-]{0,10}-->",
        "<!\\[CDATA\\[[a-z<&]{0,5}\\]\\]>",
        "[^<&]{0,12}",
        "(<flat-profile>|</flat-profile>|<device>|</device>)",
    ];
    prop::collection::vec(piece, 0..30).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn to_xml_then_parse_gives_back_the_profile(p in profile()) {
        let xml = p.to_xml();
        let back = FlatProfile::parse(&xml).map_err(|e| TestCaseError::fail(format!("{e}\n{xml}")))?;
        prop_assert_eq!(back.entries(), p.entries());
        // Canonical: serializing again gives the same text.
        prop_assert_eq!(back.to_xml(), xml);
    }

    #[test]
    fn arbitrary_strings_never_panic(s in "\\PC*|.*") {
        phoneprov_profile::fuzzing::xml_parse(s.as_bytes());
    }

    #[test]
    fn arbitrary_bytes_never_panic(b in prop::collection::vec(any::<u8>(), 0..200)) {
        phoneprov_profile::fuzzing::xml_parse(&b);
    }

    #[test]
    fn xml_looking_input_never_panics_and_parse_agrees_with_lint(s in xmlish()) {
        phoneprov_profile::fuzzing::xml_parse(s.as_bytes());
    }
}
