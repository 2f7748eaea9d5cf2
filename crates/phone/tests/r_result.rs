//! Every row of the SPEC R-RESULT table, and R-HTTP-4 challenges, through
//! the whole engine on a virtual clock.

mod common;
use common::*;
use phoneprov_phone::*;

const URL: &str = "http://prov.example/p.xml";
const GOOD: &str = "<flat-profile><GPP_A>12345678</GPP_A></flat-profile>";

fn base() -> Vec<(&'static str, &'static str)> {
    vec![
        ("Profile_Rule", URL),
        ("Resync_Random_Delay", "0"),
        ("Resync_Error_Retry_Delay", "30"),
    ]
}

/// One boot resync answered by `server`; returns the harness after it.
fn one_resync(
    params: &[(&str, &str)],
    server: impl FnMut(&FetchRequest) -> FetchResult + 'static,
) -> Harness {
    let mut h = Harness::new(params, server);
    h.power_on();
    h.run_until(Time(0));
    assert_eq!(h.resyncs().len(), 1, "exactly one resync: {:?}", h.log);
    h
}

fn single(result: FetchResult) -> Harness {
    one_resync(&base(), routes(&[(URL, vec![result])]))
}

#[test]
fn r_result_200_is_a_and_applies() {
    let h = single(ok_xml(GOOD));
    assert_eq!(h.last_class(), Class::A);
    assert_eq!(h.param("GPP_A"), "12345678");
}

#[test]
fn r_result_301_302_refetch_at_location() {
    for status in [301, 302] {
        let h = one_resync(
            &base(),
            routes(&[
                (
                    URL,
                    vec![http(
                        status,
                        &[("Location", "http://other.example/q.xml")],
                        b"",
                    )],
                ),
                ("http://other.example/q.xml", vec![ok_xml(GOOD)]),
            ]),
        );
        assert_eq!(h.last_class(), Class::A, "{status}");
        assert_eq!(
            h.fetch_urls(),
            vec![URL.to_string(), "http://other.example/q.xml".to_string()]
        );
        assert_eq!(h.param("GPP_A"), "12345678");
        // Both fetches happened at once (no delay).
        assert!(h.fetches().iter().all(|(t, _)| *t == Time(0)));
    }
}

#[test]
fn r_result_relative_location_stays_on_server() {
    let h = one_resync(
        &base(),
        routes(&[
            (URL, vec![http(302, &[("Location", "/moved.xml")], b"")]),
            ("http://prov.example/moved.xml", vec![ok_xml(GOOD)]),
        ]),
    );
    assert_eq!(h.last_class(), Class::A);
}

#[test]
fn r_result_redirect_hop_limit_is_c() {
    // Every URL redirects to the next one: 1 fetch + 5 hops, then C.
    let h = one_resync(&base(), |req: &FetchRequest| {
        let n: u32 = req.url.path.trim_start_matches("/r").parse().unwrap_or(0);
        http(
            302,
            &[("Location", &format!("http://prov.example/r{}", n + 1))],
            b"",
        )
    });
    assert_eq!(h.last_class(), Class::C);
    assert_eq!(h.fetches().len(), 1 + fetch::MAX_REDIRECTS as usize);
    let err = h.resyncs()[0].2.clone().unwrap();
    assert!(err.contains("redirects"), "{err}");
}

#[test]
fn r_result_redirect_without_location_is_c() {
    assert_eq!(single(http(301, &[], b"")).last_class(), Class::C);
}

#[test]
fn r_result_other_3xx_is_c() {
    for s in [300, 303, 304, 305, 307, 308] {
        let h = single(http(s, &[("Location", "http://other.example/q.xml")], b""));
        assert_eq!(h.last_class(), Class::C, "{s}");
        assert_eq!(h.fetches().len(), 1, "{s} must not be followed");
    }
}

