//! HTTP/1.1 requests, each over a fresh connection or a session's kept one:
//! hyper's client connection
//! (`hyper::client::conn::http1`) over a tokio `TcpStream`, optionally
//! wrapped in tokio-rustls, optionally through a manual HTTP proxy
//! (R-SEC-4: absolute-form requests for `http`, a `CONNECT` tunnel for
//! `https`, `Proxy-Authorization: Basic`).
//!
//! Deliberately *not* done here (the resync engine decides): following
//! redirects, answering 401/407, retrying. [`HttpClient::send`] sends
//! `Connection: close` unless the caller sets its own, because phones do
//! not keep connections for profile fetches; [`HttpSession`] keeps one for
//! a series of requests (a TR-069 CWMP session).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::Uri;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::{Resolver, TransportError};

/// What to fetch.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HttpRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// Absolute `http://` or `https://` URL.
    pub url: String,
    /// Headers to send as given (e.g. `User-Agent`, `Authorization`).
    pub headers: Vec<(String, String)>,
    /// Request body (sent with `Content-Length` when not empty).
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// A request with no headers and no body.
    pub fn new(method: &str, url: &str) -> HttpRequest {
        HttpRequest {
            method: method.to_string(),
            url: url.to_string(),
            ..HttpRequest::default()
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> HttpRequest {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// Sets the body.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> HttpRequest {
        self.body = body.into();
        self
    }
}

/// What came back, raw: any status, no redirect followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Headers in arrival order, names lowercase.
    pub headers: Vec<(String, String)>,
    /// Body (decoded from chunked framing, not from content encodings).
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// First value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of header `name`, e.g. several `WWW-Authenticate`.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// A manual HTTP proxy (`Proxy_Host`, `Proxy_Port`, R-SEC-4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxy {
    /// Proxy host.
    pub host: String,
    /// Proxy port (phones default to 3128).
    pub port: u16,
    /// `Proxy_Username` / `Proxy_Password` when
    /// `Proxy_Server_Requires_Authentication` is Yes.
    pub basic_auth: Option<(String, String)>,
}

impl Proxy {
    fn authorization(&self) -> Option<String> {
        self.basic_auth.as_ref().map(|(u, p)| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            )
        })
    }
}

/// Client settings.
#[derive(Clone)]
pub struct HttpClientConfig {
    /// TLS for `https` (from `phoneprov_pki::client_config`).
    pub tls: Arc<rustls::ClientConfig>,
    /// Manual proxy, if any.
    pub proxy: Option<Proxy>,
    /// Per-address connect timeout.
    pub connect_timeout: Duration,
    /// Whole-request timeout (connect, TLS, request and body).
    pub request_timeout: Duration,
    /// Largest body accepted.
    pub max_body: usize,
    /// DNS.
    pub resolver: Resolver,
}

impl HttpClientConfig {
    /// Defaults: no proxy, 10 s connect, 60 s request, 16 MiB body, system DNS.
    pub fn new(tls: Arc<rustls::ClientConfig>) -> HttpClientConfig {
        HttpClientConfig {
            tls,
            proxy: None,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            max_body: 16 << 20,
            resolver: Resolver::system(),
        }
    }
}

/// Executes single HTTP requests. Cheap to clone.
#[derive(Clone)]
pub struct HttpClient {
    config: Arc<HttpClientConfig>,
}

/// Parts of a request URL.
struct Target {
    https: bool,
    host: String,
    port: u16,
    /// `host[:port]` for `Host` and `CONNECT` (IPv6 in brackets).
    authority: String,
    path_and_query: String,
}

fn parse_url(url: &str) -> Result<Target, TransportError> {
    let uri: Uri = url
        .parse()
        .map_err(|e| TransportError::BadUrl(format!("{url:?} is not a valid URL ({e})")))?;
    let https = match uri.scheme_str().map(str::to_ascii_lowercase).as_deref() {
        Some("http") => false,
        Some("https") => true,
        _ => {
            return Err(TransportError::BadUrl(format!(
                "{url:?}: only http:// and https:// URLs can be fetched over HTTP"
            )))
        }
    };
    let host = uri
        .host()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| TransportError::BadUrl(format!("{url:?} has no host")))?;
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let bare = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let authority = if bare.contains(':') {
        format!("[{bare}]:{port}")
    } else {
        format!("{bare}:{port}")
    };
    let path_and_query = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "/".to_string());
    Ok(Target {
        https,
        host: bare,
        port,
        authority,
        path_and_query,
    })
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

impl HttpClient {
    /// A client with these settings.
    pub fn new(config: HttpClientConfig) -> HttpClient {
        HttpClient {
            config: Arc::new(config),
        }
    }

