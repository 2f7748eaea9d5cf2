//! Discovery and TFTP (R-DHCP, R-SRV, R-TFTP-1, R-HTTPS-6): the factory
//! rule `/$PN.cfg` fetched from the DHCP option-66 server (tftpd-hpa),
//! option 160 as the profile rule, TFTP file-not-found = class B, `[--srv]`
//! through dnsmasq (and its TFTP refusal message), a name with several A
//! records tried in turn.

mod common;

use common::{dnsmasq, one_phone, param, tftpd, Nginx};
use phoneprov_sim::{run_fleet, DhcpLease};

const BASIC: &str = "<flat-profile><GPP_A>12345678</GPP_A></flat-profile>\n";

#[tokio::test]
async fn r_rule_4_factory_rule_from_option_66_over_tftp() {
    let t = tftpd();
    common::write_public(&t.dir.path().join("CP-8841-3PCC.cfg"), BASIC.as_bytes());
    let mut cfg = one_phone(&[]);
    cfg.lease = DhcpLease::parse([format!("66=127.0.0.1:{}", t.port).as_str()]).unwrap();
    let r = run_fleet(cfg).await.unwrap();
    assert_eq!(r.resyncs.a, 1, "{}", r.to_text());
    assert_eq!(param(&r, "GPP_A").as_deref(), Some("12345678"));
}

#[tokio::test]
async fn r_result_tftp_not_found_is_class_b() {
    let t = tftpd();
    let rule = format!("tftp://127.0.0.1:{}/missing.cfg", t.port);
    let r = run_fleet(one_phone(&[("Profile_Rule", &rule)]))
        .await
        .unwrap();
    assert_eq!((r.resyncs.b, r.resyncs.c), (1, 0), "{}", r.to_text());
    assert_eq!(r.once_exit_code(), 1);
}

#[tokio::test]
async fn r_dhcp_2_option_160_is_the_rule_and_order_is_honoured() {
    let n = Nginx::start("", "", |_| {});
    n.write("p.xml", BASIC.as_bytes());
    let t = tftpd(); // serves nothing: option 66 would give class B
    let lease = [
        format!("66=127.0.0.1:{}", t.port),
        format!("160=http://127.0.0.1:{}/p.xml", n.port),
    ];
    // Default order 66,160,…: 66 wins, the factory rule is fetched by TFTP.
    let mut cfg = one_phone(&[]);
    cfg.lease = DhcpLease::parse(lease.iter().map(String::as_str)).unwrap();
    let r = run_fleet(cfg.clone()).await.unwrap();
    assert_eq!(r.resyncs.b, 1, "{}", r.to_text());
    // DHCP_Option_To_Use = 160,66: the provisioning URL wins.
    cfg.params
        .push(("DHCP_Option_To_Use".into(), "160,66".into()));
    let r = run_fleet(cfg).await.unwrap();
    assert_eq!(r.resyncs.a, 1, "{}", r.to_text());
    assert_eq!(param(&r, "GPP_A").as_deref(), Some("12345678"));
}

#[tokio::test]
async fn r_srv_http_through_dnsmasq_and_tftp_refused() {
    let n = Nginx::start("", "", |_| {});
    n.write("8841.xml", BASIC.as_bytes());
    let d = dnsmasq(&[
        format!(
            "--srv-host=_ciscoprov-http._tcp.example.com,pr1.example.com,{},10,60",
            n.port
        ),
        format!(
            "--srv-host=_ciscoprov-http._tcp.example.com,pr2.example.com,{},20,20",
            n.port
        ),
        "--address=/pr1.example.com/127.0.0.1".into(),
        "--address=/pr2.example.com/127.0.0.1".into(),
    ]);
    let mut cfg = one_phone(&[("Profile_Rule", "[--srv] http://example.com/$PSN.xml")]);
    cfg.dns = Some(d.addr);
    let r = run_fleet(cfg).await.unwrap();
    assert_eq!(r.resyncs.a, 1, "{}", r.to_text());
    assert_eq!(param(&r, "GPP_A").as_deref(), Some("12345678"));
    common::wait_log(&n.dir.path().join("access.log"), "GET /8841.xml");

    // R-SRV-1: a TFTP rule with --srv fails with the SPEC's message.
    let mut cfg = one_phone(&[("Profile_Rule", "[--srv] tftp://example.com/$PSN.xml")]);
    cfg.dns = Some(d.addr);
    let r = run_fleet(cfg).await.unwrap();
    assert_eq!(r.resyncs.c, 1, "{}", r.to_text());
    assert!(
        r.errors
            .keys()
            .any(|e| e.contains("TFTP scheme is not supported in SRV lookups")),
        "{:?}",
        r.errors
    );
}

#[tokio::test]
async fn r_https_6_several_a_records_tried_in_turn() {
    let n = Nginx::start("", "", |_| {});
    n.write("basic.xml", BASIC.as_bytes());
    // 127.0.0.2 refuses (nginx listens on 127.0.0.1 only).
    let d = dnsmasq(&[
        "--host-record=multi.example.com,127.0.0.2".into(),
        "--host-record=multi.example.com,127.0.0.1".into(),
    ]);
    let mut cfg = one_phone(&[(
        "Profile_Rule",
        &format!("http://multi.example.com:{}/basic.xml", n.port),
    )]);
    cfg.dns = Some(d.addr);
    let r = run_fleet(cfg).await.unwrap();
    assert_eq!(r.resyncs.a, 1, "{}", r.to_text());
    assert_eq!(r.fetches, 1, "one request, several addresses");
}

