//! Persistent SIP flows (RFC 3261 §18 connection reuse, RFC 5626 in
//! spirit) against a real `sipp` UAS over TCP (`sipp -t t1`, Debian
//! `sip-tester`): the line's connection stays open after the REGISTER;
//! the registrar sends `NOTIFY` `Event: check-sync` back on that
//! connection, as a PBX reaches a phone behind NAT; the phone answers 200
//! on it and resyncs (nginx's access log shows the second fetch); the
//! refresh REGISTER arrives on the same connection (its `Via` names the
//! same local port, and the phone opened one flow).

mod common;

use std::time::{Duration, Instant};

use common::{sipp_answer, sipp_uas, Nginx};
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
      <ereg regexp="sip:[0-9A-Za-z.@:]+" search_in="hdr" header="Contact:" check_it="true" assign_to="contact"/>
    </action>
  </recv>
{ok}  <pause milliseconds="100"/>
  <send>
    <![CDATA[
NOTIFY [$contact] SIP/2.0
Via: SIP/2.0/TCP [local_ip]:[local_port];branch=[branch]
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
        .filter(|m| m.contains("message received") && m.contains("REGISTER sip:"))
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

#[tokio::test]
async fn r_rule_6_registrar_notifies_on_the_registration_connection() {
    let n = Nginx::start("", "", |_| {});
    n.write("a.xml", b"<flat-profile><GPP_A>flow</GPP_A></flat-profile>");
    let uas = sipp_uas("t1", &registrar_notifies());
    let rule = format!("http://127.0.0.1:{}/a.xml", n.port);
    let proxy = format!("127.0.0.1:{}", uas.port);
    let mut cfg = common::one_phone(&[
        ("Profile_Rule", rule.as_str()),
        ("Resync_Periodic", "0"),
        ("SIP_Transport_1_", "TCP"),
        ("Proxy_1_", proxy.as_str()),
        ("User_ID_1_", "1001"),
    ]);
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
        "boot fetch and the NOTIFY's: {access}\n{log}"
    );
    // The phone's 200 to the NOTIFY went back on the connection.
    assert!(
        log.split("-----------------------------------------------")
            .any(|m| m.contains("message received")
                && m.contains("SIP/2.0 200 OK")
                && m.contains("CSeq: 1 NOTIFY")),
        "{log}"
    );
    // The refresh came on the same connection: same local address.
    assert!(vias.len() >= 2, "{vias:?}\n{log}");
    assert!(vias.iter().all(|v| *v == vias[0]), "{vias:?}");
    let status = report.status.as_ref().unwrap();
    let line = &status["sip"]["lines"][0];
    assert_eq!(line["state"], "registered", "{line}");
    assert_eq!(line["flows"], 1, "one connection: {line}");
    assert!(line["registrations"].as_u64().unwrap() >= 2, "{line}");
    assert_eq!(status["sip"]["notifies"], 1, "{status}");
    assert_eq!(common::param(&report, "GPP_A").as_deref(), Some("flow"));
}
