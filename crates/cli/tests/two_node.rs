//! Two `phoneprov serve` nodes on one PostgreSQL database (issue 13 item
//! 4), each with its own data directory, as behind a load balancer: what
//! one node is told, the other serves; the admin token and the Digest
//! nonce secret are the database's, so either node takes the other's; the
//! status writes of both land in the one timeline. The database is a
//! fresh one in the throwaway cluster of `phoneprov_testpeers::pg`.

mod serve_support;

use std::time::{Duration, Instant};

use phoneprov_httpauth::{authorization, parse_challenges, Credentials};
use serve_support::*;

/// Plain HTTP only (each node's HTTPS would have its own development CA);
/// the admin listener on a free port.
const LISTEN: &[&str] = &[
    "--tftp",
    "off",
    "--https",
    "off",
    "--syslog",
    "off",
    "--acs",
    "off",
    "--http",
    "127.0.0.1:0",
];

/// Device rows are read at every request (no 2 s trust window), and the
/// phone's profile needs Digest credentials.
const CONFIG: &str = "[profiles]\ndevice_ttl_ms = 0\n\n[[auth]]\nmacs = [\"000e08abcdef\"]\nusers = { alice = \"s3cret\" }\nschemes = [\"digest\"]\n";

fn node(url: &str) -> Served {
    start_listening(LISTEN, Some(CONFIG), &["--database-url", url], |_| {})
}

fn token(s: &Served) -> String {
    std::fs::read_to_string(s.data().join("admin.token"))
        .unwrap()
        .trim()
        .to_string()
}

/// The admin API of `s` with `tok`: (status, JSON or null).
fn admin(
    s: &Served,
    tok: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> (u16, serde_json::Value) {
    let auth = format!("Authorization: Bearer {tok}");
    let url = s.admin_url(path);
    let mut args = vec!["-m", "10", "-X", method, "-H", &auth];
    if let Some(b) = body {
        args.extend(["-H", "Content-Type: application/json", "--data-binary", b]);
    }
    args.push(&url);
    let (code, body) = curl(&args);
    (
        code,
        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
    )
}

/// A fresh nonce's challenge from `s` for the phone's profile.
fn challenge(s: &Served) -> phoneprov_httpauth::Challenge {
    // The head as sent (curl_headers lowercases it; nonces are base64url).
    let url = s.http_url(&format!("/{MAC}.cfg"));
    let out = peer(
        "curl",
        &["-s", "-m", "10", "-o", "/dev/null", "-D", "-", &url],
    );
    let head = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    let line = head
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("www-authenticate:") && l.contains("SHA-256"))
        .unwrap_or_else(|| panic!("no Digest SHA-256 challenge: {head}"));
    let value = line.split_once(':').unwrap().1.trim();
    parse_challenges(value).unwrap().remove(0)
}

/// The phone's profile from `s`, answering `ch` (nonce count `nc`),
/// decrypted with `key`.
fn profile(s: &Served, ch: &phoneprov_httpauth::Challenge, nc: u32, key: &str) -> (u16, String) {
    let path = format!("/{MAC}.cfg");
    let auth = authorization(
        ch,
        &Credentials::new("alice", "s3cret"),
        "GET",
        &path,
        b"",
        "c0ffee",
        nc,
    );
    let hdr = format!("Authorization: {auth}");
    let (code, body) = curl(&["-m", "10", "-H", &hdr, &s.http_url(&path)]);
    if code != 200 {
        return (code, String::from_utf8_lossy(&body).into_owned());
    }
    (code, openssl_decrypt(&body, key))
}