#[test]
fn r_result_400_403_other_4xx_5xx_are_c() {
    for s in [400, 403, 405, 410, 418, 429, 500, 501, 502, 503, 504, 599] {
        let h = single(http(s, &[], b"<flat-profile/>"));
        assert_eq!(h.last_class(), Class::C, "{s}");
        assert_eq!(h.fetches().len(), 1, "{s}: no immediate retry");
    }
}

#[test]
fn r_result_404_is_b_and_tftp_not_found_is_b() {
    assert_eq!(single(http(404, &[], b"")).last_class(), Class::B);
    let h = one_resync(
        &[
            ("Profile_Rule", "tftp://192.168.1.200/basic.txt"),
            ("Resync_Random_Delay", "0"),
        ],
        routes(&[]),
    );
    assert_eq!(h.last_class(), Class::B);
}

#[test]
fn r_result_transport_failures_are_c() {
    for r in [
        FetchResult::Timeout,
        FetchResult::ConnectError("refused".into()),
        FetchResult::DnsError("NXDOMAIN".into()),
        FetchResult::TlsError("bad certificate".into()),
        FetchResult::TftpError("access violation".into()),
        FetchResult::Refused("proxy".into()),
    ] {
        assert_eq!(single(r.clone()).last_class(), Class::C, "{r:?}");
    }
}

#[test]
fn r_result_bad_url_is_c() {
    // No server in the rule and no default server: bad address.
    let h = Harness::with_config(
        &[("Profile_Rule", "/x.cfg"), ("Resync_Random_Delay", "0")],
        |c| c.default_server = None,
        routes(&[]),
    );
    let mut h = h;
    h.power_on();
    assert_eq!(h.last_class(), Class::C);
    assert!(h.fetches().is_empty());
    // A rule that does not parse.
    let mut h = Harness::new(
        &[
            ("Profile_Rule", "tftp://h:99999/a"),
            ("Resync_Random_Delay", "0"),
        ],
        routes(&[]),
    );
    h.power_on();
    assert_eq!(h.last_class(), Class::C);
}

fn basic_ok(req: &FetchRequest) -> FetchResult {
    match req.header("Authorization") {
        // base64("admin:s3cret")
        Some("Basic YWRtaW46czNjcmV0") => ok_xml(GOOD),
        _ => http(401, &[("WWW-Authenticate", "Basic realm=\"prov\"")], b""),
    }
}

#[test]
fn r_http_4_401_basic_answered_with_uid_pwd() {
    let h = one_resync(
        &[
            (
                "Profile_Rule",
                "[--uid admin --pwd s3cret] http://prov.example/p.xml",
            ),
            ("Resync_Random_Delay", "0"),
        ],
        basic_ok,
    );
    assert_eq!(h.last_class(), Class::A);
    assert_eq!(h.fetches().len(), 2);
    assert_eq!(h.param("GPP_A"), "12345678");
}

#[test]
fn r_http_4_401_digest_answered_with_configured_credentials() {
    let h = Harness::with_config(
        &base(),
        |c| {
            c.credentials = Some(Credentials {
                user: "admin".into(),
                password: "s3cret".into(),
            })
        },
        |req: &FetchRequest| match req.header("Authorization") {
            Some(a)
                if a.starts_with("Digest ")
                    && a.contains("username=\"admin\"")
                    && a.contains("nonce=\"n1\"") =>
            {
                ok_xml(GOOD)
            }
            _ => http(
                401,
                &[(
                    "WWW-Authenticate",
                    "Digest realm=\"prov\", nonce=\"n1\", qop=\"auth\", algorithm=SHA-256",
                )],
                b"",
            ),
        },
    );
    let mut h = h;
    h.power_on();
    assert_eq!(h.classes(), vec![Class::A]);
    let auth = h.fetches()[1]
        .1
        .header("Authorization")
        .unwrap()
        .to_string();
    assert!(
        auth.contains("algorithm=SHA-256") && auth.contains("qop=auth"),
        "{auth}"
    );
}