    /// The settings.
    pub fn config(&self) -> &HttpClientConfig {
        &self.config
    }

    /// Sends one request and returns whatever status came back.
    pub async fn send(&self, req: HttpRequest) -> Result<HttpResponse, TransportError> {
        self.send_inner(req, None).await
    }

    /// Like [`send`](Self::send), but validates the HTTPS certificate (and
    /// sends SNI) for `server_name` instead of the URL's host: after DNS SRV
    /// the URL names the target while the certificate names the original
    /// domain (R-SRV-4).
    pub async fn send_with_server_name(
        &self,
        req: HttpRequest,
        server_name: &str,
    ) -> Result<HttpResponse, TransportError> {
        self.send_inner(req, Some(server_name)).await
    }

    async fn send_inner(
        &self,
        req: HttpRequest,
        server_name: Option<&str>,
    ) -> Result<HttpResponse, TransportError> {
        tokio::time::timeout(self.config.request_timeout, self.exchange(req, server_name))
            .await
            .map_err(|_| TransportError::Timeout)?
    }

    async fn exchange(
        &self,
        req: HttpRequest,
        server_name: Option<&str>,
    ) -> Result<HttpResponse, TransportError> {
        let url = req.url.clone();
        let (target, request) = self.prepare(req, false)?;
        let io = match self.open(&target, server_name).await? {
            Ok(io) => io,
            Err(refused) => return Ok(refused),
        };
        let (mut sender, conn_task) = handshake(io).await?;
        let result = round_trip(&mut sender, request, &url, self.config.max_body).await;
        conn_task.abort();
        result
    }

    /// Whether requests to `target` go to a plain-HTTP proxy in absolute
    /// form (`GET http://host/path`).
    fn absolute_form(&self, target: &Target) -> bool {
        self.config.proxy.is_some() && !target.https
    }

    /// Parses the URL and builds the hyper request: `Host`, `Connection:
    /// close` unless `keep_alive` or the caller set its own, the proxy's
    /// credentials for absolute-form requests, then the caller's headers.
    fn prepare(
        &self,
        req: HttpRequest,
        keep_alive: bool,
    ) -> Result<(Target, hyper::Request<Full<Bytes>>), TransportError> {
        let target = parse_url(&req.url)?;
        let absolute_form = self.absolute_form(&target);
        let request_target = if absolute_form {
            format!("http://{}{}", target.authority, target.path_and_query)
        } else {
            target.path_and_query.clone()
        };
        let mut builder = hyper::Request::builder()
            .method(req.method.as_str())
            .uri(request_target);
        let has = |name: &str| {
            req.headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(name))
        };
        if !has("host") {
            let default_port = if target.https { 443 } else { 80 };
            let host = if target.port == default_port {
                target
                    .authority
                    .rsplit_once(':')
                    .map(|(h, _)| h)
                    .unwrap_or_default()
            } else {
                target.authority.as_str()
            };
            builder = builder.header("host", host);
        }
        if !keep_alive && !has("connection") {
            builder = builder.header("connection", "close");
        }
        if absolute_form {
            if let Some(auth) = self.config.proxy.as_ref().and_then(Proxy::authorization) {
                builder = builder.header("proxy-authorization", auth);
            }
        }
        for (n, v) in &req.headers {
            builder = builder.header(n.as_str(), v.as_str());
        }
        let request = builder
            .body(Full::new(Bytes::from(req.body)))
            .map_err(|e| {
                TransportError::BadUrl(format!(
                    "{}: cannot build the request (invalid method or header: {e}); fix the request",
                    req.url
                ))
            })?;
        Ok((target, request))
    }

    /// Opens the byte stream for `target`: TCP to the origin or the proxy,
    /// a `CONNECT` tunnel for `https` through a proxy, then TLS for
    /// `https`. `Ok(Err(resp))`: the proxy refused the tunnel.
    async fn open(
        &self,
        target: &Target,
        server_name: Option<&str>,
    ) -> Result<Result<Box<dyn Io>, HttpResponse>, TransportError> {
        let cfg = &self.config;
        let (connect_host, connect_port) = match &cfg.proxy {
            Some(p) => (p.host.as_str(), p.port),
            None => (target.host.as_str(), target.port),
        };
        let mut tcp = self.connect(connect_host, connect_port).await?;
        if !target.https {
            return Ok(Ok(Box::new(tcp)));
        }
        if let Some(p) = &cfg.proxy {
            if let Some(resp) = connect_tunnel(&mut tcp, p, &target.authority).await? {
                return Ok(Err(resp));
            }
        }
        let tls = self.tls(tcp, server_name.unwrap_or(&target.host)).await?;
        Ok(Ok(Box::new(tls)))
    }

    /// A session: requests that keep one connection open between them.
    pub fn session(&self) -> HttpSession {
        HttpSession {
            client: self.clone(),
            conn: None,
            connections: 0,
        }
    }

    /// Connects to `host:port`, trying each address in turn (R-HTTPS-6).
    async fn connect(&self, host: &str, port: u16) -> Result<TcpStream, TransportError> {
        let addrs = self.config.resolver.lookup_host(host, port).await?;
        connect_any(&addrs, self.config.connect_timeout)
            .await
            .map_err(|tried| TransportError::Connect(format!("{host}: {tried}")))
    }

    async fn tls(
        &self,
        tcp: TcpStream,
        server_name: &str,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>, TransportError> {
        let name = ServerName::try_from(server_name.to_string()).map_err(|e| {
            TransportError::BadUrl(format!(
                "{server_name:?} is not a valid TLS server name ({e})"
            ))
        })?;
        TlsConnector::from(self.config.tls.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| TransportError::Tls(format!("{server_name}: {e}")))
    }
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

/// hyper's HTTP/1.1 client handshake over `io`; the connection runs in a
/// task of its own until the returned handle is aborted or it ends.
async fn handshake(
    io: Box<dyn Io>,
) -> Result<(Sender, tokio::task::JoinHandle<()>), TransportError> {
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| TransportError::Protocol(e.to_string()))?;
    let task = tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok((sender, task))
}

