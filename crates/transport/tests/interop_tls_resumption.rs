//! TLS session resumption per phone ([`TlsSessions`], issue 17 item 6)
//! against `openssl s_server -www`, whose status page reports, for the
//! very connection that fetched it, `New, TLSv1.x` or `Reused, TLSv1.x`:
//! a phone's second fetch resumes (TLS 1.3 tickets, TLS 1.2 tickets, TLS
//! 1.2 session IDs), another phone never resumes the first one's session,
//! and with resumption off every fetch is a full handshake.

mod common;

use std::process::{Command, Stdio};

use common::*;
use phoneprov_transport::TlsSessions;

/// `openssl s_server -www` on a free port with the test CA's server
/// certificate; `extra` restricts versions or tickets.
fn s_server(dir: &std::path::Path, pki: &Pki, extra: &[&str]) -> (Guard, u16) {
    pki.write_server_files(dir);
    let port = free_port();
    let log = dir.join("s_server.log");
    let child = Command::new(peer("openssl"))
        .args(["s_server", "-www", "-accept"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("-cert")
        .arg(dir.join("server.pem"))
        .arg("-key")
        .arg(dir.join("server.key"))
        .args(extra)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl runs (scripts/install-peers)");
    let mut guard = Guard(child);
    wait_tcp(port, &mut guard.0, &log);
    (guard, port)
}

/// Fetches the status page as phone `mac`; returns `New` or `Reused`.
async fn handshake(port: u16, sessions: &TlsSessions, mac: &str, pki: &Pki) -> String {
    // A fresh configuration per fetch, as the simulator builds them: the
    // kept one must win while the settings are the same.
    let tls = sessions
        .config_for(mac, "ca, no client certificate", || {
            Ok::<_, ()>(pki.client_tls(false))
        })
        .unwrap();
    let resp = client(tls)
        .send(get(&format!("https://localhost:{port}/")))
        .await
        .expect("s_server answers");
    assert_eq!(resp.status, 200);
    let page = String::from_utf8_lossy(&resp.body).into_owned();
    let line = page
        .lines()
        .find(|l| l.starts_with("New, TLSv1.") || l.starts_with("Reused, TLSv1."))
        .unwrap_or_else(|| panic!("no handshake line in the s_server page:\n{page}"));
    line.split(',').next().unwrap().to_string()
}

async fn check(extra: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(&["localhost"]);
    let (_server, port) = s_server(dir.path(), &pki, extra);
    let on = TlsSessions::new(true);
    assert_eq!(handshake(port, &on, "000e08000001", &pki).await, "New");
    assert_eq!(handshake(port, &on, "000e08000001", &pki).await, "Reused");
    assert_eq!(handshake(port, &on, "000e08000001", &pki).await, "Reused");
    // Another phone has no session of its own yet.
    assert_eq!(handshake(port, &on, "000e08000002", &pki).await, "New");
    assert_eq!(handshake(port, &on, "000e08000002", &pki).await, "Reused");
    // Off: every handshake is full.
    let off = TlsSessions::new(false);
    for _ in 0..2 {
        assert_eq!(handshake(port, &off, "000e08000001", &pki).await, "New");
    }
}

#[tokio::test]
async fn tls13_tickets_are_resumed_per_phone() {
    check(&["-tls1_3"]).await;
}

#[tokio::test]
async fn tls12_tickets_are_resumed_per_phone() {
    check(&["-tls1_2"]).await;
}

#[tokio::test]
async fn tls12_session_ids_are_resumed_per_phone() {
    check(&["-tls1_2", "-no_ticket"]).await;
}
