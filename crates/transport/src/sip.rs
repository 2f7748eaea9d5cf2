//! Sending a SIP NOTIFY to a phone (R-RULE-6), as a PBX does to make a
//! phone resync: `NOTIFY` with `Event: check-sync` (optionally
//! `;reboot=true`, or a `<…Execute>` XML body) to the phone's contact, over
//! UDP, TCP or TLS; one non-INVITE client transaction (RFC 3261 §17.1.2).
//!
//! * UDP: retransmission with timer E (T1 = 500 ms, doubling to T2 = 4 s;
//!   after a provisional answer every T2) until a final answer or timer F
//!   (64·T1 = 32 s).
//! * TCP / TLS: one connection, no retransmission, timer F as the limit;
//!   answers are framed by `Content-Length`.
//! * A 401/407 challenge is answered once with Digest
//!   (`phoneprov-httpauth`, the same client code as HTTP) when credentials
//!   are given; otherwise it is the final answer.
//!
//! [`SipConn`] is the wire alone (open, send, receive one message), for a
//! caller whose transaction and timers are elsewhere: the phone's
//! REGISTER (`phoneprov_phone::register`, R-SEC-3), whose sans-IO machine
//! retransmits on its own clock; a failed handshake is
//! [`SipSendError::Tls`].
//!
//! The messages are `phoneprov_phone::sip`'s (one SIP parser and writer
//! for both sides).

use std::sync::Arc;
use std::time::Duration;

use phoneprov_httpauth::Credentials;
use phoneprov_phone::sip::{message_len, SipRequest, SipResponse, MAX_MESSAGE};
use rand::Rng;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// RFC 3261 timer T1.
pub const SIP_T1: Duration = Duration::from_millis(500);
/// RFC 3261 timer T2.
pub const SIP_T2: Duration = Duration::from_secs(4);

/// How a NOTIFY travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SipTransportKind {
    Udp,
    Tcp,
    Tls,
}

impl SipTransportKind {
    fn via(self) -> &'static str {
        match self {
            SipTransportKind::Udp => "UDP",
            SipTransportKind::Tcp => "TCP",
            SipTransportKind::Tls => "TLS",
        }
    }
}

/// A phone's SIP contact: `sip:[user@]host[:port][;transport=udp|tcp|tls]`
/// or `sips:` (TLS, port 5061).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipContact {
    pub user: Option<String>,
    pub host: String,
    pub port: u16,
    pub transport: SipTransportKind,
}

/// Why a NOTIFY got no final answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SipSendError {
    #[error("bad SIP contact {0:?}; give sip:USER@HOST[:PORT][;transport=udp|tcp|tls] or sips:USER@HOST[:PORT]")]
    BadContact(String),
    #[error("cannot reach {0}; check the address and that the phone listens for SIP there")]
    Network(String),
    #[error("no final answer from {0} within {1:?} (RFC 3261 timer F); the phone is off, unreachable or ignores SIP")]
    Timeout(String, Duration),
    #[error("the answer from {0} is not SIP: {1}")]
    BadAnswer(String, String),
    #[error("SIP over TLS needs the trusted CA (a TLS client configuration)")]
    NoTls,
    #[error("TLS handshake with {0} failed: {1}")]
    Tls(String, String),
}

impl SipContact {
    /// Parses a contact; the `<…>` of a `Contact:` header value is accepted.
    pub fn parse(text: &str) -> Result<SipContact, SipSendError> {
        let bad = || SipSendError::BadContact(text.to_string());
        let t = text.trim().trim_start_matches('<');
        let t = t.split('>').next().unwrap_or_default();
        let (secure, rest) = if let Some(r) = strip_ci(t, "sips:") {
            (true, r)
        } else if let Some(r) = strip_ci(t, "sip:") {
            (false, r)
        } else {
            return Err(bad());
        };
        let mut parts = rest.split(';');
        let addr = parts.next().unwrap_or_default();
        let mut transport = if secure {
            SipTransportKind::Tls
        } else {
            SipTransportKind::Udp
        };
        for p in parts {
            if let Some(v) = strip_ci(p.trim(), "transport=") {
                transport = match v.to_ascii_lowercase().as_str() {
                    "udp" if !secure => SipTransportKind::Udp,
                    "tcp" if !secure => SipTransportKind::Tcp,
                    "tls" | "tcp" => SipTransportKind::Tls,
                    _ => return Err(bad()),
                };
            }
        }
        let (user, hostport) = match addr.rsplit_once('@') {
            Some((u, h)) if !u.is_empty() => (Some(u.to_string()), h),
            Some(_) => return Err(bad()),
            None => (None, addr),
        };
        let default_port = if transport == SipTransportKind::Tls {
            5061
        } else {
            5060
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, rest) = v6.split_once(']').ok_or_else(bad)?;
            let port = match rest.strip_prefix(':') {
                Some(p) => p.parse().map_err(|_| bad())?,
                None if rest.is_empty() => default_port,
                None => return Err(bad()),
            };
            (h.to_string(), port)
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), p.parse().map_err(|_| bad())?),
                None => (hostport.to_string(), default_port),
            }
        };
        if host.is_empty() || host.contains(['/', ' ', '@']) {
            return Err(bad());
        }
        Ok(SipContact {
            user,
            host,
            port,
            transport,
        })
    }

    /// The Request-URI.
    pub fn uri(&self) -> String {
        let scheme = if self.transport == SipTransportKind::Tls {
            "sips"
        } else {
            "sip"
        };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match &self.user {
            Some(u) => format!("{scheme}:{u}@{host}:{}", self.port),
            None => format!("{scheme}:{host}:{}", self.port),
        }
    }

    fn target(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

fn strip_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    (s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix))
        .then(|| &s[prefix.len()..])
}

