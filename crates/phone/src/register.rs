//! SIP registration of the phone's lines (R-SEC-3, R-SEC-6): the sans-IO
//! machine. A line `n` with `Proxy_n_` set, `Line_Enable_n_` and
//! `Register_n_` Yes and a `User_ID_n_` registers with its proxy over
//! `SIP_Transport_n_`: UDP (the default), TCP or TLS (`AUTO` is taken as
//! UDP: the simulator does no NAPTR lookup). The REGISTER goes to
//! `Outbound_Proxy_n_` when it is set, else to `Proxy_n_` (port 5060, 5061
//! over TLS); the Request-URI and the address of record name `Proxy_n_`.
//! Over TLS, `TLS_Name_Validate_n_` (default Yes) says whether the proxy's
//! certificate must match the name in `Proxy_n_` (Yes: SAN, else CN; No:
//! the chain only), and the driver presents the phone's unique client
//! certificate when it has one (R-HTTPS-5, as for HTTPS); a proxy that
//! requires one and gets none is a `tls error` that says so.
//!
//! The machine builds every message (with [`crate::sip`]'s writer and
//! parser) and owns every timer; the driver only moves bytes on the
//! line's *flow*:
//! [`Action::SipOpen`] (a UDP socket, a TCP connection or a TLS session to
//! the proxy) answered by [`Input::SipOpened`] with the local address (for
//! `Via` and `Contact`) or [`Input::SipFlowFailed`]; [`Action::SipSend`]
//! (a datagram, or bytes on the stream); [`Input::SipReceived`] (a
//! datagram or one framed message); [`Action::SipClose`].
//!
//! # Persistent flows
//! A registered line keeps its flow open (RFC 3261 §18 connection reuse,
//! RFC 5626 in spirit, as real phones do): the refresh REGISTERs go on it
//! with the same `Contact`, and a request the registrar sends on it (a
//! PBX's `NOTIFY` check-sync to a phone behind NAT) reaches the
//! [`crate::Device`] like one from the fleet's listener and is answered
//! on the same flow ([`Registrations::flow_peer`]). A flow lost while
//! registered (the connection closed or reset) makes the line register
//! again at once on a new flow; the status's `flow_lost` says why and
//! `flows` counts the flows opened. A new flow that fails, a final answer
//! other than 2xx and timer F close the flow; the next try waits
//! `Reg_Retry_Intvl`.
//!
//! Over UDP the flow is the line's own socket, connected to the proxy and
//! kept for the registration's life; its address is the `Contact`, so the
//! registrar's requests (from the address the REGISTER went to) come back
//! on it. The REGISTER does not leave from the fleet's `--sip-listen`
//! socket: that one is shared by every phone and routes requests by the
//! MAC in the Request-URI, while a registrar addresses the `Contact` it
//! was given (`sip:USER@ip:port`) and would need answers routed by Call-ID
//! back to the line. `--sip-listen` stays the address for NOTIFYs sent to
//! `sip:MAC@…` from anywhere (`phoneprov device resync --sip`, serve's
//! push).
//!
//! # Transactions
//! One REGISTER is an RFC 3261 §17.1.2 non-INVITE client transaction
//! ([`crate::sip_txn`], the one serve's NOTIFY sender uses too) on
//! the phone's [`Time`]: over UDP timer E retransmits after `SIP_T1`
//! (0.5 s), doubling up to `SIP_T2` (4 s), every `SIP_T2` after a
//! provisional answer; timer F (`SIP_Timer_F`, the phones' default 16 s;
//! 64·T1 when blank) ends it without an answer. Over TCP and TLS nothing
//! is retransmitted and timer F bounds the connection and the answer. A
//! 401/407 is answered once with Digest (`Auth_ID_n_`, else `User_ID_n_`,
//! and `Password_n_`, with `phoneprov-httpauth`, the HTTP client's code).
//!
//! The status shows each line: `registered`, `failed` (the answer's code
//! in `code`, or why no answer came), `timeout` (timer F), `tls error`
//! (with the reason: a name mismatch says which setting decides) or
//! `registering`. A registered line refreshes at half its
//! `Register_Expires_n_` (or of the `Expires` the registrar granted), on
//! its open flow. A line that got no answer (timer F, network, TLS)
//! retries after `Reg_Retry_Intvl` (default 30 s); one refused with a
//! code retries after `Reg_Retry_Intvl` when the code is in
//! `Retry_Reg_RSC`, else after `Reg_Retry_Long_Intvl` (default 1200 s; 0
//! stops trying), after a 503's `Retry-After` when it has one (the seeds'
//! rule: see `failure_retry_ms`). A proxy
//! outside `Restricted_Access_Domains` is refused without a REGISTER
//! (R-SEC-1).

