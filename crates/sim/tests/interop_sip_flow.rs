//! Persistent SIP flows (RFC 3261 §18 connection reuse, RFC 5626 in
//! spirit) against a real `sipp` UAS (Debian `sip-tester`) over TCP
//! (`sipp -t t1`), UDP (`-t u1`: the line's own socket, the Contact) and
//! TLS (`stunnel4` in front of sipp over TCP: Debian's sipp has no TLS):
//! the line's connection stays open after the REGISTER;
//! the registrar sends `NOTIFY` `Event: check-sync` back on that
//! connection, as a PBX reaches a phone behind NAT; the phone answers 200
//! on it and resyncs (nginx's access log shows the second fetch); the
//! refresh REGISTER arrives on the same connection (its `Via` names the
//! same local port, and the phone opened one flow).

mod common;

use std::time::{Duration, Instant};

use common::{sipp_answer, sipp_uas, stunnel, Nginx, Pki};
use phoneprov_sim::{Fleet, RunMode};

/// sipp as the registrar: 200 to the REGISTER (`Expires: 2`, so the
/// refresh comes 1 s later), then a NOTIFY check-sync to the phone's
/// Contact on the same connection (sipp sends on the socket the call came
/// on; the NOTIFY keeps the REGISTER's Call-ID so that sipp matches the
/// phone's 200 to this call), then the refresh REGISTER and its 200.
fn registrar_notifies() -> String {
    let ok = sipp_answer("200 OK", "", "[last_Contact:]\nExpires: 2\n");
    format!(
        r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="registrar sends check-sync on the flow">
  <recv request="REGISTER">
    <action>
      <ereg regexp="sips?:[0-9A-Za-z.@:]+" search_in="hdr" header="Contact:" check_it="true" assign_to="contact"/>
    </action>
  </recv>
{ok}  <pause milliseconds="100"/>
  <send>
    <![CDATA[
NOTIFY [$contact] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
Max-Forwards: 70
From: <sip:pbx@[local_ip]:[local_port]>;tag=[pid]pbx[call_number]
To: <[$contact]>
Call-ID: [call_id]
CSeq: 1 NOTIFY
Event: check-sync
Subscription-State: terminated
Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
  <recv request="REGISTER"/>
{ok}  <pause milliseconds="600000"/>
</scenario>
"#
    )
}

/// The `Via` sent-by of each REGISTER sipp received.
fn register_vias(messages: &str) -> Vec<String> {
    messages
        .split("-----------------------------------------------")
        .filter(|m| m.contains("message received") && m.contains("REGISTER sip"))
        .filter_map(|m| {
            let via = m.lines().find(|l| l.starts_with("Via:"))?;
            Some(
                via.split_whitespace()
                    .nth(2)?
                    .split(';')
                    .next()?
                    .to_string(),
            )
        })
        .collect()
}

/// One phone whose line 1 registers over `transport` with the registrar
/// on `port` (`host` names it); sipp (its trace) is `uas`.
async fn notify_on_the_flow(
    transport: &str,
    host: &str,
    port: u16,
    uas: &common::SippUas,
    trust: Option<Vec<u8>>,
) {
    let n = Nginx::start("", "", |_| {});
    n.write("a.xml", b"<flat-profile><GPP_A>flow</GPP_A></flat-profile>");
    let rule = format!("http://127.0.0.1:{}/a.xml", n.port);
    let proxy = format!("{host}:{port}");
    let mut cfg = common::one_phone(&[
        ("Profile_Rule", rule.as_str()),
        ("Resync_Periodic", "0"),
        ("SIP_Transport_1_", transport),
        ("Proxy_1_", proxy.as_str()),
        ("User_ID_1_", "1001"),
    ]);
    cfg.trust_pem = trust;
    cfg.mode = RunMode::Forever;
    let fleet = Fleet::start(cfg).await.unwrap();

    // Boot fetch, then the NOTIFY's fetch; then the refresh REGISTER.
    let deadline = Instant::now() + Duration::from_secs(15);
    let (log, vias) = loop {
        let log = uas.messages();
        let vias = register_vias(&log);
        let fetches = std::fs::read_to_string(n.dir.path().join("access.log"))
            .unwrap_or_default()
            .matches("GET /a.xml")
            .count();
        if (vias.len() >= 2 && fetches >= 2) || Instant::now() > deadline {
            break (log, vias);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    fleet.shutdown_handle().shutdown();
    let report = fleet.wait().await;
    let access = std::fs::read_to_string(n.dir.path().join("access.log")).unwrap_or_default();
    assert_eq!(
        access.matches("GET /a.xml").count(),
        2,
        "{transport}: boot fetch and the NOTIFY's: {access}\n{log}"
    );
    // The phone's 200 to the NOTIFY went back on the flow.
    assert!(
        log.split("-----------------------------------------------")
            .any(|m| m.contains("message received")
                && m.contains("SIP/2.0 200 OK")
                && m.contains("CSeq: 1 NOTIFY")),
        "{transport}: {log}"
    );
    // The refresh came on the same flow: the same local address.
    assert!(vias.len() >= 2, "{transport}: {vias:?}\n{log}");
    assert!(vias.iter().all(|v| *v == vias[0]), "{transport}: {vias:?}");
    let status = report.status.as_ref().unwrap();
    let line = &status["sip"]["lines"][0];
    assert_eq!(line["state"], "registered", "{transport}: {line}");
    assert_eq!(line["transport"], transport);
    assert_eq!(line["flows"], 1, "{transport}: one flow: {line}");
    assert!(line["registrations"].as_u64().unwrap() >= 2, "{line}");
    assert_eq!(status["sip"]["notifies"], 1, "{status}");
    assert_eq!(common::param(&report, "GPP_A").as_deref(), Some("flow"));
}

#[tokio::test]
async fn r_rule_6_registrar_notifies_on_the_registration_flow_over_tcp_and_udp() {
    for (transport, sipp_t) in [("TCP", "t1"), ("UDP", "u1")] {
        let uas = sipp_uas(sipp_t, &registrar_notifies());
        notify_on_the_flow(transport, "127.0.0.1", uas.port, &uas, None).await;
    }
}

#[tokio::test]
async fn r_rule_6_registrar_notifies_on_the_registration_flow_over_tls() {
    let pki = Pki::new(&["localhost"], &[]);
    let uas = sipp_uas("t1", &registrar_notifies());
    let (_stunnel, port) = stunnel(
        uas.dir(),
        &pki.path("server.pem"),
        &pki.path("server.key"),
        uas.port,
        "",
    );
    let ca = std::fs::read(pki.path("ca.pem")).unwrap();
    notify_on_the_flow("TLS", "localhost", port, &uas, Some(ca)).await;
}
