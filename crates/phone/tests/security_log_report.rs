//! R-SEC rules the engine owns (Restricted_Access_Domains, User-Agent),
//! syslog messages (R-LOG), report uploads and the status page.

mod common;
use common::*;
use phoneprov_crypto::{decode, DecodeOptions};
use phoneprov_phone::upgrade::make_image;
use phoneprov_phone::*;

const GOOD: &str = "<flat-profile><GPP_A>1</GPP_A></flat-profile>";

fn quiet(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut v = vec![("Resync_Random_Delay", "0"), ("Resync_Periodic", "0")];
    v.extend_from_slice(extra);
    v
}

fn any_ok(req: &FetchRequest) -> FetchResult {
    if req.purpose == Purpose::Firmware {
        http(200, &[], &make_image("12.0.0", b""))
    } else {
        ok_xml(GOOD)
    }
}

#[test]
fn r_sec_1_profile_rule_outside_domains_is_refused() {
    let mut h = Harness::new(
        &quiet(&[
            ("Restricted_Access_Domains", "prov.example, other.org"),
            ("Profile_Rule", "http://evil.example/p.xml"),
            ("Profile_Rule_B", "http://x.prov.example/p.xml"),
            ("Syslog_Server", "10.0.0.5"),
        ]),
        any_ok,
    );
    h.power_on();
    assert!(h.fetches().is_empty());
    assert_eq!(h.classes(), vec![Class::C]);
    let logs = h.syslogs();
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert!(
        logs[0].contains("Resync failed") && logs[0].contains("Restricted_Access_Domains"),
        "{logs:?}"
    );
    // Inside the list (subdomain): allowed.
    let mut h = Harness::new(
        &quiet(&[
            ("Restricted_Access_Domains", "prov.example"),
            ("Profile_Rule", "http://x.prov.example/p.xml"),
        ]),
        any_ok,
    );
    h.power_on();
    assert_eq!(h.classes(), vec![Class::A]);
}

#[test]
fn r_sec_1_redirect_outside_domains_is_refused() {
    let mut h = Harness::new(
        &quiet(&[
            ("Restricted_Access_Domains", "prov.example"),
            ("Profile_Rule", "http://prov.example/p.xml"),
        ]),
        |req: &FetchRequest| {
            if req.url.host == "prov.example" {
                http(302, &[("Location", "http://evil.example/p.xml")], b"")
            } else {
                ok_xml(GOOD)
            }
        },
    );
    h.power_on();
    assert_eq!(h.fetches().len(), 1);
    assert_eq!(h.classes(), vec![Class::C]);
    assert_eq!(h.param("GPP_A"), "");
}

#[test]
fn r_sec_1_upgrade_and_report_outside_domains_are_refused() {
    let mut h = Harness::new(
        &quiet(&[
            ("Restricted_Access_Domains", "prov.example"),
            ("Profile_Rule", "http://prov.example/p.xml"),
            ("Upgrade_Rule", "http://evil.example/fw.loads"),
            ("Report_Rule", "http://evil.example/report"),
        ]),
        any_ok,
    );
    h.power_on();
    h.input(Input::ReportNow { rule: None });
    let purposes: Vec<Purpose> = h.fetches().iter().map(|(_, r)| r.purpose).collect();
    assert!(
        purposes
            .iter()
            .all(|p| matches!(p, Purpose::Profile { .. })),
        "{purposes:?}"
    );
    assert!(h.log.iter().any(|(_, a)| matches!(a, Action::UpgradeFinished { ok: false, final_failure: true, error: Some(e) } if e.contains("Restricted_Access_Domains"))));
    assert!(h.log.iter().any(|(_, a)| matches!(a, Action::ReportFinished { ok: false, error: Some(e) } if e.contains("Restricted_Access_Domains"))));
    assert_eq!(h.phone.identity().swver, "11.0.1");
}