/// Sends `request` on `sender` and reads the whole response.
async fn round_trip(
    sender: &mut Sender,
    request: hyper::Request<Full<Bytes>>,
    url: &str,
    max_body: usize,
) -> Result<HttpResponse, TransportError> {
    let resp = sender
        .send_request(request)
        .await
        .map_err(|e| TransportError::Protocol(format!("{url}: {e}")))?;
    read_response(resp, url, max_body).await
}

async fn read_response(
    resp: hyper::Response<hyper::body::Incoming>,
    url: &str,
    max_body: usize,
) -> Result<HttpResponse, TransportError> {
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = Limited::new(resp.into_body(), max_body)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                TransportError::TooLarge
            } else {
                TransportError::Protocol(format!("{url}: body: {e}"))
            }
        })?
        .to_bytes()
        .to_vec();
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

/// A series of requests over one kept-alive HTTP/1.1 connection, as a
/// TR-069 CPE holds one TCP connection for a whole CWMP session (TR-069
/// 3.4.1), while [`HttpClient::send`] opens a connection per request as
/// phones do for profiles.
///
/// The connection is opened at the first request and again whenever the
/// origin changes, the server closed it (`Connection: close`, idle
/// timeout) or a request failed. A request is sent again on a fresh
/// connection only when hyper did not send it at all (the server closed
/// the idle connection first), so a POST is never delivered twice.
pub struct HttpSession {
    client: HttpClient,
    conn: Option<SessionConn>,
    connections: u32,
}

