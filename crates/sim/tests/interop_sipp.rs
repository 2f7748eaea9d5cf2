//! SIP NOTIFY as a resync trigger (R-RULE-6) against a real SIP peer:
//! `sipp` (Debian `sip-tester`) runs a UAC scenario that sends
//! `NOTIFY Event: check-sync` to a simulated phone's `--sip-listen`, over
//! UDP and TCP, and expects 200; the phone then resyncs from nginx. With
//! line 1's password set (`Auth_Resync-Reboot_1_` Yes), sipp answers the
//! phone's 401 Digest challenge with `[authentication]`; with
//! `Resync_From_SIP = No` the phone answers 403.

mod common;

use std::time::Duration;

use common::{free_udp_port, open_tempdir, peer, Nginx};
use phoneprov_sim::{Fleet, RunMode};

/// One sipp `<send>` of NOTIFY check-sync (CSeq `cseq`, `extra` header lines).
fn send_notify(cseq: u32, extra: &str) -> String {
    format!(
        r#"<send retrans="500">
    <![CDATA[
NOTIFY sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:pbx@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: {cseq} NOTIFY
Contact: <sip:pbx@[local_ip]:[local_port];transport=[transport]>
Max-Forwards: 70
Event: check-sync
{extra}Content-Length: [len]

    ]]>
  </send>"#
    )
}

/// NOTIFY check-sync, then `expect` (more steps).
fn scenario(expect: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="notify check-sync">
  {}
  {expect}
</scenario>
"#,
        send_notify(1, "")
    )
}

/// The challenged exchange: 401, then the NOTIFY again with sipp's Digest
/// answer, then 200.
fn auth_steps() -> String {
    format!(
        "<recv response=\"401\" auth=\"true\"/>\n  {}\n  <recv response=\"200\"/>",
        send_notify(2, "[authentication username=1001 password=s3cret]\n")
    )
}

/// Runs one sipp call against `target`; panics with sipp's output unless
/// it ends with every call successful. sipp's own port is picked free for
/// UDP, so in TCP mode it can collide with a TCP port in use (CI saw
/// "Unable to bind main socket, errno = 98"): that one failure is retried
/// on another port, at most five times.
async fn sipp(target: std::net::SocketAddr, transport: &str, scenario: &str) {
    for attempt in 1..=5 {
        let dir = open_tempdir();
        let sf = dir.path().join("notify.xml");
        std::fs::write(&sf, scenario).unwrap();
        let out = tokio::process::Command::new(peer("sipp"))
            .arg("-sf")
            .arg(&sf)
            .args(["-m", "1", "-t", transport, "-s", "000e08000001"])
            .args(["-i", "127.0.0.1", "-p", &free_udp_port().to_string()])
            .args(["-timeout", "10s", "-nostdin", "-trace_err"])
            .arg(target.to_string())
            .current_dir(dir.path())
            .kill_on_drop(true)
            .output()
            .await
            .unwrap();
        let errors = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains("errors"))
            .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
            .collect::<String>();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success()
            && attempt < 5
            && (stderr.contains("Unable to bind main socket")
                || errors.contains("Unable to bind main socket"))
        {
            continue;
        }
        assert!(
            out.status.success(),
            "sipp failed ({}):\n{stdout}\n{stderr}\n{errors}",
            out.status,
        );
        return;
    }
}

fn fleet_cfg(n: &Nginx, extra: &[(&str, &str)]) -> phoneprov_sim::SimConfig {
    let rule = format!("http://127.0.0.1:{}/a.xml", n.port);
    let mut params = vec![
        ("Profile_Rule", rule.as_str()),
        ("Resync_On_Reset", "No"),
        ("Resync_Periodic", "0"),
    ];
    params.extend_from_slice(extra);
    let mut cfg = common::one_phone(&params);
    cfg.sip_listen = Some("127.0.0.1:0".parse().unwrap());
    cfg.mode = RunMode::Forever;
    cfg
}

/// Waits until the fleet finished `n` resyncs of class A (10 s at most).
async fn wait_resyncs(fleet: &Fleet, n: u64) {
    for _ in 0..100 {
        if fleet.stats().report(1, 1.0).resyncs.a >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the phone never finished {n} resyncs");
}

#[tokio::test]
async fn r_rule_6_sipp_notify_check_sync_over_udp_and_tcp_resyncs() {
    let n = Nginx::start("", "", |_| {});
    n.write("a.xml", b"<flat-profile><GPP_A>sip</GPP_A></flat-profile>");
    let mut cfg = fleet_cfg(&n, &[]);
    // R-DHCP-2: options 42 (NTP) and 56 (message) show in the status.
    cfg.lease =
        phoneprov_sim::DhcpLease::parse(["42=10.0.0.123", "56=Welcome to the lab"]).unwrap();
    let fleet = Fleet::start(cfg).await.unwrap();
    let addr = fleet.sip_addr().unwrap();
    sipp(addr, "u1", &scenario(r#"<recv response="200"/>"#)).await;
    wait_resyncs(&fleet, 1).await;
    sipp(addr, "t1", &scenario(r#"<recv response="200"/>"#)).await;
    wait_resyncs(&fleet, 2).await;
    fleet.shutdown_handle().shutdown();
    let report = fleet.wait().await;
    assert_eq!(report.resyncs.a, 2, "{}", report.to_text());
    assert_eq!(common::param(&report, "GPP_A").as_deref(), Some("sip"));
    let status = report.status.as_ref().unwrap();
    assert_eq!(status["dhcp"]["ntp_servers"][0], "10.0.0.123");
    assert_eq!(status["dhcp"]["message"], "Welcome to the lab");
    assert_eq!(status["sip"]["notifies"], 2);
}

#[tokio::test]
async fn r_rule_6_sipp_answers_the_digest_challenge_and_403_when_disabled() {
    let n = Nginx::start("", "", |_| {});
    n.write("a.xml", b"<flat-profile><GPP_B>auth</GPP_B></flat-profile>");
    let cfg = fleet_cfg(&n, &[("User_ID_1_", "1001"), ("Password_1_", "s3cret")]);
    let fleet = Fleet::start(cfg).await.unwrap();
    let addr = fleet.sip_addr().unwrap();
    sipp(addr, "u1", &scenario(&auth_steps())).await;
    wait_resyncs(&fleet, 1).await;
    fleet.shutdown_handle().shutdown();
    let report = fleet.wait().await;
    assert_eq!(common::param(&report, "GPP_B").as_deref(), Some("auth"));

    let fleet = Fleet::start(fleet_cfg(&n, &[("Resync_From_SIP", "No")]))
        .await
        .unwrap();
    let addr = fleet.sip_addr().unwrap();
    sipp(addr, "u1", &scenario(r#"<recv response="403"/>"#)).await;
    fleet.shutdown_handle().shutdown();
    let report = fleet.wait().await;
    assert_eq!(report.resyncs.a, 0, "{}", report.to_text());
}
