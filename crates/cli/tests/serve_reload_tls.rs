//! SIGHUP reloads the HTTPS certificate (issue 4: "SIGHUP reloads templates
//! and config"; R-HTTPS): a renewed certificate and key written over the
//! configured files are served to new connections after the signal, checked
//! with `openssl s_client`; a broken certificate fails the reload with one
//! line and the running certificate stays.

mod serve_support;

use serve_support::*;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// A self-signed P-256 certificate for localhost/127.0.0.1 with this CN,
/// written by `openssl req` to `dir/cert.pem` and `dir/key.pem`.
fn self_signed(dir: &Path, cn: &str) {
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN={cn}"),
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
        ])
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .output()
        .expect("openssl is needed for this test (scripts/install-peers)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The subject line `openssl s_client` prints for the server's certificate.
fn served_subject(port: u16) -> String {
    let mut child = Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
        .args(["-servername", "localhost"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl");
    let _ = child.stdin.take().unwrap().write_all(b"");
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.starts_with("subject="))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn sighup_serves_a_renewed_certificate_and_keeps_it_when_the_next_is_broken() {
    let certs = tempfile::tempdir().unwrap();
    self_signed(certs.path(), "first.example");
    let config = format!(
        "[tls]\ncert = \"{}\"\nkey = \"{}\"\nclient_auth = \"off\"\n",
        certs.path().join("cert.pem").display(),
        certs.path().join("key.pem").display()
    );
    let s = start_with(Some(&config), &[], |_| {});
    let port = s.https.expect("https listener").port();
    let before = served_subject(port);
    assert!(before.contains("first.example"), "{before:?}");

    // Renewed in place, then SIGHUP: new connections get the new one.
    self_signed(certs.path(), "second.example");
    s.signal("HUP");
    let lines = s.stderr_until("reloaded", Duration::from_secs(10));
    assert!(lines.iter().any(|l| l.contains("reloaded")), "{lines:?}");
    let after = served_subject(port);
    assert!(after.contains("second.example"), "{after:?}");

    // A broken certificate: the reload fails with one line, nothing changes.
    std::fs::write(certs.path().join("cert.pem"), "not a certificate\n").unwrap();
    s.signal("HUP");
    let lines = s.stderr_until("reload failed", Duration::from_secs(10));
    let failed: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("reload failed"))
        .collect();
    assert_eq!(failed.len(), 1, "{lines:?}");
    let kept = served_subject(port);
    assert!(kept.contains("second.example"), "{kept:?}");
}
