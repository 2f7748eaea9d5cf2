//! Parser and serializer unit tests (R-FMT-1…5, SPEC §13 worked examples).

use crate::{Access, FlatProfile, UnknownKind};

fn parse(xml: &str) -> FlatProfile {
    FlatProfile::parse(xml).unwrap_or_else(|e| panic!("parse failed: {e}\n{xml}"))
}

fn err(xml: &str) -> crate::XmlError {
    match FlatProfile::parse(xml) {
        Ok(p) => panic!("expected an error, got {:?}", p.entries()),
        Err(e) => e,
    }
}

/// SPEC §13 / R-FMT-3: `<GPP_A> 12345678\n</GPP_A>` sets `12345678`.
#[test]
fn r_fmt_3_worked_example_basic_txt_is_trimmed() {
    let p = parse("<flat-profile>\n  <GPP_A> 12345678\n  </GPP_A>\n</flat-profile>\n");
    assert_eq!(p.get("GPP_A"), Some("12345678"));
    assert_eq!(p.params().len(), 1);
}

/// SPEC §13 partitioned profile: basic2.txt holds `<GPP_B>ABCD</GPP_B>`.
#[test]
fn worked_example_basic2() {
    let p = parse("<flat-profile>\n<GPP_B>ABCD</GPP_B>\n</flat-profile>");
    assert_eq!(p.get("GPP_B"), Some("ABCD"));
}

/// R-FMT-1: the `<device>` wrapper of the seeds, with declaration and comments.
#[test]
fn r_fmt_1_device_wrapper_decl_and_comments() {
    let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<device>
<flat-profile>
<!-- System Configuration -->
<Profile_Rule ua="na">gds://</Profile_Rule>
<!-- Firmware Upgrade -->
<Upgrade_Enable ua="na">Yes</Upgrade_Enable>
<Upgrade_Error_Retry_Delay ua="na">3600</Upgrade_Error_Retry_Delay>
<!-- <BACKUP_ACS_Password ua="na"/> -->
</flat-profile>
</device>
"#;
    let p = parse(xml);
    assert_eq!(
        p.entries(),
        vec![
            ("Profile_Rule", "gds://", Some(Access::Na)),
            ("Upgrade_Enable", "Yes", Some(Access::Na)),
            ("Upgrade_Error_Retry_Delay", "3600", Some(Access::Na)),
        ]
    );
    assert!(p.unknown_elements().is_empty());
    assert_eq!((p.params()[0].line, p.params()[0].column), (5, 1));
}

/// R-FMT-1: any wrapper works; a wrapper other than device/flat-profile is reported.
#[test]
fn any_wrapper_is_accepted_and_reported() {
    let p = parse("<config>\n  <flat-profile><GPP_C>x</GPP_C></flat-profile>\n</config>");
    assert_eq!(p.get("GPP_C"), Some("x"));
    let u = p.unknown_elements();
    assert_eq!(u.len(), 1);
    assert_eq!(
        (u[0].name.as_str(), u[0].kind, u[0].line, u[0].column),
        ("config", UnknownKind::Container, 1, 1)
    );
}

#[test]
fn unknown_parameters_are_kept_and_reported() {
    let p = parse("<flat-profile>\n <Foo_Bar>1</Foo_Bar>\n <GPP_A>2</GPP_A>\n</flat-profile>");
    assert_eq!(p.get("Foo_Bar"), Some("1"));
    let u = p.unknown_elements();
    assert_eq!(u.len(), 1);
    assert_eq!(
        (u[0].name.as_str(), u[0].kind, u[0].line, u[0].column),
        ("Foo_Bar", UnknownKind::Parameter, 2, 2)
    );
}

#[test]
fn named_and_numeric_entities() {
    let p = parse("<flat-profile><GPP_A>a&amp;b &lt;c&gt; &quot;d&quot; &apos;e&apos; &#233;&#xE9;</GPP_A></flat-profile>");
    assert_eq!(p.get("GPP_A"), Some("a&b <c> \"d\" 'e' éé"));
}

#[test]
fn cdata_is_text() {
    let p = parse("<flat-profile><GPP_A><![CDATA[<x & y>]]></GPP_A></flat-profile>");
    assert_eq!(p.get("GPP_A"), Some("<x & y>"));
}

