//! The simulated phones' DHCPv4 exchange against a real dnsmasq (issue 15,
//! R-DHCP-1/2, R-TR69-1, R-FLOW-4): each test makes a network namespace
//! and a veth pair (`phoneprov_testpeers::DhcpLab`), runs dnsmasq in the
//! namespace on its end, and a fleet with `--dhcp-interface` on the root
//! namespace's end; the phones then provision from nginx (and inform the
//! ACS) on loopback. Needs root or CAP_NET_ADMIN: without it the tests
//! fail saying so.

mod common;

use std::time::Duration;

use common::{colon, dhcp_fleet as fleet, phone_dhcp, run_once, DhcpLab, Nginx, BASIC};
use phoneprov_acs::{Acs, AcsAuth, AcsSettings};
use phoneprov_sim::{run_fleet, DhcpLease, SimConfig};

/// dnsmasq's transaction numbers of the ACKs it sent to `mac`.
fn ack_ids(log: &str, mac: &str) -> Vec<String> {
    let mac = colon(mac);
    log.lines()
        .filter(|l| l.contains("DHCPACK(") && l.contains(&mac))
        .filter_map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            let i = words.iter().position(|w| w.starts_with("DHCPACK("))?;
            Some(words.get(i.checked_sub(1)?)?.to_string())
        })
        .collect()
}

/// Whether dnsmasq's log shows `option: N` sent in the transaction `id`.
fn sent_option(log: &str, id: &str, n: u8) -> bool {
    let needle = format!("option: {n:>2} ");
    log.lines().any(|l| {
        l.split_whitespace().any(|w| w == id) && l.contains("sent size") && l.contains(&needle)
    })
}

/// Whether any of the transactions `ids` sent option `n`.
fn sent_any(log: &str, ids: &[String], n: u8) -> bool {
    ids.iter().any(|id| sent_option(log, id, n))
}

/// R-DHCP-2: three phones each get an address from dnsmasq, send their
/// product name as option 60, provision from the option 160 URL, and show
/// the NTP servers (42) and the message (56) in their status.
#[tokio::test]
async fn r_dhcp_2_phones_lease_from_dnsmasq_and_provision_from_option_160() {
    let n = Nginx::start("", "", |_| {});
    let macs = ["000e08000101", "000e08000102", "000e08000103"];
    for m in macs {
        n.write(&format!("{m}.xml"), BASIC.as_bytes());
    }
    let mut lab = DhcpLab::new();
    let srv = lab.server_ip;
    lab.dnsmasq(&[
        format!("--dhcp-option=160,http://127.0.0.1:{}/$MA.xml", n.port),
        format!("--dhcp-option=6,{srv}"),
        "--dhcp-option=15,lab.example".into(),
        format!("--dhcp-option=42,{srv}"),
        "--dhcp-option=56,Welcome to the DHCP lab".into(),
    ]);
    let r = run_once(fleet(&lab, 3, macs[0])).await;
    assert_eq!(r.resyncs.a, 3, "{}\n{}", r.to_text(), lab.log());
    let d = r.dhcp.as_ref().unwrap();
    assert_eq!((d.bound, d.failed), (3, 0), "{d:?}");
    let log = lab.log();
    let access = common::wait_log(&n.dir.path().join("access.log"), "000e08000103.xml");
    for m in macs {
        let st = phone_dhcp(&r, m);
        let addr = st["address"].as_str().unwrap().to_string();
        // Polled: dnsmasq may write its lease file after it has answered.
        common::wait_log(&lab.lease_file(), &format!("{} {addr} ", colon(m)));
        assert_eq!(st["server"], srv.to_string());
        assert_eq!(st["ntp_servers"][0], srv.to_string(), "{st}");
        assert_eq!(st["message"], "Welcome to the DHCP lab");
        assert_eq!(st["domain"], "lab.example");
        assert_eq!(st["dns_servers"][0], srv.to_string());
        assert_eq!(st["vendor_class_sent"], "CP-8841-3PCC");
        assert!(access.contains(&format!("GET /{m}.xml")), "{access}");
    }
    assert!(log.contains("vendor class: CP-8841-3PCC"), "{log}");
    assert!(!log.contains("vendor class: dslforum.org"), "{log}");
    // The request list reached dnsmasq: it answered with 42 and 56.
    let id = &ack_ids(&log, macs[0])[0];
    assert!(
        sent_option(&log, id, 42) && sent_option(&log, id, 56),
        "{log}"
    );
}

