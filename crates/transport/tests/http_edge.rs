//! HTTP framing edge cases against scripted servers (R-HTTP-2: HTTP/1.0
//! and 1.1 with chunked encoding), and how failures are reported: a silent
//! server is a `Timeout`, a server that hangs up is a `Protocol` error,
//! both class C.

mod common;

use std::time::Duration;

use common::get;
use phoneprov_transport::{ClassHint, HttpClient, HttpClientConfig, TransportError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Serves one connection: reads the request head, writes `reply` (unless
/// `None`: then holds the connection open without answering), returns the
/// request head it read.
async fn scripted(reply: Option<&'static [u8]>) -> (u16, tokio::task::JoinHandle<String>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 1024];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = s.read(&mut chunk).await.unwrap();
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        match reply {
            Some(r) => {
                s.write_all(r).await.unwrap();
                let _ = s.shutdown().await;
            }
            None => tokio::time::sleep(Duration::from_secs(30)).await,
        }
        String::from_utf8_lossy(&buf).to_string()
    });
    (port, task)
}

fn client_with_timeout(timeout: Duration) -> HttpClient {
    let mut cfg = HttpClientConfig::new(common::default_tls());
    cfg.request_timeout = timeout;
    HttpClient::new(cfg)
}

#[tokio::test]
async fn r_http_2_chunked_response_is_decoded() {
    let (port, server) = scripted(Some(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nWWW-Authenticate: a\r\nWWW-Authenticate: b\r\n\r\n5\r\n<flat\r\nb\r\n-profile/>\n\r\n0\r\n\r\n",
    ))
    .await;
    let r = client_with_timeout(Duration::from_secs(10))
        .send(get(&format!("http://127.0.0.1:{port}/p.xml?mac=1")))
        .await
        .unwrap();
    assert_eq!(r.body, b"<flat-profile/>\n");
    assert_eq!(r.header_all("www-authenticate"), vec!["a", "b"]);
    let head = server.await.unwrap();
    assert!(head.starts_with("GET /p.xml?mac=1 HTTP/1.1\r\n"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains(&format!("host: 127.0.0.1:{port}\r\n")),
        "{head}"
    );
}

#[tokio::test]
async fn r_http_2_http10_body_until_close() {
    let (port, _server) = scripted(Some(b"HTTP/1.0 200 OK\r\n\r\nall of it until close")).await;
    let r = client_with_timeout(Duration::from_secs(10))
        .send(get(&format!("http://127.0.0.1:{port}/")))
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.body.as_slice()),
        (200, &b"all of it until close"[..])
    );
}

#[tokio::test]
async fn silent_server_times_out() {
    let (port, _server) = scripted(None).await;
    let e = client_with_timeout(Duration::from_millis(300))
        .send(get(&format!("http://127.0.0.1:{port}/")))
        .await
        .unwrap_err();
    assert_eq!(e, TransportError::Timeout);
    assert_eq!(e.class_hint(), ClassHint::OtherFailure);
}

#[tokio::test]
async fn hang_up_without_answer_is_protocol_error() {
    let (port, _server) = scripted(Some(b"")).await;
    let e = client_with_timeout(Duration::from_secs(10))
        .send(get(&format!("http://127.0.0.1:{port}/")))
        .await
        .unwrap_err();
    assert!(matches!(e, TransportError::Protocol(_)), "{e:?}");
    let (port, _server) = scripted(Some(b"SSH-2.0-OpenSSH\r\n\r\n")).await;
    let e = client_with_timeout(Duration::from_secs(10))
        .send(get(&format!("http://127.0.0.1:{port}/")))
        .await
        .unwrap_err();
    assert!(matches!(e, TransportError::Protocol(_)), "{e:?}");
}

#[tokio::test]
async fn caller_headers_override_defaults() {
    let (port, server) = scripted(Some(b"HTTP/1.1 204 No Content\r\n\r\n")).await;
    let mut req = get(&format!("http://127.0.0.1:{port}/"));
    req.headers.push(("Host".into(), "pv.example.com".into()));
    req.headers.push(("Connection".into(), "keep-alive".into()));
    let r = client_with_timeout(Duration::from_secs(10))
        .send(req)
        .await
        .unwrap();
    assert_eq!(r.status, 204);
    let head = server.await.unwrap().to_ascii_lowercase();
    assert_eq!(head.matches("host:").count(), 1, "{head}");
    assert!(
        head.contains("host: pv.example.com\r\n") && head.contains("connection: keep-alive\r\n"),
        "{head}"
    );
}