/// R-FMT-2: ua attribute.
#[test]
fn r_fmt_2_ua_attribute() {
    let p = parse(
        r#"<flat-profile><A ua="na">1</A><B ua="ro">2</B><C ua='rw'>3</C><D>4</D></flat-profile>"#,
    );
    let access: Vec<_> = p.params().iter().map(|p| p.access).collect();
    assert_eq!(
        access,
        vec![Some(Access::Na), Some(Access::Ro), Some(Access::Rw), None]
    );
    assert_eq!(
        err(r#"<flat-profile><A ua="RW">1</A></flat-profile>"#).code,
        "xml-bad-ua"
    );
}

/// R-FMT-4: empty and self-closing elements set an empty value.
#[test]
fn r_fmt_4_empty_and_self_closing() {
    let p = parse(
        r#"<flat-profile><GPP_A/><GPP_B></GPP_B><GPP_C ua="rw" /><GPP_D>  </GPP_D></flat-profile>"#,
    );
    assert_eq!(
        p.entries(),
        vec![
            ("GPP_A", "", None),
            ("GPP_B", "", None),
            ("GPP_C", "", Some(Access::Rw)),
            ("GPP_D", "", None)
        ]
    );
}

#[test]
fn newlines_fold_to_one_space() {
    let p = parse("<flat-profile><GPP_A>/a/b = /flat-profile/X ;\n     /c = /flat-profile/Y ;</GPP_A></flat-profile>");
    assert_eq!(
        p.get("GPP_A"),
        Some("/a/b = /flat-profile/X ; /c = /flat-profile/Y ;")
    );
    // Runs without a line break are kept as they are.
    let p = parse("<flat-profile><Back_Light_Timer>Always  On</Back_Light_Timer></flat-profile>");
    assert_eq!(p.get("Back_Light_Timer"), Some("Always  On"));
}

#[test]
fn last_duplicate_wins_and_order_is_kept() {
    let p = parse(
        "<flat-profile>\n<GPP_A>1</GPP_A>\n<GPP_B>2</GPP_B>\n<GPP_A>3</GPP_A>\n</flat-profile>",
    );
    assert_eq!(
        p.entries(),
        vec![("GPP_B", "2", None), ("GPP_A", "3", None)]
    );
    assert_eq!(p.param("GPP_A").map(|p| p.line), Some(4));
}

#[test]
fn processing_instructions_and_doctype_are_skipped() {
    let p = parse("<?xml version=\"1.0\"?>\n<?foo bar?>\n<!DOCTYPE x>\n<flat-profile><GPP_A>1</GPP_A></flat-profile>");
    assert_eq!(p.get("GPP_A"), Some("1"));
}

#[test]
fn parse_bytes_accepts_bom_and_rejects_bad_utf8() {
    let mut bytes = b"\xEF\xBB\xBF<flat-profile><GPP_A>x</GPP_A></flat-profile>".to_vec();
    assert_eq!(
        FlatProfile::parse_bytes(&bytes).unwrap().get("GPP_A"),
        Some("x")
    );
    bytes = b"<flat-profile>\n<GPP_A>\xFF</GPP_A></flat-profile>".to_vec();
    let e = FlatProfile::parse_bytes(&bytes).unwrap_err();
    assert_eq!((e.code, e.line, e.column), ("xml-encoding", 2, 8));
}

/// R-FMT-5: `<Auth_INVITE_1>Yes</Auth_INVITE_1_>`.
#[test]
fn r_fmt_5_tag_mismatch() {
    let e = err("<flat-profile>\n<Auth_INVITE_1>Yes</Auth_INVITE_1_>\n</flat-profile>");
    assert_eq!((e.code, e.line, e.column), ("xml-tag-mismatch", 2, 19));
    assert!(e.hint.contains("Auth_INVITE_1_"), "{e}");
}

/// R-FMT-5: `<TLS_Name_Validate_1_ua="na">` and `<MediaSec_Over_TLS_Only_1_ua="na">`.
#[test]
fn r_fmt_5_missing_space_before_attribute() {
    let e = err("<flat-profile>\n<TLS_Name_Validate_1_ua=\"na\">Yes</TLS_Name_Validate_1_>\n</flat-profile>");
    assert_eq!((e.code, e.line, e.column), ("xml-attr-no-space", 2, 22));
    assert!(e.hint.contains("<TLS_Name_Validate_1_ ua=\"na\""), "{e}");
    let e = err("<flat-profile><MediaSec_Over_TLS_Only_1_ua=\"na\">No</MediaSec_Over_TLS_Only_1_></flat-profile>");
    assert_eq!((e.code, e.line, e.column), ("xml-attr-no-space", 1, 41));
}

#[test]
fn structural_errors_have_codes_and_positions() {
    let cases: &[(&str, &str, u32, u32)] = &[
        ("<flat-profile>\n<GPP_A>1\n", "xml-unclosed", 2, 1),
        (
            "<flat-profile></GPP_A></flat-profile>",
            "xml-tag-mismatch",
            1,
            15,
        ),
        (
            "<flat-profile></flat-profile></x>",
            "xml-unmatched-end",
            1,
            30,
        ),
        ("oops<flat-profile/>", "xml-text-outside", 1, 1),
        (
            "<flat-profile/>\n<flat-profile/>",
            "xml-multiple-roots",
            2,
            1,
        ),
        ("", "xml-empty", 1, 1),
        (
            "<flat-profile><GPP_A>a & b</GPP_A></flat-profile>",
            "xml-entity",
            1,
            24,
        ),
        (
            "<flat-profile><GPP_A>&nbsp;</GPP_A></flat-profile>",
            "xml-entity",
            1,
            22,
        ),
        (
            "<flat-profile><GPP_A>a\0b</GPP_A></flat-profile>",
            "xml-char",
            1,
            23,
        ),
        (
            "<flat-profile><GPP_A x=1>a</GPP_A></flat-profile>",
            "xml-bad-attr",
            1,
            24,
        ),
        ("<flat-profile><GPP_A>1</GPP_A", "xml-syntax", 1, 23),
        (
            "<flat-profile>text<GPP_A>1</GPP_A></flat-profile>",
            "xml-mixed-content",
            1,
            15,
        ),
        ("<GPP_A>1</GPP_A>", "xml-no-wrapper", 1, 8),
    ];
    for (xml, code, line, col) in cases {
        let e = err(xml);
        assert_eq!(
            (e.code, e.line, e.column),
            (*code, *line, *col),
            "{xml:?}: {e}"
        );
        assert!(!e.hint.is_empty(), "{xml:?} has no hint");
    }
}

#[test]
fn get_set_remove() {
    let mut p = parse("<flat-profile><GPP_A ua=\"rw\">1</GPP_A><GPP_B>2</GPP_B></flat-profile>");
    p.set("GPP_A", "  changed\n value ");
    p.set("GPP_C", "new");
    assert_eq!(
        p.entries(),
        vec![
            ("GPP_A", "changed value", Some(Access::Rw)),
            ("GPP_B", "2", None),
            ("GPP_C", "new", None)
        ]
    );
    assert_eq!(p.remove("GPP_B").as_deref(), Some("2"));
    assert_eq!(p.get("GPP_B"), None);
}

#[test]
fn canonical_xml() {
    let p = parse("<device><flat-profile>\n<GPP_A ua=\"na\"> a&amp;b&lt;c </GPP_A><GPP_B/></flat-profile></device>");
    assert_eq!(
        p.to_xml(),
        "<flat-profile>\n  <GPP_A ua=\"na\">a&amp;b&lt;c</GPP_A>\n  <GPP_B></GPP_B>\n</flat-profile>\n"
    );
    assert_eq!(parse(&p.to_xml()).entries(), p.entries());
}

#[test]
fn merge_overrides_in_order() {
    let mut a = parse("<flat-profile><GPP_A>1</GPP_A><GPP_B>1</GPP_B></flat-profile>");
    let b = parse("<flat-profile><GPP_B>2</GPP_B><GPP_C>2</GPP_C></flat-profile>");
    a.merge(&b);
    assert_eq!(
        a.entries(),
        vec![
            ("GPP_A", "1", None),
            ("GPP_B", "2", None),
            ("GPP_C", "2", None)
        ]
    );
}

#[test]
fn effective_values_fall_back_to_schema_defaults() {
    let p = parse("<flat-profile><Resync_Periodic>30</Resync_Periodic><Foo>1</Foo></flat-profile>");
    assert_eq!(p.effective("Resync_Periodic"), Some("30"));
    assert_eq!(p.effective("Resync_Error_Retry_Delay"), Some("3600"));
    assert_eq!(p.effective("Profile_Rule"), Some("/$PN.cfg"));
    assert_eq!(p.effective("Foo"), Some("1"));
    assert_eq!(p.effective("Bar"), None);
}

#[test]
fn schema_serializes_for_listings() {
    let spec = crate::schema::lookup("Proxy_Port").unwrap();
    let json = serde_json::to_value(spec).unwrap();
    assert_eq!(json["name"], "Proxy_Port");
    assert_eq!(json["default"], "3128");
    assert_eq!(json["kind"]["Int"]["max"], 65535);
}