/// R-HTTP-4 `Profile_Authentication_Type`: without `--uid`, the setting
/// picks the credentials that answer a 401 (admin/s3cret is what
/// `basic_ok` accepts).
#[test]
fn r_http_4_profile_authentication_type_picks_the_credentials() {
    let run = |extra: &[(&'static str, &'static str)], account: bool| {
        let mut p = base();
        p.extend_from_slice(extra);
        let mut h = Harness::with_config(
            &p,
            |c| {
                if account {
                    c.credentials = Some(Credentials::new("admin", "s3cret"));
                }
            },
            basic_ok,
        );
        h.power_on();
        h
    };
    // The default (Basic Http Authentication, with the seeds' trailing
    // space too) answers with the profile account.
    assert_eq!(run(&[], true).last_class(), Class::A);
    let h = run(
        &[("Profile_Authentication_Type", "Basic Http Authentication ")],
        true,
    );
    assert_eq!(h.last_class(), Class::A);
    // Disabled: the profile account is not used; the 401 ends the resync.
    let h = run(&[("Profile_Authentication_Type", "Disabled")], true);
    assert_eq!(h.last_class(), Class::C);
    assert_eq!(h.fetches().len(), 1, "no answer to the challenge");
    assert!(h.fetches()[0].1.header("Authorization").is_none());
    // XSI with login credentials (no profile account needed).
    let xsi = [
        ("Profile_Authentication_Type", "XSI Authentication"),
        ("Login_User_ID", "admin"),
        ("Login_Password", "s3cret"),
    ];
    assert_eq!(run(&xsi, false).last_class(), Class::A);
    // XSI with SIP credentials: line 1's Auth_ID_1_/Password_1_.
    let sip = [
        ("Profile_Authentication_Type", "XSI Authentication"),
        ("XSI_Authentication_Type", "SIP Credentials"),
        ("User_ID_1_", "1001"),
        ("Auth_ID_1_", "admin"),
        ("Password_1_", "s3cret"),
    ];
    assert_eq!(run(&sip, false).last_class(), Class::A);
    // XSI with wrong login credentials: answered twice, then class C.
    let wrong = [
        ("Profile_Authentication_Type", "XSI Authentication"),
        ("Login_User_ID", "admin"),
        ("Login_Password", "nope"),
    ];
    let h = run(&wrong, true);
    assert_eq!(h.last_class(), Class::C);
    assert_eq!(h.fetches().len(), 3);
}

#[test]
fn r_http_4_three_401s_are_c() {
    let h = one_resync(
        &[
            (
                "Profile_Rule",
                "[--uid admin --pwd wrong] http://prov.example/p.xml",
            ),
            ("Resync_Random_Delay", "0"),
        ],
        basic_ok,
    );
    assert_eq!(h.last_class(), Class::C);
    assert_eq!(h.fetches().len(), 3, "initial + 2 answers");
    assert_eq!(h.param("GPP_A"), "");
}

#[test]
fn r_http_4_401_without_credentials_is_c() {
    let h = single(http(401, &[("WWW-Authenticate", "Basic realm=\"x\"")], b""));
    assert_eq!(h.last_class(), Class::C);
    assert_eq!(h.fetches().len(), 1);
}

#[test]
fn r_http_4_407_answered_then_c_after_two() {
    let proxy = |user: &'static str| {
        move |req: &FetchRequest| match req.header("Proxy-Authorization") {
            Some("Basic cHU6cHA=") if user == "pu" => ok_xml(GOOD), // pu:pp
            _ => http(407, &[("Proxy-Authenticate", "Basic realm=\"proxy\"")], b""),
        }
    };
    let mut params = base();
    params.push(("Proxy_Username", "pu"));
    params.push(("Proxy_Password", "pp"));
    let h = one_resync(&params, proxy("pu"));
    assert_eq!(h.last_class(), Class::A);
    assert_eq!(h.fetches().len(), 2);
    let h = one_resync(&params, proxy("other"));
    assert_eq!(h.last_class(), Class::C);
    assert_eq!(h.fetches().len(), 3);
}

