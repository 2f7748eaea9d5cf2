//! Lint diagnostics: R-FMT-5 malformations, schema values, rules and
//! templates through `phoneprov-rule`, positions, recovery, output formats.

use phoneprov_profile::lint::{lint_bytes, Diagnostic, Severity};

fn lint(text: &str) -> Vec<Diagnostic> {
    lint_bytes("p.xml", text.as_bytes())
}

fn wrap(body: &str) -> String {
    format!("<flat-profile>\n{body}\n</flat-profile>\n")
}

/// (code, line, column) of every diagnostic.
fn codes(d: &[Diagnostic]) -> Vec<(&str, u32, u32)> {
    d.iter()
        .map(|d| (d.code.as_str(), d.line, d.column))
        .collect()
}

fn has(d: &[Diagnostic], code: &str, line: u32, col: u32, sev: Severity) {
    assert!(
        d.iter()
            .any(|x| x.code == code && x.line == line && x.column == col && x.severity == sev),
        "want {code} at {line}:{col} ({sev:?}), got {:?}",
        codes(d)
    );
}

#[test]
fn r_fmt_5_tag_mismatch() {
    let d = lint(&wrap("<Auth_INVITE_1>Yes</Auth_INVITE_1_>"));
    has(&d, "xml-tag-mismatch", 2, 19, Severity::Error);
    // Recovered under the known name: no extra "unknown parameter" noise.
    assert_eq!(d.len(), 1, "{:?}", codes(&d));
}

#[test]
fn r_fmt_5_missing_space_before_attribute() {
    let d = lint(&wrap("<TLS_Name_Validate_1_ua=\"na\">Yes</TLS_Name_Validate_1_>\n<MediaSec_Over_TLS_Only_1_ua=\"na\">No</MediaSec_Over_TLS_Only_1_>"));
    has(&d, "xml-attr-no-space", 2, 22, Severity::Error);
    has(&d, "xml-attr-no-space", 3, 27, Severity::Error);
    assert_eq!(d.len(), 2, "{:?}", codes(&d));
    assert!(d[0]
        .hint
        .as_deref()
        .unwrap()
        .contains("<TLS_Name_Validate_1_ ua=\"na\""));
}

#[test]
fn r_fmt_5_localized_boolean() {
    let d = lint(&wrap(
        "<LDAP_StartTLS_Enable ua=\"na\">예</LDAP_StartTLS_Enable>",
    ));
    has(&d, "localized-bool", 2, 31, Severity::Error);
    assert!(d[0].hint.as_deref().unwrap().contains("`Yes`"));
}

#[test]
fn r_fmt_5_trailing_space_is_a_warning_that_explains_trimming() {
    let d = lint(&wrap(
        "<Profile_Authentication_Type ua=\"na\">Basic Http Authentication </Profile_Authentication_Type>",
    ));
    has(&d, "value-whitespace", 2, 63, Severity::Warning);
    assert_eq!(d.len(), 1, "{:?}", codes(&d));
    assert!(d[0].message.contains("trim"), "{}", d[0].message);
    assert!(d[0]
        .hint
        .as_deref()
        .unwrap()
        .contains("Basic Http Authentication"));
}

#[test]
fn the_worked_example_layout_is_not_flagged() {
    // `<GPP_A> 12345678\n</GPP_A>` is the seeds' own style (R-FMT-3).
    assert!(lint("<flat-profile>\n  <GPP_A> 12345678\n  </GPP_A>\n</flat-profile>").is_empty());
}

#[test]
fn unknown_names_get_a_suggestion() {
    let d = lint(&wrap(
        "<Resync_Periodc>30</Resync_Periodc>\n<user_id_2_>x</user_id_2_>\n<Zzzz>1</Zzzz>",
    ));
    has(&d, "unknown-param", 2, 2, Severity::Warning);
    assert!(d[0].hint.as_deref().unwrap().contains("`Resync_Periodic`"));
    assert!(
        d[1].hint.as_deref().unwrap().contains("`User_ID_2_`"),
        "{:?}",
        d[1].hint
    );
    assert!(!d[2].hint.as_deref().unwrap().contains("did you mean"));
}

