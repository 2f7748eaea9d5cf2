//! The manual HTTP proxy (R-SEC-4) with nginx as the proxy: the phone's
//! `Proxy_Mode=Manual`, `Proxy_Host`, `Proxy_Port` send the request in
//! absolute form to nginx (the rule's host, `prov.example`, is never
//! resolved by the phone), and `Proxy_Server_Requires_Authentication` with
//! `Proxy_Username`/`Proxy_Password` adds `Proxy-Authorization: Basic`;
//! nginx answers 407 unless it is right (then class C). The same through
//! tinyproxy, and `Proxy_Mode=Auto` with a PAC file (nginx) choosing
//! tinyproxy, fail-over past a dead proxy, WPAD by DHCP option 252, and bad
//! PAC files (a status line, then DIRECT).

mod common;

use common::{one_phone, param, Nginx};
use phoneprov_sim::run_fleet;

#[tokio::test]
async fn r_sec_4_manual_proxy_with_basic_credentials() {
    let origin = Nginx::start("", "", |_| {});
    origin.write(
        "basic.xml",
        b"<flat-profile><GPP_A>12345678</GPP_A></flat-profile>",
    );
    // base64("phone:pw")
    let body = format!(
        "    location / {{\n      if ($http_proxy_authorization != \"Basic cGhvbmU6cHc=\") {{ return 407; }}\n      \
         proxy_pass http://127.0.0.1:{};\n    }}\n",
        origin.port
    );
    let proxy = Nginx::start("", &body, |_| {});
    let port = proxy.port.to_string();
    let run = |password: &'static str| {
        run_fleet(one_phone(&[
            ("Profile_Rule", "http://prov.example/basic.xml"),
            ("Proxy_Mode", "Manual"),
            ("Proxy_Host", "127.0.0.1"),
            ("Proxy_Port", &port),
            ("Proxy_Server_Requires_Authentication", "Yes"),
            ("Proxy_Username", "phone"),
            ("Proxy_Password", password),
        ]))
    };
    let r = run("pw").await.unwrap();
    assert_eq!(r.resyncs.a, 1, "{}", r.to_text());
    assert_eq!(param(&r, "GPP_A").as_deref(), Some("12345678"));
    common::wait_log(
        &proxy.dir.path().join("access.log"),
        "GET http://prov.example:80/basic.xml",
    );
    let r = run("wrong").await.unwrap();
    assert_eq!(r.resyncs.c, 1, "{}", r.to_text());
}

const BASIC: &[u8] = b"<flat-profile><GPP_A>12345678</GPP_A></flat-profile>";

