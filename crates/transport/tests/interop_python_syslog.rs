//! Our HTTP client against CPython's `http.server` (an HTTP/1.0 server:
//! R-HTTP-2 says both 1.0 and 1.1 must work), and the syslog sender
//! against a UDP receiver (R-LOG-1, RFC 3164 framing).

mod common;

use std::process::{Command, Stdio};

use common::{client, get, Guard};
use phoneprov_transport::SyslogSender;

#[tokio::test]
async fn r_http_2_python_http_server_http10() {
    let bin = common::peer("python3");
    let dir = common::open_tempdir();
    common::write_public(
        &dir.path().join("ata0011223344ab.cfg"),
        b"<flat-profile/>\n",
    );
    let port = common::free_port();
    let log = dir.path().join("server.log");
    let child = Command::new(bin)
        .args(["-m", "http.server", "--bind", "127.0.0.1"])
        .arg(port.to_string())
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start python3 -m http.server");
    let mut guard = Guard(child);
    common::wait_tcp(port, &mut guard.0, &log);
    let c = client(common::default_tls());
    let base = format!("http://127.0.0.1:{port}");
    let r = c
        .send(get(&format!("{base}/ata0011223344ab.cfg")))
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.body.as_slice()),
        (200, &b"<flat-profile/>\n"[..])
    );
    assert_eq!(
        c.send(get(&format!("{base}/missing.cfg")))
            .await
            .unwrap()
            .status,
        404
    );
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        logged.contains("GET /ata0011223344ab.cfg HTTP/1.1"),
        "{logged}"
    );
}

#[tokio::test]
async fn r_log_1_syslog_udp_datagram() {
    let rx = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = rx.local_addr().unwrap().port();
    let s = SyslogSender::new("CP-8841-3PCC", "prov");
    s.send(
        &format!("127.0.0.1:{port}"),
        "0011223344ab Successful resync http://pv/cfg.xml",
    )
    .await
    .unwrap();
    // R-LOG-2: an empty message sends nothing.
    s.send(&format!("127.0.0.1:{port}"), "").await.unwrap();
    s.send(&format!("127.0.0.1:{port}"), "second")
        .await
        .unwrap();
    let mut buf = [0u8; 2048];
    let n = rx.recv(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(text.starts_with("<134>"), "{text}");
    assert!(
        text.ends_with(" CP-8841-3PCC prov: 0011223344ab Successful resync http://pv/cfg.xml"),
        "{text}"
    );
    // "<134>Mmm dd hh:mm:ss " is 21 bytes.
    assert_eq!(text.as_bytes()[20], b' ', "{text}");
    let n = rx.recv(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).ends_with("prov: second"));
}
