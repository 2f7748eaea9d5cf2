//! Rule forms through the engine (R-RULE, R-MACRO, R-FMT): four rules in
//! order, failure stops the sequence, conditions / assignments /
//! alternatives, --key, aes128gcm, gzip, --alias, --post, one-shot rules,
//! and the SPEC §13 worked examples.

mod common;
use common::*;
use phoneprov_crypto::{encode, EncodeOptions, Scheme as Cipher};
use phoneprov_phone::*;

fn quiet() -> Vec<(&'static str, &'static str)> {
    vec![("Resync_Random_Delay", "0"), ("Resync_Periodic", "0")]
}

fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut v = quiet();
    v.extend_from_slice(extra);
    v
}

#[test]
fn r_rule_3_four_rules_in_order_later_overrides() {
    let mut h = Harness::new(
        &with(&[
            ("Profile_Rule", "http://a.example/1.xml"),
            ("Profile_Rule_B", "http://b.example/2.xml"),
            ("Profile_Rule_C", "http://c.example/3.xml"),
            ("Profile_Rule_D", "http://d.example/4.xml"),
        ]),
        routes(&[
            (
                "http://a.example/1.xml",
                vec![ok_xml(&profile(&[("GPP_A", "1"), ("GPP_E", "a")]))],
            ),
            (
                "http://b.example/2.xml",
                vec![ok_xml(&profile(&[("GPP_B", "2"), ("GPP_E", "b")]))],
            ),
            (
                "http://c.example/3.xml",
                vec![ok_xml(&profile(&[("GPP_C", "3")]))],
            ),
            (
                "http://d.example/4.xml",
                vec![ok_xml(&profile(&[("GPP_D", "4"), ("GPP_E", "d")]))],
            ),
        ]),
    );
    h.power_on();
    assert_eq!(
        h.fetch_urls(),
        vec![
            "http://a.example/1.xml",
            "http://b.example/2.xml",
            "http://c.example/3.xml",
            "http://d.example/4.xml"
        ]
    );
    let purposes: Vec<Purpose> = h.fetches().iter().map(|(_, r)| r.purpose).collect();
    assert_eq!(purposes[3], Purpose::Profile { rule_index: 3 });
    assert_eq!(h.classes(), vec![Class::A]);
    for (k, v) in [
        ("GPP_A", "1"),
        ("GPP_B", "2"),
        ("GPP_C", "3"),
        ("GPP_D", "4"),
        ("GPP_E", "d"),
    ] {
        assert_eq!(h.param(k), v, "{k}");
    }
}

#[test]
fn r_rule_3_failure_stops_the_sequence_and_retry_starts_over() {
    let mut h = Harness::new(
        &with(&[
            ("Profile_Rule", "http://a.example/1.xml"),
            ("Profile_Rule_B", "http://b.example/2.xml"),
            ("Profile_Rule_C", "http://c.example/3.xml"),
            ("Resync_Error_Retry_Delay", "30"),
        ]),
        routes(&[
            (
                "http://a.example/1.xml",
                vec![ok_xml(&profile(&[("GPP_A", "1")]))],
            ),
            (
                "http://b.example/2.xml",
                vec![http(500, &[], b""), ok_xml(&profile(&[("GPP_B", "2")]))],
            ),
            (
                "http://c.example/3.xml",
                vec![ok_xml(&profile(&[("GPP_C", "3")]))],
            ),
        ]),
    );
    h.power_on();
    assert_eq!(
        h.fetch_urls(),
        vec!["http://a.example/1.xml", "http://b.example/2.xml"]
    );
    assert_eq!(h.classes(), vec![Class::C]);
    assert_eq!(h.param("GPP_A"), "1", "rule A's profile stays applied");
    assert_eq!(h.param("GPP_C"), "");
    h.run_for_secs(30);
    assert_eq!(
        h.fetch_urls()[2..],
        [
            "http://a.example/1.xml",
            "http://b.example/2.xml",
            "http://c.example/3.xml"
        ]
    );
    assert_eq!(h.classes(), vec![Class::C, Class::A]);
    assert_eq!(h.param("GPP_C"), "3");
}