#[test]
fn schema_values_are_checked() {
    let d = lint(&wrap(concat!(
        "<Firewall_Config>NO_ICMP_PING,UDP:1,UDP:2,UDP:3,UDP:4,UDP:5,UDP:6</Firewall_Config>\n",
        "<DHCP_Option_To_Use>66,999</DHCP_Option_To_Use>\n",
        "<Proxy_Mode>manual</Proxy_Mode>\n",
        "<Proxy_Port>70000</Proxy_Port>\n",
        "<PAC_URL>gopher://x.example.com</PAC_URL>\n",
        "<TLS_Cipher_List>RSA::X</TLS_Cipher_List>\n",
        "<Resync_Periodic>1h</Resync_Periodic>\n",
        "<Auth_INVITE_1_>oui</Auth_INVITE_1_>",
    )));
    assert_eq!(
        codes(&d),
        vec![
            ("invalid-firewall-config", 2, 18),
            ("invalid-dhcp-options", 3, 21),
            ("invalid-enum", 4, 13),
            ("int-range", 5, 13),
            ("invalid-url", 6, 10),
            ("invalid-cipher-list", 7, 18),
            ("invalid-schedule", 8, 18),
            ("localized-bool", 9, 17),
        ]
    );
    assert!(d
        .iter()
        .all(|d| d.severity == Severity::Error && d.hint.is_some()));
}

#[test]
fn rules_are_linted_with_positions_inside_the_value() {
    // `--kye` starts at byte 1 of the value, which starts at column 17.
    let d = lint(&wrap(
        "<Profile_Rule_B>[--kye s] tftp://192.168.1.200/b.txt</Profile_Rule_B>",
    ));
    assert!(!d.is_empty());
    assert!(d[0].code.starts_with("rule-"), "{:?}", codes(&d));
    assert_eq!((d[0].line, d[0].severity), (2, Severity::Error));
    assert!((17..=19).contains(&d[0].column), "{:?}", codes(&d));
    assert!(lint(&wrap(
        "<Profile_Rule>[--key MyOwnSecret ] tftp://192.168.1.200/basic.cfg</Profile_Rule>"
    ))
    .is_empty());
    assert!(lint(&wrap(
        "<Upgrade_Rule>http://fw.example.com/sip88xx.11-2-3MSR1-1.loads</Upgrade_Rule>"
    ))
    .is_empty());
}

#[test]
fn templates_with_unknown_macros_warn() {
    let d = lint(&wrap("<Log_Request_Msg>$PN $NOSUCH -- x</Log_Request_Msg>"));
    assert_eq!(d.len(), 1, "{:?}", codes(&d));
    assert_eq!(
        (d[0].severity, d[0].line, d[0].column),
        (Severity::Warning, 2, 22)
    );
    assert!(d[0].code.starts_with("template-"), "{}", d[0].code);
    assert!(lint(&wrap("<Log_Resync_Success_Msg>$PN $MAC -- Successful resync $SCHEME://$SERVIP:$PORT$PATH</Log_Resync_Success_Msg>")).is_empty());
}

#[test]
fn alias_maps_in_gpps_are_checked() {
    let d = lint(&wrap("<GPP_A>/a/b = /elsewhere/User_ID_1_ ;</GPP_A>"));
    assert_eq!(codes(&d), vec![("invalid-alias-map", 2, 8)]);
}

#[test]
fn duplicates_warn_at_the_overridden_element() {
    let d = lint(&wrap("<GPP_A>1</GPP_A>\n<GPP_A>2</GPP_A>"));
    assert_eq!(codes(&d), vec![("duplicate-param", 2, 1)]);
    assert!(d[0].message.contains("line 3"));
}

