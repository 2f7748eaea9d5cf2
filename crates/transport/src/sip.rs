//! Sending a SIP NOTIFY to a phone (R-RULE-6), as a PBX does to make a
//! phone resync: `NOTIFY` with `Event: check-sync` (optionally
//! `;reboot=true`, or a `<…Execute>` XML body) to the phone's contact, over
//! UDP, TCP or TLS; one non-INVITE client transaction (RFC 3261 §17.1.2),
//! the same sans-IO transaction as the phone's REGISTER
//! ([`phoneprov_phone::sip_txn`]), driven by [`NotifyClient`] on the
//! phone's [`Time`]; [`send_notify`] is its tokio shell (it opens the
//! flow, moves bytes and maps real time to [`Time`]).
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
//! [`SipConn`] is the wire alone (open, send, receive one message), for
//! the shell here and for the phone's REGISTER (`phoneprov_phone::register`, R-SEC-3), whose sans-IO machine
//! retransmits on its own clock; a failed handshake is
//! [`SipSendError::Tls`].
//!
//! The messages are `phoneprov_phone::sip`'s (one SIP parser and writer
//! for both sides).

use std::sync::Arc;
use std::time::Duration;

use phoneprov_httpauth::Credentials;
use phoneprov_phone::sip::{message_len, SipRequest, SipResponse, MAX_MESSAGE};
use phoneprov_phone::sip_txn::{Answer, ClientTransaction, Fired, Timers};
use phoneprov_phone::Time;
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
/// The shell of [`NotifyClient`]: it opens the flow, moves bytes and maps
/// real time (ms since the start) to the machine's [`Time`].
pub async fn send_notify(
    contact: &SipContact,
    opts: &NotifyOptions,
) -> Result<NotifyOutcome, SipSendError> {
    let t1 = opts.t1.unwrap_or(SIP_T1);
    let mut conn = SipConn::open(contact, opts.tls.clone(), 64 * t1).await?;
    let start = tokio::time::Instant::now();
    let now = || Time(start.elapsed().as_millis() as u64);
    let mut m = NotifyClient::new(contact, opts, conn.local(), now(), &mut rand::thread_rng());
    loop {
        while let Some(bytes) = m.poll_transmit() {
            conn.send(&bytes).await?;
        }
        if let Some(outcome) = m.outcome() {
            return outcome;
        }
        let wake = m
            .poll_timeout()
            .map(|t| start + Duration::from_millis(t.as_millis()));
        tokio::select! {
            msg = conn.recv() => m.on_message(&msg?, now(), &mut rand::thread_rng()),
            _ = sleep_until_some(wake) => m.on_timer(now()),
        }
    }
}