#[test]
fn r_rule_empty_and_disabled_rules_are_skipped() {
    let mut h = Harness::new(
        &with(&[
            ("Profile_Rule", "#http://a.example/1.xml"),
            ("Profile_Rule_B", ""),
            ("Profile_Rule_C", "http://c.example/3.xml"),
        ]),
        routes(&[(
            "http://c.example/3.xml",
            vec![ok_xml(&profile(&[("GPP_C", "3")]))],
        )]),
    );
    h.power_on();
    assert_eq!(h.fetch_urls(), vec!["http://c.example/3.xml"]);
    assert_eq!(h.classes(), vec![Class::A]);
}

#[test]
fn r_rule_conditions_assignments_alternatives() {
    // First boot: GPP_F empty → the assignment alternative runs, sets
    // GPP_F=1 BEFORE its fetch (the URL uses it), then the profile says 2.
    let rule = "($F eq 2)? http://s.example/two.xml | ($F = \"\")? (f = 1; $G = \"x$MA\")! http://s.example/first-$F-$G.xml";
    let mut h = Harness::new(
        &with(&[("Profile_Rule", rule), ("Resync_Periodic", "10")]),
        routes(&[
            (
                "http://s.example/first-1-x000e08abcdef.xml",
                vec![ok_xml(&profile(&[("GPP_F", "2")]))],
            ),
            (
                "http://s.example/two.xml",
                vec![ok_xml(&profile(&[("GPP_H", "done")]))],
            ),
        ]),
    );
    h.power_on();
    assert_eq!(
        h.fetch_urls(),
        vec!["http://s.example/first-1-x000e08abcdef.xml"]
    );
    assert!(h.log.iter().any(|(_, a)| matches!(a, Action::ParamsApplied { changed } if changed.contains(&"GPP_F".to_string()) && changed.contains(&"GPP_G".to_string()))));
    h.run_for_secs(10);
    assert_eq!(h.fetch_urls()[1], "http://s.example/two.xml");
    assert_eq!(h.param("GPP_H"), "done");
    // With GPP_F = 3 no condition holds: nothing is fetched, and a resync
    // with nothing to fetch is a success.
    let mut h = Harness::new(
        &with(&[("Profile_Rule", rule), ("GPP_F", "3")]),
        routes(&[]),
    );
    h.power_on();
    assert!(h.fetches().is_empty());
    assert_eq!(h.classes(), vec![Class::A]);
}

#[test]
fn r_macro_rule_expansion_per_device() {
    let mut h = Harness::new(
        &with(&[
            (
                "Profile_Rule",
                "tftp://prov.telco.com:6900/cisco/$B/$PN-$MA.cfg",
            ),
            ("GPP_B", "Dj6Lmp23Q"),
        ]),
        routes(&[]),
    );
    h.power_on();
    let r = &h.fetches()[0].1;
    assert_eq!(r.url.port, 6900);
    assert_eq!(r.url.path, "/cisco/Dj6Lmp23Q/CP-8841-3PCC-000e08abcdef.cfg");
}

#[test]
fn r_rule_4_factory_default_rule_uses_default_server() {
    let mut h = Harness::new(&quiet(), routes(&[]));
    h.power_on();
    assert_eq!(
        h.fetch_urls(),
        vec!["tftp://192.168.1.200/CP-8841-3PCC.cfg"]
    );
    assert_eq!(h.classes(), vec![Class::B]);
}

fn cbc(plain: &[u8], key: &str, gzip: bool) -> Vec<u8> {
    encode(
        plain,
        &EncodeOptions {
            scheme: Some(Cipher::Aes256Cbc),
            key: Some(key.as_bytes().to_vec()),
            gzip,
            ..Default::default()
        },
    )
    .unwrap()
}

