//! `phoneprov serve` over HTTPS with curl and `openssl s_client`
//! (R-HTTPS-5; issue 4 items 4 and 6): bootstrap profile for a matching
//! client certificate, encrypted profile without one, 403 for a
//! certificate naming another MAC, handshake refused without a
//! certificate in `required` mode.

mod serve_support;

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use serve_support::*;

#[test]
fn r_https_5_client_certificate_gets_the_bootstrap_profile_with_its_key() {
    let s = start_default();
    let certs = s.dir.path().join("certs");
    let (pem, key_file) = issue_cert(&s.data(), MAC, &certs);
    let key = s.key(MAC);
    let ca = s.ca_pem();
    let url = s.https_url(&format!("/{MAC}.cfg"));
    let (code, body) = curl(&[
        "--cacert",
        ca.to_str().unwrap(),
        "--cert",
        pem.to_str().unwrap(),
        "--key",
        key_file.to_str().unwrap(),
        &url,
    ]);
    assert_eq!(code, 200);
    let xml = String::from_utf8(body).unwrap();
    assert!(has_profile_rule(&xml, &s.key(MAC), "http://"), "{xml}");
    assert!(xml.contains("/$MA.cfg</Profile_Rule>"), "{xml}");
    // Without a client certificate: the encrypted profile, as over HTTP.
    let (code, body) = curl(&["--cacert", ca.to_str().unwrap(), &url]);
    assert_eq!(code, 200);
    assert!(body.starts_with(b"Salted__"));
    assert!(openssl_decrypt(&body, &key).contains("<flat-profile>"));
}

#[test]
fn r_https_5_certificate_for_another_mac_is_refused_with_403() {
    let s = start_with(None, &[], |d| {
        add_device(d, MAC, &[]);
        add_device(d, OTHER_MAC, &[]);
    });
    let certs = s.dir.path().join("certs");
    let (pem, key_file) = issue_cert(&s.data(), OTHER_MAC, &certs);
    let (code, body) = curl(&[
        "--cacert",
        s.ca_pem().to_str().unwrap(),
        "--cert",
        pem.to_str().unwrap(),
        "--key",
        key_file.to_str().unwrap(),
        &s.https_url(&format!("/{MAC}.cfg")),
    ]);
    assert_eq!(code, 403);
    assert!(!String::from_utf8_lossy(&body).contains("flat-profile"));
    // Logged, but nothing written (issue 12 item 2: this test used to
    // require an event on the device asked for; a certificate holder must
    // not be able to fill another device's timeline). The phone's own
    // fetch, queued after the refusal through the one writer, is there.
    let log = s.stderr_until(
        "client certificate names another device",
        Duration::from_secs(10),
    );
    assert!(
        log.iter().any(|l| l.contains("client certificate names another device") && l.contains(OTHER_MAC)),
        "{log:#?}"
    );
    let (code, _) = curl(&[&s.http_url(&format!("/{MAC}.cfg"))]);
    assert_eq!(code, 200);
    let events = s.events_until(MAC, "200");
    assert!(events.contains("200"), "{events}");
    assert!(
        !events.contains("403") && !events.contains(OTHER_MAC),
        "{events}"
    );
}

fn s_client(port: u16, ca: &str, cert: Option<(&str, &str)>) -> (bool, String) {
    let connect = format!("127.0.0.1:{port}");
    let mut args = vec![
        "s_client",
        "-ign_eof",
        "-connect",
        &connect,
        "-CAfile",
        ca,
        "-servername",
        "localhost",
    ];
    if let Some((c, k)) = cert {
        args.extend_from_slice(&["-cert", c, "-key", k]);
    }
    let mut child = Command::new("openssl")
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl is needed for this test");
    let request = "GET /000e08abcdef.cfg HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    let _ = child.stdin.take().unwrap().write_all(request.as_bytes());
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (text.contains("HTTP/1.1 200"), text)
}

#[test]
fn r_https_5_required_mode_refuses_handshakes_without_a_client_certificate() {
    let s = start_with(Some("[tls]\nclient_auth = \"required\"\n"), &[], |d| {
        add_device(d, MAC, &[])
    });
    let ca = s.ca_pem();
    let port = s.https.unwrap().port();
    let (ok, text) = s_client(port, ca.to_str().unwrap(), None);
    assert!(!ok, "served without a client certificate: {text}");
    assert!(
        text.contains("alert") || text.contains("certificate required") || text.contains("errno"),
        "{text}"
    );
    let certs = s.dir.path().join("certs");
    let (pem, key) = issue_cert(&s.data(), MAC, &certs);
    let (ok, text) = s_client(
        port,
        ca.to_str().unwrap(),
        Some((pem.to_str().unwrap(), key.to_str().unwrap())),
    );
    assert!(ok, "{text}");
    assert!(text.contains("<Profile_Rule>[--key "), "{text}");
}
