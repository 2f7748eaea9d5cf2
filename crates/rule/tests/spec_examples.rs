//! The SPEC's worked examples (R-RULE, R-MACRO, R-SRV-1, R-FMT-7/8) through
//! `ProfileRule::select`, plus conditions, assignments and secrets.

use phoneprov_rule::{
    expand, MacroContext, ProfileRule, RuleError, Scheme, Selection, UrlErrorKind,
};

fn ctx() -> MacroContext {
    let mut c = MacroContext::new().with_mac("00:0E:08:01:23:45").unwrap();
    c.set("PN", "CP-6841-3PCC");
    c.set("SN", "88012BA01234");
    c.set_gpp("B", "Dj6Lmp23Q").unwrap();
    c
}

fn select(rule: &str, ctx: &MacroContext) -> Selection {
    ProfileRule::parse(rule)
        .unwrap_or_else(|e| panic!("{rule:?}: {e}"))
        .select(ctx)
        .unwrap_or_else(|e| panic!("{rule:?}: {e}"))
        .unwrap_or_else(|| panic!("{rule:?}: nothing selected"))
}

fn url(rule: &str, ctx: &MacroContext) -> String {
    select(rule, ctx).url.to_url_string()
}

#[test]
fn r_macro_per_device_file() {
    assert_eq!(
        url("tftp://192.168.1.200/ata$MA.cfg", &ctx()),
        "tftp://192.168.1.200/ata000e08012345.cfg"
    );
}

#[test]
fn r_macro_gpp_b_and_mac() {
    assert_eq!(
        url("tftp://prov.telco.com/cisco/$B/$MA.cfg", &ctx()),
        "tftp://prov.telco.com/cisco/Dj6Lmp23Q/000e08012345.cfg"
    );
}

#[test]
fn r_macro_explicit_port_is_kept() {
    let s = select("tftp://prov.telco.com:6900/cisco/config/$PN.cfg", &ctx());
    assert_eq!((s.url.host.as_str(), s.url.port), ("prov.telco.com", 6900));
    assert_eq!(s.url.path, "/cisco/config/CP-6841-3PCC.cfg");
    assert_eq!(
        s.url.to_string(),
        "tftp://prov.telco.com:6900/cisco/config/CP-6841-3PCC.cfg"
    );
}

#[test]
fn r_rule_4_factory_default_rule() {
    let mut c = ctx();
    c.set_default_server("10.1.1.5");
    let s = select("/$PN.cfg", &c);
    assert_eq!(s.url.scheme, Scheme::Tftp);
    assert_eq!((s.url.host.as_str(), s.url.port), ("10.1.1.5", 69));
    assert_eq!(s.url.to_string(), "tftp://10.1.1.5/CP-6841-3PCC.cfg");
    // A default server with a port (test servers on free ports).
    c.set_default_server("127.0.0.1:6969");
    assert_eq!(
        url("/$PN.cfg", &c),
        "tftp://127.0.0.1:6969/CP-6841-3PCC.cfg"
    );
}

#[test]
fn r_rule_1_missing_server_without_default_is_an_error() {
    let err = ProfileRule::parse("/$PN.cfg")
        .unwrap()
        .select(&ctx())
        .unwrap_err();
    assert!(
        matches!(err, RuleError::MissingServer { ref url } if url == "/CP-6841-3PCC.cfg"),
        "{err:?}"
    );
    assert!(err.to_string().contains("default server"));
}

#[test]
fn r_fmt_7_key_with_trailing_space() {
    let s = select(
        "[--key MyOwnSecret ] tftp://192.168.1.200/basic.cfg",
        &ctx(),
    );
    assert_eq!(s.options.key.as_deref(), Some("MyOwnSecret"));
    assert_eq!(s.url.to_string(), "tftp://192.168.1.200/basic.cfg");
    let s = select(
        "[--key \"my secret\" --uid u$MA --pwd p] https://h.example/x",
        &ctx(),
    );
    assert_eq!(s.options.key.as_deref(), Some("my secret"));
    assert_eq!(s.options.uid.as_deref(), Some("u000e08012345"));
    assert_eq!(s.options.pwd.as_deref(), Some("p"));
}

#[test]
fn r_fmt_8_alias_option() {
    let s = select("[--alias a ] tftp://192.168.1.200/customer.xml", &ctx());
    assert_eq!(s.options.alias, Some('A'));
}