use rand::Rng;
use serde::Serialize;

use crate::security::domain_allowed;
use crate::sip::{SipRequest, SipResponse};
use crate::sip_txn::{Answer, ClientTransaction, Fired, Timers};
use crate::store::ParamStore;
use crate::types::{Action, Credentials, Time};

/// The most lines a phone model has.
const MAX_LINES: u8 = 16;

/// How a line reaches its proxy (`SIP_Transport_n_`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum LineTransport {
    Udp,
    Tcp,
    Tls,
}

impl LineTransport {
    /// The `Via` transport token.
    pub fn token(self) -> &'static str {
        match self {
            LineTransport::Udp => "UDP",
            LineTransport::Tcp => "TCP",
            LineTransport::Tls => "TLS",
        }
    }
}

/// One flow to open ([`Action::SipOpen`]): where the line's REGISTER goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipFlow {
    /// The flow's id: every input about it carries it back.
    pub id: u64,
    /// The line (1-based).
    pub line: u8,
    pub transport: LineTransport,
    /// `Outbound_Proxy_n_`'s host, else `Proxy_n_`'s.
    pub host: String,
    pub port: u16,
    /// Over TLS: the certificate must name `host` (`TLS_Name_Validate_n_`
    /// Yes); else the chain only is checked.
    pub validate_name: bool,
}

/// Why a flow failed ([`Input::SipFlowFailed`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlowError {
    /// The TLS handshake failed (certificate name, chain, protocol).
    Tls(String),
    /// Anything else: no address, connection refused or reset.
    Network(String),
}

/// A line's settings: what it registers and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineSettings {
    pub line: u8,
    pub transport: LineTransport,
    /// `Proxy_n_`: the registrar's domain and, without an outbound proxy,
    /// where the REGISTER goes.
    pub proxy: (String, u16),
    /// `Outbound_Proxy_n_`, when set.
    pub outbound: Option<(String, u16)>,
    /// `User_ID_n_`: the address of record's user part.
    pub user: String,
    /// Answers a 401/407 challenge: `Auth_ID_n_` (else `User_ID_n_`) and
    /// `Password_n_`.
    pub credentials: Option<Credentials>,
    /// `Register_Expires_n_`, seconds.
    pub expires: u32,
    /// `TLS_Name_Validate_n_`.
    pub validate_name: bool,
    /// Timers T1, T2 and F in ms (`SIP_T1`, `SIP_T2`, `SIP_Timer_F`).
    pub t1: u64,
    pub t2: u64,
    pub timer_f: u64,
    /// The `User-Agent` header.
    pub user_agent: String,
}

/// Where one line is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum LineState {
    Registering,
    Registered,
    TlsError(String),
    Failed { code: Option<u16>, detail: String },
    Timeout(String),
}

/// One registration attempt's flow.
#[derive(Debug, Clone)]
struct Flow {
    id: u64,
    /// The local `ip:port`, once open.
    local: Option<String>,
    /// The REGISTER's transaction ([`crate::sip_txn`]: timers E and F).
    txn: Option<ClientTransaction>,
    /// A challenge was answered in this registration.
    authed: bool,
    /// Timer F bounds the opening of the flow too.
    deadline: Time,
}

#[derive(Debug, Clone)]
struct Line {
    set: LineSettings,
    state: LineState,
    /// The next REGISTER (refresh or retry).
    next_at: Option<Time>,
    registrations: u64,
    flow: Option<Flow>,
    /// Kept for the line's life (RFC 3261 §10.2: one Call-ID per
    /// registrar, CSeq counting up).
    call_id: String,
    tag: String,
    cseq: u32,
    /// REGISTERs put on the wire, retransmissions included.
    transmissions: u64,
    /// Flows opened (a persistent flow counts once).
    flows: u64,
    /// Why the last registered flow was lost (the line registered again).
    lost: Option<String>,
}