#[test]
fn r_result_corrupt_profile_is_b_and_applies_nothing() {
    // Well-formed first element, then a tag mismatch: nothing may apply.
    let bad = "<flat-profile><GPP_A>1</GPP_A><GPP_B>2</GPP_C></flat-profile>";
    let h = single(ok_xml(bad));
    assert_eq!(h.last_class(), Class::B);
    assert_eq!(h.param("GPP_A"), "");
    assert!(!h
        .log
        .iter()
        .any(|(_, a)| matches!(a, Action::ParamsApplied { .. })));
    let h = single(http(200, &[], b"\x00\x01 not a profile"));
    assert_eq!(h.last_class(), Class::B);
}

#[test]
fn r_result_wrong_key_is_b_and_applies_nothing() {
    let enc = phoneprov_crypto::encode(
        GOOD.as_bytes(),
        &phoneprov_crypto::EncodeOptions {
            scheme: Some(phoneprov_crypto::Scheme::Aes256Cbc),
            key: Some(b"RightKey".to_vec()),
            ..Default::default()
        },
    )
    .unwrap();
    let h = one_resync(
        &[
            ("Profile_Rule", "[--key WrongKey] http://prov.example/p.xml"),
            ("Resync_Random_Delay", "0"),
        ],
        routes(&[(URL, vec![http(200, &[], &enc)])]),
    );
    assert_eq!(h.last_class(), Class::B);
    assert_eq!(h.param("GPP_A"), "");
    // No key at all for an encrypted profile: also B.
    let h = one_resync(&base(), routes(&[(URL, vec![http(200, &[], &enc)])]));
    assert_eq!(h.last_class(), Class::B);
}

#[test]
fn r_result_fnf_counts_as_success_when_resync_fails_on_fnf_is_no() {
    let mut params = vec![
        ("Profile_Rule", "http://prov.example/missing.xml"),
        ("Profile_Rule_B", URL),
        ("Resync_Random_Delay", "0"),
        ("Resync_Fails_On_FNF", "No"),
    ];
    let h = one_resync(&params, routes(&[(URL, vec![ok_xml(GOOD)])]));
    assert_eq!(h.last_class(), Class::A);
    assert_eq!(h.param("GPP_A"), "12345678", "rule B still ran");
    // Yes (the default): B and the sequence stops.
    params.pop();
    let h = one_resync(&params, routes(&[(URL, vec![ok_xml(GOOD)])]));
    assert_eq!(h.last_class(), Class::B);
    assert_eq!(h.fetches().len(), 1);
    // Only "not found" is forgiven, not a 500.
    let h = one_resync(
        &[
            ("Profile_Rule", URL),
            ("Resync_Random_Delay", "0"),
            ("Resync_Fails_On_FNF", "No"),
        ],
        routes(&[(URL, vec![http(500, &[], b"")])]),
    );
    assert_eq!(h.last_class(), Class::C);
}

#[test]
fn r_result_classes_pick_the_next_timer() {
    // A → Resync_Periodic, B/C → Resync_Error_Retry_Delay.
    let params = [
        ("Profile_Rule", URL),
        ("Resync_Random_Delay", "0"),
        ("Resync_Periodic", "100"),
        ("Resync_Error_Retry_Delay", "30"),
    ];
    for (answer, gap) in [
        (ok_xml(GOOD), 100),
        (http(404, &[], b""), 30),
        (http(500, &[], b""), 30),
    ] {
        let mut h = Harness::new(&params, routes(&[(URL, vec![answer])]));
        h.power_on();
        h.run_for_secs(150);
        let t: Vec<u64> = h.fetches().iter().map(|(t, _)| t.0).collect();
        assert_eq!(t[1] - t[0], gap * 1000, "{:?}", h.classes());
    }
}