/// The `proxy.status` line of a one-phone report.
fn pac_line(r: &phoneprov_sim::FleetReport) -> String {
    let st = r.status.clone().unwrap();
    st["proxy"]["status"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// R-SEC-4 with a real proxy: the manual proxy is tinyproxy, which
/// forwards the absolute-form request to the origin (nginx).
#[tokio::test]
async fn r_sec_4_manual_proxy_through_tinyproxy() {
    let origin = Nginx::start("", "", |_| {});
    origin.write("basic.xml", BASIC);
    let tp = common::tinyproxy();
    let r = run_fleet(one_phone(&[
        (
            "Profile_Rule",
            &format!("http://127.0.0.1:{}/basic.xml", origin.port),
        ),
        ("Proxy_Mode", "Manual"),
        ("Proxy_Host", "127.0.0.1"),
        ("Proxy_Port", &tp.port.to_string()),
    ]))
    .await
    .unwrap();
    assert_eq!(r.resyncs.a, 1, "{}", r.to_text());
    assert_eq!(param(&r, "GPP_A").as_deref(), Some("12345678"));
    common::wait_log(
        &tp.dir.path().join("tinyproxy.log"),
        &format!("GET http://127.0.0.1:{}/basic.xml", origin.port),
    );
}

/// R-SEC-4 `Proxy_Mode=Auto`: the PAC file (nginx) is evaluated by boa; a
/// URL it sends `DIRECT` goes direct, the others try a dead proxy first
/// and fail over to tinyproxy. Through `PAC_URL` and through WPAD (DHCP
/// option 252).
#[tokio::test]
async fn r_sec_4_pac_selected_proxy_with_fail_over() {
    let origin = Nginx::start("", "", |_| {});
    origin.write("basic.xml", BASIC);
    origin.write("direct.xml", BASIC);
    let tp = common::tinyproxy();
    let dead = common::free_port();
    let pac = format!(
        "function FindProxyForURL(url, host) {{\n\
           if (shExpMatch(url, \"*/direct.xml\")) return \"DIRECT\";\n\
           if (isPlainHostName(host) || !isInNet(host, \"127.0.0.0\", \"255.0.0.0\")) return \"DIRECT\";\n\
           return \"PROXY 127.0.0.1:{dead}; PROXY 127.0.0.1:{}; DIRECT\";\n\
         }}\n",
        tp.port
    );
    origin.write("proxy.pac", pac.as_bytes());
    origin.write("wpad.dat", pac.as_bytes());
    let pac_url = format!("http://127.0.0.1:{}/proxy.pac", origin.port);
    let auto = |file: &str, wpad: bool| {
        let rule = format!("http://127.0.0.1:{}/{file}", origin.port);
        let mut cfg = one_phone(&[
            ("Profile_Rule", &rule),
            ("Proxy_Mode", "Auto"),
            ("Use_Auto_Discovery__WPAD_", if wpad { "Yes" } else { "No" }),
            ("PAC_URL", &pac_url),
        ]);
        cfg.lease = phoneprov_sim::DhcpLease::parse([format!(
            "252=http://127.0.0.1:{}/wpad.dat",
            origin.port
        )
        .as_str()])
        .unwrap();
        cfg
    };
    let r = run_fleet(auto("basic.xml", false)).await.unwrap();
    assert_eq!(r.resyncs.a, 1, "{}", r.to_text());
    assert_eq!(param(&r, "GPP_A").as_deref(), Some("12345678"));
    assert_eq!(
        pac_line(&r),
        format!(
            "PROXY 127.0.0.1:{dead}; PROXY 127.0.0.1:{}; DIRECT",
            tp.port
        )
    );
    common::wait_log(
        &tp.dir.path().join("tinyproxy.log"),
        &format!("GET http://127.0.0.1:{}/basic.xml", origin.port),
    );
    let r = run_fleet(auto("direct.xml", false)).await.unwrap();
    assert_eq!(r.resyncs.a, 1, "{}", r.to_text());
    assert_eq!(pac_line(&r), "DIRECT");
    assert!(!tp.log().contains("direct.xml"), "{}", tp.log());
    // WPAD: option 252 names the PAC file.
    let r = run_fleet(auto("basic.xml", true)).await.unwrap();
    assert_eq!(r.resyncs.a, 1, "{}", r.to_text());
    let st = r.status.clone().unwrap();
    assert!(
        st["proxy"]["pac_url"]
            .as_str()
            .unwrap()
            .ends_with("/wpad.dat"),
        "{st}"
    );
    common::wait_log(&origin.dir.path().join("access.log"), "GET /wpad.dat");
}

/// A PAC file that throws, loops forever, returns garbage or cannot be
/// fetched: one status line, and the phone goes DIRECT and still resyncs.
#[tokio::test]
async fn r_sec_4_bad_pac_files_go_direct_with_a_status_line() {
    let origin = Nginx::start("", "", |_| {});
    origin.write("basic.xml", BASIC);
    let cases = [
        (
            "throws.pac",
            "function FindProxyForURL(u, h) { throw new Error('no proxy today'); }",
            "no proxy today",
        ),
        (
            "loops.pac",
            "function FindProxyForURL(u, h) { while (true) {} }",
            "FindProxyForURL",
        ),
        (
            // Loops across call frames escape boa's per-frame loop limit:
            // the time limit or the instruction budget ends it.
            "frames.pac",
            "function g() { for (var j = 0; j < 999999; j++) {} }
             function FindProxyForURL(u, h) { for (var i = 0; i < 999999; i++) g(); return 'PROXY never:1'; }",
            "ran past its",
        ),
        (
            "garbage.pac",
            "function FindProxyForURL(u, h) { return 'USE THE FORCE'; }",
            "not DIRECT or PROXY",
        ),
        (
            "syntax.pac",
            "function FindProxyForURL(u, h) {",
            "PAC file does not load",
        ),
    ];
    for (name, body, _) in &cases {
        origin.write(name, body.as_bytes());
    }
    let rule = format!("http://127.0.0.1:{}/basic.xml", origin.port);
    let run = |pac: String| {
        run_fleet(one_phone(&[
            ("Profile_Rule", &rule),
            ("Proxy_Mode", "Auto"),
            ("Use_Auto_Discovery__WPAD_", "No"),
            ("PAC_URL", &pac),
        ]))
    };
    for (name, _, want) in cases {
        let r = run(format!("http://127.0.0.1:{}/{name}", origin.port))
            .await
            .unwrap();
        assert_eq!(r.resyncs.a, 1, "{name}: {}", r.to_text());
        let line = pac_line(&r);
        assert!(
            line.contains(want) && line.ends_with("going DIRECT"),
            "{name}: {line}"
        );
    }
    let r = run(format!("http://127.0.0.1:{}/missing.pac", origin.port))
        .await
        .unwrap();
    assert_eq!(r.resyncs.a, 1, "{}", r.to_text());
    let line = pac_line(&r);
    assert!(
        line.contains("cannot fetch the PAC file") && line.contains("HTTP 404"),
        "{line}"
    );
}

/// WPAD by DNS (R-SEC-4): no option 252, so the phone fetches
/// `http://wpad.<option 15>/wpad.dat`, the name resolved by the DNS server
/// of option 6 (dnsmasq) to a loopback address where nginx also listens on
/// port 80; the PAC file picks tinyproxy.
#[tokio::test]
async fn r_sec_4_wpad_by_dns_name_from_the_dhcp_domain() {
    let tp = common::tinyproxy();
    // Port 80 on an address of its own: no other test listens there.
    let web = Nginx::start("", "    listen 127.77.0.1:80;\n", |_| {});
    web.write("basic.xml", BASIC);
    web.write(
        "wpad.dat",
        format!(
            "function FindProxyForURL(url, host) {{ return dnsDomainIs(host, \".wpadtest.test\") ? \"DIRECT\" : \"PROXY 127.0.0.1:{}\"; }}",
            tp.port
        )
        .as_bytes(),
    );
    let d = common::dnsmasq(&["--address=/wpad.wpadtest.test/127.77.0.1".into()]);
    let mut cfg = one_phone(&[
        (
            "Profile_Rule",
            &format!("http://127.0.0.1:{}/basic.xml", web.port),
        ),
        ("Proxy_Mode", "Auto"),
    ]);
    cfg.lease = phoneprov_sim::DhcpLease::parse(["6=127.0.0.1", "15=wpadtest.test"]).unwrap();
    cfg.dns_port = Some(d.addr.port());
    let r = run_fleet(cfg).await.unwrap();
    assert_eq!(r.resyncs.a, 1, "{}", r.to_text());
    let st = r.status.clone().unwrap();
    assert_eq!(
        st["proxy"]["pac_url"], "http://wpad.wpadtest.test/wpad.dat",
        "{st}"
    );
    assert_eq!(pac_line(&r), format!("PROXY 127.0.0.1:{}", tp.port));
    common::wait_log(
        &tp.dir.path().join("tinyproxy.log"),
        &format!("GET http://127.0.0.1:{}/basic.xml", web.port),
    );
}