/// The lines that register and their state.
#[derive(Debug, Default)]
pub(crate) struct Registrations {
    lines: Vec<Line>,
    next_flow: u64,
}

/// Seconds (a decimal, `.5`) in ms; `default` when blank or bad.
fn secs_ms(p: &ParamStore, name: &str, default: u64) -> u64 {
    match p.get_or_empty(name).trim().parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 => (s * 1000.0).round() as u64,
        _ => default,
    }
}

/// The registration line `n` needs per its parameters, if any.
fn wanted(p: &ParamStore, n: u8, user_agent: &str) -> Option<LineSettings> {
    let get = |name: &str| p.get_or_empty(&format!("{name}_{n}_")).trim().to_string();
    let yes = |name: &str| p.get_bool(&format!("{name}_{n}_"), true);
    if !yes("Line_Enable") || !yes("Register") {
        return None;
    }
    let transport = match get("SIP_Transport").to_ascii_uppercase().as_str() {
        "TLS" => LineTransport::Tls,
        "TCP" => LineTransport::Tcp,
        _ => LineTransport::Udp,
    };
    let proxy = get("Proxy");
    let user = get("User_ID");
    if proxy.is_empty() || user.is_empty() {
        return None;
    }
    let port = if transport == LineTransport::Tls {
        5061
    } else {
        5060
    };
    let proxy = crate::proxy::host_port(&proxy, port)?;
    let outbound = match get("Outbound_Proxy") {
        o if o.is_empty() => None,
        o => Some(crate::proxy::host_port(&o, port)?),
    };
    let password = get("Password");
    let credentials = (!password.is_empty()).then(|| {
        let auth = get("Auth_ID");
        Credentials::new(if auth.is_empty() { &user } else { &auth }, &password)
    });
    let t1 = secs_ms(p, "SIP_T1", 500);
    Some(LineSettings {
        line: n,
        transport,
        proxy,
        outbound,
        user,
        credentials,
        expires: get("Register_Expires")
            .parse::<u32>()
            .unwrap_or(3600)
            .max(32),
        validate_name: yes("TLS_Name_Validate"),
        t1,
        t2: secs_ms(p, "SIP_T2", 4000).max(t1),
        timer_f: secs_ms(p, "SIP_Timer_F", 64 * t1),
        user_agent: user_agent.to_string(),
    })
}

