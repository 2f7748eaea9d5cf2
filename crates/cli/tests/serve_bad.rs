//! Bad input for `phoneprov serve` (issue 4 items 1 and 5): traversal,
//! garbage, oversized heads and bodies, broken templates (at start, at
//! render time, on SIGHUP), port in use, bad config, unwritable data
//! directory, and SIGTERM.

mod serve_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use serve_support::*;

fn raw(addr: std::net::SocketAddr, bytes: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = s.write_all(bytes);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).to_string()
}

fn status_of(resp: &str) -> u16 {
    resp.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[test]
fn path_traversal_never_leaves_the_roots() {
    let s = start_with(None, &[], |d| {
        std::fs::create_dir_all(d.join("static")).unwrap();
        std::fs::write(d.join("static/ok.txt"), "fine").unwrap();
        std::fs::write(d.join("secret.txt"), "top secret").unwrap();
    });
    let (code, body) = curl(&[&s.http_url("/ok.txt")]);
    assert_eq!((code, body.as_slice()), (200, &b"fine"[..]));
    let http = s.http.unwrap();
    for path in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E%2Fsecret.txt",
        "/firmware/../../secret.txt",
        "/firmware/%2e%2e/%2e%2e/secret.txt",
        "/..\\secret.txt",
        "/ok.txt%00.cfg",
        "/static/../../secret.txt",
    ] {
        let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let resp = raw(http, req.as_bytes());
        let code = status_of(&resp);
        assert!(code == 400 || code == 404, "{path}: {resp}");
        assert!(!resp.contains("top secret"), "{path}");
    }
}

#[test]
fn garbage_gets_400_and_the_server_stays_up() {
    let s = start_default();
    let resp = raw(s.http.unwrap(), b"\x16\x03\x01garbage\r\n\r\n");
    assert_eq!(status_of(&resp), 400, "{resp:?}");
    let resp = raw(s.http.unwrap(), b"GET / HTTP/9.9 what\r\n\r\n");
    assert!(
        resp.is_empty() || status_of(&resp) == 400 || status_of(&resp) == 505,
        "{resp:?}"
    );
    let (code, _) = curl(&[&s.http_url(&format!("/{MAC}.cfg"))]);
    assert_eq!(code, 200);
}

#[test]
fn oversized_heads_get_431_and_bodies_413() {
    let s = start_with(Some("[limits]\nmax_body_bytes = 1000\n"), &[], |d| {
        add_device(d, MAC, &[])
    });
    let big = "a".repeat(64 * 1024);
    let req = format!("GET /{MAC}.cfg HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n");
    let resp = raw(s.http.unwrap(), req.as_bytes());
    assert_eq!(status_of(&resp), 431, "{resp:?}");
    let body = "b".repeat(5000);
    let (code, _) = curl(&[
        "--data-binary",
        &body,
        &s.http_url(&format!("/report/{MAC}.xml")),
    ]);
    assert_eq!(code, 413);
    // Chunked bodies are limited too.
    let (code, _) = curl(&[
        "-H",
        "Transfer-Encoding: chunked",
        "--data-binary",
        &body,
        &s.http_url(&format!("/report/{MAC}.xml")),
    ]);
    assert_eq!(code, 413);
    let (code, _) = curl(&[
        "-H",
        "Transfer-Encoding: chunked",
        "--data-binary",
        "small",
        &s.http_url(&format!("/report/{MAC}.xml")),
    ]);
    assert_eq!(code, 200);
}

#[test]
fn corrupt_template_at_start_is_one_error_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("templates")).unwrap();
    std::fs::write(
        data.join("templates/default.xml.j2"),
        "<flat-profile>\n{% if %}\n</flat-profile>\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--data", data.to_str().unwrap()])
        .args(ALL_PORT0)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("default.xml.j2") && err.contains("line 2"),
        "{err}"
    );
}

#[test]
fn render_error_is_500_with_an_event_and_sighup_keeps_good_templates() {
    let s = start_with(None, &[], |d| {
        add_device(d, MAC, &["--group", "broken"]);
        add_device(d, OTHER_MAC, &[]);
        std::fs::create_dir_all(d.join("templates/group")).unwrap();
        // Renders, but to a profile the strict lint refuses.
        std::fs::write(
            d.join("templates/group/broken.xml.j2"),
            "<flat-profile><Resync_Periodic>soon</Resync_Periodic></flat-profile>",
        )
        .unwrap();
        std::fs::write(
            d.join("templates/default.xml.j2"),
            "<flat-profile><GPP_A>v1</GPP_A></flat-profile>\n",
        )
        .unwrap();
    });
    let (code, _) = curl(&[&s.http_url(&format!("/{MAC}.cfg"))]);
    assert_eq!(code, 500);
    let events = s.events_until(MAC, "500");
    assert!(events.contains("lint error"), "{events}");
    // A broken template on SIGHUP: reload refused, old templates kept.
    let (code, before) = curl(&[&s.http_url(&format!("/{OTHER_MAC}.cfg"))]);
    assert_eq!(code, 200);
    std::fs::write(s.data().join("templates/default.xml.j2"), "{% block %}").unwrap();
    s.signal("HUP");
    let err = s.stderr_until("reload failed", Duration::from_secs(10));
    assert!(
        err.iter()
            .any(|l| l.contains("reload failed") && l.contains("default.xml.j2")),
        "{err:?}"
    );
    let (code, after) = curl(&[&s.http_url(&format!("/{OTHER_MAC}.cfg"))]);
    assert_eq!(code, 200);
    assert_eq!(
        before, after,
        "cached output of the old templates still served"
    );
    // A good template on SIGHUP is picked up.
    std::fs::write(
        s.data().join("templates/default.xml.j2"),
        "<flat-profile><GPP_A>v2</GPP_A></flat-profile>\n",
    )
    .unwrap();
    s.signal("HUP");
    let err = s.stderr_until("reloaded", Duration::from_secs(10));
    assert!(err.iter().any(|l| l.contains("reloaded")), "{err:?}");
    let (_, body) = curl(&[&s.http_url(&format!("/{OTHER_MAC}.cfg"))]);
    assert!(openssl_decrypt(&body, &s.key(OTHER_MAC)).contains("<GPP_A>v2</GPP_A>"));
}

#[test]
fn port_in_use_is_one_line_and_non_zero_exit() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args([
            "serve",
            "--data",
            dir.path().to_str().unwrap(),
            "--http",
            &port,
        ])
        .args(["--https", "127.0.0.1:0", "--tftp", "off", "--syslog", "off"])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("cannot listen on http {port}")),
        "{err}"
    );
}

#[test]
fn bad_config_is_one_line_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(
        &cfg,
        "[listen]\nhttp = 8080\n\n[profiles]\nencryption = \"rot13\"\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args([
            "serve",
            "--data",
            dir.path().to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(&format!("{}:5:", cfg.display())), "{err}");
}

#[test]
fn unwritable_data_directory_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--data", file.join("data").to_str().unwrap()])
        .args(ALL_PORT0)
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("not writable"), "{err}");
}

#[test]
fn sigterm_stops_cleanly() {
    let mut s = start_default();
    let (code, _) = curl(&[&s.http_url(&format!("/{MAC}.cfg"))]);
    assert_eq!(code, 200);
    s.signal("TERM");
    assert_eq!(s.wait_exit(Duration::from_secs(20)), Some(0));
    // The status of the request before SIGTERM was flushed.
    assert_eq!(s.device_json(MAC)["status"]["last_outcome"], "success");
}