#[test]
fn r_fmt_7_key_decodes_openssl_enc_with_gzip() {
    // SPEC §13: `[--key MyOwnSecret ] tftp://192.168.1.200/basic.cfg`.
    let body = cbc(
        profile(&[("GPP_A", "12345678")]).as_bytes(),
        "MyOwnSecret",
        true,
    );
    let mut h = Harness::new(
        &with(&[(
            "Profile_Rule",
            "[--key MyOwnSecret ] tftp://192.168.1.200/basic.cfg",
        )]),
        routes(&[(
            "tftp://192.168.1.200/basic.cfg",
            vec![FetchResult::TftpOk(body)],
        )]),
    );
    h.power_on();
    assert_eq!(h.classes(), vec![Class::A]);
    assert_eq!(h.param("GPP_A"), "12345678");
}

#[test]
fn r_fmt_6_plain_gzip_profile() {
    let gz = encode(
        profile(&[("GPP_A", "z")]).as_bytes(),
        &EncodeOptions {
            gzip: true,
            ..Default::default()
        },
    )
    .unwrap();
    let mut h = Harness::new(
        &with(&[("Profile_Rule", "tftp://192.168.1.200/basic.txt")]),
        routes(&[(
            "tftp://192.168.1.200/basic.txt",
            vec![FetchResult::TftpOk(gz)],
        )]),
    );
    h.power_on();
    assert_eq!(h.param("GPP_A"), "z");
}

#[test]
fn r_fmt_7_aes128gcm_content_encoding_with_key_or_ikm_param() {
    let body = encode(
        profile(&[("GPP_A", "gcm")]).as_bytes(),
        &EncodeOptions {
            scheme: Some(Cipher::Aes128Gcm),
            key: Some(b"ikm-secret".to_vec()),
            ..Default::default()
        },
    )
    .unwrap();
    let resp = http(200, &[("Content-Encoding", "aes128gcm")], &body);
    for params in [
        with(&[("Profile_Rule", "[--key ikm-secret] http://s.example/p")]),
        with(&[
            ("Profile_Rule", "http://s.example/p"),
            ("IKM_HTTP_Encrypt_Content", "ikm-secret"),
        ]),
    ] {
        let mut h = Harness::new(
            &params,
            routes(&[("http://s.example/p", vec![resp.clone()])]),
        );
        h.power_on();
        assert_eq!(h.classes(), vec![Class::A], "{params:?}");
        assert_eq!(h.param("GPP_A"), "gcm");
    }
    let mut h = Harness::new(
        &with(&[("Profile_Rule", "[--key wrong] http://s.example/p")]),
        routes(&[("http://s.example/p", vec![resp])]),
    );
    h.power_on();
    assert_eq!(h.classes(), vec![Class::B]);
    assert_eq!(h.param("GPP_A"), "");
}

#[test]
fn r_fmt_8_alias_map() {
    let map = "/customer-account/SIP-number = /flat-profile/User_ID_1_ ; /customer-account/SIP-password = /flat-profile/Password_1_ ;";
    let doc = "<customer-account><SIP-number> 17775551234</SIP-number><SIP-password>pw1</SIP-password></customer-account>";
    let mut h = Harness::new(
        &with(&[
            (
                "Profile_Rule",
                "[--alias a] tftp://192.168.1.200/customer.xml",
            ),
            ("GPP_A", map),
        ]),
        routes(&[(
            "tftp://192.168.1.200/customer.xml",
            vec![FetchResult::TftpOk(doc.into())],
        )]),
    );
    h.power_on();
    assert_eq!(h.classes(), vec![Class::A]);
    assert_eq!(h.param("User_ID_1_"), "17775551234");
    assert_eq!(h.param("Password_1_"), "pw1");
    // A broken alias map is class B and applies nothing.
    let mut h = Harness::new(
        &with(&[
            (
                "Profile_Rule",
                "[--alias b] tftp://192.168.1.200/customer.xml",
            ),
            ("GPP_B", "no equals here"),
        ]),
        routes(&[(
            "tftp://192.168.1.200/customer.xml",
            vec![FetchResult::TftpOk(doc.into())],
        )]),
    );
    h.power_on();
    assert_eq!(h.classes(), vec![Class::B]);
    assert_eq!(h.param("User_ID_1_"), "");
}

