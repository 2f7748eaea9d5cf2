//! Shared test fixtures: a tiny HTTPS responder built from `server_config`
//! that answers every request with the phone identity it extracted from the
//! client certificate, and a rustls client built from `client_config`.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use phoneprov_pki::rustls;
use phoneprov_pki::{client_config, identity_from_peer_certs, ClientTls, PhoneIdentity};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// What the server saw for one connection: the identity (None = no client
/// certificate) or the handshake error text.
pub type Seen = Result<Option<PhoneIdentity>, String>;

pub struct TestServer {
    pub port: u16,
    pub seen: mpsc::UnboundedReceiver<Seen>,
}

impl TestServer {
    /// The next connection's outcome (fails the test after 10 s).
    pub async fn next(&mut self) -> Seen {
        tokio::time::timeout(Duration::from_secs(10), self.seen.recv())
            .await
            .expect("server saw no connection within 10 s")
            .expect("server task ended")
    }
}

/// Listens on 127.0.0.1:0 and serves until the runtime ends.
pub async fn spawn_server(config: Arc<rustls::ServerConfig>) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::unbounded_channel();
    let acceptor = TlsAcceptor::from(config);
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut tls = match acceptor.accept(tcp).await {
                    Ok(tls) => tls,
                    Err(e) => {
                        let _ = tx.send(Err(e.to_string()));
                        return;
                    }
                };
                let identity = identity_from_peer_certs(tls.get_ref().1.peer_certificates());
                let identity = match identity {
                    Ok(id) => id,
                    Err(e) => {
                        let _ = tx.send(Err(format!("identity: {e}")));
                        return;
                    }
                };
                // Read the request head (or EOF), then answer with the identity.
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                let read_head = async {
                    loop {
                        match tls.read(&mut chunk).await {
                            Ok(0) => return Ok(()),
                            Ok(n) => {
                                buf.extend_from_slice(&chunk[..n]);
                                if buf.windows(4).any(|w| w == b"\r\n\r\n") {
                                    return Ok(());
                                }
                            }
                            Err(e) => return Err(e),
                        }
                    }
                };
                match tokio::time::timeout(Duration::from_secs(5), read_head).await {
                    Ok(Ok(())) => {}
                    // TLS 1.3: a refused client certificate surfaces here.
                    Ok(Err(e)) => {
                        let _ = tx.send(Err(e.to_string()));
                        return;
                    }
                    Err(_) => {}
                }
                let body = serde_json::to_string(&identity).unwrap();
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(resp.as_bytes()).await;
                let _ = tls.shutdown().await;
                let _ = tx.send(Ok(identity));
            });
        }
    });
    TestServer { port, seen: rx }
}

/// Connects with `client_config(opts)` as `server_name`, sends a GET and
/// returns the response body, or the error text.
pub async fn fetch(port: u16, server_name: &str, opts: &ClientTls) -> Result<String, String> {
    let config = client_config(opts).map_err(|e| e.to_string())?;
    let connector = TlsConnector::from(config);
    let tcp = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| e.to_string())?;
    let name = rustls::pki_types::ServerName::try_from(server_name.to_string()).unwrap();
    let mut tls = connector
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    tls.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    tls.read_to_end(&mut out).await.map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out).into_owned();
    text.split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .ok_or_else(|| format!("no HTTP response: {text:?}"))
}

/// Writes `contents` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}