/// `host:port`, an IPv6 address in brackets.
fn host_port_text(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

impl LineSettings {
    /// The transaction's timers: `SIP_T1`, `SIP_T2`, `SIP_Timer_F`.
    fn timers(&self) -> Timers {
        Timers {
            t2: self.t2,
            f: self.timer_f,
            ..Timers::with_t1(self.t1)
        }
    }
}

impl Line {
    fn new(set: LineSettings, rng: &mut impl Rng) -> Line {
        Line {
            set,
            state: LineState::Registering,
            next_at: None,
            registrations: 0,
            flow: None,
            call_id: format!("{:016x}", rng.gen::<u64>()),
            tag: format!("{:08x}", rng.gen::<u32>()),
            cseq: 0,
            transmissions: 0,
            flows: 0,
            lost: None,
        }
    }

    fn destination(&self) -> (&str, u16) {
        let (h, p) = self.set.outbound.as_ref().unwrap_or(&self.set.proxy);
        (h, *p)
    }

    fn scheme(&self) -> &'static str {
        if self.set.transport == LineTransport::Tls {
            "sips"
        } else {
            "sip"
        }
    }

    /// The Request-URI: the registrar's domain.
    fn registrar(&self) -> String {
        let (h, p) = &self.set.proxy;
        format!("{}:{}", self.scheme(), host_port_text(h, *p))
    }

    /// The REGISTER with `cseq`, answering a challenge with `auth`.
    fn register(
        &self,
        local: &str,
        cseq: u32,
        auth: Option<(&str, String)>,
        rng: &mut impl Rng,
    ) -> SipRequest {
        let (h, p) = &self.set.proxy;
        let aor = format!(
            "{}:{}@{}",
            self.scheme(),
            self.set.user,
            host_port_text(h, *p)
        );
        let branch = format!("z9hG4bK{:016x}", rng.gen::<u64>());
        let mut headers = vec![
            (
                "Via".to_string(),
                format!(
                    "SIP/2.0/{} {local};branch={branch};rport",
                    self.set.transport.token()
                ),
            ),
            ("Max-Forwards".into(), "70".into()),
            ("From".into(), format!("<{aor}>;tag={}", self.tag)),
            ("To".into(), format!("<{aor}>")),
            ("Call-ID".into(), format!("{}@{local}", self.call_id)),
            ("CSeq".into(), format!("{cseq} REGISTER")),
            (
                "Contact".into(),
                format!("<{}:{}@{local}>", self.scheme(), self.set.user),
            ),
            ("Expires".into(), self.set.expires.to_string()),
            ("User-Agent".into(), self.set.user_agent.clone()),
        ];
        if let Some((name, value)) = auth {
            headers.push((name.to_string(), value));
        }
        SipRequest {
            method: "REGISTER".into(),
            uri: self.registrar(),
            headers,
            body: Vec::new(),
        }
    }

    /// Starts `req`'s transaction on the flow and puts it on the wire.
    fn send(&mut self, req: &SipRequest, authed: bool, now: Time, out: &mut Vec<Action>) {
        let Some(flow) = self.flow.as_mut() else {
            return;
        };
        let reliable = self.set.transport != LineTransport::Udp;
        let txn = ClientTransaction::start(req, reliable, self.set.timers(), now);
        self.transmissions += 1;
        out.push(Action::SipSend {
            flow: flow.id,
            bytes: txn.request().to_vec(),
        });
        flow.txn = Some(txn);
        flow.authed = authed;
    }

    /// The refresh REGISTER on the open flow (same Contact, next CSeq).
    fn refresh(&mut self, now: Time, rng: &mut impl Rng, out: &mut Vec<Action>) {
        self.next_at = None;
        let Some(local) = self.flow.as_ref().and_then(|f| f.local.clone()) else {
            return;
        };
        self.cseq += 1;
        let req = self.register(&local, self.cseq, None, rng);
        self.send(&req, false, now, out);
    }

    /// The registration ended: the state, the next attempt. A registered
    /// line keeps its flow (the refresh and the registrar's requests use
    /// it); any other outcome closes it.
    /// `next_in_ms` `None`: no further attempt (`Reg_Retry_Long_Intvl` 0).
    fn finish(
        &mut self,
        state: LineState,
        next_in_ms: Option<u64>,
        now: Time,
        out: &mut Vec<Action>,
    ) {
        if state == LineState::Registered {
            self.registrations += 1;
        } else if let Some(f) = self.flow.take() {
            out.push(Action::SipClose { flow: f.id });
        }
        self.state = state;
        self.next_at = next_in_ms.map(|ms| now.plus_millis(ms));
    }
}

impl Registrations {
    /// Re-reads the parameters: a line whose settings changed (or that
    /// appeared) registers now; a line that no longer registers is gone
    /// (its flow closed).
    pub(crate) fn update(
        &mut self,
        p: &ParamStore,
        user_agent: &str,
        now: Time,
        rng: &mut impl Rng,
        out: &mut Vec<Action>,
    ) {
        let mut lines = Vec::new();
        for n in 1..=MAX_LINES {
            let Some(set) = wanted(p, n, user_agent) else {
                continue;
            };
            if let Some(i) = self.lines.iter().position(|l| l.set == set) {
                lines.push(self.lines.swap_remove(i));
                continue;
            }
            let mut line = Line::new(set, rng);
            // R-SEC-1: a proxy outside the list is refused.
            let list = p.get_or_empty("Restricted_Access_Domains");
            let refused = [Some(&line.set.proxy), line.set.outbound.as_ref()]
                .into_iter()
                .flatten()
                .find(|(h, _)| !domain_allowed(list, h));
            match refused {
                None => self.start(&mut line, now, out),
                Some((host, _)) => {
                    let which = if *host == line.set.proxy.0 {
                        "Proxy"
                    } else {
                        "Outbound_Proxy"
                    };
                    line.state = LineState::Failed {
                        code: None,
                        detail: format!(
                            "{which}_{}_ refused: host `{host}` is not in Restricted_Access_Domains ({})",
                            line.set.line,
                            list.trim()
                        ),
                    };
                }
            }
            lines.push(line);
        }
        for gone in &self.lines {
            if let Some(f) = &gone.flow {
                out.push(Action::SipClose { flow: f.id });
            }
        }
        self.lines = lines;
    }