#[test]
fn r_http_2_post_resync_body() {
    let mut h = Harness::new(
        &with(&[
            ("Profile_Rule", "[--post status] http://s.example/prov"),
            (
                "Profile_Rule_B",
                "[--post \"mac=$MA&sn=$SN\"] http://s.example/prov2",
            ),
        ]),
        |req: &FetchRequest| {
            if req.method == "POST" {
                ok_xml(&profile(&[("GPP_A", "posted")]))
            } else {
                http(405, &[], b"")
            }
        },
    );
    h.power_on();
    assert_eq!(h.classes(), vec![Class::A]);
    let f = h.fetches();
    let body = String::from_utf8(f[0].1.body.clone()).unwrap();
    assert!(
        body.contains("<MAC_Address>00:0e:08:ab:cd:ef</MAC_Address>"),
        "{body}"
    );
    assert!(
        body.contains("<Serial_Number>88012BA01234</Serial_Number>"),
        "{body}"
    );
    assert_eq!(f[0].1.header("Content-Type"), Some("application/xml"));
    assert_eq!(f[1].1.body, b"mac=000e08abcdef&sn=88012BA01234");
}

#[test]
fn r_rule_6_resync_now_one_shot_rule_from_requesting_host() {
    let mut h = Harness::new(
        &with(&[("Profile_Rule", "http://a.example/1.xml")]),
        routes(&[
            (
                "http://a.example/1.xml",
                vec![ok_xml(&profile(&[("GPP_A", "1")]))],
            ),
            (
                "tftp://10.9.9.9/one.xml",
                vec![FetchResult::TftpOk(profile(&[("GPP_B", "1s")]).into())],
            ),
        ]),
    );
    h.power_on();
    h.clear_log();
    // `<ExecuteItem URL="Resync:/one.xml"/>` from 10.9.9.9.
    let items = parse_execute_xml(
        r#"<CP-8841-3PCCExecute><ExecuteItem URL="Resync:/one.xml"/></CP-8841-3PCCExecute>"#,
    )
    .unwrap();
    let input = items[0].to_input(Some("10.9.9.9")).unwrap();
    h.input(input);
    assert_eq!(h.fetch_urls(), vec!["tftp://10.9.9.9/one.xml"]);
    assert_eq!(h.param("GPP_B"), "1s");
    assert_eq!(
        h.param("Profile_Rule"),
        "http://a.example/1.xml",
        "one shot: not stored"
    );
    // `/admin/resync` without a rule: the configured rules.
    h.clear_log();
    h.input(Input::ResyncNow {
        rule: None,
        from_host: None,
    });
    assert_eq!(h.fetch_urls(), vec!["http://a.example/1.xml"]);
    // A bad rule is refused without fetching.
    h.clear_log();
    h.input(Input::ResyncNow {
        rule: Some("ftp://x/y".into()),
        from_host: None,
    });
    assert!(h.fetches().is_empty());
    assert!(matches!(h.log[0].1, Action::RequestRefused { .. }));
}