#[test]
fn a_change_through_node_a_is_served_by_node_b_with_shared_secrets() {
    let url = phoneprov_testpeers::pg().fresh_db();
    let out = phoneprov(&["db", "migrate", "--database-url", &url]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a = node(&url);
    let b = node(&url);

    // One admin token for both nodes, mirrored in each data directory.
    let tok = token(&a);
    assert_eq!(token(&b), tok);

    let body = format!(r#"{{"mac":"{MAC}","vars":{{"display_name":"Alice"}}}}"#);
    let (code, dev) = admin(&a, &tok, "POST", "/api/v1/devices", Some(&body));
    assert_eq!(code, 201, "{dev}");
    let key = dev["key"]
        .as_str()
        .expect("the new device's key")
        .to_string();
    // Node B knows the device and its key (both from the database).
    let (code, seen) = admin(&b, &tok, "GET", &format!("/api/v1/devices/{MAC}"), None);
    assert_eq!(
        (code, seen["key"].as_str()),
        (200, Some(key.as_str())),
        "{seen}"
    );

    // A nonce issued by node A is taken by node B, and the profile B
    // renders holds the variable set through A.
    let ch = challenge(&a);
    let (code, xml) = profile(&b, &ch, 1, &key);
    assert_eq!(code, 200, "{xml}");
    assert!(xml.contains("Alice"), "{xml}");

    // Changed through A: B's next answer has it.
    let body = r#"{"vars":{"display_name":"Bob"}}"#;
    let (code, v) = admin(
        &a,
        &tok,
        "PUT",
        &format!("/api/v1/devices/{MAC}"),
        Some(body),
    );
    assert_eq!(code, 200, "{v}");
    let (code, xml) = profile(&b, &ch, 2, &key);
    assert_eq!(code, 200, "{xml}");
    assert!(xml.contains("Bob") && !xml.contains("Alice"), "{xml}");
    // And the reverse direction: B's nonce on A.
    let (code, xml) = profile(&a, &challenge(&b), 1, &key);
    assert_eq!(code, 200, "{xml}");

    // B's status writes are in the timeline A reads (A served one
    // success; each node folds only its own repeats).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (code, ev) = admin(
            &a,
            &tok,
            "GET",
            &format!("/api/v1/devices/{MAC}/events"),
            None,
        );
        assert_eq!(code, 200, "{ev}");
        let n = ev.as_array().map_or(0, |e| {
            e.iter()
                .filter(|e| e["kind"] == "resync" && e["outcome"] == "success")
                .count()
        });
        if n >= 2 {
            break;
        }
        assert!(Instant::now() < deadline, "events of both nodes: {ev}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The database disappears during a run (issue 13, bad input): requests
/// that need it get 503 and the log says why; once it is back the same
/// `serve` answers again, without a restart.
#[test]
fn a_database_that_disappears_gives_503_then_recovers_without_restart() {
    let cluster = phoneprov_testpeers::PgCluster::start();
    let url = cluster.fresh_db();
    let out = phoneprov(&["db", "migrate", "--database-url", &url]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = node(&url);
    let tok = token(&s);
    let body = format!(r#"{{"mac":"{MAC}","vars":{{"display_name":"Alice"}}}}"#);
    let (code, dev) = admin(&s, &tok, "POST", "/api/v1/devices", Some(&body));
    assert_eq!(code, 201, "{dev}");
    let key = dev["key"].as_str().unwrap().to_string();
    let (code, xml) = profile(&s, &challenge(&s), 1, &key);
    assert_eq!(code, 200, "{xml}");

    cluster.stop();
    let (code, body) = curl(&["-m", "20", &s.http_url(&format!("/{MAC}.cfg"))]);
    assert_eq!(code, 503, "{}", String::from_utf8_lossy(&body));
    let (code, err) = admin(&s, &tok, "GET", &format!("/api/v1/devices/{MAC}"), None);
    assert_eq!(code, 503, "{err}");
    assert!(
        err["hint"].as_str().unwrap_or("").contains("retry"),
        "{err}"
    );
    // Nothing is acknowledged that was not committed.
    let body = r#"{"vars":{"display_name":"Lost"}}"#;
    let (code, _) = admin(
        &s,
        &tok,
        "PUT",
        &format!("/api/v1/devices/{MAC}"),
        Some(body),
    );
    assert_eq!(code, 503);
    let log = s.stderr_until("database", Duration::from_secs(5));
    assert!(log.iter().any(|l| l.contains("database")), "{log:?}");

    cluster.restart();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (code, xml) = profile(&s, &challenge(&s), 1, &key);
        if code == 200 {
            assert!(
                xml.contains("Alice"),
                "the refused write did not land: {xml}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "no recovery: {code} {xml}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (code, v) = admin(&s, &tok, "GET", &format!("/api/v1/devices/{MAC}"), None);
    assert_eq!(
        (code, v["vars"]["display_name"].as_str()),
        (200, Some("Alice")),
        "{v}"
    );
}
