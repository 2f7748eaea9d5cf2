//! The admin listener (issue 17 item 3): `/api/v1`, `/metrics` and the
//! OpenAPI document on `[listen] admin` only; the phones' ports serve what
//! phones fetch; `admin_on_phone_ports = true` keeps the single-port
//! behaviour with a warning; HTTPS on the admin listener once `[tls] cert`
//! is set, without asking for a client certificate. Checked with curl
//! against the real `phoneprov serve`.

mod serve_support;

use serve_support::*;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

#[test]
fn the_api_and_metrics_are_on_the_admin_listener_only() {
    let s = start_default();
    let auth = s.admin_auth();
    // The phones' ports: no API, no metrics, whatever the token.
    for url in [
        s.http_url("/api/v1/devices"),
        s.http_url("/api/v1/openapi.json"),
        s.http_url("/metrics"),
    ] {
        let (code, _) = curl(&["-m", "10", "-H", &auth, &url]);
        assert_eq!(code, 404, "{url} answered on the phones' port");
    }
    let (code, _) = curl(&[
        "-m",
        "10",
        "--cacert",
        s.ca_pem().to_str().unwrap(),
        "-H",
        &auth,
        &s.https_url("/api/v1/devices"),
    ]);
    assert_eq!(code, 404, "the API answered on the HTTPS port");

    // The admin listener: the API with the token, the document and the
    // metrics without.
    let (code, body) = curl(&["-m", "10", "-H", &auth, &s.admin_url("/api/v1/devices")]);
    assert_eq!(code, 200);
    assert!(String::from_utf8_lossy(&body).contains(MAC));
    let (code, _) = curl(&["-m", "10", &s.admin_url("/api/v1/devices")]);
    assert_eq!(code, 401, "the admin listener still needs the token");
    let (code, body) = curl(&["-m", "10", &s.admin_url("/api/v1/openapi.json")]);
    assert_eq!(code, 200);
    assert!(String::from_utf8_lossy(&body).contains("\"openapi\""));
    let (code, body) = curl(&["-m", "10", &s.admin_url("/metrics")]);
    assert_eq!(code, 200);
    assert!(String::from_utf8_lossy(&body).contains("# TYPE"));

    // What phones fetch is not on the admin listener.
    let (code, body) = curl(&["-m", "10", &s.admin_url(&format!("/{MAC}.cfg"))]);
    assert_eq!(code, 404);
    let body = String::from_utf8_lossy(&body);
    assert!(body.contains("not an admin route"), "{body}");
    // ... and still on the phones' port.
    let (code, _) = curl(&["-m", "10", &s.http_url(&format!("/{MAC}.cfg"))]);
    assert_eq!(code, 200);
}

#[test]
fn admin_on_phone_ports_keeps_the_single_port_behaviour_with_a_warning() {
    let s = start_with(Some("[listen]\nadmin_on_phone_ports = true\n"), &[], |d| {
        add_device(d, MAC, &[])
    });
    let auth = s.admin_auth();
    let (code, body) = curl(&["-m", "10", "-H", &auth, &s.http_url("/api/v1/devices")]);
    assert_eq!(code, 200);
    assert!(String::from_utf8_lossy(&body).contains(MAC));
    let (code, _) = curl(&["-m", "10", &s.http_url("/metrics")]);
    assert_eq!(code, 200);
    // The admin listener serves them too.
    let (code, _) = curl(&["-m", "10", "-H", &auth, &s.admin_url("/api/v1/devices")]);
    assert_eq!(code, 200);
    let log = s.stderr_until("admin_on_phone_ports", Duration::from_secs(10));
    assert!(
        log.iter()
            .any(|l| l.starts_with("phoneprov serve: warning:")
                && l.contains("admin_on_phone_ports = true")),
        "{log:#?}"
    );
}

/// A self-signed certificate for localhost in `dir` (cert.pem, key.pem).
fn self_signed(dir: &Path) {
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec"])
        .args([
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "2",
        ])
        .args(["-subj", "/CN=admin.example"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .arg("-keyout")
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

#[test]
fn the_admin_listener_is_https_with_the_tls_certificate_and_asks_no_client_certificate() {
    let certs = tempfile::tempdir().unwrap();
    self_signed(certs.path());
    let cert = certs.path().join("cert.pem");
    let config = format!(
        "[tls]\ncert = \"{}\"\nkey = \"{}\"\nclient_auth = \"required\"\n",
        cert.display(),
        certs.path().join("key.pem").display()
    );
    let s = start_with(Some(&config), &[], |d| add_device(d, MAC, &[]));
    let auth = s.admin_auth();
    let cacert = cert.to_str().unwrap();
    // Phones need a client certificate here; the admin does not.
    let (code, body) = curl(&[
        "-m",
        "10",
        "--cacert",
        cacert,
        "-H",
        &auth,
        &s.admin_https_url("/api/v1/devices"),
    ]);
    assert_eq!(code, 200, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains(MAC));
    // Plain HTTP on the admin port is refused (no token in clear).
    let (code, _) = curl(&["-m", "10", "-H", &auth, &s.admin_url("/api/v1/devices")]);
    assert_ne!(code, 200);
    let (code, _) = curl(&["-m", "10", "--cacert", cacert, &s.https_url("/x.cfg")]);
    assert_eq!(
        code, 0,
        "the phones' HTTPS port requires a client certificate"
    );
}

#[test]
fn config_check_shows_the_admin_listener_and_warns_about_a_clear_token() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("c.toml");
    std::fs::write(&conf, "[listen]\nadmin = \"0.0.0.0:9443\"\n").unwrap();
    let data = dir.path().join("data");
    let out = phoneprov(&[
        "config",
        "check",
        "--config",
        conf.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stdout.contains("phoneprov config check: admin  http://0.0.0.0:9443"),
        "{stdout}"
    );
    assert!(
        stderr.contains("warning: [listen] admin (0.0.0.0:9443) is plain HTTP"),
        "{stderr}"
    );
}
