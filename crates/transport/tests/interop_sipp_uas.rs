//! `send_notify` (R-RULE-6, the PBX side of a SIP resync) against a real
//! SIP peer: `sipp` (Debian `sip-tester`) as a UAS that receives the
//! NOTIFY `check-sync` and answers 200 (UDP, TCP); one that answers late,
//! so the NOTIFY is retransmitted per RFC 3261 (timer E); and one that
//! challenges with 401 and checks the Digest answer (`verifyauth`).

use std::time::Duration;

use phoneprov_httpauth::Credentials;
use phoneprov_testpeers::{check_sync_uas as uas, free_port, open_tempdir, peer, sipp_answer};
use phoneprov_transport::{send_notify, NotifyOptions, SipContact};

/// Starts sipp as a UAS on a free port of 127.0.0.1 for one call. The
/// port is free when picked, but another test can take it before sipp
/// binds it ("Unable to bind main socket, errno = 98"): a sipp that exits
/// with that in its first 300 ms is started again on another port, at
/// most five times.
async fn start_sipp(
    transport: &str,
    scenario: &str,
) -> (tokio::process::Child, u16, tempfile::TempDir) {
    let dir = open_tempdir();
    let sf = dir.path().join("uas.xml");
    std::fs::write(&sf, scenario).unwrap();
    for attempt in 1..=5 {
        let port = free_port();
        let mut child = tokio::process::Command::new(peer("sipp"))
            .arg("-sf")
            .arg(&sf)
            .args(["-m", "1", "-t", transport, "-i", "127.0.0.1"])
            .args([
                "-p",
                &port.to_string(),
                "-timeout",
                "20s",
                "-nostdin",
                "-trace_err",
            ])
            .current_dir(dir.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        if attempt < 5 {
            if let Ok(Some(status)) = child.try_wait() {
                if !status.success() {
                    let out = child.wait_with_output().await.unwrap();
                    let text = String::from_utf8_lossy(&out.stderr).into_owned()
                        + &String::from_utf8_lossy(&out.stdout);
                    if text.contains("Unable to bind main socket") {
                        continue;
                    }
                    panic!("sipp UAS exited at start ({status}):\n{text}");
                }
            }
        }
        return (child, port, dir);
    }
    unreachable!("the last attempt returns")
}

async fn sipp_ok(child: tokio::process::Child) {
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("sipp ends after its one call")
        .unwrap();
    assert!(
        out.status.success(),
        "sipp UAS failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn opts() -> NotifyOptions {
    NotifyOptions {
        event: "check-sync".into(),
        ..NotifyOptions::default()
    }
}

/// Waits until a TCP listener is up on `port` (sipp binds after start).
async fn wait_tcp(port: u16) {
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("sipp never listened on TCP {port}");
}

#[tokio::test]
async fn r_rule_6_notify_over_udp_and_tcp_answered_200() {
    let (child, port, _dir) = start_sipp("u1", &uas(&sipp_answer("200 OK", "", ""))).await;
    // Sent before sipp may be up: UDP retransmission covers the start.
    let c = SipContact::parse(&format!("sip:000e08abcdef@127.0.0.1:{port}")).unwrap();
    let out = send_notify(&c, &opts()).await.unwrap();
    assert_eq!((out.code, out.reason.as_str()), (200, "OK"));
    sipp_ok(child).await;

    let (child, port, _dir) = start_sipp("t1", &uas(&sipp_answer("200 OK", "", ""))).await;
    wait_tcp(port).await;
    let c = SipContact::parse(&format!("sip:000e08abcdef@127.0.0.1:{port};transport=tcp")).unwrap();
    let out = send_notify(&c, &opts()).await.unwrap();
    assert_eq!(out.code, 200);
    assert_eq!(out.transmissions, 1, "no retransmission over TCP");
    sipp_ok(child).await;
}

#[tokio::test]
async fn r_rule_6_udp_retransmits_until_the_late_answer() {
    let late = format!(
        "<pause milliseconds=\"1800\"/>\n  {}",
        sipp_answer("200 OK", "", "")
    );
    let (child, port, _dir) = start_sipp("u1", &uas(&late)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let c = SipContact::parse(&format!("sip:p@127.0.0.1:{port}")).unwrap();
    let out = send_notify(&c, &opts()).await.unwrap();
    assert_eq!(out.code, 200);
    // Sent at 0, 0.5 s, 1.5 s (timer E doubling) before the answer at 1.8 s.
    assert!(out.transmissions >= 3, "{out:?}");
    sipp_ok(child).await;
}

#[tokio::test]
async fn r_rule_6_digest_challenge_answered_or_reported() {
    let challenge = sipp_answer(
        "401 Unauthorized",
        "",
        "WWW-Authenticate: Digest realm=\"phone\", nonce=\"4f6e3c2a1b\", algorithm=MD5\n",
    );
    let verify = format!(
        r#"{challenge}
  <recv request="NOTIFY">
    <action>
      <verifyauth assign_to="authvalid" username="pbx" password="s3cret"/>
    </action>
  </recv>
  <nop hide="true" test="authvalid" next="goodauth"/>
  {}
  <label id="goodauth"/>
  {}
  <label id="done"/>"#,
        sipp_answer("403 Forbidden", " next=\"done\"", ""),
        sipp_answer("200 OK", "", "")
    );
    let (child, port, _dir) = start_sipp("u1", &uas(&verify)).await;
    let c = SipContact::parse(&format!("sip:p@127.0.0.1:{port}")).unwrap();
    let mut o = opts();
    o.credentials = Some(Credentials::new("pbx", "s3cret"));
    let out = send_notify(&c, &o).await.unwrap();
    assert_eq!(out.code, 200, "sipp verified the Digest answer: {out:?}");
    assert!(out.authenticated);
    sipp_ok(child).await;

    // Wrong password: sipp's verifyauth fails and it answers 403.
    let (child, port, _dir) = start_sipp("u1", &uas(&verify)).await;
    let c = SipContact::parse(&format!("sip:p@127.0.0.1:{port}")).unwrap();
    o.credentials = Some(Credentials::new("pbx", "wrong"));
    let out = send_notify(&c, &o).await.unwrap();
    assert_eq!(out.code, 403, "{out:?}");
    sipp_ok(child).await;

    // Without credentials the 401 is the final answer.
    let (child, port, _dir) = start_sipp("u1", &uas(&challenge)).await;
    let c = SipContact::parse(&format!("sip:p@127.0.0.1:{port}")).unwrap();
    let out = send_notify(&c, &opts()).await.unwrap();
    assert_eq!(out.code, 401);
    assert!(!out.authenticated);
    sipp_ok(child).await;
}