#[test]
fn spec_13_basic_txt_sets_gpp_a_with_30s_periodic_and_retry() {
    let mut h = Harness::new(
        &[
            ("Profile_Rule", "tftp://192.168.1.200/basic.txt"),
            ("Resync_Periodic", "30"),
            ("Resync_Error_Retry_Delay", "30"),
            ("Resync_Random_Delay", "0"),
        ],
        routes(&[(
            "tftp://192.168.1.200/basic.txt",
            vec![
                FetchResult::TftpOk(
                    b"<flat-profile>\n  <GPP_A> 12345678\n</GPP_A>\n</flat-profile>\n".to_vec(),
                ),
                FetchResult::Timeout,
                FetchResult::TftpOk(profile(&[("GPP_A", "12345678")]).into()),
            ],
        )]),
    );
    h.power_on();
    assert_eq!(h.param("GPP_A"), "12345678");
    h.run_for_secs(90);
    let t: Vec<u64> = h.fetches().iter().map(|(t, _)| t.0 / 1000).collect();
    assert_eq!(t, vec![0, 30, 60, 90], "success → 30 s, failure → 30 s");
    assert_eq!(h.classes(), vec![Class::A, Class::C, Class::A, Class::A]);
}

#[test]
fn spec_13_partitioned_profile_rule_b_basic2() {
    let mut h = Harness::new(
        &with(&[
            ("Profile_Rule", "tftp://192.168.1.200/basic.txt"),
            ("Profile_Rule_B", "tftp://192.168.1.200/basic2.txt"),
        ]),
        routes(&[
            (
                "tftp://192.168.1.200/basic.txt",
                vec![FetchResult::TftpOk(
                    profile(&[("GPP_A", "12345678")]).into(),
                )],
            ),
            (
                "tftp://192.168.1.200/basic2.txt",
                vec![FetchResult::TftpOk(
                    b"<flat-profile><GPP_B>ABCD</GPP_B></flat-profile>".to_vec(),
                )],
            ),
        ]),
    );
    h.power_on();
    assert_eq!(h.param("GPP_A"), "12345678");
    assert_eq!(h.param("GPP_B"), "ABCD");
}

#[test]
fn r_fmt_2_ua_attribute_is_stored() {
    let mut h = Harness::new(
        &with(&[("Profile_Rule", "tftp://192.168.1.200/u.xml")]),
        routes(&[(
            "tftp://192.168.1.200/u.xml",
            vec![FetchResult::TftpOk(br#"<flat-profile><Password_1_ ua="na">pw</Password_1_><X_Future_Param ua="rw">1</X_Future_Param></flat-profile>"#.to_vec())],
        )]),
    );
    h.power_on();
    let e = h.phone.params().entry("Password_1_").unwrap();
    assert_eq!(
        (e.value.as_str(), e.access),
        ("pw", Some(phoneprov_profile::Access::Na))
    );
    // Issue 16: as the real phone, a name it does not have is ignored.
    assert_eq!(
        h.param("X_Future_Param"),
        "",
        "unknown parameters are ignored"
    );
    assert!(h.phone.params().entry("X_Future_Param").is_none());
    // ... and reported to the driver, which logs it.
    assert!(h.log.iter().any(|(_, a)| matches!(
        a,
        Action::ParamsIgnored { unknown, rejected }
            if unknown == &vec!["X_Future_Param".to_string()] && rejected.is_empty()
    )));
}

#[test]
fn r_srv_1_srv_flag_reaches_the_driver_and_tftp_is_refused() {
    let mut h = Harness::new(
        &with(&[("Profile_Rule", "[--srv] https://example.com/$PSN.xml")]),
        routes(&[]),
    );
    h.power_on();
    let r = &h.fetches()[0].1;
    assert!(r.srv);
    assert_eq!(
        (r.url.host.as_str(), r.url.path.as_str()),
        ("example.com", "/8841.xml")
    );
    // A TFTP rule with --srv does not even parse: class C, nothing fetched.
    let mut h = Harness::new(
        &with(&[("Profile_Rule", "[--srv] tftp://example.com/x.xml")]),
        routes(&[]),
    );
    h.power_on();
    assert!(h.fetches().is_empty());
    assert_eq!(h.classes(), vec![Class::C]);
    let err = h.resyncs()[0].2.clone().unwrap();
    assert!(err.contains("SRV"), "{err}");
}