/// R-TR69-1: phones with TR-069 on send `dslforum.org`; dnsmasq tags them
/// and gives only them option 43, which names the ACS they then inform.
/// Phones with TR-069 off on the same server get no option 43.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_tr69_1_only_dslforum_phones_get_option_43_and_inform_the_acs() {
    let (_dir, _acs, acs_url, stop) = start_acs().await;
    let n = Nginx::start("", "", |_| {});
    let tr = ["000e08000201", "000e08000202"];
    let plain = ["000e08000301", "000e08000302"];
    for m in plain {
        n.write(&format!("{m}.xml"), BASIC.as_bytes());
    }
    let mut lab = DhcpLab::new();
    lab.dnsmasq(&[
        // The TR-069 phones are provisioned by the ACS, the others by 160.
        format!(
            "--dhcp-option=tag:!tr069,160,http://127.0.0.1:{}/$MA.xml",
            n.port
        ),
        "--dhcp-vendorclass=set:tr069,dslforum.org".into(),
        format!("--dhcp-option=tag:tr069,43,{acs_url}"),
    ]);
    let mut cfg = fleet(&lab, 2, tr[0]);
    cfg.params = vec![("Enable_TR-069".into(), "Yes".into())];
    // A boot storm (`fleet` sets it): the pacer keeps real time while a
    // session is under way, so each phone informs once (before, the clock
    // jumped to the next resync during the session and the periodic
    // informs due meanwhile ran one after another without end).
    let r = run_once(cfg).await;
    let c = r.cwmp.clone().expect("option 43 named an ACS");
    assert_eq!(c.sessions_ok, 2, "{c:?}");
    let r2 = run_once(fleet(&lab, 2, plain[0])).await;
    assert_eq!(r2.resyncs.a, 2, "{}", r2.to_text());
    assert!(r2.cwmp.is_none(), "no ACS without option 43");
    let log = lab.log();
    assert!(log.contains("vendor class: dslforum.org"), "{log}");
    for m in tr.iter().chain(&plain) {
        common::wait_log(&lab.lease_file(), &colon(m));
    }
    let leases = lab.leases();
    for m in tr {
        assert_eq!(phone_dhcp(&r, m)["vendor_class_sent"], "dslforum.org");
        assert!(!sent_any(&log, &ack_ids(&log, m), 160), "{m}:\n{log}");
        let ids = ack_ids(&log, m);
        assert!(!ids.is_empty(), "no ACK to {m}:\n{log}");
        assert!(
            ids.iter().all(|id| sent_option(&log, id, 43)),
            "{m}:\n{log}"
        );
        assert!(leases.contains(&colon(m)), "{leases}");
    }
    for m in plain {
        let ids = ack_ids(&log, m);
        assert!(!ids.is_empty(), "no ACK to {m}:\n{log}");
        assert!(
            ids.iter().all(|id| !sent_option(&log, id, 43)),
            "{m}:\n{log}"
        );
        assert!(leases.contains(&colon(m)), "{leases}");
    }
    let _ = stop.send(());
}

/// A real ACS on loopback without authentication, its data directory,
/// URL, and the sender that stops it.
async fn start_acs() -> (
    tempfile::TempDir,
    Acs,
    String,
    tokio::sync::oneshot::Sender<()>,
) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let settings = AcsSettings {
        auth: AcsAuth::None,
        ..AcsSettings::default()
    };
    drop(phoneprov_store::Store::open(&dir).unwrap());
    let acs = Acs::open(&dir, settings).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = acs.clone();
    tokio::spawn(async move {
        served
            .serve(listener, async {
                let _ = stopped.await;
            })
            .await
    });
    (tmp, acs, url, stop)
}

