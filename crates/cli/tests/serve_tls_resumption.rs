//! TLS session resumption in `phoneprov serve` (issue 17 item 6), checked
//! with `openssl s_client -sess_out` / `-sess_in`: a phone that comes back
//! within minutes resumes (s_client prints `Reused`), over TLS 1.3 tickets,
//! TLS 1.2 tickets and TLS 1.2 session IDs, and the resumed session still
//! identifies the phone by the certificate of the full handshake: the
//! bootstrap profile with its key (R-HTTPS-5) is only served to a client
//! whose certificate names the MAC, so getting it on a resumed connection,
//! where no certificate is sent, proves the identity came along.

mod serve_support;

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use serve_support::*;

/// One `openssl s_client` connection that fetches MAC's profile; returns
/// everything it printed.
fn fetch(port: u16, ca: &Path, cert: (&Path, &Path), extra: &[&str]) -> String {
    let connect = format!("127.0.0.1:{port}");
    let mut child = Command::new(phoneprov_testpeers::peer("openssl"))
        .args(["s_client", "-ign_eof", "-connect", &connect, "-servername"])
        .arg("localhost")
        .arg("-CAfile")
        .arg(ca)
        .arg("-cert")
        .arg(cert.0)
        .arg("-key")
        .arg(cert.1)
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl runs (scripts/install-peers installs it)");
    let request =
        format!("GET /{MAC}.cfg HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    let _ = child.stdin.take().unwrap().write_all(request.as_bytes());
    let out = child.wait_with_output().unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Full handshake with a client certificate, then a resumed one from the
/// saved session; both must be served the bootstrap profile.
fn resumes_with_identity(version: &[&str]) {
    let s = start_with(None, &[], |d| add_device(d, MAC, &[]));
    let certs = s.dir.path().join("certs");
    let (pem, key) = issue_cert(&s.data(), MAC, &certs);
    let port = s.https.unwrap().port();
    let ca = s.ca_pem();
    let sess = s.dir.path().join("session.pem");
    let sess = sess.to_str().unwrap();
    let mut first_args = version.to_vec();
    first_args.extend(["-sess_out", sess]);
    let first = fetch(port, &ca, (&pem, &key), &first_args);
    assert!(first.contains("HTTP/1.1 200"), "{first}");
    assert!(first.contains("New, TLSv1."), "{first}");
    assert!(first.contains("<Profile_Rule>[--key "), "{first}");
    assert!(
        Path::new(sess).is_file(),
        "s_client saved no session: {first}"
    );
    // The resumed connection: s_client offers the saved session.
    let mut again_args = version.to_vec();
    again_args.extend(["-sess_in", sess]);
    let again = fetch(port, &ca, (&pem, &key), &again_args);
    assert!(again.contains("Reused, TLSv1."), "not resumed: {again}");
    assert!(again.contains("HTTP/1.1 200"), "{again}");
    assert!(
        again.contains("<Profile_Rule>[--key "),
        "the resumed session lost the client identity: {again}"
    );
    // A session of another server instance (new ticket keys, empty cache)
    // is not resumed: a full handshake, the identity from the new one.
    let kept = tempfile::tempdir().unwrap();
    let sess_copy = kept.path().join("session.pem");
    std::fs::copy(sess, &sess_copy).unwrap();
    let again_args: Vec<&str> = version
        .iter()
        .copied()
        .chain(["-sess_in", sess_copy.to_str().unwrap()])
        .collect();
    drop(s);
    let other = start_with(None, &[], |d| add_device(d, MAC, &[]));
    let (pem2, key2) = issue_cert(&other.data(), MAC, &other.dir.path().join("certs"));
    let third = fetch(
        other.https.unwrap().port(),
        &other.ca_pem(),
        (&pem2, &key2),
        &again_args,
    );
    assert!(third.contains("New, TLSv1."), "{third}");
    assert!(third.contains("<Profile_Rule>[--key "), "{third}");
}

#[test]
fn tls13_ticket_resumption_keeps_the_client_certificate_identity() {
    resumes_with_identity(&["-tls1_3"]);
}

#[test]
fn tls12_ticket_resumption_keeps_the_client_certificate_identity() {
    resumes_with_identity(&["-tls1_2"]);
}

#[test]
fn tls12_session_id_resumption_keeps_the_client_certificate_identity() {
    // -no_ticket: the client sends no ticket extension, so the server's
    // session-ID cache does the resumption.
    resumes_with_identity(&["-tls1_2", "-no_ticket"]);
}

/// `s_client -reconnect` (one full handshake, then five reconnects
/// offering the session) over TLS 1.2. Not over TLS 1.3: OpenSSL's
/// `-reconnect` reconnects right after the handshake, before the server's
/// post-handshake NewSessionTicket is read, so it never has a ticket to
/// offer (the `-sess_out`/`-sess_in` tests above cover TLS 1.3).
#[test]
fn openssl_reconnect_resumes_every_time_over_tls12() {
    let s = start_with(None, &[], |d| add_device(d, MAC, &[]));
    let connect = format!("127.0.0.1:{}", s.https.unwrap().port());
    for tickets in [&[][..], &["-no_ticket"][..]] {
        let out = Command::new(phoneprov_testpeers::peer("openssl"))
            .args(["s_client", "-reconnect", "-tls1_2", "-connect", &connect])
            .args(tickets)
            .arg("-CAfile")
            .arg(s.ca_pem())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            text.matches("New, TLSv1.2").count(),
            1,
            "{tickets:?}: {text}"
        );
        assert_eq!(
            text.matches("Reused, TLSv1.2").count(),
            5,
            "{tickets:?}: {text}"
        );
    }
}
