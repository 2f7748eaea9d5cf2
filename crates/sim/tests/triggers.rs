//! The phones' own endpoints (R-RULE-6): `GET /admin/resync?RULE` and
//! `POST /CGI/Execute` with a `Resync:` ExecuteItem cause a fetch,
//! `/status.json` shows the result; with several phones the `/<mac>`
//! prefix routes to one of them.

mod common;

use std::time::Duration;

use common::Nginx;
use phoneprov_sim::{Fleet, RunMode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A NOTIFY to the fleet's one phone over TCP (`Event: event`, `body`).
fn tcp_notify(
    sip: std::net::SocketAddr,
    me: std::net::SocketAddr,
    cseq: u32,
    event: &str,
    body: &str,
) -> String {
    format!(
        "NOTIFY sip:000e08000001@{sip};transport=tcp SIP/2.0\r\nVia: SIP/2.0/TCP {me};branch=z9hG4bK-t{cseq}\r\nFrom: <sip:pbx@{me}>;tag=t\r\nTo: <sip:000e08000001@{sip}>\r\nCall-ID: t@{me}\r\nCSeq: {cseq} NOTIFY\r\nEvent: {event}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// One phone with the trigger and SIP listeners, provisioned from `n`'s
/// `a.xml` (`GPP_A` = `value`, no periodic resync), once it has applied
/// it: the fleet, its web and its SIP address.
async fn sip_phone(n: &Nginx, value: &str) -> (Fleet, std::net::SocketAddr, std::net::SocketAddr) {
    n.write(
        "a.xml",
        format!("<flat-profile><GPP_A>{value}</GPP_A></flat-profile>").as_bytes(),
    );
    let rule = format!("http://127.0.0.1:{}/a.xml", n.port);
    let mut cfg = common::one_phone(&[("Profile_Rule", &rule), ("Resync_Periodic", "0")]);
    cfg.listen = Some("127.0.0.1:0".parse().unwrap());
    cfg.sip_listen = Some("127.0.0.1:0".parse().unwrap());
    cfg.mode = RunMode::Forever;
    let fleet = Fleet::start(cfg).await.unwrap();
    let web = fleet.local_addr().unwrap();
    let sip = fleet.sip_addr().unwrap();
    wait_param(web, "", "GPP_A", value).await;
    (fleet, web, sip)
}

/// The head of the next answer on `conn` (10 s at most; the phone must
/// not close the connection).
async fn read_answer(conn: &mut tokio::net::TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), conn.read(&mut chunk))
            .await
            .expect("an answer")
            .unwrap();
        assert!(n > 0, "the phone closed the connection");
        buf.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8_lossy(&buf).to_string()
}

async fn http(addr: std::net::SocketAddr, method: &str, target: &str, body: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text.split(' ').nth(1).unwrap().parse().unwrap();
    let body = text
        .split_once("\r\n\r\n")
        .map(|x| x.1)
        .unwrap_or("")
        .to_string();
    (status, body)
}

/// Polls `/status.json` until `param` has `want` (10 s at most).
async fn wait_param(addr: std::net::SocketAddr, prefix: &str, param: &str, want: &str) {
    for _ in 0..100 {
        let (st, body) = http(addr, "GET", &format!("{prefix}/status.json"), "").await;
        assert_eq!(st, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        if v["params"][param] == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{param} never became {want}");
}

fn fleet_cfg(count: u64) -> phoneprov_sim::SimConfig {
    let mut cfg = common::one_phone(&[("Resync_On_Reset", "No"), ("Resync_Periodic", "0")]);
    cfg.count = count;
    cfg.listen = Some("127.0.0.1:0".parse().unwrap());
    cfg.mode = RunMode::Forever;
    cfg
}

#[tokio::test]
async fn r_rule_6_admin_resync_and_cgi_execute_cause_fetches() {
    let n = Nginx::start("", "", |_| {});
    n.write(
        "a.xml",
        b"<flat-profile><GPP_A>12345678</GPP_A></flat-profile>",
    );
    n.write("b.xml", b"<flat-profile><GPP_B>ABCD</GPP_B></flat-profile>");
    let fleet = Fleet::start(fleet_cfg(1)).await.unwrap();
    let addr = fleet.local_addr().unwrap();
    // Nothing fetched before a trigger.
    let (_, body) = http(addr, "GET", "/status.json", "").await;
    assert!(!body.contains("12345678"), "{body}");
    // Bare path (one phone); the rule is percent-encoded like a browser would.
    let target = format!(
        "/admin/resync?%5B--uid%20x%5D%20http://127.0.0.1:{}/a.xml",
        n.port
    );
    let (st, _) = http(addr, "GET", &target, "").await;
    assert_eq!(st, 200);
    wait_param(addr, "", "GPP_A", "12345678").await;
    // POST /CGI/Execute, form-encoded like a Cisco XML push.
    let xml = format!(
        "<CP-8841-3PCCExecute><ExecuteItem URL=\"Resync:http://127.0.0.1:{}/b.xml\"/></CP-8841-3PCCExecute>",
        n.port
    );
    let (st, body) = http(addr, "POST", "/000e08000001/CGI/Execute", &xml).await;
    assert_eq!(st, 200, "{body}");
    assert!(body.contains("CiscoIPPhoneResponse"), "{body}");
    wait_param(addr, "/000e08000001", "GPP_B", "ABCD").await;
    let (st, _) = http(addr, "POST", "/CGI/Execute", "<bogus").await;
    assert_eq!(st, 400);
    fleet.shutdown_handle().shutdown();
    let report = fleet.wait().await;
    assert_eq!(report.resyncs.a, 2, "{}", report.to_text());
    assert_eq!(report.final_params.unwrap()["GPP_B"], "ABCD");
}

#[tokio::test]
async fn r_rule_6_mac_prefix_routes_to_one_of_many() {
    let n = Nginx::start("", "", |_| {});
    n.write("a.xml", b"<flat-profile><GPP_C>$MA</GPP_C></flat-profile>");
    let fleet = Fleet::start(fleet_cfg(3)).await.unwrap();
    let addr = fleet.local_addr().unwrap();
    let (st, body) = http(addr, "GET", "/admin/resync", "").await;
    assert_eq!(st, 404, "bare paths need --count 1: {body}");
    let (st, _) = http(addr, "GET", "/0e0800000099/status.json", "").await;
    assert_eq!(st, 404);
    let target = format!(
        "/00:0e:08:00:00:02/admin/resync?http://127.0.0.1:{}/a.xml",
        n.port
    );
    assert_eq!(http(addr, "GET", &target, "").await.0, 200);
    wait_param(addr, "/000e08000002", "GPP_C", "$MA").await;
    let (_, other) = http(addr, "GET", "/000e08000003/status.json", "").await;
    assert!(!other.contains("\"GPP_C\":\"$MA\""), "{other}");
    fleet.shutdown_handle().shutdown();
    let report = fleet.wait().await;
    assert_eq!(report.resyncs.a, 1, "{}", report.to_text());
    assert_eq!(report.phones_without_resync, 2);
}

/// R-SEC-5, over the fleet's real `--sip-listen` socket: a phone whose
/// lines do not use UDP keeps its SIP/UDP port closed, so a NOTIFY over
/// UDP gets no answer and changes nothing (the refusal shows in the
/// status); once a profile opens the listener's port with
/// `Firewall_Config` `UDP:p`, the same NOTIFY is answered 200 and the
/// phone resyncs.
#[tokio::test]
async fn r_sec_5_firewall_config_opens_the_sip_udp_port() {
    let n = Nginx::start("", "", |_| {});
    let mut cfg = common::one_phone(&[
        ("Resync_On_Reset", "No"),
        ("Resync_Periodic", "0"),
        ("SIP_Transport_1_", "TLS"),
        ("Line_Enable_2_", "No"),
        ("Line_Enable_3_", "No"),
        ("Line_Enable_4_", "No"),
        ("Line_Enable_5_", "No"),
    ]);
    cfg.listen = Some("127.0.0.1:0".parse().unwrap());
    cfg.sip_listen = Some("127.0.0.1:0".parse().unwrap());
    cfg.mode = RunMode::Forever;
    let fleet = Fleet::start(cfg).await.unwrap();
    let web = fleet.local_addr().unwrap();
    let sip = fleet.sip_addr().unwrap();
    n.write(
        "open.xml",
        format!(
            "<flat-profile><Firewall_Config>UDP:{}</Firewall_Config><GPP_A>after</GPP_A></flat-profile>",
            sip.port()
        )
        .as_bytes(),
    );
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let me = sock.local_addr().unwrap();
    let notify = |cseq: u32| {
        format!(
            "NOTIFY sip:000e08000001@{sip} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK-fw{cseq}\r\nFrom: <sip:pbx@{me}>;tag=fw\r\nTo: <sip:000e08000001@{sip}>\r\nCall-ID: fw@{me}\r\nCSeq: {cseq} NOTIFY\r\nEvent: check-sync\r\nContent-Length: 0\r\n\r\n"
        )
    };
    let status = || async {
        let (_, body) = http(web, "GET", "/status.json", "").await;
        serde_json::from_str::<serde_json::Value>(&body).unwrap()
    };
    assert_eq!(status().await["firewall"]["sip_udp_open"], false);
    sock.send_to(notify(1).as_bytes(), sip).await.unwrap();
    let mut refused = serde_json::Value::Null;
    for _ in 0..100 {
        refused = status().await["sip"]["refused"].clone();
        if refused == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(refused, 1, "the drop is counted");
    let line = status().await["sip"]["last_refused"].to_string();
    assert!(line.contains("dropped by the phone's firewall"), "{line}");
    let mut buf = [0u8; 2048];
    assert!(
        sock.try_recv_from(&mut buf).is_err(),
        "a firewall drop sends no answer"
    );
    assert_eq!(fleet.stats().report(1, 1.0).resyncs.a, 0, "no resync");

    // A profile opens the listener's UDP port.
    let target = format!("/admin/resync?http://127.0.0.1:{}/open.xml", n.port);
    assert_eq!(http(web, "GET", &target, "").await.0, 200);
    wait_param(web, "", "GPP_A", "after").await;
    assert_eq!(status().await["firewall"]["sip_udp_open"], true);
    sock.send_to(notify(2).as_bytes(), sip).await.unwrap();
    let (len, _) = tokio::time::timeout(Duration::from_secs(10), sock.recv_from(&mut buf))
        .await
        .expect("an answer once the port is open")
        .unwrap();
    let answer = String::from_utf8_lossy(&buf[..len]).to_string();
    assert!(answer.starts_with("SIP/2.0 200"), "{answer}");
    fleet.shutdown_handle().shutdown();
    fleet.wait().await;
}

/// R-RULE-6 over the fleet's real TCP listener: `Event:
/// check-sync;reboot=true` is answered 200 on the same connection and the
/// phone reboots (its boot resync follows `Resync_On_Reset`, here Yes),
/// and an `<…Execute>` body whose only item is an action the phone does
/// not know is refused with 400 and changes nothing.
#[tokio::test]
async fn r_rule_6_notify_reboot_and_unknown_execute_action_over_tcp() {
    let n = Nginx::start("", "", |_| {});
    let (fleet, web, sip) = sip_phone(&n, "rebooted").await;
    let boots = || async {
        let (_, body) = http(web, "GET", "/status.json", "").await;
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        v["counters"]["boots"].as_u64().unwrap()
    };
    let before = boots().await;
    let mut conn = tokio::net::TcpStream::connect(sip).await.unwrap();
    let me = conn.local_addr().unwrap();
    let request = |cseq: u32, event: &str, body: &str| tcp_notify(sip, me, cseq, event, body);
    conn.write_all(request(1, "check-sync;reboot=true", "").as_bytes())
        .await
        .unwrap();
    let a = read_answer(&mut conn).await;
    assert!(a.starts_with("SIP/2.0 200"), "{a}");
    let mut now = before;
    for _ in 0..100 {
        now = boots().await;
        if now > before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(now, before + 1, "one reboot");

    let unknown = "<CP-8841-3PCCExecute><ExecuteItem URL=\"Key:Services\"/><ExecuteItem URL=\"Dial:1234\"/></CP-8841-3PCCExecute>";
    conn.write_all(request(2, "check-sync", unknown).as_bytes())
        .await
        .unwrap();
    let a = read_answer(&mut conn).await;
    assert!(a.starts_with("SIP/2.0 400"), "{a}");
    assert!(a.contains("CSeq: 2 NOTIFY"), "{a}");
    assert_eq!(boots().await, before + 1, "nothing ran");
    fleet.shutdown_handle().shutdown();
    fleet.wait().await;
}

/// A NOTIFY over TCP whose body is larger than the phone reads (20 000
/// bytes against 16 KiB) is answered 513 Message Too Large on the
/// connection and named in the status (`sip.last_refused`); its body is
/// skipped, so the next NOTIFY on the same connection is answered and the
/// phone resyncs (issue 15 Done-when: "a huge body").
#[tokio::test]
async fn r_rule_6_a_huge_notify_over_tcp_gets_513_and_the_connection_goes_on() {
    let n = Nginx::start("", "", |_| {});
    let (fleet, web, sip) = sip_phone(&n, "one").await;
    let mut conn = tokio::net::TcpStream::connect(sip).await.unwrap();
    let me = conn.local_addr().unwrap();
    let request = |cseq: u32, body: &str| tcp_notify(sip, me, cseq, "check-sync", body);
    conn.write_all(request(1, &"x".repeat(20_000)).as_bytes())
        .await
        .unwrap();
    let a = read_answer(&mut conn).await;
    assert!(a.starts_with("SIP/2.0 513"), "{a}");
    assert!(a.contains("CSeq: 1 NOTIFY"), "{a}");
    let (_, body) = http(web, "GET", "/status.json", "").await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let line = v["sip"]["last_refused"].to_string();
    assert!(line.contains("larger than"), "{line}");

    // The same connection carries the next request; the phone resyncs.
    n.write("a.xml", b"<flat-profile><GPP_A>two</GPP_A></flat-profile>");
    conn.write_all(request(2, "").as_bytes()).await.unwrap();
    let a = read_answer(&mut conn).await;
    assert!(a.starts_with("SIP/2.0 200"), "{a}");
    assert!(a.contains("CSeq: 2 NOTIFY"), "{a}");
    wait_param(web, "", "GPP_A", "two").await;
    fleet.shutdown_handle().shutdown();
    fleet.wait().await;
}
