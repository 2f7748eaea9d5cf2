//! The simulated phones' DHCPv6 exchange against a real dnsmasq (issue 15,
//! R-DHCP-1/2, R-FLOW-4): each test makes a network namespace and a veth
//! pair with IPv6 on both ends (`phoneprov_testpeers::DhcpLab`), runs
//! dnsmasq with a DHCPv6 range in the namespace, and a fleet with
//! `--dhcp-interface` and `--param IP_Mode=...` on the root namespace's
//! end (SOLICIT to ff02::1:2 from the link-local address); the phones then
//! provision from nginx on loopback. Needs root or CAP_NET_ADMIN: without
//! it the tests fail saying so.

mod common;

use std::time::Duration;

use common::{colon, dhcp_fleet, phone_dhcp, run_once, DhcpLab, Nginx, BASIC};
use phoneprov_sim::SimConfig;
use serde_json::Value;

/// `n` phones from `mac_base` on the lab's interface in `ip_mode`, `--once`.
fn fleet(lab: &DhcpLab, n: u64, mac_base: &str, ip_mode: &str) -> SimConfig {
    let mut cfg = dhcp_fleet(lab, n, mac_base);
    cfg.params = vec![("IP_Mode".into(), ip_mode.into())];
    cfg
}

/// R-DHCP-1/2: IPv6-only phones each get an IA_NA address from dnsmasq
/// (its lease file lists the address with the phone's DUID-LL), send
/// their product name as the Vendor Class, provision from the DHCPv6
/// option 160 URL, and show the DNS servers (23), domain (24) and NTP
/// server (56) in their status.
#[tokio::test]
async fn r_dhcp_1_ipv6_only_phones_lease_from_dnsmasq_and_provision_from_v6_option_160() {
    let n = Nginx::start("", "", |_| {});
    let macs = ["000e08006101", "000e08006102", "000e08006103"];
    for m in macs {
        n.write(&format!("{m}.xml"), BASIC.as_bytes());
    }
    let mut lab = DhcpLab::new();
    let srv6 = lab.server_ip6;
    lab.dnsmasq(&[
        // Only for the phones whose Vendor Class (enterprise 9) holds
        // their product name: dnsmasq tags them `cisco`.
        "--dhcp-vendorclass=set:cisco,enterprise:9,CP-8841-3PCC".into(),
        format!(
            "--dhcp-option=tag:cisco,option6:160,http://127.0.0.1:{}/$MA.xml",
            n.port
        ),
        format!("--dhcp-option=option6:23,[{srv6}]"),
        "--dhcp-option=option6:24,lab6.example".into(),
        format!("--dhcp-option=option6:56,[{srv6}]"),
    ]);
    let r = run_once(fleet(&lab, 3, macs[0], "IPv6 Only")).await;
    let log = lab.log();
    assert_eq!(r.resyncs.a, 3, "{}\n{log}", r.to_text());
    let d = r.dhcp.as_ref().unwrap();
    assert_eq!(
        (d.bound6, d.failed6, d.bound, d.failed),
        (3, 0, 0, 0),
        "{d:?}"
    );
    assert_eq!(d.ip_mode, "IPv6 Only");
    let access = common::wait_log(&n.dir.path().join("access.log"), "000e08006103.xml");
    for m in macs {
        let st = phone_dhcp(&r, m);
        let addr = st["v6"]["address"]
            .as_str()
            .unwrap_or_else(|| panic!("{st}"));
        let duid = format!("00:03:00:01:{}", colon(m));
        // dnsmasq writes its lease file after it has sent the REPLY.
        let leases = common::wait_log(&lab.lease_file(), &format!(" {addr} "));
        assert!(
            leases
                .lines()
                .any(|l| l.contains(&format!(" {addr} ")) && l.ends_with(&duid)),
            "{m} shows {addr}, dnsmasq's lease file says:\n{leases}"
        );
        assert!(st.get("address").is_none(), "no DHCPv4 in IPv6 Only: {st}");
        assert_eq!(st["dns_servers"][0], srv6.to_string(), "{st}");
        assert_eq!(st["domain"], "lab6.example", "{st}");
        assert_eq!(st["ntp_servers"][0], srv6.to_string(), "{st}");
        assert!(access.contains(&format!("GET /{m}.xml")), "{access}");
    }
    // dnsmasq saw the Vendor Class (enterprise 9, the product name): it
    // tagged the phones and sent them option 160.
    assert!(log.contains("vendor class: 9"), "{log}");
    assert!(log.contains("tags: cisco, dhcpv6"), "{log}");
    assert!(log.contains("DHCPREPLY"), "{log}");
}

