//! `phoneprov serve` over TFTP with curl's and tftp-hpa's clients
//! (R-TFTP-1; issue 4 items 1, 4): encrypted profiles, static files,
//! traversal refused, bootstrap profile only on the pre-provisioning
//! network.

mod serve_support;

use serve_support::*;

fn tftp_get(s: &Served, path: &str) -> (bool, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("got");
    let url = format!("tftp://{}/{path}", s.tftp.unwrap());
    let o = peer(
        "curl",
        &["-s", "--max-time", "10", "-o", out.to_str().unwrap(), &url],
    );
    (o.status.success(), std::fs::read(&out).unwrap_or_default())
}

#[test]
fn r_tftp_1_curl_gets_the_encrypted_profile() {
    let s = start_default();
    let key = s.key(MAC);
    let (ok, body) = tftp_get(&s, &format!("{MAC}.cfg"));
    assert!(ok);
    assert!(
        body.starts_with(b"Salted__"),
        "TFTP must only carry encrypted profiles"
    );
    let xml = openssl_decrypt(&body, &key);
    assert!(has_profile_rule(&xml, &s.key(MAC), "http://"), "{xml}");
    let (ok, _) = tftp_get(&s, "000e08999999.cfg");
    assert!(!ok, "unknown device must be file-not-found");
    let events = s.events_until(MAC, "tftp");
    assert!(events.contains("success"), "{events}");
}

#[test]
fn r_tftp_1_static_files_are_served_and_traversal_refused() {
    let s = start_with(None, &[], |d| {
        std::fs::create_dir_all(d.join("static")).unwrap();
        std::fs::write(
            d.join("static/basic.txt"),
            "<flat-profile><GPP_A>12345678</GPP_A></flat-profile>",
        )
        .unwrap();
        std::fs::write(d.join("secret.txt"), "top secret").unwrap();
    });
    let (ok, body) = tftp_get(&s, "basic.txt");
    assert!(ok);
    assert!(String::from_utf8_lossy(&body).contains("12345678"));
    for bad in ["../secret.txt", "..%2fsecret.txt", "a/../../secret.txt"] {
        let (ok, body) = tftp_get(&s, bad);
        assert!(
            !ok || !String::from_utf8_lossy(&body).contains("top secret"),
            "{bad}"
        );
        assert!(
            !String::from_utf8_lossy(&body).contains("top secret"),
            "{bad}"
        );
    }
    // tftp-hpa sends the path verbatim (curl normalises some of it).
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("tftp")
        .current_dir(dir.path())
        .args([
            "127.0.0.1",
            &s.tftp.unwrap().port().to_string(),
            "-c",
            "get",
            "../secret.txt",
            "got",
        ])
        .output()
        .expect("tftp (tftp-hpa) is needed for this test");
    let got = std::fs::read_to_string(dir.path().join("got")).unwrap_or_default();
    assert!(!got.contains("top secret"));
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(said.to_lowercase().contains("error"), "{said}");
}

#[test]
fn preprovision_network_gets_the_plaintext_bootstrap_profile() {
    let s = start_with(
        Some("[security]\npreprovision_networks = [\"127.0.0.0/8\"]\n[profiles]\npublic_host = \"prov.example.com\"\n"),
        &[],
        |d| add_device(d, MAC, &[]),
    );
    let (ok, body) = tftp_get(&s, &format!("{MAC}.cfg"));
    assert!(ok);
    let xml = String::from_utf8(body).unwrap();
    let port = s.http.unwrap().port();
    assert!(
        has_profile_rule(
            &xml,
            &s.key(MAC),
            &format!("http://prov.example.com:{port}/$MA.cfg</Profile_Rule>")
        ),
        "{xml}"
    );
}