    /// Opens a flow for the line's next REGISTER.
    fn start(&mut self, line: &mut Line, now: Time, out: &mut Vec<Action>) {
        self.next_flow += 1;
        let id = self.next_flow;
        if line.state != LineState::Registered {
            line.state = LineState::Registering;
        }
        line.next_at = None;
        let (host, port) = line.destination();
        out.push(Action::SipOpen(SipFlow {
            id,
            line: line.set.line,
            transport: line.set.transport,
            host: host.to_string(),
            port,
            validate_name: line.set.validate_name,
        }));
        line.flows += 1;
        line.flow = Some(Flow {
            id,
            local: None,
            txn: None,
            authed: false,
            deadline: now.plus_millis(line.set.timer_f),
        });
    }

    /// After a power cut every line registers again; the flows close.
    pub(crate) fn reset(&mut self, out: &mut Vec<Action>) {
        for l in self.lines.drain(..) {
            if let Some(f) = l.flow {
                out.push(Action::SipClose { flow: f.id });
            }
        }
    }

    fn line_of(&mut self, flow: u64) -> Option<&mut Line> {
        self.lines
            .iter_mut()
            .find(|l| l.flow.as_ref().is_some_and(|f| f.id == flow))
    }

    /// The flow is open: the first REGISTER goes out.
    pub(crate) fn opened(
        &mut self,
        flow: u64,
        local: String,
        now: Time,
        rng: &mut impl Rng,
        out: &mut Vec<Action>,
    ) {
        let Some(l) = self.line_of(flow) else { return }; // stale
        l.cseq += 1;
        let cseq = l.cseq;
        let req = l.register(&local, cseq, None, rng);
        if let Some(f) = l.flow.as_mut() {
            f.local = Some(local);
        }
        l.send(&req, false, now, out);
    }

    /// The flow failed before an answer.
    pub(crate) fn flow_failed(
        &mut self,
        flow: u64,
        error: FlowError,
        p: &ParamStore,
        now: Time,
        out: &mut Vec<Action>,
    ) {
        let retry = retry_ms(p);
        let Some(i) = self
            .lines
            .iter()
            .position(|l| l.flow.as_ref().is_some_and(|f| f.id == flow))
        else {
            return;
        };
        let l = &mut self.lines[i];
        let idle = l
            .flow
            .as_ref()
            .is_some_and(|f| !f.txn.as_ref().is_some_and(ClientTransaction::is_pending));
        if l.state == LineState::Registered && idle {
            // The registration's connection closed (or its socket failed):
            // register again on a new flow at once (RFC 5626 §4.4 in spirit).
            let (e, kind) = match &error {
                FlowError::Tls(e) => (e, "TLS"),
                FlowError::Network(e) => (e, l.set.transport.token()),
            };
            let (h, port) = l.destination();
            l.lost = Some(format!(
                "{kind} flow to {} lost: {e}; registering again on a new one",
                host_port_text(h, port)
            ));
            if let Some(f) = l.flow.take() {
                out.push(Action::SipClose { flow: f.id });
            }
            l.state = LineState::Registering;
            let mut line = l.clone();
            self.start(&mut line, now, out);
            self.lines[i] = line;
            return;
        }
        let l = &mut self.lines[i];
        let state = match error {
            FlowError::Tls(e) => {
                // rustls words a name mismatch "certificate not valid for name".
                LineState::TlsError(if l.set.validate_name && e.contains("not valid for name") {
                    format!(
                        "{e}: the certificate of {} does not name it (TLS_Name_Validate_{}_ is Yes)",
                        l.destination().0,
                        l.set.line
                    )
                } else if e.contains("CertificateRequired") || e.contains("HandshakeFailure") {
                    format!(
                        "{e}: {} requires a client certificate; the phone presents its unique certificate (R-HTTPS-5) when it has one",
                        l.destination().0
                    )
                } else {
                    e
                })
            }
            FlowError::Network(e) => LineState::Failed {
                code: None,
                detail: e,
            },
        };
        l.finish(state, Some(retry), now, out);
    }