/// What to send.
#[derive(Clone, Default)]
pub struct NotifyOptions {
    /// The `Event` value: `check-sync`, `check-sync;reboot=true`, `resync`.
    pub event: String,
    /// A body and its `Content-Type` (the `<…Execute>` object).
    pub body: Option<(String, Vec<u8>)>,
    /// Answers a 401/407 challenge (once).
    pub credentials: Option<Credentials>,
    /// For `sips:` / `transport=tls`.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Timer T1 (default [`SIP_T1`]); timer F is 64·T1.
    pub t1: Option<Duration>,
}

/// The phone's final answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyOutcome {
    pub code: u16,
    pub reason: String,
    /// NOTIFYs sent on the wire, retransmissions included.
    pub transmissions: u32,
    /// A challenge was answered.
    pub authenticated: bool,
}

/// One NOTIFY transaction (two with a challenge); see the module docs.
pub async fn send_notify(
    contact: &SipContact,
    opts: &NotifyOptions,
) -> Result<NotifyOutcome, SipSendError> {
    let body = opts.body.as_ref().map(|b| b.1.as_slice()).unwrap_or(b"");
    let ask = Ask {
        method: "NOTIFY",
        uri: contact.uri(),
        credentials: opts.credentials.as_ref(),
        tls: opts.tls.clone(),
        t1: opts.t1.unwrap_or(SIP_T1),
        body,
    };
    run_transaction(contact, &ask, |local, call_id, tag, cseq, auth| {
        notify(contact, opts, local, call_id, tag, cseq, auth)
    })
    .await
}

/// What one client transaction needs besides its request.
struct Ask<'a> {
    method: &'static str,
    /// The Request-URI (the Digest `uri`).
    uri: String,
    credentials: Option<&'a Credentials>,
    tls: Option<Arc<rustls::ClientConfig>>,
    t1: Duration,
    body: &'a [u8],
}