/// R-DHCP-1: `DHCPv6_Option_To_Use` decides between the options dnsmasq
/// sends: option 160 names one nginx directory, option 17 (vendor options,
/// enterprise 9, sub-option 1) another; `160,17` fetches from the first,
/// `17,160` from the second.
#[tokio::test]
async fn r_dhcp_1_dhcpv6_option_to_use_order_picks_the_server() {
    let n = Nginx::start("", "", |_| {});
    let (m1, m2) = ("000e08006201", "000e08006301");
    for m in [m1, m2] {
        n.write(&format!("a/{m}.xml"), BASIC.as_bytes());
        n.write(&format!("b/{m}.xml"), BASIC.as_bytes());
    }
    let mut lab = DhcpLab::new();
    lab.dnsmasq(&[
        format!(
            "--dhcp-option=option6:160,http://127.0.0.1:{}/a/$MA.xml",
            n.port
        ),
        format!(
            "--dhcp-option=vi-encap:9,option6:1,http://127.0.0.1:{}/b/$MA.xml",
            n.port
        ),
    ]);
    let mut cfg = fleet(&lab, 1, m1, "IPv6 Only");
    cfg.params
        .push(("DHCPv6_Option_To_Use".into(), "160,17".into()));
    let r1 = run_once(cfg).await;
    let mut cfg = fleet(&lab, 1, m2, "IPv6 Only");
    cfg.params
        .push(("DHCPv6_Option_To_Use".into(), "17,160".into()));
    let r2 = run_once(cfg).await;
    let log = lab.log();
    assert_eq!(r1.resyncs.a, 1, "{}\n{log}", r1.to_text());
    assert_eq!(r2.resyncs.a, 1, "{}\n{log}", r2.to_text());
    let access = common::wait_log(&n.dir.path().join("access.log"), m2);
    assert!(access.contains(&format!("GET /a/{m1}.xml")), "{access}");
    assert!(access.contains(&format!("GET /b/{m2}.xml")), "{access}");
    assert!(!access.contains(&format!("GET /b/{m1}.xml")), "{access}");
    assert!(!access.contains(&format!("GET /a/{m2}.xml")), "{access}");
    // Both phones got both options.
    for (r, m) in [(&r1, m1), (&r2, m2)] {
        let o = &phone_dhcp(r, m)["v6"]["options"];
        assert!(o["160"].as_str().unwrap().ends_with("/a/$MA.xml"), "{o}");
        assert!(o["17"].as_str().unwrap().ends_with("/b/$MA.xml"), "{o}");
    }
}

/// Dual mode with a dnsmasq that serves DHCPv4 only: the phone binds its
/// v4 lease, provisions from its option 160, and its DHCPv6 exchange ends
/// with one `DHCPv6 failed: …` line in its status and the report.
#[tokio::test]
async fn dual_mode_without_a_dhcpv6_server_says_dhcpv6_failed_and_goes_on() {
    let n = Nginx::start("", "", |_| {});
    let m = "000e08006401";
    n.write(&format!("{m}.xml"), BASIC.as_bytes());
    let mut lab = DhcpLab::new();
    lab.dnsmasq_v4_only(&[format!(
        "--dhcp-option=160,http://127.0.0.1:{}/$MA.xml",
        n.port
    )]);
    let mut cfg = fleet(&lab, 1, m, "Dual Mode");
    cfg.dhcp_timeout = Duration::from_secs(3);
    let r = run_once(cfg).await;
    assert_eq!(r.resyncs.a, 1, "{}", r.to_text());
    let d = r.dhcp.as_ref().unwrap();
    assert_eq!((d.bound, d.failed, d.bound6, d.failed6), (1, 0, 0, 1));
    let st = phone_dhcp(&r, m);
    assert!(st["address"].is_string(), "{st}");
    let err = st["v6"]["error"].as_str().unwrap_or_else(|| panic!("{st}"));
    assert!(
        err.starts_with("DHCPv6 failed: no ADVERTISE after 3 s"),
        "{err}"
    );
    assert!(
        r.to_text().contains("1 x DHCPv6 failed: no ADVERTISE"),
        "{}",
        r.to_text()
    );
}