    /// A message on the flow: the transaction's answer (others are
    /// dropped: a stray datagram, an answer to an earlier request).
    pub(crate) fn received(
        &mut self,
        flow: u64,
        bytes: &[u8],
        p: &ParamStore,
        now: Time,
        rng: &mut impl Rng,
        out: &mut Vec<Action>,
    ) {
        let Some(l) = self.line_of(flow) else { return };
        let Ok(resp) = SipResponse::parse(bytes) else {
            return;
        };
        let Some(f) = l.flow.as_mut() else { return };
        let (Some(txn), Some(local)) = (f.txn.as_mut(), f.local.clone()) else {
            return;
        };
        if txn.on_response(&resp, now) != Answer::Final {
            return; // provisional (timer E now every T2), absorbed or another's
        }
        if let (Some(creds), false) = (&l.set.credentials, f.authed) {
            let cnonce = format!("{:016x}", rng.gen::<u64>());
            if let Some(answer) =
                resp.digest_answer(creds, "REGISTER", &l.registrar(), b"", &cnonce)
            {
                // A new transaction (new branch, next CSeq, its own timer F).
                l.cseq += 1;
                let req = l.register(&local, l.cseq, Some(answer), rng);
                l.send(&req, true, now, out);
                return;
            }
        }
        if (200..300).contains(&resp.code) {
            let granted = resp
                .header("Expires")
                .and_then(|v| v.trim().parse::<u64>().ok())
                .filter(|s| *s > 0)
                .unwrap_or(u64::from(l.set.expires))
                .min(u64::from(l.set.expires));
            l.finish(LineState::Registered, Some(granted * 500), now, out);
        } else {
            let wait = failure_retry_ms(p, &resp);
            let mut detail = format!("{} {}", resp.code, resp.reason);
            if wait.is_none() {
                detail.push_str(&format!(
                    "; not retrying: {} is not in Retry_Reg_RSC and Reg_Retry_Long_Intvl is 0",
                    resp.code
                ));
            }
            let state = LineState::Failed {
                code: Some(resp.code),
                detail,
            };
            l.finish(state, wait, now, out);
        }
    }

    /// Whether every line has had an answer (true without lines).
    pub(crate) fn settled(&self) -> bool {
        self.lines.iter().all(|l| l.state != LineState::Registering)
    }

    /// Whether a REGISTER is in flight (its timers run in real time: a
    /// driver that fast-forwards the clock must not while this is true).
    pub(crate) fn in_flight(&self) -> bool {
        self.lines.iter().any(|l| {
            l.flow.as_ref().is_some_and(|f| {
                f.local.is_none() || f.txn.as_ref().is_some_and(ClientTransaction::is_pending)
            })
        })
    }

    /// The peer (`host:port`) of a line's open flow: where a request that
    /// arrives on it (the registrar's NOTIFY) came from.
    pub(crate) fn flow_peer(&self, flow: u64) -> Option<String> {
        let l = self
            .lines
            .iter()
            .find(|l| l.flow.as_ref().is_some_and(|f| f.id == flow))?;
        let (h, p) = l.destination();
        Some(host_port_text(h, p))
    }

    pub(crate) fn poll_timeout(&self) -> Option<Time> {
        self.lines
            .iter()
            .flat_map(|l| {
                let flow = l.flow.as_ref();
                [
                    l.next_at,
                    // An idle flow's answered transaction has nothing due
                    // (timer K only absorbs answers, which nothing awaits).
                    flow.and_then(|f| match &f.txn {
                        Some(t) if t.is_pending() => t.poll_timeout(),
                        Some(_) => None,
                        None => Some(f.deadline),
                    }),
                ]
            })
            .flatten()
            .min()
    }