#[test]
fn r_srv_1_srv_option() {
    let s = select("[--srv] https://example.com/$PSN.xml", &ctx());
    assert!(s.options.srv);
    assert_eq!(s.url.to_string(), "https://example.com/.xml");
    let e = ProfileRule::parse("[--srv] tftp://example.com/a").unwrap_err();
    assert!(
        e.to_string()
            .contains("TFTP scheme is not supported in SRV lookups"),
        "{e}"
    );
}

#[test]
fn r_macro_strange_and_dollar() {
    let c = ctx();
    assert_eq!(expand("$STRANGE$MAU.cfg", &c), "$STRANGE000E08012345.cfg");
    assert_eq!(expand("$$", &c), "$");
    assert_eq!(expand("$(MA:6)", &c), "012345");
    assert_eq!(expand("$(MA:0:6)", &c), "000e08");
    assert_eq!(
        url("http://h.example/$(MA:0:6)/$$MA", &c),
        "http://h.example/000e08/$MA"
    );
}

#[test]
fn r_rule_multi_stage_upgrade() {
    let rule = ProfileRule::parse(
        "($SWVER ne sip8845.11-3-2MPP0001-609 and $SWVER lt sip8845.11-3-2MPP0001-609)? http://s.example/a.loads | http://s.example/b.loads",
    )
    .unwrap();
    let mut c = ctx();
    c.set("SWVER", "sip8845.11-2-1MPP0001-500");
    assert_eq!(rule.select(&c).unwrap().unwrap().url.path, "/a.loads");
    c.set("SWVER", "sip8845.11-3-2MPP0001-609");
    assert_eq!(rule.select(&c).unwrap().unwrap().url.path, "/b.loads");
    c.set("SWVER", "sip8845.12-0-1MPP0001-1");
    assert_eq!(rule.select(&c).unwrap().unwrap().url.path, "/b.loads");

    // Three stages; the last alternative has a condition too, so nothing may match.
    let staged = ProfileRule::parse(
        "($SWVER lt sipyyyy.11-0-1MPP-376)? http://s.example/stage1.loads \
         | ($SWVER lt sipyyyy.12-0-1MPP-100)? http://s.example/stage2.loads \
         | ($SWVER ne sipyyyy.12-0-1MPP-100)? http://s.example/final.loads",
    )
    .unwrap();
    for (ver, want) in [
        ("sipyyyy.10-4-1MPP-1", Some("/stage1.loads")),
        ("sipyyyy.11-0-1MPP-376", Some("/stage2.loads")),
        ("sipyyyy.12-0-1MPP-101", Some("/final.loads")),
        ("sipyyyy.12-0-1MPP-100", None),
    ] {
        c.set("SWVER", ver);
        let got = staged.select(&c).unwrap().map(|s| s.url.path);
        assert_eq!(got.as_deref(), want, "{ver}");
    }
}

#[test]
fn r_rule_conditions_on_integers_and_strings() {
    let mut c = ctx();
    c.set_default_server("10.0.0.9");
    c.set("UPGST", "10");
    let pick = |rule: &str, c: &MacroContext| {
        ProfileRule::parse(rule)
            .unwrap()
            .select(c)
            .unwrap()
            .map(|s| s.url.path)
    };
    assert_eq!(
        pick("($UPGST gt 9)? /yes | /no", &c).as_deref(),
        Some("/yes")
    );
    assert_eq!(
        pick("($UPGST >= 11)? /yes | /no", &c).as_deref(),
        Some("/no")
    );
    assert_eq!(
        pick("($UPGST = 010)? /yes | /no", &c).as_deref(),
        Some("/yes")
    );
    c.set("CCERT", "Not Installed");
    assert_eq!(
        pick("($CCERT eq \"Not Installed\")? /yes | /no", &c).as_deref(),
        Some("/yes")
    );
    assert_eq!(
        pick(
            "($CCERT != \"Installed\" and $PN eq CP-6841-3PCC)? /yes | /no",
            &c
        )
        .as_deref(),
        Some("/yes")
    );
    assert_eq!(pick("($CCERT eq Installed)? /yes", &c), None);
    // Whole selection with the default server.
    assert_eq!(
        ProfileRule::parse("($A eq \"\")? /empty")
            .unwrap()
            .select(&c)
            .unwrap()
            .unwrap()
            .url
            .to_string(),
        "tftp://10.0.0.9/empty"
    );
}