/// Sleeps until `at`; forever without one.
async fn sleep_until_some(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The NOTIFY sender's sans-IO machine: builds the NOTIFY, runs its
/// non-INVITE client transaction ([`phoneprov_phone::sip_txn`], the
/// phone's REGISTER uses the same) on [`Time`], and answers one 401/407
/// challenge with Digest in a second transaction (new branch, CSeq 2,
/// [`SipResponse::digest_answer`]). Feed it every message of the flow and
/// every due [`NotifyClient::poll_timeout`]; send what
/// [`NotifyClient::poll_transmit`] gives; [`NotifyClient::outcome`] is the
/// end.
pub struct NotifyClient {
    contact: SipContact,
    event: String,
    body: Option<(String, Vec<u8>)>,
    credentials: Option<Credentials>,
    timers: Timers,
    local: String,
    call_id: String,
    tag: String,
    cseq: u32,
    /// The NOTIFY's transaction (the second one after a challenge).
    txn: Option<ClientTransaction>,
    /// Transmissions of earlier transactions (the challenged one).
    earlier: u32,
    authenticated: bool,
    outbox: Vec<Vec<u8>>,
    done: Option<Result<NotifyOutcome, SipSendError>>,
}

impl NotifyClient {
    /// The first NOTIFY from `local` (this side's `ip:port`) at `now`.
    pub fn new(
        contact: &SipContact,
        opts: &NotifyOptions,
        local: &str,
        now: Time,
        rng: &mut impl Rng,
    ) -> NotifyClient {
        let t1 = opts.t1.unwrap_or(SIP_T1).as_millis() as u64;
        let mut m = NotifyClient {
            contact: contact.clone(),
            event: opts.event.clone(),
            body: opts.body.clone(),
            credentials: opts.credentials.clone(),
            timers: Timers {
                t2: (SIP_T2.as_millis() as u64).max(t1),
                ..Timers::with_t1(t1)
            },
            local: local.to_string(),
            call_id: format!("{:016x}@{local}", rng.gen::<u64>()),
            tag: format!("{:08x}", rng.gen::<u32>()),
            cseq: 0,
            txn: None,
            earlier: 0,
            authenticated: false,
            outbox: Vec::new(),
            done: None,
        };
        m.send(None, now, rng);
        m
    }

    /// A new transaction for the NOTIFY with the next CSeq.
    fn send(&mut self, auth: Option<(&str, String)>, now: Time, rng: &mut impl Rng) {
        self.cseq += 1;
        let req = self.notify(auth, rng);
        let reliable = self.contact.transport != SipTransportKind::Udp;
        let txn = ClientTransaction::start(&req, reliable, self.timers, now);
        self.outbox.push(txn.request().to_vec());
        self.earlier += self
            .txn
            .as_ref()
            .map_or(0, ClientTransaction::transmissions);
        self.txn = Some(txn);
    }

    fn notify(&self, auth: Option<(&str, String)>, rng: &mut impl Rng) -> SipRequest {
        let uri = self.contact.uri();
        let local = &self.local;
        let branch = format!("z9hG4bK{:016x}", rng.gen::<u64>());
        let mut headers = vec![
            (
                "Via".to_string(),
                format!(
                    "SIP/2.0/{} {local};branch={branch};rport",
                    self.contact.transport.via()
                ),
            ),
            ("Max-Forwards".into(), "70".into()),
            (
                "From".into(),
                format!("<sip:phoneprov@{local}>;tag={}", self.tag),
            ),
            ("To".into(), format!("<{uri}>")),
            ("Call-ID".into(), self.call_id.clone()),
            ("CSeq".into(), format!("{} NOTIFY", self.cseq)),
            ("Contact".into(), format!("<sip:phoneprov@{local}>")),
            ("Event".into(), self.event.clone()),
            (
                "Subscription-State".into(),
                "terminated;reason=timeout".into(),
            ),
            ("User-Agent".into(), "phoneprov".into()),
        ];
        if let Some((name, value)) = auth {
            headers.push((name.to_string(), value));
        }
        let mut body = Vec::new();
        if let Some((ct, b)) = &self.body {
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

    /// The next bytes to put on the wire.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        (!self.outbox.is_empty()).then(|| self.outbox.remove(0))
    }

    /// The end: the final answer, or why none came.
    pub fn outcome(&mut self) -> Option<Result<NotifyOutcome, SipSendError>> {
        self.done.take()
    }

    /// When [`NotifyClient::on_timer`] has work.
    pub fn poll_timeout(&self) -> Option<Time> {
        // After the final answer nothing is due (timer K only absorbs
        // the answer's retransmissions, which the shell no longer reads).
        self.txn.as_ref().filter(|t| t.is_pending())?.poll_timeout()
    }

    /// NOTIFYs put on the wire so far, retransmissions included.
    pub fn transmissions(&self) -> u32 {
        self.earlier
            + self
                .txn
                .as_ref()
                .map_or(0, ClientTransaction::transmissions)
    }

    /// Timers E and F due at `now`.
    pub fn on_timer(&mut self, now: Time) {
        match self.txn.as_mut().and_then(|t| t.on_timer(now)) {
            Some(Fired::Retransmit(bytes)) => self.outbox.push(bytes),
            Some(Fired::TimedOut) if self.done.is_none() => {
                self.done = Some(Err(SipSendError::Timeout(
                    self.contact.target(),
                    Duration::from_millis(self.timers.f),
                )));
            }
            _ => {}
        }
    }

    /// A message from the phone: an answer (a stray datagram is dropped;
    /// garbage on a stream ends the transaction).
    pub fn on_message(&mut self, bytes: &[u8], now: Time, rng: &mut impl Rng) {
        if self.done.is_some() {
            return;
        }
        let resp = match SipResponse::parse(bytes) {
            Ok(r) => r,
            Err(_) if self.contact.transport == SipTransportKind::Udp => return,
            Err(e) => {
                self.done = Some(Err(SipSendError::BadAnswer(
                    self.contact.target(),
                    e.to_string(),
                )));
                return;
            }
        };
        if self.txn.as_mut().map(|t| t.on_response(&resp, now)) != Some(Answer::Final) {
            return;
        }
        if let (Some(creds), false) = (&self.credentials, self.authenticated) {
            let cnonce = format!("{:016x}", rng.gen::<u64>());
            let body = self.body.as_ref().map(|b| b.1.as_slice()).unwrap_or(b"");
            let uri = self.contact.uri();
            if let Some(a) = resp.digest_answer(creds, "NOTIFY", &uri, body, &cnonce) {
                self.authenticated = true;
                self.send(Some(a), now, rng);
                return;
            }
        }
        self.done = Some(Ok(NotifyOutcome {
            code: resp.code,
            reason: resp.reason,
            transmissions: self.transmissions(),
            authenticated: self.authenticated,
        }));
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
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The NOTIFY machine on a virtual clock: what it sent, when.
    struct Rig {
        m: NotifyClient,
        now: Time,
        sent: Vec<(u64, Vec<u8>)>,
    }

    impl Rig {
        fn new(contact: &str, opts: NotifyOptions) -> Rig {
            let c = SipContact::parse(contact).unwrap();
            let m = NotifyClient::new(
                &c,
                &opts,
                "192.0.2.1:40000",
                Time(0),
                &mut rand::thread_rng(),
            );
            let mut rig = Rig {
                m,
                now: Time(0),
                sent: Vec::new(),
            };
            rig.flush();
            rig
        }

        fn flush(&mut self) {
            while let Some(b) = self.m.poll_transmit() {
                self.sent.push((self.now.0, b));
            }
        }

        /// Runs the timers due up to `until` ms; the outcome if it ended.
        fn run_until(&mut self, until: u64) -> Option<Result<NotifyOutcome, SipSendError>> {
            while let Some(at) = self.m.poll_timeout().filter(|t| t.0 <= until) {
                self.now = at;
                self.m.on_timer(at);
                self.flush();
                if let Some(o) = self.m.outcome() {
                    return Some(o);
                }
            }
            self.now = Time(until);
            None
        }

        /// The phone answers the last NOTIFY sent.
        fn answer(&mut self, code: u16, extra: &[(&str, String)]) {
            let req = SipRequest::parse(&self.sent.last().unwrap().1).unwrap();
            let bytes = req.response(code, "X", "phone", extra);
            self.m.on_message(&bytes, self.now, &mut rand::thread_rng());
            self.flush();
        }

        fn times(&self) -> Vec<u64> {
            self.sent.iter().map(|(t, _)| *t).collect()
        }
    }

    fn opts() -> NotifyOptions {
        NotifyOptions {
            event: "check-sync".into(),
            ..NotifyOptions::default()
        }
    }

    /// RFC 3261 §17.1.2.2 over UDP: timer E from T1 doubling to T2, then
    /// every T2, until timer F (64·T1 = 32 s) ends it.
    #[test]
    fn udp_notify_retransmits_on_timer_e_until_timer_f() {
        let mut rig = Rig::new("sip:000e08abcdef@192.0.2.7:5070", opts());
        let out = rig.run_until(60_000);
        assert_eq!(
            rig.times(),
            [0, 500, 1500, 3500, 7500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500]
        );
        assert!(
            rig.sent.iter().all(|(_, b)| *b == rig.sent[0].1),
            "same bytes"
        );
        assert_eq!(
            out,
            Some(Err(SipSendError::Timeout(
                "192.0.2.7:5070".into(),
                Duration::from_secs(32)
            )))
        );
        assert_eq!(rig.m.transmissions(), 11);
        let text = String::from_utf8(rig.sent[0].1.clone()).unwrap();
        assert!(
            text.starts_with("NOTIFY sip:000e08abcdef@192.0.2.7:5070 SIP/2.0\r\n"),
            "{text}"
        );
        assert!(
            text.contains("Via: SIP/2.0/UDP 192.0.2.1:40000;branch=z9hG4bK"),
            "{text}"
        );
        assert!(text.contains("Event: check-sync\r\n"), "{text}");
    }

    /// A provisional answer: from then on every T2; the final answer ends it.
    #[test]
    fn provisional_answer_moves_timer_e_to_t2() {
        let mut rig = Rig::new("sip:p@192.0.2.7", opts());
        assert_eq!(rig.run_until(600), None);
        rig.answer(100, &[]);
        assert_eq!(rig.run_until(9000), None);
        assert_eq!(rig.times(), [0, 500, 4600, 8600]);
        rig.answer(200, &[]);
        let out = rig.m.outcome().unwrap().unwrap();
        assert_eq!(
            (out.code, out.transmissions, out.authenticated),
            (200, 4, false)
        );
        assert_eq!(rig.m.poll_timeout(), None);
    }

    /// 401: one Digest answer in a new transaction (new branch, CSeq 2);
    /// a second 401 is the final answer.
    #[test]
    fn challenge_is_answered_once_with_a_new_branch() {
        let o = NotifyOptions {
            credentials: Some(Credentials::new("1001", "s3cret")),
            ..opts()
        };
        let challenge = [(
            "WWW-Authenticate",
            r#"Digest realm="CP-8841-3PCC", nonce="abc", algorithm=MD5, qop="auth""#.to_string(),
        )];
        let mut rig = Rig::new("sip:p@192.0.2.7", o);
        rig.answer(401, &challenge);
        assert_eq!(rig.times(), [0, 0]);
        let first = SipRequest::parse(&rig.sent[0].1).unwrap();
        let second = SipRequest::parse(&rig.sent[1].1).unwrap();
        assert_eq!(second.header("CSeq"), Some("2 NOTIFY"));
        assert_eq!(second.header("Call-ID"), first.header("Call-ID"));
        assert_ne!(second.header("Via"), first.header("Via"), "a new branch");
        let auth = second.header("Authorization").unwrap();
        assert!(
            auth.contains(r#"username="1001""#) && auth.contains(r#"uri="sip:p@192.0.2.7:5060""#),
            "{auth}"
        );
        // The second transaction retransmits on its own timer E.
        assert_eq!(rig.run_until(600), None);
        assert_eq!(rig.times(), [0, 0, 500]);
        rig.answer(401, &challenge);
        let out = rig.m.outcome().unwrap().unwrap();
        assert_eq!(
            (out.code, out.transmissions, out.authenticated),
            (401, 3, true)
        );
    }

    /// TCP: one transmission, timer F the limit; garbage ends it.
    #[test]
    fn tcp_notify_is_sent_once() {
        let mut rig = Rig::new("sip:p@192.0.2.7;transport=tcp", opts());
        let out = rig.run_until(40_000);
        assert_eq!(rig.times(), [0]);
        assert!(
            matches!(out, Some(Err(SipSendError::Timeout(_, f))) if f == Duration::from_secs(32))
        );
        let text = String::from_utf8(rig.sent[0].1.clone()).unwrap();
        assert!(text.contains("Via: SIP/2.0/TCP "), "{text}");
        let mut rig = Rig::new("sip:p@192.0.2.7;transport=tcp", opts());
        rig.m
            .on_message(b"HTTP/1.1 200 OK\r\n\r\n", Time(5), &mut rand::thread_rng());
        assert!(matches!(
            rig.m.outcome(),
            Some(Err(SipSendError::BadAnswer(..)))
        ));
    }

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