#[test]
fn lint_keeps_going_after_xml_errors() {
    let text = wrap("<Auth_INVITE_1>Yes</Auth_INVITE_1_>\n<GPP_B>a & b</GPP_B>\n<Proxy_Port>x</Proxy_Port>\n<GPP_C>ok</GPP_D>\n<Firewall>On</Firewall>");
    let d = lint(&text);
    let c = codes(&d);
    for want in [
        ("xml-tag-mismatch", 2, 19),
        ("xml-entity", 3, 10),
        ("invalid-int", 4, 13),
        ("xml-tag-mismatch", 5, 10),
        ("invalid-enum", 6, 11),
    ] {
        assert!(c.contains(&want), "missing {want:?} in {c:?}");
    }
    // Sorted by position.
    let mut sorted = c.clone();
    sorted.sort_by_key(|x| (x.1, x.2));
    assert_eq!(c, sorted);
}

#[test]
fn unclosed_elements_are_reported_at_their_start() {
    let d = lint("<flat-profile>\n  <GPP_A>1\n</flat-profile>\n");
    assert_eq!(codes(&d), vec![("xml-unclosed", 2, 3)]);
}

#[test]
fn invalid_utf8_is_reported_and_the_rest_linted() {
    let mut bytes =
        b"<flat-profile>\n<GPP_A>\xFF</GPP_A>\n<Proxy_Port>0</Proxy_Port>\n</flat-profile>"
            .to_vec();
    let d = lint_bytes("p.xml", &bytes);
    assert_eq!(
        codes(&d),
        vec![("xml-encoding", 2, 8), ("int-range", 3, 13)]
    );
    bytes.splice(0..0, [0xEF, 0xBB, 0xBF]);
    assert_eq!(
        codes(&lint_bytes("p.xml", &bytes))[0],
        ("xml-encoding", 2, 8)
    );
}

#[test]
fn display_and_json_formats() {
    let d = lint(&wrap(
        "<LDAP_StartTLS_Enable ua=\"na\">예</LDAP_StartTLS_Enable>",
    ));
    let text = d[0].to_string();
    assert!(
        text.starts_with("p.xml:2:31: error[localized-bool]: "),
        "{text}"
    );
    assert!(text.contains("\n  = help: write `Yes`"), "{text}");
    let json = serde_json::to_value(&d[0]).unwrap();
    assert_eq!(json["severity"], "error");
    assert_eq!(json["line"], 2);
    assert_eq!(json["column"], 31);
    assert_eq!(json["code"], "localized-bool");
    assert_eq!(json["file"], "p.xml");
}

#[test]
fn parse_and_lint_agree_on_xml_errors() {
    let samples = [
        wrap("<GPP_A>1</GPP_A>"),
        wrap("<GPP_A>1</GPP_B>"),
        wrap("<GPP_A ua=\"zz\">1</GPP_A>"),
        wrap("<LDAP_StartTLS_Enable>예</LDAP_StartTLS_Enable>"),
        "<a><b>".to_string(),
    ];
    for s in samples {
        let parse_ok = phoneprov_profile::FlatProfile::parse(&s).is_ok();
        let xml_errors = lint(&s)
            .iter()
            .any(|d| d.code.starts_with("xml-") && d.severity == Severity::Error);
        assert_eq!(parse_ok, !xml_errors, "{s}");
    }
}

#[test]
fn unknown_wrappers_warn() {
    let d = lint("<config>\n<flat-profile><GPP_A>1</GPP_A></flat-profile>\n</config>");
    assert_eq!(codes(&d), vec![("unknown-container", 1, 2)]);
    assert_eq!(d[0].severity, Severity::Warning);
}

#[test]
fn attribute_positions_skip_the_element_name() {
    // `Quality` contains `ua`; the diagnostic must point at the attribute.
    let d = lint(&wrap("<GPP_Quality ua=\"zz\">1</GPP_Quality>"));
    assert!(
        codes(&d).contains(&("xml-bad-ua", 2, 14)),
        "{:?}",
        codes(&d)
    );
}