#[test]
fn r_rule_assignments_are_expanded() {
    let s = select(
        "( $A = \"x$MA\" ; b = \"y\" ; Resync_Periodic = 30 )! http://h.example/$A",
        &ctx(),
    );
    assert_eq!(
        s.assignments,
        vec![
            ("GPP_A".to_string(), "x000e08012345".to_string()),
            ("GPP_B".to_string(), "y".to_string()),
            ("Resync_Periodic".to_string(), "30".to_string()),
        ]
    );
    // Assignments do not feed back into this rule's own expansion.
    assert_eq!(s.url.path, "/");
}

#[test]
fn r_macro_secrets_only_inside_key_uid_pwd() {
    let mut c = ctx();
    c.set_gpp("SA", "topsecret").unwrap();
    c.set_gpp("sb", "alice").unwrap();
    let s = select(
        "[--key $SA --uid $(SB) --pwd x$SC --post $SA] http://h.example/$SA/a.cfg",
        &c,
    );
    assert_eq!(s.options.key.as_deref(), Some("topsecret"));
    assert_eq!(s.options.uid.as_deref(), Some("alice"));
    assert_eq!(s.options.pwd.as_deref(), Some("x"));
    assert_eq!(s.options.post.as_deref(), Some("$SA"));
    assert_eq!(s.url.path, "/$SA/a.cfg");
}

#[test]
fn r_rule_5_gds() {
    let s = select("gds://", &ctx());
    assert_eq!(s.url.scheme, Scheme::Gds);
    assert_eq!(s.url.to_string(), "gds://");
}

#[test]
fn expansion_can_break_a_url() {
    let mut c = ctx();
    c.set_gpp("A", "not a host").unwrap();
    let e = ProfileRule::parse("tftp://$A/x")
        .unwrap()
        .select(&c)
        .unwrap_err();
    assert!(
        matches!(
            e,
            RuleError::ExpandedUrl {
                kind: UrlErrorKind::BadCharacter(' '),
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("after macro expansion"));
    c.set_gpp("A", "http://h.example/full.cfg").unwrap();
    assert_eq!(url("$A", &c), "http://h.example/full.cfg");
}

#[test]
fn disabled_and_empty_rules_select_nothing() {
    assert_eq!(
        ProfileRule::parse("#tftp://h.x/a")
            .unwrap()
            .select(&ctx())
            .unwrap(),
        None
    );
    assert_eq!(
        ProfileRule::parse("").unwrap().select(&ctx()).unwrap(),
        None
    );
}

#[test]
fn selection_serializes_for_the_cli() {
    let s = select("[--key k --srv] https://h.example:8443/$MA.xml", &ctx());
    let v = serde_json::to_value(&s).unwrap();
    assert_eq!(v["url"]["scheme"], "https");
    assert_eq!(v["url"]["port"], 8443);
    assert_eq!(v["url"]["path"], "/000e08012345.xml");
    assert_eq!(v["options"]["key"], "k");
    assert_eq!(v["options"]["srv"], true);
    assert_eq!(v["assignments"], serde_json::json!([]));
}

#[test]
fn request_url_feeds_log_templates() {
    // R-LOG-3: `$PN $MAC -- Successful resync $SCHEME://$SERV$PATH`.
    let mut c = ctx();
    let s = select("tftp://192.168.1.200/basic.txt", &c);
    c.set_request_url(&s.url);
    assert_eq!(
        expand("$PN $MAC -- Successful resync $METH://$SERV:$PORT$PATH", &c),
        "CP-6841-3PCC 00:0e:08:01:23:45 -- Successful resync tftp://192.168.1.200:69/basic.txt"
    );
}

#[test]
fn macro_values_never_change_rule_structure() {
    let mut c = ctx();
    c.set_default_server("10.0.0.9");
    c.set_gpp("A", "1)? /evil | (x eq x").unwrap();
    let rule = ProfileRule::parse("($A eq 1)? /a | /b$A").unwrap();
    let s = rule.select(&c);
    // The condition compares the whole value (false); the fallback's URL then
    // holds the value as data, which is not a valid URL (spaces).
    assert!(
        matches!(
            s,
            Err(RuleError::ExpandedUrl {
                kind: UrlErrorKind::BadCharacter(' '),
                ..
            })
        ),
        "{s:?}"
    );
    c.set_gpp("A", "|x").unwrap();
    assert_eq!(rule.select(&c).unwrap().unwrap().url.path, "/b|x");
}
