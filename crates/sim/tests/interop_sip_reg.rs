//! SIP REGISTER over UDP and TCP from the simulated phone (R-SEC-6), against
//! a real `sipp` UAS (Debian `sip-tester`; the scenarios are
//! `phoneprov-testpeers`' shared ones, like interop_sip_tls.rs's).
//!
//! * Digest: sipp challenges (401) and checks the answer made from
//!   `Auth_ID_1_`/`Password_1_` (`verifyauth`): the right password →
//!   `registered`; a wrong one → `failed` with code 403. Over UDP
//!   (`sipp -t u1`) and TCP (`-t t1`).
//! * RFC 3261 timer E over UDP: sipp answers only after 1.2 s; its message
//!   trace shows the same REGISTER (one branch) received at least twice
//!   (sent at 0 and 0.5 s), as many times as the phone says it sent it,
//!   and one 200 sent; the phone is registered.
//! * Timer F: sipp reads the REGISTER and never answers; the line shows
//!   `timeout` after `SIP_Timer_F`, and the phone's resync from nginx still
//!   ran (the profile's value is in place).

mod common;

use common::{register_digest, register_silent, register_uas, sipp_uas, Nginx};
use phoneprov_sim::run_fleet;

/// Runs one phone (once) whose line 1 registers with 127.0.0.1:`port`
/// over `transport`; the fleet report.
async fn phone(transport: &str, port: u16, extra: &[(&str, &str)]) -> phoneprov_sim::FleetReport {
    let proxy = format!("127.0.0.1:{port}");
    let mut params = vec![
        ("SIP_Transport_1_", transport),
        ("Proxy_1_", proxy.as_str()),
        ("User_ID_1_", "1001"),
    ];
    params.extend_from_slice(extra);
    if !extra.iter().any(|(k, _)| *k == "Profile_Rule") {
        params.push(("Provision_Enable", "No"));
    }
    run_fleet(common::one_phone(&params)).await.unwrap()
}

fn line1(report: &phoneprov_sim::FleetReport) -> serde_json::Value {
    let status = report
        .status
        .as_ref()
        .expect("a one-phone fleet keeps its status");
    status["sip"]["lines"][0].clone()
}

/// The REGISTERs sipp received, as the `Via` branch of each.
fn branches_received(messages: &str) -> Vec<String> {
    messages
        .split("-----------------------------------------------")
        .filter(|m| m.contains("message received") && m.contains("REGISTER sip:"))
        .filter_map(|m| {
            let via = m.lines().find(|l| l.starts_with("Via:"))?;
            let b = via.split("branch=").nth(1)?;
            Some(b.split(';').next()?.trim().to_string())
        })
        .collect()
}

/// sipp's trace once it shows `n` REGISTERs received (sipp logs a
/// datagram when it reads it: poll, 5 s at most) and, with `answered`,
/// an answer sent.
fn wait_received(uas: &common::SippUas, n: usize, answered: bool) -> (String, Vec<String>) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let log = uas.messages();
        let b = branches_received(&log);
        // sipp writes a message to its trace after sending it, so a phone
        // can hold sipp's answer before sipp's log shows it was sent.
        let sent = !answered || log.contains("message sent");
        if (b.len() >= n && sent) || std::time::Instant::now() > deadline {
            return (log, b);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[tokio::test]
async fn r_sec_6_register_over_udp_and_tcp_answers_sipps_digest_check() {
    for (transport, sipp_t) in [("UDP", "u1"), ("TCP", "t1")] {
        let uas = sipp_uas(sipp_t, &register_digest());
        let right = [("Auth_ID_1_", "auth1001"), ("Password_1_", "s3cret")];
        let ok = line1(&phone(transport, uas.port, &right).await);
        assert_eq!(
            ok["state"], "registered",
            "{transport}: sipp verified the Digest answer: {ok}"
        );
        assert_eq!(ok["transport"], transport);
        assert_eq!(ok["registrations"], 1);

        let wrong = [("Auth_ID_1_", "auth1001"), ("Password_1_", "wrong")];
        let refused = line1(&phone(transport, uas.port, &wrong).await);
        assert_eq!(refused["state"], "failed", "{transport}: {refused}");
        assert_eq!(refused["code"], 403, "{refused}");
        assert_eq!(refused["detail"], "403 Forbidden");
        // What sipp saw: the phone's Via names the transport.
        let log = uas.messages();
        assert!(
            log.contains(&format!("Via: SIP/2.0/{transport} 127.0.0.1:")),
            "{log}"
        );
        assert!(
            log.contains("Authorization: Digest username=\"auth1001\""),
            "{log}"
        );
    }
}

#[tokio::test]
async fn r_sec_6_udp_register_is_retransmitted_until_sipp_answers() {
    let uas = sipp_uas("u1", &register_uas(1200));
    let line = line1(&phone("UDP", uas.port, &[]).await);
    assert_eq!(line["state"], "registered", "{line}");
    let sent = line["transmissions"].as_u64().unwrap() as usize;
    let (log, branches) = wait_received(&uas, sent, true);
    // Timer E: sent at 0 and 0.5 s at least before sipp's answer (1.2 s
    // after the first); each copy is the same transaction, and sipp got
    // every copy the phone sent.
    assert!(branches.len() >= 2, "sipp received {branches:?}:\n{log}");
    assert!(branches.iter().all(|b| *b == branches[0]), "{branches:?}");
    assert_eq!(sent, branches.len(), "{line}");
    // sipp answered with 200 only (again to a copy that crossed its
    // answer: a UAS answers a retransmission with its last response).
    let sent_by_sipp: Vec<&str> = log
        .split("-----------------------------------------------")
        .filter(|m| m.contains("message sent"))
        .collect();
    assert!(!sent_by_sipp.is_empty(), "{log}");
    assert!(
        sent_by_sipp.iter().all(|m| m.contains("SIP/2.0 200 OK")),
        "{log}"
    );
}

#[tokio::test]
async fn r_sec_6_unanswered_register_times_out_and_provisioning_still_runs() {
    let n = Nginx::start("", "", |_| {});
    n.write(
        "a.xml",
        b"<flat-profile><GPP_A>provisioned</GPP_A></flat-profile>",
    );
    let rule = format!("http://127.0.0.1:{}/a.xml", n.port);
    let uas = sipp_uas("u1", &register_silent());
    let extra = [("Profile_Rule", rule.as_str()), ("SIP_Timer_F", "2")];
    let report = phone("UDP", uas.port, &extra).await;
    let line = line1(&report);
    assert_eq!(line["state"], "timeout", "{line}");
    let why = line["detail"].as_str().unwrap();
    assert!(why.contains("no final answer from 127.0.0.1:"), "{why}");
    assert!(why.contains("within 2000 ms"), "{why}");
    // Timer E inside timer F's 2 s (0, 0.5, 1.5 s); sipp got each copy.
    let sent = line["transmissions"].as_u64().unwrap() as usize;
    assert!(sent >= 2, "{line}");
    assert_eq!(wait_received(&uas, sent, false).1.len(), sent);
    // The phone kept working: its resync applied the profile.
    assert_eq!(
        common::param(&report, "GPP_A").as_deref(),
        Some("provisioned")
    );
}