    /// Timer F, timer E, refreshes and retries due at `now`.
    pub(crate) fn on_timer(
        &mut self,
        p: &ParamStore,
        now: Time,
        rng: &mut impl Rng,
        out: &mut Vec<Action>,
    ) {
        let retry = retry_ms(p);
        let mut due = Vec::new();
        let mut refresh = Vec::new();
        for (i, l) in self.lines.iter_mut().enumerate() {
            let next_due = l.next_at.is_some_and(|t| t <= now);
            let Some(f) = l.flow.as_mut() else {
                if next_due {
                    due.push(i);
                }
                continue;
            };
            let idle = !f.txn.as_ref().is_some_and(ClientTransaction::is_pending);
            if next_due && idle && f.local.is_some() {
                refresh.push(i);
            }
            let fired = match f.txn.as_mut() {
                Some(t) => t.on_timer(now),
                None if f.deadline <= now => Some(Fired::TimedOut),
                None => None,
            };
            match fired {
                Some(Fired::Retransmit(bytes)) => {
                    out.push(Action::SipSend { flow: f.id, bytes });
                    l.transmissions += 1;
                }
                Some(Fired::TimedOut) => {
                    let what = if f.local.is_none() {
                        "connection"
                    } else {
                        "final answer"
                    };
                    let (h, port) = l.destination();
                    let detail = format!(
                        "no {what} from {} within {} ms (timer F, SIP_Timer_F) over {}",
                        host_port_text(h, port),
                        l.set.timer_f,
                        l.set.transport.token()
                    );
                    l.finish(LineState::Timeout(detail), Some(retry), now, out);
                }
                None => {}
            }
        }
        for i in due {
            let mut line = self.lines[i].clone();
            self.start(&mut line, now, out);
            self.lines[i] = line;
        }
        for i in refresh {
            self.lines[i].refresh(now, rng, out);
        }
    }

    /// One status object per line.
    pub(crate) fn status(&self) -> Vec<serde_json::Value> {
        self.lines
            .iter()
            .map(|l| {
                let (state, code, detail) = match &l.state {
                    LineState::Registering => ("registering", None, None),
                    LineState::Registered => ("registered", None, None),
                    LineState::TlsError(e) => ("tls error", None, Some(e.clone())),
                    LineState::Failed { code, detail } => ("failed", *code, Some(detail.clone())),
                    LineState::Timeout(e) => ("timeout", None, Some(e.clone())),
                };
                let (h, p) = &l.set.proxy;
                serde_json::json!({
                    "line": l.set.line,
                    "transport": l.set.transport.token(),
                    "proxy": host_port_text(h, *p),
                    "outbound_proxy": l.set.outbound.as_ref().map(|(h, p)| host_port_text(h, *p)),
                    "name_validate": l.set.validate_name,
                    "state": state,
                    "code": code,
                    "detail": detail,
                    "registrations": l.registrations,
                    "transmissions": l.transmissions,
                    "flows": l.flows,
                    "local": l.flow.as_ref().and_then(|f| f.local.clone()),
                    "flow_lost": l.lost,
                })
            })
            .collect()
    }
}

/// The wait before the next REGISTER after a final answer that is a
/// failure, in ms; `None`: stop trying. The seeds' rule (the SPA500 and
/// 6800-series administration guides, SIP tab, `Reg Retry Long Intvl`):
/// a code that does not match `Retry_Reg_RSC` (a list of codes, `?` a
/// wildcard digit: `5??,408`; blank by default, so nothing matches) waits
/// `Reg_Retry_Long_Intvl` (default 1200 s; 0 stops trying); a matching
/// code waits `Reg_Retry_Intvl`; a 503 with `Retry-After` waits what it
/// says. Failures without an answer (timeout, network, TLS) wait
/// `Reg_Retry_Intvl` ([`retry_ms`]).
fn failure_retry_ms(p: &ParamStore, resp: &SipResponse) -> Option<u64> {
    if resp.code == 503 {
        let after = resp
            .header("Retry-After")
            .and_then(|v| v.split([';', '(']).next()?.trim().parse::<u64>().ok());
        if let Some(s) = after {
            return Some(s.max(1) * 1000);
        }
    }
    if rsc_matches(p.get_or_empty("Retry_Reg_RSC"), resp.code) {
        return Some(retry_ms(p));
    }
    match p.get_u64("Reg_Retry_Long_Intvl", 1200) {
        0 => None,
        s => Some(s * 1000),
    }
}

/// Whether `code` is in a response-code list (`401,5??`).
fn rsc_matches(list: &str, code: u16) -> bool {
    let code = code.to_string();
    list.split([',', ';', ' '])
        .map(str::trim)
        .filter(|pat| pat.len() == 3)
        .any(|pat| {
            pat.bytes()
                .zip(code.bytes())
                .all(|(p, c)| p == b'?' || p == c)
        })
}

/// `Reg_Retry_Intvl` in ms.
fn retry_ms(p: &ParamStore) -> u64 {
    p.get_u64("Reg_Retry_Intvl", 30).max(1) * 1000
}

#[cfg(test)]
mod tests;