struct SessionConn {
    /// `https`, authority and TLS name: what a reused connection must match.
    origin: (bool, String, Option<String>),
    sender: Sender,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SessionConn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HttpSession {
    /// Sends `req` on the session's connection (opening one if needed).
    pub async fn send(&mut self, req: HttpRequest) -> Result<HttpResponse, TransportError> {
        self.send_with(req, None).await
    }

    /// Like [`send`](Self::send), validating the certificate for
    /// `server_name` (see [`HttpClient::send_with_server_name`]).
    pub async fn send_with_server_name(
        &mut self,
        req: HttpRequest,
        server_name: &str,
    ) -> Result<HttpResponse, TransportError> {
        self.send_with(req, Some(server_name)).await
    }

    /// Connections opened so far (1 for a session that kept its
    /// connection).
    pub fn connections(&self) -> u32 {
        self.connections
    }

    async fn send_with(
        &mut self,
        req: HttpRequest,
        server_name: Option<&str>,
    ) -> Result<HttpResponse, TransportError> {
        let timeout = self.client.config.request_timeout;
        let result = tokio::time::timeout(timeout, self.exchange(req, server_name))
            .await
            .map_err(|_| TransportError::Timeout)
            .and_then(|r| r);
        if result.is_err() {
            self.conn = None;
        }
        result
    }

    async fn exchange(
        &mut self,
        req: HttpRequest,
        server_name: Option<&str>,
    ) -> Result<HttpResponse, TransportError> {
        let max_body = self.client.config.max_body;
        let url = req.url.clone();
        let (target, mut request) = self.client.prepare(req, true)?;
        let origin = (
            target.https,
            target.authority.clone(),
            server_name.map(str::to_string),
        );
        // At most one resend: on a fresh connection, after the reused one
        // turned out closed before the request went out.
        for _ in 0..2 {
            let reusable = self
                .conn
                .as_ref()
                .is_some_and(|c| c.origin == origin && !c.sender.is_closed());
            if !reusable {
                self.conn = None;
                let io = match self.client.open(&target, server_name).await? {
                    Ok(io) => io,
                    Err(refused) => return Ok(refused),
                };
                let (sender, task) = handshake(io).await?;
                self.connections += 1;
                self.conn = Some(SessionConn {
                    origin: origin.clone(),
                    sender,
                    task,
                });
            }
            let conn = self.conn.as_mut().expect("set above");
            if conn.sender.ready().await.is_err() {
                self.conn = None;
                continue;
            }
            match conn.sender.try_send_request(request).await {
                Ok(resp) => {
                    let out = read_response(resp, &url, max_body).await?;
                    let closing = out
                        .header("connection")
                        .is_some_and(|v| v.eq_ignore_ascii_case("close"));
                    if closing {
                        self.conn = None;
                    }
                    return Ok(out);
                }
                Err(mut e) => match e.take_message() {
                    Some(unsent) if reusable => {
                        request = unsent;
                        self.conn = None;
                    }
                    _ => {
                        return Err(TransportError::Protocol(format!(
                            "{url}: {}",
                            e.into_error()
                        )))
                    }
                },
            }
        }
        Err(TransportError::Protocol(format!(
            "{url}: the connection closed before the request could be sent"
        )))
    }
}

/// Tries `addrs` in order; on failure the text lists every address and why.
pub(crate) async fn connect_any(
    addrs: &[SocketAddr],
    timeout: Duration,
) -> Result<TcpStream, String> {
    let mut tried = Vec::new();
    for addr in addrs {
        match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => {
                let _ = s.set_nodelay(true);
                if !tried.is_empty() {
                    tracing::info!(%addr, failed = ?tried, "connected after trying other addresses");
                }
                return Ok(s);
            }
            Ok(Err(e)) => tried.push(format!("{addr} ({e})")),
            Err(_) => tried.push(format!("{addr} (timed out after {timeout:?})")),
        }
    }
    Err(format!("tried {}", tried.join(", ")))
}

/// Sends `CONNECT authority` and reads the proxy's answer. `Ok(None)`: the
/// tunnel is open. `Ok(Some(resp))`: the proxy refused (e.g. 407), returned
/// as a response for the engine to classify.
async fn connect_tunnel(
    tcp: &mut TcpStream,
    proxy: &Proxy,
    authority: &str,
) -> Result<Option<HttpResponse>, TransportError> {
    let mut head = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
    if let Some(auth) = proxy.authorization() {
        head.push_str(&format!("Proxy-Authorization: {auth}\r\n"));
    }
    head.push_str("\r\n");
    let proto = |e: std::io::Error| {
        TransportError::Protocol(format!("proxy {}:{}: {e}", proxy.host, proxy.port))
    };
    tcp.write_all(head.as_bytes()).await.map_err(proto)?;
    // Read byte by byte up to the blank line, so no tunnel byte is consumed.
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if buf.len() > 16 * 1024 {
            return Err(TransportError::Protocol(
                "proxy CONNECT answer head too long".into(),
            ));
        }
        if tcp.read(&mut byte).await.map_err(proto)? == 0 {
            return Err(TransportError::Protocol(format!(
                "proxy {}:{} closed the connection during CONNECT",
                proxy.host, proxy.port
            )));
        }
        buf.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&buf);
    let mut lines = text.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| TransportError::Protocol(format!("proxy sent no status line: {text:?}")))?;
    if (200..300).contains(&status) {
        return Ok(None);
    }
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Ok(Some(HttpResponse {
        status,
        headers,
        body: Vec::new(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = parse_url("https://pv.example.com/cfg/a.xml?x=1").unwrap();
        assert!(t.https);
        assert_eq!((t.host.as_str(), t.port), ("pv.example.com", 443));
        assert_eq!(t.path_and_query, "/cfg/a.xml?x=1");
        let t = parse_url("http://[::1]:8080").unwrap();
        assert_eq!(t.host, "::1");
        assert_eq!(t.authority, "[::1]:8080");
        assert_eq!(t.path_and_query, "/");
        assert!(matches!(
            parse_url("tftp://h/x"),
            Err(TransportError::BadUrl(_))
        ));
        assert!(matches!(
            parse_url("not a url"),
            Err(TransportError::BadUrl(_))
        ));
    }
}
