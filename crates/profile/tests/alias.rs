//! Alias maps (R-FMT-8), including the seeds' worked example (SPEC §13).

use phoneprov_profile::alias::{AliasError, AliasMap, MAX_MAPPINGS};

const MAP: &str = "/customer-account/SIP-number = /flat-profile/User_ID_1_ ;\
                   /customer-account/SIP-password = /flat-profile/Password_1_ ;";

#[test]
fn r_fmt_8_worked_example() {
    let map = AliasMap::parse(MAP).unwrap();
    assert_eq!(map.mappings().len(), 2);
    let doc = "<customer-account>\n<SIP-number> 17775551234</SIP-number>\n<SIP-password>xyz</SIP-password>\n</customer-account>";
    let p = map.apply(doc).unwrap();
    assert_eq!(
        p.entries(),
        vec![
            ("User_ID_1_", "17775551234", None),
            ("Password_1_", "xyz", None)
        ]
    );
    assert_eq!((p.params()[0].line, p.params()[0].column), (2, 1));
}

#[test]
fn the_example_files_agree() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/profiles/alias");
    let holder = std::fs::read_to_string(format!("{dir}/alias-map.xml")).unwrap();
    let holder = phoneprov_profile::FlatProfile::parse(&holder).unwrap();
    let map = AliasMap::parse(holder.get("GPP_A").unwrap()).unwrap();
    let doc = std::fs::read_to_string(format!("{dir}/customer.xml")).unwrap();
    let p = map.apply(&doc).unwrap();
    assert_eq!(p.get("User_ID_1_"), Some("17775551234"));
    assert_eq!(p.get("Password_1_"), Some("512835907884"));
}

#[test]
fn whitespace_and_empty_entries_are_tolerated() {
    let map = AliasMap::parse("  /a/b=/flat-profile/GPP_A;;\n ; /a/c   =   /flat-profile/GPP_B  ")
        .unwrap();
    let p = map.apply("<a><b>1</b><c>2</c><d>3</d></a>").unwrap();
    assert_eq!(
        p.entries(),
        vec![("GPP_A", "1", None), ("GPP_B", "2", None)]
    );
}

#[test]
fn unmapped_flat_profile_elements_pass_through() {
    let map = AliasMap::parse("/device/acct/num = /flat-profile/User_ID_1_").unwrap();
    let p = map
        .apply("<device><acct><num>42</num></acct><flat-profile><GPP_A>x</GPP_A></flat-profile></device>")
        .unwrap();
    assert_eq!(
        p.entries(),
        vec![("User_ID_1_", "42", None), ("GPP_A", "x", None)]
    );
}

#[test]
fn more_than_thirty_mappings_is_an_error() {
    let one = |i: usize| format!("/a/e{i} = /flat-profile/GPP_A;");
    let ok: String = (0..MAX_MAPPINGS).map(one).collect();
    assert!(AliasMap::parse(&ok).is_ok());
    let too_many: String = (0..=MAX_MAPPINGS).map(one).collect();
    let e = AliasMap::parse(&too_many).unwrap_err();
    assert_eq!(e, AliasError::TooMany { count: 31 });
    assert!(e.to_string().contains("limit is 30"), "{e}");
}

#[test]
fn bad_paths_are_explained() {
    let cases = [
        ("customer/SIP = /flat-profile/A", "does not start with `/`"),
        ("/a//b = /flat-profile/A", "empty element name"),
        ("/a/b c = /flat-profile/A", "characters"),
        ("/a/b /flat-profile/A", "has no `=`"),
        ("/a/b = /other/A", "must be `/flat-profile/Name`"),
        ("/a/b = /flat-profile/A/B", "must be `/flat-profile/Name`"),
        ("   ;  ", "empty"),
    ];
    for (text, want) in cases {
        let e = AliasMap::parse(text).unwrap_err().to_string();
        assert!(e.contains(want), "{text:?}: {e}");
    }
}

#[test]
fn malformed_foreign_documents_are_xml_errors() {
    let map = AliasMap::parse(MAP).unwrap();
    let e = map
        .apply("<customer-account><SIP-number>1</SIP-numbr></customer-account>")
        .unwrap_err();
    match e {
        AliasError::Xml(x) => assert_eq!((x.code, x.line, x.column), ("xml-tag-mismatch", 1, 32)),
        other => panic!("unexpected {other:?}"),
    }
}
