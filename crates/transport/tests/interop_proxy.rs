//! Manual HTTP proxy (R-SEC-4): a tiny in-test proxy that requires Basic
//! auth and records what it saw. `http` URLs go as absolute-form requests,
//! `https` through a `CONNECT` tunnel; the client never resolves the target
//! itself (the proxy maps every host to 127.0.0.1). A refused proxy login
//! comes back as status 407 for the engine to handle.

mod common;

use std::sync::{Arc, Mutex};

use common::{get, Nginx, Pki};
use phoneprov_transport::{HttpClient, HttpClientConfig, Proxy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// base64("proxyuser:proxypass")
const GOOD_AUTH: &str = "Basic cHJveHl1c2VyOnByb3h5cGFzcw==";

#[derive(Default)]
struct Seen {
    /// Request lines, with whether the credentials were right.
    requests: Vec<(String, bool)>,
}

async fn read_head(sock: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(pos + 4);
            return Some((String::from_utf8_lossy(&buf).to_string(), rest));
        }
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn handle(mut sock: TcpStream, seen: Arc<Mutex<Seen>>) {
    let Some((head, rest)) = read_head(&mut sock).await else {
        return;
    };
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_string();
    let headers: Vec<&str> = lines.filter(|l| !l.is_empty()).collect();
    let authorized = headers
        .iter()
        .filter_map(|l| l.split_once(':'))
        .any(|(n, v)| n.eq_ignore_ascii_case("proxy-authorization") && v.trim() == GOOD_AUTH);
    seen.lock()
        .unwrap()
        .requests
        .push((request_line.clone(), authorized));
    if !authorized {
        let _ = sock
            .write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"proxy\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .await;
        return;
    }
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or_default();
    let target = parts.next().unwrap_or_default();
    let port_of = |authority: &str| {
        authority
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse::<u16>().ok())
    };
    if method == "CONNECT" {
        let Some(port) = port_of(target) else { return };
        let Ok(mut up) = TcpStream::connect(("127.0.0.1", port)).await else {
            return;
        };
        let _ = sock
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .await;
        let _ = up.write_all(&rest).await;
        let _ = tokio::io::copy_bidirectional(&mut sock, &mut up).await;
        return;
    }
    // Absolute form: http://authority/path → origin form upstream.
    let Some(after) = target.strip_prefix("http://") else {
        return;
    };
    let (authority, path) = after.split_at(after.find('/').unwrap_or(after.len()));
    let Some(port) = port_of(authority) else {
        return;
    };
    let Ok(mut up) = TcpStream::connect(("127.0.0.1", port)).await else {
        return;
    };
    let mut fwd = format!("{method} {path} HTTP/1.1\r\n");
    for h in headers
        .iter()
        .filter(|h| !h.to_ascii_lowercase().starts_with("proxy-authorization"))
    {
        fwd.push_str(h);
        fwd.push_str("\r\n");
    }
    fwd.push_str("\r\n");
    let _ = up.write_all(fwd.as_bytes()).await;
    let _ = up.write_all(&rest).await;
    let _ = tokio::io::copy_bidirectional(&mut sock, &mut up).await;
}

async fn start_proxy() -> (u16, Arc<Mutex<Seen>>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let s2 = seen.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = l.accept().await {
            tokio::spawn(handle(sock, s2.clone()));
        }
    });
    (port, seen)
}

fn client(
    tls: Arc<phoneprov_transport::rustls::ClientConfig>,
    port: u16,
    pass: &str,
) -> HttpClient {
    let mut cfg = HttpClientConfig::new(tls);
    cfg.proxy = Some(Proxy {
        host: "127.0.0.1".into(),
        port,
        basic_auth: Some(("proxyuser".into(), pass.into())),
    });
    HttpClient::new(cfg)
}

#[tokio::test]
async fn r_sec_4_http_through_proxy_absolute_form() {
    let n = Nginx::start("", "", |_| {});
    n.write("basic.txt", b"via proxy\n");
    let (pport, seen) = start_proxy().await;
    let c = client(common::default_tls(), pport, "proxypass");
    let url = format!("http://pv.example.com:{}/basic.txt", n.port);
    let r = c.send(get(&url)).await.unwrap();
    assert_eq!((r.status, r.body.as_slice()), (200, &b"via proxy\n"[..]));
    let seen = seen.lock().unwrap();
    assert_eq!(seen.requests, vec![(format!("GET {url} HTTP/1.1"), true)]);
}

#[tokio::test]
async fn r_sec_4_https_through_proxy_connect_tunnel() {
    let pki = Pki::new(&["pv.example.com"]);
    let n = Nginx::start(
        "ssl",
        "    ssl_certificate {dir}/server.pem;\n    ssl_certificate_key {dir}/server.key;\n",
        |d| pki.write_server_files(d),
    );
    n.write("basic.txt", b"tunnelled\n");
    let (pport, seen) = start_proxy().await;
    let c = client(pki.client_tls(false), pport, "proxypass");
    let r = c
        .send(get(&format!("https://pv.example.com:{}/basic.txt", n.port)))
        .await
        .unwrap();
    assert_eq!((r.status, r.body.as_slice()), (200, &b"tunnelled\n"[..]));
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen.requests,
        vec![(format!("CONNECT pv.example.com:{} HTTP/1.1", n.port), true)]
    );
}

#[tokio::test]
async fn r_sec_4_wrong_proxy_password_returns_407() {
    let (pport, seen) = start_proxy().await;
    let c = client(common::default_tls(), pport, "wrong");
    let r = c
        .send(get("http://pv.example.com:8080/a.xml"))
        .await
        .unwrap();
    assert_eq!(r.status, 407);
    assert_eq!(
        r.header("proxy-authenticate"),
        Some("Basic realm=\"proxy\"")
    );
    let r = c
        .send(get("https://pv.example.com:8443/a.xml"))
        .await
        .unwrap();
    assert_eq!(r.status, 407, "refused CONNECT is returned, not an error");
    assert_eq!(
        r.header("proxy-authenticate"),
        Some("Basic realm=\"proxy\"")
    );
    let seen = seen.lock().unwrap();
    assert_eq!(seen.requests.len(), 2);
    assert!(seen.requests.iter().all(|(_, ok)| !ok));
}