/// R-TR69-1 per phone: dnsmasq gives each TR-069 phone its own option 43
/// (by MAC); each phone informs the ACS its own lease names, and a phone
/// whose lease names none runs no TR-069 client. Before, every phone took
/// the first phone's ACS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_tr69_1_each_phone_informs_the_acs_of_its_own_lease() {
    let (_da, acs_a, url_a, stop_a) = start_acs().await;
    let (_db, acs_b, url_b, stop_b) = start_acs().await;
    let macs = ["000e08000501", "000e08000502", "000e08000503"];
    let mut lab = DhcpLab::new();
    lab.dnsmasq(&[
        format!("--dhcp-host={},set:acsa", colon(macs[0])),
        format!("--dhcp-host={},set:acsb", colon(macs[1])),
        format!("--dhcp-option=tag:acsa,43,{url_a}"),
        format!("--dhcp-option=tag:acsb,43,{url_b}"),
    ]);
    let mut cfg = fleet(&lab, 3, macs[0]);
    cfg.params = vec![("Enable_TR-069".into(), "Yes".into())];
    let r = run_once(cfg).await;
    let c = r.cwmp.clone().expect("option 43 named an ACS");
    assert_eq!(c.sessions_ok, 2, "{c:?}");
    let seen = |acs: &Acs, mac: &str| {
        !acs.data_model(phoneprov_types::Mac::parse(mac).unwrap())
            .unwrap()
            .is_empty()
    };
    assert!(
        seen(&acs_a, macs[0]) && !seen(&acs_b, macs[0]),
        "{} informed A only",
        macs[0]
    );
    assert!(
        seen(&acs_b, macs[1]) && !seen(&acs_a, macs[1]),
        "{} informed B only",
        macs[1]
    );
    assert!(
        !seen(&acs_a, macs[2]) && !seen(&acs_b, macs[2]),
        "{} has no option 43 and informs nobody",
        macs[2]
    );
    let _ = (stop_a.send(()), stop_b.send(()));
}

/// R-FLOW-4, R-DHCP-2: the lease names no provisioning server, so the phone
/// asks the DNS server of option 6 (dnsmasq in the namespace, port 53) for
/// `_ciscoprov-https._tls.<option 15>` and fetches the factory profile
/// over HTTPS from the SRV target.
#[tokio::test]
async fn r_flow_4_srv_discovery_through_the_dns_server_of_option_6() {
    let pki = common::Pki::new(&["lab.example"], &[]);
    let n = pki.nginx_https();
    n.write("CP-8841-3PCC.cfg", BASIC.as_bytes());
    let mut lab = DhcpLab::new();
    let srv = lab.server_ip;
    lab.dnsmasq(&[
        format!("--dhcp-option=6,{srv}"),
        "--dhcp-option=15,lab.example".into(),
        format!(
            "--srv-host=_ciscoprov-https._tls.lab.example,pr1.lab.example,{},10,60",
            n.port
        ),
        "--address=/pr1.lab.example/127.0.0.1".into(),
    ]);
    let mut cfg = fleet(&lab, 1, "000e08000401");
    cfg.trust_pem = Some(std::fs::read(pki.path("ca.pem")).unwrap());
    let r = run_once(cfg).await;
    assert_eq!(r.resyncs.a, 1, "{}\n{}", r.to_text(), lab.log());
    let st = r.status.clone().unwrap();
    assert_eq!(
        st["dhcp"]["srv"]["query"],
        "_ciscoprov-https._tls.lab.example"
    );
    assert_eq!(st["dhcp"]["dns_servers"][0], srv.to_string());
    let log = lab.log();
    assert!(
        log.contains("query[SRV] _ciscoprov-https._tls.lab.example"),
        "the SRV query did not reach the DHCP lab's DNS server:\n{log}"
    );
    common::wait_log(&n.dir.path().join("access.log"), "GET /CP-8841-3PCC.cfg");
}