#[test]
fn r_http_3_user_agent_default_and_override() {
    let mut h = Harness::new(&quiet(&[("Profile_Rule", "http://s/p")]), any_ok);
    h.power_on();
    assert_eq!(
        h.fetches()[0].1.header("User-Agent"),
        Some("Cisco-CP-8841-3PCC/11.0.1 (000e08abcdef)")
    );
    let mut h = Harness::new(
        &quiet(&[
            ("Profile_Rule", "http://s/p"),
            ("User_Agent", "Acme/$SWVER ($MAU)"),
        ]),
        any_ok,
    );
    h.power_on();
    assert_eq!(
        h.fetches()[0].1.header("User-Agent"),
        Some("Acme/11.0.1 (000E08ABCDEF)")
    );
}

#[test]
fn r_log_3_seed_example_shape() {
    // `ATA192-MPP 00:0e:08:ab:cd:ef –- Successful resync tftp://192.168.1.200/basic.txt`
    let mut h = Harness::with_config(
        &quiet(&[
            ("Profile_Rule", "tftp://192.168.1.200/basic.txt"),
            ("Syslog_Server_IP", "192.168.1.210"),
            ("Log_Resync_Request_Msg", ""),
            (
                "Log_Resync_Success_Msg",
                "$PN $MAC –- Successful resync $SCHEME://$SERVIP$PATH",
            ),
        ]),
        |c| c.identity.pn = "ATA192-MPP".into(),
        routes(&[(
            "tftp://192.168.1.200/basic.txt",
            vec![FetchResult::TftpOk(GOOD.into())],
        )]),
    );
    h.power_on();
    let servers: Vec<String> = h
        .log
        .iter()
        .filter_map(|(_, a)| match a {
            Action::Syslog { server, .. } => Some(server.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(servers, vec!["192.168.1.210"]);
    assert_eq!(
        h.syslogs(),
        vec!["ATA192-MPP 00:0e:08:ab:cd:ef –- Successful resync tftp://192.168.1.200/basic.txt"]
    );
}

#[test]
fn r_log_1_default_templates_start_and_end_with_servip_and_err() {
    // Drive the engine by hand to pass the resolved address ($SERVIP).
    let mut cfg = PhoneConfig::new(identity());
    cfg.initial_params = vec![
        (
            "Profile_Rule".into(),
            "http://prov.example:8080/a.xml".into(),
        ),
        (
            "Profile_Rule_B".into(),
            "http://prov.example:8080/b.xml".into(),
        ),
        ("Resync_Random_Delay".into(), "0".into()),
        ("Syslog_Server".into(), "10.0.0.5:5514".into()),
    ];
    let mut phone = Phone::new(cfg);
    phone.handle_input(Input::PowerOn, Time(0));
    phone.handle_timeout(Time(0));
    let mut logs = Vec::new();
    while let Some(a) = phone.poll_action() {
        match a {
            Action::Fetch(r) => {
                let result = if r.url.path == "/a.xml" {
                    ok_xml(GOOD)
                } else {
                    FetchResult::Timeout
                };
                phone.handle_input(
                    Input::FetchDone {
                        id: r.id,
                        result,
                        server_ip: Some("198.51.100.7".into()),
                    },
                    Time(0),
                );
            }
            Action::Syslog { server, message } => {
                assert_eq!(server, "10.0.0.5:5514");
                logs.push(message);
            }
            _ => {}
        }
    }
    assert_eq!(
        logs,
        vec![
            "CP-8841-3PCC 00:0e:08:ab:cd:ef -- Requesting resync http://prov.example:8080/a.xml",
            "CP-8841-3PCC 00:0e:08:ab:cd:ef -- Successful resync http://198.51.100.7:8080/a.xml",
            "CP-8841-3PCC 00:0e:08:ab:cd:ef -- Requesting resync http://prov.example:8080/b.xml",
            "CP-8841-3PCC 00:0e:08:ab:cd:ef -- Resync failed: timeout",
        ]
    );
}

#[test]
fn r_log_2_empty_template_or_no_server_sends_nothing() {
    let mut h = Harness::new(
        &quiet(&[
            ("Profile_Rule", "http://s/p"),
            ("Syslog_Server", "10.0.0.5"),
            ("Log_Request_Msg", ""),
            ("Log_Success_Msg", ""),
        ]),
        any_ok,
    );
    h.power_on();
    assert!(h.syslogs().is_empty());
    let mut h = Harness::new(&quiet(&[("Profile_Rule", "http://s/p")]), any_ok);
    h.power_on();
    assert!(h.syslogs().is_empty(), "no Syslog_Server: nothing");
    assert_eq!(h.classes(), vec![Class::A]);
}

fn reports(h: &Harness) -> Vec<FetchRequest> {
    h.fetches()
        .into_iter()
        .filter(|(_, r)| r.purpose == Purpose::Report)
        .map(|(_, r)| r)
        .collect()
}

#[test]
fn r_http_2_report_upload_delta_status_put_and_key() {
    let mut h = Harness::new(
        &quiet(&[
            ("Profile_Rule", "http://s/p"),
            ("Report_Rule", "[--delta] http://s/report/$MA.xml"),
            ("HTTP_Report_Method", "PUT"),
            ("GPP_C", "custom"),
        ]),
        |req: &FetchRequest| match req.purpose {
            Purpose::Report => http(201, &[], b""),
            _ => ok_xml(GOOD),
        },
    );
    h.power_on();
    h.input(Input::ReportNow { rule: None });
    let r = reports(&h);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].method, "PUT");
    assert_eq!(r[0].url.path, "/report/000e08abcdef.xml");
    let body = String::from_utf8(r[0].body.clone()).unwrap();
    let p = phoneprov_profile::FlatProfile::parse(&body).unwrap();
    assert_eq!(p.get("GPP_C"), Some("custom"));
    assert_eq!(p.get("GPP_A"), Some("1"), "applied by the resync");
    assert_eq!(p.get("Resync_Periodic"), Some("0"), "differs from 3600");
    assert_eq!(
        p.get("Upgrade_Enable"),
        None,
        "default value: not in a delta"
    );
    assert!(h
        .log
        .iter()
        .any(|(_, a)| matches!(a, Action::ReportFinished { ok: true, .. })));

    // --status with --key: encrypted, decodable; the method still follows
    // HTTP_Report_Method.
    h.clear_log();
    h.input(Input::ReportNow {
        rule: Some("[--status --key Rk] http://s/st".into()),
    });
    let r = reports(&h);
    assert_eq!(r[0].method, "PUT");
    assert_eq!(
        r[0].header("Content-Type"),
        Some("application/octet-stream")
    );
    assert!(r[0].body.starts_with(b"Salted__"));
    let plain = decode(
        &r[0].body,
        &DecodeOptions {
            key: Some(b"Rk"),
            ..Default::default()
        },
    )
    .unwrap();
    let p = phoneprov_profile::FlatProfile::parse_bytes(&plain.plain).unwrap();
    assert_eq!(p.get("Software_Version"), Some("11.0.1"));
    assert_eq!(p.get("MAC_Address"), Some("00:0e:08:ab:cd:ef"));
    assert_eq!(p.get("GPP_C"), None, "status only");
}

#[test]
fn r_http_2_full_report_and_failure() {
    let mut h = Harness::new(
        &quiet(&[
            ("Profile_Rule", "http://s/p"),
            ("Report_Rule", "http://s/r"),
        ]),
        |req: &FetchRequest| match req.purpose {
            Purpose::Report => http(500, &[], b""),
            _ => ok_xml(GOOD),
        },
    );
    h.power_on();
    h.input(Input::ReportNow { rule: None });
    assert_eq!(reports(&h)[0].method, "POST", "HTTP_Report_Method default");
    let body = String::from_utf8(reports(&h)[0].body.clone()).unwrap();
    assert!(
        body.contains("<Upgrade_Enable>Yes</Upgrade_Enable>"),
        "full report holds defaults"
    );
    assert!(h.log.iter().any(|(_, a)| matches!(a, Action::ReportFinished { ok: false, error: Some(e) } if e.contains("500"))));
}

#[test]
fn status_page_json() {
    let mut h = Harness::new(
        &[
            ("Profile_Rule", "http://s/p"),
            ("Resync_Random_Delay", "0"),
            ("Resync_Periodic", "30"),
        ],
        routes(&[("http://s/p", vec![http(404, &[], b"")])]),
    );
    h.power_on();
    let s = h.phone.status_json();
    assert_eq!(s["state"], "idle");
    assert_eq!(s["swver"], "11.0.1");
    assert_eq!(s["last_resync"]["class"], "B");
    assert_eq!(s["last_resync"]["outcome"], "failure");
    assert_eq!(s["last_resync"]["at"], 0);
    assert_eq!(s["next_resync_at"], 3_600_000, "default retry delay 3600 s");
    assert_eq!(s["counters"]["resyncs_failed_b"], 1);
    assert_eq!(s["counters"]["fetches"], 1);
}

#[test]
fn r_fmt_7_report_with_ikm_is_aes128gcm() {
    let mut h = Harness::new(
        &quiet(&[
            ("Profile_Rule", "#"),
            ("Report_Rule", "[--status] http://s/st"),
            ("IKM_HTTP_Encrypt_Content", "report-ikm"),
        ]),
        |_: &FetchRequest| http(200, &[], b""),
    );
    h.power_on();
    h.input(Input::ReportNow { rule: None });
    let r = &reports(&h)[0];
    assert_eq!(r.header("Content-Encoding"), Some("aes128gcm"));
    let plain = decode(
        &r.body,
        &DecodeOptions {
            key: Some(b"report-ikm"),
            content_encoding: Some("aes128gcm"),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(String::from_utf8(plain.plain)
        .unwrap()
        .contains("<Product_Name>CP-8841-3PCC</Product_Name>"));
}

/// R-FMT-7: `IKM_HTTP_Encrypt_Content` is a secret string; neither it nor
/// any other secret (line passwords) is in a report, delta or full.
#[test]
fn r_fmt_7_reports_never_hold_secrets() {
    for rule in ["http://s/full", "[--delta] http://s/delta"] {
        let mut h = Harness::new(
            &quiet(&[
                ("Profile_Rule", "#"),
                ("Report_Rule", rule),
                ("IKM_HTTP_Encrypt_Content", "ikm-Secret-42"),
                ("Password_1_", "line-Secret-7"),
                ("GPP_A", "visible"),
            ]),
            |_: &FetchRequest| http(200, &[], b""),
        );
        h.power_on();
        h.input(Input::ReportNow { rule: None });
        let r = &reports(&h)[0];
        let plain = decode(
            &r.body,
            &DecodeOptions {
                key: Some(b"ikm-Secret-42"),
                content_encoding: Some("aes128gcm"),
                ..Default::default()
            },
        )
        .unwrap();
        let xml = String::from_utf8(plain.plain).unwrap();
        assert!(xml.contains("<GPP_A>visible</GPP_A>"), "{xml}");
        assert!(!xml.contains("Secret"), "{rule}: {xml}");
        assert!(!xml.contains("IKM_HTTP_Encrypt_Content"), "{xml}");
        assert!(!xml.contains("Password_1_"), "{xml}");
    }
}

#[test]
fn r_flow_1_manual_params_and_default_server() {
    let mut h = Harness::new(
        &quiet(&[("Profile_Rule", "/$PSN.xml")]),
        routes(&[(
            "tftp://10.1.1.1/8841.xml",
            vec![FetchResult::TftpOk(GOOD.into())],
        )]),
    );
    h.input(Input::PowerOn);
    h.input(Input::SetDefaultServer {
        server: Some("10.1.1.1".into()),
    });
    h.input(Input::SetParams {
        params: vec![("GPP_D".into(), "manual".into())],
    });
    assert!(h.log.iter().any(|(_, a)| matches!(a, Action::ParamsApplied { changed } if changed == &vec!["GPP_D".to_string()])));
    h.run_until(h.now);
    assert_eq!(h.fetch_urls(), vec!["tftp://10.1.1.1/8841.xml"]);
    assert_eq!(h.param("GPP_A"), "1");
    assert_eq!(h.param("GPP_D"), "manual");
}
