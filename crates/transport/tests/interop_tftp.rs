//! TFTP through `tftp_get` (R-TFTP-1, R-RESULT): against tftpd-hpa
//! (`in.tftpd`), plus a scripted UDP peer to observe the client's source
//! port and error classes.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use common::tftpd;
use phoneprov_transport::{tftp_get, ClassHint, TftpOptions, TransportError, PHONE_TFTP_PORTS};

fn opts() -> TftpOptions {
    let mut o = TftpOptions::default();
    o.client.timeout = Duration::from_millis(500);
    o.client.retries = 4;
    o
}

#[tokio::test]
async fn r_tftp_1_get_from_tftpd_hpa() {
    let t = tftpd();
    let content: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    common::write_public(&t.dir.path().join("basic.txt"), &content);
    let got = tftp_get("127.0.0.1", t.port, "basic.txt", &opts())
        .await
        .unwrap();
    assert_eq!(got, content);
}

#[tokio::test]
async fn r_result_tftp_not_found_is_class_b() {
    let t = tftpd();
    let e = tftp_get("127.0.0.1", t.port, "missing.cfg", &opts())
        .await
        .unwrap_err();
    assert!(matches!(e, TransportError::TftpNotFound(_)), "{e:?}");
    assert_eq!(e.class_hint(), ClassHint::NotFound);
}

/// tftpd-hpa answers an unreadable file with ERROR 0 "Permission denied"
/// (not ERROR 2); both are reported as an access problem.
#[tokio::test]
async fn r_result_tftp_access_violation() {
    let t = tftpd();
    let p = t.dir.path().join("secret.cfg");
    std::fs::write(&p, b"x").unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    let e = tftp_get("127.0.0.1", t.port, "secret.cfg", &opts())
        .await
        .unwrap_err();
    assert!(matches!(e, TransportError::TftpAccess(_)), "{e:?}");
    assert_eq!(e.class_hint(), ClassHint::OtherFailure);
}

/// A scripted peer: receives one RRQ, reports the client's port, answers
/// ERROR `code` from a new port (as a real server's new TID would).
async fn one_shot_error(code: u8, message: &'static str) -> (u16, tokio::task::JoinHandle<u16>) {
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = sock.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let mut buf = [0u8; 600];
        let (_, from) = sock.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..2], &[0, 1], "RRQ");
        let reply = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut pkt = vec![0, 5, 0, code];
        pkt.extend_from_slice(message.as_bytes());
        pkt.push(0);
        reply.send_to(&pkt, from).await.unwrap();
        from.port()
    });
    (port, task)
}

#[tokio::test]
async fn r_tftp_1_phone_ports_when_server_not_on_69() {
    let (port, peer) = one_shot_error(1, "File not found").await;
    let mut o = opts();
    o.phone_ports = true;
    let e = tftp_get("127.0.0.1", port, "x.cfg", &o).await.unwrap_err();
    assert!(matches!(e, TransportError::TftpNotFound(_)), "{e:?}");
    let client_port = peer.await.unwrap();
    assert!(
        PHONE_TFTP_PORTS.contains(&client_port),
        "client used port {client_port}"
    );
}

#[tokio::test]
async fn r_result_tftp_error_2_is_access() {
    let (port, _peer) = one_shot_error(2, "Access violation").await;
    let e = tftp_get("127.0.0.1", port, "x.cfg", &opts())
        .await
        .unwrap_err();
    assert!(matches!(e, TransportError::TftpAccess(_)), "{e:?}");
}

#[tokio::test]
async fn tftp_silent_server_is_class_c() {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = sock.local_addr().unwrap().port();
    let mut o = opts();
    o.client.timeout = Duration::from_millis(100);
    o.client.retries = 1;
    let e = tftp_get("127.0.0.1", port, "x.cfg", &o).await.unwrap_err();
    assert!(matches!(e, TransportError::Tftp(_)), "{e:?}");
    assert_eq!(e.class_hint(), ClassHint::OtherFailure);
    drop(sock);
}
