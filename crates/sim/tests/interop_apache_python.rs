//! HTTP Digest against Apache httpd's mod_auth_digest (R-HTTP-4; the engine
//! answers the 401, the driver sends one request per Fetch), and a plain
//! fetch of a partitioned profile (R-RULE-3) from `python3 -m http.server`,
//! and an `aes128gcm` profile encrypted by Python's `http_ece` and served
//! by nginx (R-FMT-7, `IKM_HTTP_Encrypt_Content`).

mod common;

use common::{one_phone, param};
use phoneprov_sim::run_fleet;

const REALM: &str = "phoneprov sim";
fn apache(user: &str, pass: &str) -> phoneprov_testpeers::Apache {
    phoneprov_testpeers::Apache::start(REALM, user, pass, |d| {
        common::write_public(
            &d.join("htdocs/digest/basic.xml"),
            b"<flat-profile><GPP_A>12345678</GPP_A></flat-profile>\n",
        );
    })
}

#[tokio::test]
async fn r_http_4_digest_against_apache() {
    let a = apache("Mufasa", "Circle of Life");
    let ok = format!(
        "[--uid Mufasa --pwd \"Circle of Life\"] http://127.0.0.1:{}/digest/basic.xml",
        a.port
    );
    let r = run_fleet(one_phone(&[("Profile_Rule", &ok)]))
        .await
        .unwrap();
    assert_eq!(r.resyncs.a, 1, "{}", r.to_text());
    assert_eq!(param(&r, "GPP_A").as_deref(), Some("12345678"));
    assert_eq!(r.fetches, 2, "challenge, then the answer");
    let bad = format!(
        "[--uid Mufasa --pwd nope] http://127.0.0.1:{}/digest/basic.xml",
        a.port
    );
    let r = run_fleet(one_phone(&[("Profile_Rule", &bad)]))
        .await
        .unwrap();
    assert_eq!(r.resyncs.c, 1, "{}", r.to_text());
}

#[tokio::test]
async fn r_rule_3_partitioned_profile_from_python_http_server() {
    let server = common::python_http(&[
        (
            "basic.txt",
            b"<flat-profile><GPP_A>12345678</GPP_A></flat-profile>\n",
        ),
        (
            "basic2.txt",
            b"<flat-profile><GPP_B>ABCD</GPP_B></flat-profile>\n",
        ),
    ]);
    let port = server.port;
    let r = run_fleet(one_phone(&[
        (
            "Profile_Rule",
            &format!("http://127.0.0.1:{port}/basic.txt"),
        ),
        (
            "Profile_Rule_B",
            &format!("http://127.0.0.1:{port}/basic2.txt"),
        ),
    ]))
    .await
    .unwrap();
    assert_eq!(r.resyncs.a, 1, "{}", r.to_text());
    assert_eq!(param(&r, "GPP_A").as_deref(), Some("12345678"));
    assert_eq!(param(&r, "GPP_B").as_deref(), Some("ABCD"));
    assert_eq!(r.fetches, 2);
}

/// R-FMT-7 / issue 15 item 4: `IKM_HTTP_Encrypt_Content` is the RFC 8188
/// key of an `aes128gcm` profile. The body is encrypted by Python's
/// `http_ece` (a third-party implementation) and served by nginx with
/// `Content-Encoding: aes128gcm`; the phone with the IKM applies it, one
/// with another IKM gets class B and applies nothing.
#[tokio::test]
async fn r_fmt_7_ikm_decrypts_an_http_ece_profile_from_nginx() {
    let plain = b"<flat-profile><GPP_A>from-http-ece</GPP_A></flat-profile>\n";
    let script = "import sys, http_ece\nsys.stdout.buffer.write(http_ece.encrypt(sys.stdin.buffer.read(), salt=bytes(range(16)), key=sys.argv[1].encode(), rs=4096, version='aes128gcm'))";
    let mut child = std::process::Command::new(phoneprov_testpeers::venv_python())
        .args(["-c", script, "ikm-Secret-42"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the peers' Python venv with http_ece (scripts/install-peers)");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(plain).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "http_ece failed");
    assert_ne!(out.stdout, plain.to_vec());
    let n = common::Nginx::start(
        "",
        "    location /gcm/ { add_header Content-Encoding aes128gcm; }\n",
        |_| {},
    );
    n.write("gcm/p.xml", &out.stdout);
    let rule = format!("http://127.0.0.1:{}/gcm/p.xml", n.port);
    let r = run_fleet(one_phone(&[
        ("Profile_Rule", &rule),
        ("IKM_HTTP_Encrypt_Content", "ikm-Secret-42"),
    ]))
    .await
    .unwrap();
    assert_eq!(r.resyncs.a, 1, "{}", r.to_text());
    assert_eq!(param(&r, "GPP_A").as_deref(), Some("from-http-ece"));
    let r = run_fleet(one_phone(&[
        ("Profile_Rule", &rule),
        ("IKM_HTTP_Encrypt_Content", "another-key"),
    ]))
    .await
    .unwrap();
    assert_eq!(r.resyncs.b, 1, "{}", r.to_text());
    assert_ne!(param(&r, "GPP_A").as_deref(), Some("from-http-ece"));
}