/// R-FLOW-4, R-DHCP-2: an IPv6-only phone whose REPLY names no
/// provisioning server asks the DNS server of DHCPv6 option 23 (dnsmasq in
/// the namespace, over IPv6) for `_ciscoprov-https._tls.<first name of
/// option 24>` and fetches the factory profile from the SRV target.
#[tokio::test]
async fn r_flow_4_srv_discovery_through_the_dns_server_of_v6_option_23() {
    let pki = common::Pki::new(&["lab6.example"], &[]);
    let n = pki.nginx_https();
    n.write("CP-8841-3PCC.cfg", BASIC.as_bytes());
    let mut lab = DhcpLab::new();
    let srv6 = lab.server_ip6;
    lab.dnsmasq(&[
        format!("--dhcp-option=option6:23,[{srv6}]"),
        "--dhcp-option=option6:24,lab6.example".into(),
        format!(
            "--srv-host=_ciscoprov-https._tls.lab6.example,pr1.lab6.example,{},10,60",
            n.port
        ),
        "--address=/pr1.lab6.example/127.0.0.1".into(),
    ]);
    let mut cfg = fleet(&lab, 1, "000e08006501", "IPv6 Only");
    cfg.trust_pem = Some(std::fs::read(pki.path("ca.pem")).unwrap());
    let r = run_once(cfg).await;
    let log = lab.log();
    assert_eq!(r.resyncs.a, 1, "{}\n{log}", r.to_text());
    let st = r.status.clone().unwrap();
    assert_eq!(
        st["dhcp"]["srv"]["query"],
        "_ciscoprov-https._tls.lab6.example"
    );
    assert_eq!(st["dhcp"]["dns_servers"][0], srv6.to_string());
    assert!(
        log.contains(&format!(
            "query[SRV] _ciscoprov-https._tls.lab6.example from {}",
            lab.host_ip6
        )),
        "the SRV query did not reach the lab's DNS server over IPv6:\n{log}"
    );
    common::wait_log(&n.dir.path().join("access.log"), "GET /CP-8841-3PCC.cfg");
}

/// RFC 8415 §18.2.9 against dnsmasq: a DHCPv6 range of one address and
/// two phones. One phone binds it; dnsmasq answers the other's SOLICIT
/// with NoAddrsAvail, which that phone ignores and, at its time limit,
/// names in its one `DHCPv6 failed: …` line.
#[tokio::test]
async fn an_exhausted_dhcpv6_range_gives_one_phone_the_no_addrs_avail_line() {
    let mut lab = DhcpLab::new();
    lab.dnsmasq_v6_range(&[], 0x100, 0x100);
    let mut cfg = fleet(&lab, 2, "000e08006601", "IPv6 Only");
    cfg.dhcp_timeout = Duration::from_secs(3);
    let r = run_once(cfg).await;
    let log = lab.log();
    let d = r.dhcp.as_ref().unwrap();
    assert_eq!((d.bound6, d.failed6), (1, 1), "{d:?}\n{log}");
    assert!(d.no_addrs >= 1, "{d:?}");
    let lines: Vec<&String> = d.failures.keys().collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("DHCPv6 failed: only NoAddrsAvail"),
        "{lines:?}\n{log}"
    );
    let bound: Vec<Value> = ["000e08006601", "000e08006602"]
        .iter()
        .map(|m| phone_dhcp(&r, m)["v6"].clone())
        .filter(|v| v["address"].is_string())
        .collect();
    assert_eq!(bound.len(), 1);
    assert_eq!(bound[0]["address"], lab.addr6(0x100).to_string());
}