/// No DHCP server answers: the phone says so in its status and the report
/// (one line), and goes on with the `--dhcp-option` lease.
#[tokio::test]
async fn a_phone_without_a_dhcp_answer_says_so_and_goes_on() {
    let n = Nginx::start("", "", |_| {});
    n.write("p.xml", BASIC.as_bytes());
    let lab = DhcpLab::new(); // no dnsmasq
    let mut cfg = fleet(&lab, 1, "000e08000501");
    cfg.dhcp_timeout = Duration::from_secs(2);
    cfg.lease =
        DhcpLease::parse([format!("160=http://127.0.0.1:{}/p.xml", n.port).as_str()]).unwrap();
    let r = run_once(cfg).await;
    assert_eq!(r.resyncs.a, 1, "{}", r.to_text());
    let d = r.dhcp.as_ref().unwrap();
    assert_eq!((d.bound, d.failed), (0, 1));
    let err = r.status.as_ref().unwrap()["dhcp"]["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(err.starts_with("DHCP failed: no DHCPOFFER"), "{err}");
    assert!(
        r.to_text().contains("DHCP failed: no DHCPOFFER"),
        "{}",
        r.to_text()
    );
}

/// A missing interface is one clear error before any phone starts.
#[tokio::test]
async fn an_unknown_interface_is_refused() {
    let mut cfg = SimConfig::new(1);
    cfg.dhcp_interface = Some("nosuchif0".into());
    let Err(e) = run_fleet(cfg).await else {
        panic!("a fleet on a missing interface started");
    };
    let e = e.to_string();
    assert!(e.contains("--dhcp-interface nosuchif0"), "{e}");
}

/// R-FLOW-4: each phone's SRV step uses its own lease. dnsmasq gives the
/// second phone another domain (a `--dhcp-host` tag), one without an SRV
/// record: the first phone provisions from the SRV target, the second
/// says its own query found nothing (before, every phone took the first
/// phone's SRV result).
#[tokio::test]
async fn r_flow_4_each_phone_asks_srv_for_its_own_domain() {
    let pki = common::Pki::new(&["lab.example"], &[]);
    let n = pki.nginx_https();
    n.write("CP-8841-3PCC.cfg", BASIC.as_bytes());
    let mut lab = DhcpLab::new();
    let srv = lab.server_ip;
    lab.dnsmasq(&[
        format!("--dhcp-option=6,{srv}"),
        "--dhcp-host=00:0e:08:00:06:02,set:other".into(),
        "--dhcp-option=tag:!other,15,lab.example".into(),
        "--dhcp-option=tag:other,15,other.example".into(),
        format!(
            "--srv-host=_ciscoprov-https._tls.lab.example,pr1.lab.example,{},10,60",
            n.port
        ),
        "--address=/pr1.lab.example/127.0.0.1".into(),
    ]);
    let mut cfg = fleet(&lab, 2, "000e08000601");
    cfg.trust_pem = Some(std::fs::read(pki.path("ca.pem")).unwrap());
    let r = run_once(cfg).await;
    let log = lab.log();
    let first = phone_dhcp(&r, "000e08000601");
    let second = phone_dhcp(&r, "000e08000602");
    assert_eq!(first["domain"], "lab.example", "{first}");
    assert_eq!(second["domain"], "other.example", "{second}");
    assert_eq!(
        first["srv"]["query"], "_ciscoprov-https._tls.lab.example",
        "{first}"
    );
    assert!(first["srv"]["rule"].is_string(), "{first}");
    assert_eq!(
        second["srv"]["query"], "_ciscoprov-https._tls.other.example",
        "{second}"
    );
    assert!(
        second["srv"]["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("DNS SRV discovery")),
        "{second}"
    );
    assert!(
        log.contains("query[SRV] _ciscoprov-https._tls.other.example"),
        "{log}"
    );
    assert_eq!(r.resyncs.a, 1, "{}\n{log}", r.to_text());
    common::wait_log(&n.dir.path().join("access.log"), "GET /CP-8841-3PCC.cfg");
}