/// R-FLOW-4, R-DHCP-2, R-SRV-2/4: no provisioning option in the lease, so
/// the phone asks the DNS server of option 6 (dnsmasq) for
/// `_ciscoprov-https._tls.<option 15>`, fetches the factory `/$PN.cfg`
/// from the target over HTTPS (nginx) and validates the certificate
/// against the DHCP domain, not the target name.
#[tokio::test]
async fn r_flow_4_srv_discovery_from_options_6_and_15_over_https() {
    let pki = common::Pki::new(&["example.test"], &[]);
    let n = pki.nginx_https();
    n.write("CP-8841-3PCC.cfg", BASIC.as_bytes());
    let d = dnsmasq(&[
        format!(
            "--srv-host=_ciscoprov-https._tls.example.test,pr1.example.test,{},10,60",
            n.port
        ),
        "--address=/pr1.example.test/127.0.0.1".into(),
    ]);
    let mut cfg = one_phone(&[]);
    cfg.lease = DhcpLease::parse(["6=127.0.0.1", "15=example.test", "42=127.0.0.1"]).unwrap();
    cfg.dns_port = Some(d.addr.port());
    cfg.trust_pem = Some(std::fs::read(pki.path("ca.pem")).unwrap());
    let r = run_fleet(cfg).await.unwrap();
    assert_eq!(r.resyncs.a, 1, "{}", r.to_text());
    assert_eq!(param(&r, "GPP_A").as_deref(), Some("12345678"));
    let st = r.status.unwrap();
    assert_eq!(
        st["dhcp"]["srv"]["query"],
        "_ciscoprov-https._tls.example.test"
    );
    assert_eq!(st["dhcp"]["ntp_servers"][0], "127.0.0.1");
    common::wait_log(&n.dir.path().join("access.log"), "GET /CP-8841-3PCC.cfg");
}

/// R-DHCP-1: with no DHCPv4 target, the DHCPv6 options are read in
/// `DHCPv6_Option_To_Use` order.
#[tokio::test]
async fn r_dhcp_1_dhcpv6_option_order() {
    let n = Nginx::start("", "", |_| {});
    n.write("v6.xml", BASIC.as_bytes());
    let t = tftpd(); // serves nothing: option 17 would give class B
    let lease = [
        format!("v6:17=127.0.0.1:{}", t.port),
        format!("v6:160=http://127.0.0.1:{}/v6.xml", n.port),
    ];
    let mut cfg = one_phone(&[]);
    cfg.lease = DhcpLease::parse(lease.iter().map(String::as_str)).unwrap();
    let r = run_fleet(cfg.clone()).await.unwrap();
    assert_eq!(
        r.resyncs.b,
        1,
        "default 17,160,159: 17 wins; {}",
        r.to_text()
    );
    cfg.params
        .push(("DHCPv6_Option_To_Use".into(), "160,17".into()));
    let r = run_fleet(cfg).await.unwrap();
    assert_eq!(r.resyncs.a, 1, "{}", r.to_text());
    assert_eq!(param(&r, "GPP_A").as_deref(), Some("12345678"));
}

/// R-SEC-5: `Firewall_Config` `NO_CISCO_TFTP` keeps the phone's TFTP
/// client ports closed, so a TFTP server on a port other than 69
/// (tftpd-hpa on a free port) cannot answer: class C with the reason;
/// `Firewall=Disabled` or no keyword lets it through.
#[tokio::test]
async fn r_sec_5_no_cisco_tftp_blocks_a_non_69_tftp_server() {
    let t = tftpd();
    common::write_public(&t.dir.path().join("basic.cfg"), BASIC.as_bytes());
    let rule = format!("tftp://127.0.0.1:{}/basic.cfg", t.port);
    let run = |extra: &[(&str, &str)]| {
        let mut p = vec![("Profile_Rule", rule.as_str())];
        p.extend_from_slice(extra);
        run_fleet(one_phone(&p))
    };
    let r = run(&[(
        "Firewall_Config",
        "NO_ICMP_PING,NO_CISCO_TFTP,UDP:8000:8010",
    )])
    .await
    .unwrap();
    assert_eq!(r.resyncs.c, 1, "{}", r.to_text());
    assert!(
        r.errors.keys().any(|e| e.contains("NO_CISCO_TFTP")),
        "{:?}",
        r.errors
    );
    let fw = &r.status.as_ref().unwrap()["firewall"];
    assert_eq!(fw["tftp_client_ports_open"], false, "{fw}");
    assert_eq!(fw["open_udp"][0], "8000-8010", "{fw}");
    let r = run(&[
        ("Firewall_Config", "NO_CISCO_TFTP"),
        ("Firewall", "Disabled"),
    ])
    .await
    .unwrap();
    assert_eq!(r.resyncs.a, 1, "{}", r.to_text());
    let r = run(&[("Firewall_Config", "NO_ICMP_PING")]).await.unwrap();
    assert_eq!(r.resyncs.a, 1, "{}", r.to_text());
    assert_eq!(param(&r, "GPP_A").as_deref(), Some("12345678"));
}