/// A header to add (the Digest answer).
type AuthHeader = (&'static str, String);

/// Opens the connection and runs the transaction of `build`'s request,
/// answering one 401/407 challenge when credentials are given.
async fn run_transaction(
    contact: &SipContact,
    ask: &Ask<'_>,
    build: impl Fn(&str, &str, &str, u32, Option<&AuthHeader>) -> SipRequest,
) -> Result<NotifyOutcome, SipSendError> {
    let mut conn = SipConn::open(contact, ask.tls.clone(), 64 * ask.t1).await?;
    let local = conn.local.clone();
    let call_id = format!("{:016x}@{}", rand::thread_rng().gen::<u64>(), local);
    let tag = format!("{:08x}", rand::thread_rng().gen::<u32>());
    let mut transmissions = 0;
    let mut auth: Option<AuthHeader> = None;
    for cseq in 1..=2u32 {
        let req = build(&local, &call_id, &tag, cseq, auth.as_ref());
        let (resp, sent) = conn.transaction(&req, ask.t1).await?;
        transmissions += sent;
        if let (Some(creds), 1) = (ask.credentials, cseq) {
            let cnonce = format!("{:016x}", rand::thread_rng().gen::<u64>());
            if let Some(a) = resp.digest_answer(creds, ask.method, &ask.uri, ask.body, &cnonce) {
                auth = Some(a);
                continue;
            }
        }
        return Ok(NotifyOutcome {
            code: resp.code,
            reason: resp.reason,
            transmissions,
            authenticated: auth.is_some(),
        });
    }
    unreachable!("the second round always returns")
}

/// The `Via` of a request from `local`.
fn via(contact: &SipContact, local: &str) -> String {
    let branch = format!("z9hG4bK{:016x}", rand::thread_rng().gen::<u64>());
    format!(
        "SIP/2.0/{} {local};branch={branch};rport",
        contact.transport.via()
    )
}

fn notify(
    contact: &SipContact,
    opts: &NotifyOptions,
    local: &str,
    call_id: &str,
    tag: &str,
    cseq: u32,
    auth: Option<&AuthHeader>,
) -> SipRequest {
    let uri = contact.uri();
    let mut headers = vec![
        ("Via".to_string(), via(contact, local)),
        ("Max-Forwards".into(), "70".into()),
        ("From".into(), format!("<sip:phoneprov@{local}>;tag={tag}")),
        ("To".into(), format!("<{uri}>")),
        ("Call-ID".into(), call_id.to_string()),
        ("CSeq".into(), format!("{cseq} NOTIFY")),
        ("Contact".into(), format!("<sip:phoneprov@{local}>")),
        ("Event".into(), opts.event.clone()),
        (
            "Subscription-State".into(),
            "terminated;reason=timeout".into(),
        ),
        ("User-Agent".into(), "phoneprov".into()),
    ];
    if let Some((name, value)) = auth {
        headers.push((name.to_string(), value.clone()));
    }
    let mut body = Vec::new();
    if let Some((ct, b)) = &opts.body {
        headers.push(("Content-Type".into(), ct.clone()));
        body = b.clone();
    }
    SipRequest {
        method: "NOTIFY".into(),
        uri,
        headers,
        body,
    }
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

enum Wire {
    Udp(UdpSocket),
    Stream(Box<dyn Stream>, Vec<u8>),
}

/// An I/O error of a flow: a TLS alert after the handshake (TLS 1.3
/// servers check the client certificate then: `CertificateRequired`,
/// `UnknownCA`…) is [`SipSendError::Tls`], the rest network errors.
fn stream_error(target: &str, e: std::io::Error) -> SipSendError {
    match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        Some(tls) => SipSendError::Tls(target.to_string(), tls.to_string()),
        None => SipSendError::Network(format!("{target}: {e}")),
    }
}

/// One flow to a SIP peer: a connected UDP socket, or a TCP connection
/// (TLS inside when asked), with the stream's framing buffer.
pub struct SipConn {
    wire: Wire,
    /// `ip:port` of this side (Via, From, Call-ID).
    local: String,
    target: String,
}

impl SipConn {
    /// Opens the flow to `contact`'s host and port over its transport;
    /// `connect_timeout` bounds the TCP connection and the TLS handshake.
    /// TLS needs `tls` (trust, name validation, client certificate); the
    /// certificate must name `contact.host` unless the configuration
    /// says otherwise.
    pub async fn open(
        contact: &SipContact,
        tls: Option<Arc<rustls::ClientConfig>>,
        connect_timeout: Duration,
    ) -> Result<SipConn, SipSendError> {
        let target = contact.target();
        let net = |e: std::io::Error| SipSendError::Network(format!("{target}: {e}"));
        let addr = tokio::net::lookup_host(&target)
            .await
            .map_err(net)?
            .next()
            .ok_or_else(|| SipSendError::Network(format!("{target}: no address")))?;
        match contact.transport {
            SipTransportKind::Udp => {
                let bind = if addr.is_ipv6() {
                    "[::]:0"
                } else {
                    "0.0.0.0:0"
                };
                let s = UdpSocket::bind(bind).await.map_err(net)?;
                s.connect(addr).await.map_err(net)?;
                let local = s.local_addr().map_err(net)?.to_string();
                Ok(SipConn {
                    wire: Wire::Udp(s),
                    local,
                    target,
                })
            }
            SipTransportKind::Tcp | SipTransportKind::Tls => {
                let f = connect_timeout;
                let timeout = || SipSendError::Timeout(target.clone(), f);
                let tcp = tokio::time::timeout(f, TcpStream::connect(addr))
                    .await
                    .map_err(|_| timeout())?
                    .map_err(net)?;
                let local = tcp.local_addr().map_err(net)?.to_string();
                let stream: Box<dyn Stream> = if contact.transport == SipTransportKind::Tls {
                    let cfg = tls.ok_or(SipSendError::NoTls)?;
                    let name = rustls::pki_types::ServerName::try_from(contact.host.clone())
                        .map_err(|e| SipSendError::BadContact(format!("{}: {e}", contact.host)))?;
                    let connect = tokio_rustls::TlsConnector::from(cfg).connect(name, tcp);
                    let tls = tokio::time::timeout(f, connect)
                        .await
                        .map_err(|_| timeout())?
                        .map_err(|e| SipSendError::Tls(target.clone(), e.to_string()))?;
                    Box::new(tls)
                } else {
                    Box::new(tcp)
                };
                Ok(SipConn {
                    wire: Wire::Stream(stream, Vec::new()),
                    local,
                    target,
                })
            }
        }
    }

    /// This side's `ip:port`.
    pub fn local(&self) -> &str {
        &self.local
    }

    /// Sends one message (a datagram, or bytes on the stream).
    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), SipSendError> {
        let target = &self.target;
        let net = |e: std::io::Error| stream_error(target, e);
        match &mut self.wire {
            Wire::Udp(s) => s.send(bytes).await.map(drop).map_err(net),
            Wire::Stream(s, _) => s.write_all(bytes).await.map_err(net),
        }
    }

    /// The next message: one datagram (an ICMP error is skipped: the
    /// caller's timers decide), or one message framed from the stream by
    /// `Content-Length` (keep-alive CRLFs skipped). Cancel-safe: a
    /// message is never lost to a dropped call.
    pub async fn recv(&mut self) -> Result<Vec<u8>, SipSendError> {
        let target = &self.target;
        let net = |e: std::io::Error| stream_error(target, e);
        match &mut self.wire {
            Wire::Udp(s) => {
                let mut buf = vec![0u8; MAX_MESSAGE + 1];
                loop {
                    if let Ok(n) = s.recv(&mut buf).await {
                        buf.truncate(n);
                        return Ok(buf);
                    }
                }
            }
            Wire::Stream(s, buf) => {
                let mut chunk = [0u8; 4096];
                loop {
                    while let Some(n) = message_len(buf)
                        .map_err(|e| SipSendError::BadAnswer(target.clone(), e.to_string()))?
                    {
                        let msg: Vec<u8> = buf.drain(..n).collect();
                        let trimmed = msg.trim_ascii_start();
                        if !trimmed.is_empty() {
                            return Ok(trimmed.to_vec());
                        }
                    }
                    let n = s.read(&mut chunk).await.map_err(net)?;
                    if n == 0 {
                        return Err(SipSendError::Network(format!(
                            "{target}: the connection closed"
                        )));
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
            }
        }
    }

    /// Sends `req` until a final answer (retransmitting over UDP); the
    /// answer and how many times the request went out.
    async fn transaction(
        &mut self,
        req: &SipRequest,
        t1: Duration,
    ) -> Result<(SipResponse, u32), SipSendError> {
        let bytes = req.to_bytes();
        let f = 64 * t1;
        let deadline = tokio::time::Instant::now() + f;
        let cseq = req.header("CSeq").unwrap_or_default().to_string();
        let udp = matches!(self.wire, Wire::Udp(_));
        let mut sent = 0u32;
        let mut e = t1;
        let mut next = tokio::time::Instant::now();
        loop {
            if (udp || sent == 0) && tokio::time::Instant::now() >= next {
                self.send(&bytes).await?;
                sent += 1;
                next = tokio::time::Instant::now() + e;
                e = (e * 2).min(SIP_T2);
            }
            let wake = if udp { next.min(deadline) } else { deadline };
            let msg = tokio::select! {
                r = self.recv() => r?,
                _ = tokio::time::sleep_until(wake) => {
                    if tokio::time::Instant::now() >= deadline {
                        return Err(SipSendError::Timeout(self.target.clone(), f));
                    }
                    continue;
                }
            };
            let resp = match SipResponse::parse(&msg) {
                Ok(r) => r,
                Err(_) if udp => continue, // a stray datagram
                Err(e) => return Err(SipSendError::BadAnswer(self.target.clone(), e.to_string())),
            };
            if resp.header("CSeq") != Some(cseq.as_str()) {
                continue; // an answer to an earlier request
            }
            if resp.code >= 200 {
                return Ok((resp, sent));
            }
            if udp {
                // Provisional: from now on retransmit every T2.
                e = SIP_T2;
                next = tokio::time::Instant::now() + SIP_T2;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contacts() {
        let c = SipContact::parse("sip:000e08abcdef@192.0.2.7:5070;transport=tcp").unwrap();
        assert_eq!(c.transport, SipTransportKind::Tcp);
        assert_eq!((c.host.as_str(), c.port), ("192.0.2.7", 5070));
        assert_eq!(c.uri(), "sip:000e08abcdef@192.0.2.7:5070");
        let c = SipContact::parse("<sips:phone@[2001:db8::1]>").unwrap();
        assert_eq!((c.transport, c.port), (SipTransportKind::Tls, 5061));
        assert_eq!(c.uri(), "sips:phone@[2001:db8::1]:5061");
        assert_eq!(SipContact::parse("sip:h").unwrap().port, 5060);
        for bad in [
            "http://x",
            "sip:",
            "sip:@h",
            "sip:h:port",
            "sip:h;transport=sctp",
        ] {
            assert!(SipContact::parse(bad).is_err(), "{bad}");
        }
    }
}
