//! A sans-IO DHCPv6 client for one phone (RFC 8415; R-DHCP-1/2): SOLICIT
//! → ADVERTISE → REQUEST → REPLY, on the phone's clock ([`Time`]), with no
//! sockets; the DHCPv6 twin of [`crate::DhcpClient`].
//!
//! The driver (the fleet's DHCP shell in `phoneprov-sim`) sends what
//! [`Dhcp6Client::poll_transmit`] gives to `[ff02::1:2]:547` on the
//! interface, feeds every datagram that arrives on port 546 with the
//! client's transaction id to [`Dhcp6Client::handle_datagram`], and calls
//! [`Dhcp6Client::handle_timeout`] at [`Dhcp6Client::poll_timeout`].
//! [`Dhcp6Client::outcome`] says when the phone is bound (its IA_NA
//! address and the REPLY's options as a [`DhcpLease`]'s `options_v6`) or
//! gave up.
//!
//! What the phone sends: Client Identifier = DUID-LL of its MAC (RFC 8415
//! §11.4), one IA_NA whose IAID is the MAC's last four bytes, Elapsed Time,
//! an Option Request Option asking for 23 (DNS servers), 24 (domain list),
//! 17 (vendor options), 56 (NTP), 31 (SNTP), 59 (boot file URL) and the
//! options of `DHCPv6_Option_To_Use` ([`Dhcp6ClientConfig::oro_extra`]),
//! and Vendor Class (16) with enterprise 9 and the class text the DHCPv4
//! client sends as option 60. A random three-byte transaction id per
//! exchange (the REQUEST is a new exchange, RFC 8415 §18.2.2).
//!
//! Timing (RFC 8415 §15, §18.2.1, §18.2.2): the first SOLICIT waits a
//! random 0–1 s (SOL_MAX_DELAY); SOLICIT from SOL_TIMEOUT 1 s doubling up
//! to SOL_MAX_RT 3600 s, REQUEST from REQ_TIMEOUT 1 s doubling up to
//! REQ_MAX_RT 30 s, each time randomised by RAND ±0.1 (the first SOLICIT's
//! only upwards); after REQ_MAX_RC (10) REQUESTs without a REPLY the phone
//! solicits again. **Decision:** the first usable ADVERTISE is taken (RFC
//! 8415 lets a client wait out the first timeout to compare servers'
//! preferences; a phone on a lab or office LAN has one server).
//!
//! An ADVERTISE without an address (Status Code NoAddrsAvail, at the top
//! or in the IA_NA) is ignored and counted (RFC 8415 §18.2.9); when the
//! phone gives up, its line says so. A REPLY with an error status fails
//! the exchange at once with one line naming the status and the server's
//! text. Strays (another transaction id, another or no Client
//! Identifier, a client message such as our own SOLICIT looped back),
//! truncated or malformed messages and replies that do not fit the state
//! are ignored and counted by reason ([`Dhcp6Counters`]).
//!
//! Messages are encoded and decoded by `dhcproto` (as the v4 client);
//! [`screen`] first refuses what its decoder would panic on or misread
//! (it subtracts from option lengths and reads fixed-size options without
//! checking their length). The text form of the REPLY's options is ours:
//! 23 and 31 as address lists, 24 as a name list, 56 as its servers, 17 as
//! its sub-options' values (**decision**: the enterprise number dropped,
//! so a TFTP server name in sub-option 1 is the value's first word, as
//! [`crate::provisioning_target_dual`] reads `v6:17`), other options as
//! text or, 16 bytes that are not text, as an address.

use std::net::Ipv6Addr;

use dhcproto::v6::{
    DhcpOption, DhcpOptions, Message, MessageType, NtpSuboption, OptionCode, Status, StatusCode,
    IANA, ORO,
};
use dhcproto::{Decodable, Decoder, Encodable};
use phoneprov_phone::Time;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::dhcp::DhcpLease;
use crate::dhcp_client::{spaced, text_of};

/// The options the phone always asks for (Option Request Option).
pub const OPTION_REQUEST: [u16; 6] = [23, 24, 17, 56, 31, 59];

/// Cisco's IANA enterprise number (the Vendor Class option).
pub const CISCO_ENTERPRISE: u32 = 9;

/// SOL_MAX_DELAY (RFC 8415 §7.6), ms.
const SOL_MAX_DELAY: u64 = 1_000;
/// SOL_TIMEOUT, ms.
const SOL_TIMEOUT: u64 = 1_000;
/// SOL_MAX_RT, ms.
const SOL_MAX_RT: u64 = 3_600_000;
/// REQ_TIMEOUT, ms.
const REQ_TIMEOUT: u64 = 1_000;
/// REQ_MAX_RT, ms.
const REQ_MAX_RT: u64 = 30_000;
/// REQ_MAX_RC.
pub const REQ_MAX_RC: u32 = 10;

/// What the phone sends and how long it tries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dhcp6ClientConfig {
    /// The phone's MAC (DUID-LL and IAID).
    pub mac: [u8; 6],
    /// The Vendor Class text (the same as DHCPv4 option 60).
    pub vendor_class: String,
    /// More options to ask for (`DHCPv6_Option_To_Use`).
    pub oro_extra: Vec<u16>,
    /// Seeds the transaction ids and the randomisation.
    pub seed: u64,
    /// No lease after this long: the client fails.
    pub give_up_ms: u64,
}

/// Datagrams ignored, by reason, and messages sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Dhcp6Counters {
    /// Not a DHCPv6 message (truncated, malformed options).
    pub garbage: u64,
    /// A client's message (our own SOLICIT looped back, another phone's).
    pub not_a_reply: u64,
    /// Another exchange's transaction id.
    pub wrong_xid: u64,
    /// Our transaction id but another (or no) Client Identifier.
    pub wrong_client: u64,
    /// A reply that does not fit the state (a REPLY while soliciting, a
    /// second ADVERTISE, no Server Identifier, anything after the lease).
    pub unexpected: u64,
    /// ADVERTISEs without an address (NoAddrsAvail).
    pub no_addrs: u64,
    /// SOLICITs and REQUESTs sent.
    pub sent: u64,
}

impl Dhcp6Counters {
    /// Every datagram ignored.
    pub fn ignored(&self) -> u64 {
        self.garbage + self.not_a_reply + self.wrong_xid + self.wrong_client + self.unexpected
    }
}

/// A lease the server confirmed with a REPLY.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dhcp6Bound {
    /// The IA_NA address.
    pub address: Ipv6Addr,
    /// The server's DUID, as hex.
    pub server_id: String,
    /// The REPLY's options as text (`options_v6`).
    pub lease: DhcpLease,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Before the first SOLICIT (the random delay).
    Waiting,
    Soliciting,
    Requesting {
        server_id: Vec<u8>,
        address: Ipv6Addr,
    },
    Bound(Dhcp6Bound),
    Failed(String),
}

/// One phone's DHCPv6 exchange; see the module docs.
#[derive(Debug, Clone)]
pub struct Dhcp6Client {
    cfg: Dhcp6ClientConfig,
    rng: StdRng,
    xid: [u8; 3],
    state: State,
    started: Time,
    /// When the current exchange's first message went out (Elapsed Time).
    exchange_start: Time,
    /// Transmissions of the current message so far.
    count: u32,
    /// The current retransmission timeout, ms.
    rt: u64,
    next: Option<Time>,
    out: Vec<Vec<u8>>,
    counters: Dhcp6Counters,
    /// The last NoAddrsAvail heard: the server's DUID and its text.
    no_addrs: Option<(String, String)>,
}

impl Dhcp6Client {
    /// Starts the exchange at `now`: the first SOLICIT is due after a
    /// random 0–1 s ([`Dhcp6Client::poll_timeout`]).
    pub fn new(cfg: Dhcp6ClientConfig, now: Time) -> Dhcp6Client {
        let mut rng = StdRng::seed_from_u64(cfg.seed);
        let xid = rng.gen();
        let delay = rng.gen_range(0..=SOL_MAX_DELAY);
        Dhcp6Client {
            cfg,
            rng,
            xid,
            state: State::Waiting,
            started: now,
            exchange_start: now,
            count: 0,
            rt: 0,
            next: Some(Time(now.0 + delay)),
            out: Vec::new(),
            counters: Dhcp6Counters::default(),
            no_addrs: None,
        }
    }

    /// The transaction id the replies must carry (as a number).
    pub fn xid(&self) -> u32 {
        u32::from_be_bytes([0, self.xid[0], self.xid[1], self.xid[2]])
    }

    /// Ignored datagrams and messages sent.
    pub fn counters(&self) -> Dhcp6Counters {
        self.counters
    }

    /// The Client Identifier the phone sends: DUID-LL (type 3, hardware
    /// type 1) of its MAC.
    pub fn duid(&self) -> Vec<u8> {
        duid_ll(&self.cfg.mac)
    }

    /// The next datagram for `[ff02::1:2]:547`.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        if self.out.is_empty() {
            None
        } else {
            Some(self.out.remove(0))
        }
    }

    /// When [`Dhcp6Client::handle_timeout`] is due (`None` once settled).
    pub fn poll_timeout(&self) -> Option<Time> {
        match self.state {
            State::Bound(_) | State::Failed(_) => None,
            _ => self.next,
        }
    }

    /// `Some(Ok)` once bound, `Some(Err(line))` once failed.
    pub fn outcome(&self) -> Option<Result<&Dhcp6Bound, &str>> {
        match &self.state {
            State::Bound(b) => Some(Ok(b)),
            State::Failed(e) => Some(Err(e)),
            _ => None,
        }
    }

    /// The timer: the first SOLICIT, a retransmission, a new SOLICIT
    /// after REQ_MAX_RC REQUESTs, or giving up.
    pub fn handle_timeout(&mut self, now: Time) {
        let Some(due) = self.poll_timeout() else {
            return;
        };
        if now < due {
            return;
        }
        if now.0.saturating_sub(self.started.0) >= self.cfg.give_up_ms {
            self.give_up();
            return;
        }
        match self.state {
            State::Waiting => {
                self.state = State::Soliciting;
                self.begin(now);
            }
            State::Requesting { .. } if self.count >= REQ_MAX_RC => {
                // RFC 8415 §18.2.2: the REQUEST exchange failed; solicit
                // again with a new transaction.
                self.state = State::Soliciting;
                self.xid = self.rng.gen();
                self.begin(now);
            }
            _ => {
                let (max, _) = self.limits();
                self.rt = self.randomised(2 * self.rt, max);
                self.transmit(now);
            }
        }
    }

    /// One datagram from port 547 (or anything that arrived on port 546).
    pub fn handle_datagram(&mut self, now: Time, data: &[u8]) {
        let Some(msg) = decode(data) else {
            self.counters.garbage += 1;
            return;
        };
        let kind = msg.msg_type();
        if !matches!(
            kind,
            MessageType::Advertise | MessageType::Reply | MessageType::Reconfigure
        ) {
            self.counters.not_a_reply += 1;
            return;
        }
        if msg.xid() != self.xid {
            self.counters.wrong_xid += 1;
            return;
        }
        match msg.opts().get(OptionCode::ClientId) {
            Some(DhcpOption::ClientId(id)) if *id == self.duid() => {}
            _ => {
                self.counters.wrong_client += 1;
                return;
            }
        }
        let Some(DhcpOption::ServerId(server_id)) = msg.opts().get(OptionCode::ServerId) else {
            self.counters.unexpected += 1;
            return;
        };
        let server_id = server_id.clone();
        match (&self.state, kind) {
            (State::Soliciting, MessageType::Advertise) => match self.address_of(&msg) {
                Ok(address) => {
                    self.state = State::Requesting { server_id, address };
                    self.xid = self.rng.gen();
                    self.begin(now);
                }
                Err(why) => {
                    self.counters.no_addrs += 1;
                    self.no_addrs = Some((hex(&server_id), why));
                }
            },
            (
                State::Requesting {
                    server_id: ours, ..
                },
                MessageType::Reply,
            ) if *ours == server_id => {
                match self.address_of(&msg) {
                    Ok(address) => {
                        self.state = State::Bound(Dhcp6Bound {
                            address,
                            server_id: hex(&server_id),
                            lease: lease_of(&msg, data),
                        });
                    }
                    Err(why) => {
                        self.state = State::Failed(format!(
                            "DHCPv6 failed: the server {} answered the REQUEST with {why}; check the server's DHCPv6 address range for this link",
                            hex(&server_id)
                        ));
                    }
                }
                self.next = None;
            }
            _ => self.counters.unexpected += 1,
        }
    }

    /// The IA_NA address a reply gives, or why it gives none.
    fn address_of(&self, msg: &Message) -> Result<Ipv6Addr, String> {
        if let Some(DhcpOption::StatusCode(s)) = msg.opts().get(OptionCode::StatusCode) {
            if s.status != Status::Success {
                return Err(status_text(s));
            }
        }
        let iaid = iaid(&self.cfg.mac);
        let ia = msg.opts().iter().find_map(|o| match o {
            DhcpOption::IANA(ia) if ia.id == iaid => Some(ia),
            _ => None,
        });
        let Some(ia) = ia else {
            return Err("no IA_NA for the phone's IAID".into());
        };
        if let Some(DhcpOption::StatusCode(s)) = ia.opts.get(OptionCode::StatusCode) {
            if s.status != Status::Success {
                return Err(status_text(s));
            }
        }
        ia.opts
            .iter()
            .find_map(|o| match o {
                DhcpOption::IAAddr(a) if a.valid_life > 0 => Some(a.addr),
                _ => None,
            })
            .ok_or_else(|| "an IA_NA without an address".into())
    }

    fn give_up(&mut self) {
        let c = self.counters;
        let heard = match (&self.state, &self.no_addrs) {
            (State::Requesting { server_id, .. }, _) => {
                format!("an ADVERTISE from {} but no REPLY", hex(server_id))
            }
            (_, Some((server, why))) => format!("only {why} from the server {server}"),
            _ => "no ADVERTISE".to_string(),
        };
        self.state = State::Failed(format!(
            "DHCPv6 failed: {heard} after {} s ({} messages sent, {} replies ignored); check that a DHCPv6 server with an address range serves this link",
            self.cfg.give_up_ms / 1000,
            c.sent,
            c.ignored()
        ));
        self.next = None;
    }

    /// (MRT, IRT) of the current message, ms.
    fn limits(&self) -> (u64, u64) {
        match self.state {
            State::Requesting { .. } => (REQ_MAX_RT, REQ_TIMEOUT),
            _ => (SOL_MAX_RT, SOL_TIMEOUT),
        }
    }

    /// RFC 8415 §15: `base` ± 10 %, and past `max` `max` ± 10 %.
    fn randomised(&mut self, base: u64, max: u64) -> u64 {
        let rand = |rng: &mut StdRng, x: u64| -> u64 {
            let tenth = x / 10;
            x - tenth + rng.gen_range(0..=2 * tenth)
        };
        let rt = rand(&mut self.rng, base);
        if rt > max {
            rand(&mut self.rng, max)
        } else {
            rt
        }
    }

    /// Starts a new exchange (SOLICIT or REQUEST) at `now`.
    fn begin(&mut self, now: Time) {
        let (max, irt) = self.limits();
        self.exchange_start = now;
        self.count = 0;
        self.rt = match self.state {
            // RFC 8415 §18.2.1: the first SOLICIT's RAND is above 0.
            State::Soliciting => irt + self.rng.gen_range(1..=irt / 10),
            _ => self.randomised(irt, max),
        };
        self.transmit(now);
    }

    /// Queues the current state's message and arms the timer for `rt`.
    fn transmit(&mut self, now: Time) {
        let kind = match self.state {
            State::Requesting { .. } => MessageType::Request,
            _ => MessageType::Solicit,
        };
        let mut msg = Message::new_with_id(kind, self.xid);
        let opts = msg.opts_mut();
        opts.insert(DhcpOption::ClientId(self.duid()));
        let mut ia_opts = DhcpOptions::new();
        if let State::Requesting { server_id, address } = &self.state {
            opts.insert(DhcpOption::ServerId(server_id.clone()));
            ia_opts.insert(DhcpOption::IAAddr(dhcproto::v6::IAAddr {
                addr: *address,
                preferred_life: 0,
                valid_life: 0,
                opts: DhcpOptions::new(),
            }));
        }
        opts.insert(DhcpOption::IANA(IANA {
            id: iaid(&self.cfg.mac),
            t1: 0,
            t2: 0,
            opts: ia_opts,
        }));
        // Hundredths of a second since the exchange began (§21.9).
        let elapsed = now.0.saturating_sub(self.exchange_start.0) / 10;
        opts.insert(DhcpOption::ElapsedTime(elapsed.min(0xffff) as u16));
        let mut oro: Vec<u16> = OPTION_REQUEST.to_vec();
        for n in &self.cfg.oro_extra {
            if !oro.contains(n) {
                oro.push(*n);
            }
        }
        opts.insert(DhcpOption::ORO(ORO {
            opts: oro.into_iter().map(OptionCode::from).collect(),
        }));
        // Vendor Class (§21.16): enterprise, then one length-prefixed
        // class. Written as raw bytes: `dhcproto` 0.15 encodes this
        // option's length as 4 + the number of classes, not their bytes.
        let class = self.cfg.vendor_class.as_bytes();
        let class = &class[..class.len().min(512)];
        let mut vc = CISCO_ENTERPRISE.to_be_bytes().to_vec();
        vc.extend_from_slice(&(class.len() as u16).to_be_bytes());
        vc.extend_from_slice(class);
        opts.insert(DhcpOption::Unknown(dhcproto::v6::UnknownOption::new(
            OptionCode::VendorClass,
            vc,
        )));
        if let Ok(bytes) = msg.to_vec() {
            self.out.push(bytes);
            self.counters.sent += 1;
        }
        self.count += 1;
        self.next = Some(Time(now.0.saturating_add(self.rt)));
    }
}

/// DUID-LL (RFC 8415 §11.4): type 3, hardware type 1 (Ethernet), the MAC.
pub fn duid_ll(mac: &[u8; 6]) -> Vec<u8> {
    let mut d = vec![0, 3, 0, 1];
    d.extend_from_slice(mac);
    d
}

/// The IAID of the phone's one IA_NA: its MAC's last four bytes.
pub fn iaid(mac: &[u8; 6]) -> u32 {
    u32::from_be_bytes([mac[2], mac[3], mac[4], mac[5]])
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn status_text(s: &StatusCode) -> String {
    let text = s.msg.trim();
    if text.is_empty() {
        format!("{:?}", s.status)
    } else {
        format!("{:?} ({text})", s.status)
    }
}

/// Decodes a DHCPv6 client-side message after [`screen`]ing it.
fn decode(data: &[u8]) -> Option<Message> {
    if data.len() < 4 || !screen(&data[4..], 0) {
        return None;
    }
    Message::decode(&mut Decoder::new(data)).ok()
}

/// Whether `dhcproto` 0.15 decodes the options in `opts` (a run of
/// `code len value`) as they are: every option fits the message, and the
/// options it reads with a fixed size or subtracts a header length from
/// have that size, recursively inside the options that hold options
/// (IA_NA, IA_TA, IA Address, IA_PD, IA Prefix, Vendor Options). A Relay
/// Message inside a message to a client is refused; so is nesting past 4
/// levels. Without it `dhcproto` panics on, e.g., a Status Code of one
/// byte or a Vendor Class of two (`len - 2`, `len - 4`), and reads an
/// Elapsed Time of length 0 from the next option's bytes.
pub fn screen(opts: &[u8], depth: u32) -> bool {
    if depth > 4 {
        return false;
    }
    let mut rest = opts;
    while !rest.is_empty() {
        let Some(head) = rest.get(..4) else {
            return false;
        };
        let code = u16::from_be_bytes([head[0], head[1]]);
        let len = u16::from_be_bytes([head[2], head[3]]) as usize;
        let Some(value) = rest.get(4..4 + len) else {
            return false;
        };
        let inner = |skip: usize| len >= skip && screen(&value[skip..], depth + 1);
        let ok = match code {
            3 | 25 => inner(12),
            4 => inner(4),
            5 => inner(24),
            26 => inner(25),
            17 => inner(4),
            7 | 19 => len == 1,
            8 => len == 2,
            12 => len == 16,
            14 | 20 => len == 0,
            11 => len >= 11,
            13 => len >= 2,
            16 => len >= 4,
            9 => false,
            _ => true,
        };
        if !ok {
            return false;
        }
        rest = &rest[4 + len..];
    }
    true
}

/// The raw top-level options of a screened message: `(code, value)`.
fn raw_options(data: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    let mut rest = data.get(4..).unwrap_or(&[]);
    while rest.len() >= 4 {
        let code = u16::from_be_bytes([rest[0], rest[1]]);
        let len = u16::from_be_bytes([rest[2], rest[3]]) as usize;
        let Some(v) = rest.get(4..4 + len) else { break };
        out.push((code, v));
        rest = &rest[4 + len..];
    }
    out
}

/// Options that are the exchange's framing, not settings for the phone.
const FRAMING: [u16; 12] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 14, 20];

/// The REPLY's options as `options_v6` text (see the module docs).
fn lease_of(msg: &Message, data: &[u8]) -> DhcpLease {
    let mut lease = DhcpLease::default();
    for (code, v) in raw_options(data) {
        if FRAMING.contains(&code) {
            continue;
        }
        let text = match code {
            23 | 31 => addresses(v),
            24 => match msg.opts().get(OptionCode::DomainSearchList) {
                Some(DhcpOption::DomainSearchList(names)) => names
                    .iter()
                    .map(|n| n.to_string().trim_end_matches('.').to_string())
                    .collect::<Vec<_>>()
                    .join(","),
                _ => String::new(),
            },
            56 => match msg.opts().get(OptionCode::NtpServer) {
                Some(DhcpOption::NtpServer(subs)) => subs
                    .iter()
                    .map(|s| match s {
                        NtpSuboption::ServerAddress(a) | NtpSuboption::MulticastAddress(a) => {
                            a.to_string()
                        }
                        NtpSuboption::FQDN(n) => n.to_string().trim_end_matches('.').to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join(","),
                _ => String::new(),
            },
            17 => vendor_opts_text(v),
            _ => value_text(v),
        };
        if !text.is_empty() {
            lease.options_v6.insert(code, text);
        }
    }
    lease
}

/// A list of IPv6 addresses as `a,b`.
fn addresses(v: &[u8]) -> String {
    v.chunks_exact(16)
        .map(|c| {
            let mut a = [0u8; 16];
            a.copy_from_slice(c);
            Ipv6Addr::from(a).to_string()
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// One value as text; 16 bytes that are not text as an address.
fn value_text(v: &[u8]) -> String {
    match text_of(v) {
        Some(t) => t.trim().to_string(),
        None if v.len() == 16 => addresses(v),
        None => spaced(v),
    }
}

/// Option 17's sub-options' values, space-separated, without the
/// enterprise number.
fn vendor_opts_text(v: &[u8]) -> String {
    let mut rest = v.get(4..).unwrap_or(&[]);
    let mut parts = Vec::new();
    while rest.len() >= 4 {
        let len = u16::from_be_bytes([rest[2], rest[3]]) as usize;
        let Some(s) = rest.get(4..4 + len) else { break };
        parts.push(value_text(s));
        rest = &rest[4 + len..];
    }
    parts.retain(|p| !p.is_empty());
    parts.join(" ")
}

/// The fuzz entry point (`fuzz/fuzz_targets/dhcp6_reply.rs`, replayed by
/// `tests/dhcp6_corpus_replay.rs`): `data` to a soliciting client, then
/// with its transaction id made the client's, then the same to a client
/// that has sent its REQUEST. Checks that nothing panics, that a client
/// is bound only by a REPLY to its REQUEST, and that a bound lease's text
/// has no NUL. Returns the lease when `data` bound the requesting client.
pub fn fuzz_entry(data: &[u8]) -> Option<DhcpLease> {
    const MAC: [u8; 6] = [0x00, 0x0e, 0x08, 0x12, 0x34, 0x56];
    let cfg = Dhcp6ClientConfig {
        mac: MAC,
        vendor_class: "CP-8841-3PCC".into(),
        oro_extra: vec![160, 159],
        seed: 1,
        give_up_ms: 60_000,
    };
    let aimed = |xid: u32| {
        let mut d = data.to_vec();
        if d.len() >= 4 {
            d[1..4].copy_from_slice(&xid.to_be_bytes()[1..]);
        }
        d
    };
    let mut c = Dhcp6Client::new(cfg.clone(), Time(0));
    c.handle_timeout(Time(1_000));
    c.poll_transmit();
    c.handle_datagram(Time(1_001), data);
    c.handle_datagram(Time(1_002), &aimed(c.xid()));
    assert!(
        !matches!(c.outcome(), Some(Ok(_))),
        "bound without a REQUEST"
    );
    // Requesting: an ADVERTISE from server 00:01 first.
    let mut c = Dhcp6Client::new(cfg, Time(0));
    c.handle_timeout(Time(1_000));
    let sol = Message::decode(&mut Decoder::new(&c.poll_transmit().expect("a SOLICIT")))
        .expect("a SOLICIT decodes");
    let mut adv = Message::new_with_id(MessageType::Advertise, sol.xid());
    let o = adv.opts_mut();
    o.insert(DhcpOption::ClientId(c.duid()));
    o.insert(DhcpOption::ServerId(vec![0, 1]));
    let mut ia = DhcpOptions::new();
    ia.insert(DhcpOption::IAAddr(dhcproto::v6::IAAddr {
        addr: "fd00::100".parse().expect("an address"),
        preferred_life: 3600,
        valid_life: 3600,
        opts: DhcpOptions::new(),
    }));
    o.insert(DhcpOption::IANA(IANA {
        id: iaid(&MAC),
        t1: 0,
        t2: 0,
        opts: ia,
    }));
    c.handle_datagram(Time(1_100), &adv.to_vec().expect("an ADVERTISE encodes"));
    assert!(c.poll_transmit().is_some(), "the ADVERTISE is answered");
    c.handle_datagram(Time(1_200), data);
    c.handle_datagram(Time(1_300), &aimed(c.xid()));
    while c.poll_transmit().is_some() {}
    match c.outcome() {
        Some(Ok(b)) => {
            let text: Vec<&str> = b.lease.options_v6.values().map(String::as_str).collect();
            assert!(text.iter().all(|v| !v.contains('\0')), "{text:?}");
            Some(b.lease.clone())
        }
        Some(Err(e)) => {
            assert!(e.starts_with("DHCPv6 failed: "), "{e}");
            None
        }
        None => {
            assert!(
                c.poll_timeout().is_some(),
                "an unbound client keeps a timer"
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dhcproto::v6::{IAAddr, UnknownOption, VendorClass};

    const MAC: [u8; 6] = [0x00, 0x0e, 0x08, 0xab, 0xcd, 0xef];
    const SERVER: [u8; 10] = [0, 3, 0, 1, 2, 0, 0, 0, 0, 1];

    fn client(now: u64) -> Dhcp6Client {
        Dhcp6Client::new(
            Dhcp6ClientConfig {
                mac: MAC,
                vendor_class: "CP-8841-3PCC".into(),
                oro_extra: vec![17, 160, 159],
                seed: 7,
                give_up_ms: 60_000,
            },
            Time(now),
        )
    }

    fn decode_msg(b: &[u8]) -> Message {
        Message::decode(&mut Decoder::new(b)).unwrap()
    }

    /// The client's first SOLICIT (after its random delay).
    fn solicit(c: &mut Dhcp6Client) -> Message {
        let due = c.poll_timeout().unwrap();
        c.handle_timeout(due);
        decode_msg(&c.poll_transmit().unwrap())
    }

    fn ia(addr: &str, status: Option<Status>) -> DhcpOption {
        let mut o = DhcpOptions::new();
        if !addr.is_empty() {
            o.insert(DhcpOption::IAAddr(IAAddr {
                addr: addr.parse().unwrap(),
                preferred_life: 3600,
                valid_life: 7200,
                opts: DhcpOptions::new(),
            }));
        }
        if let Some(s) = status {
            o.insert(DhcpOption::StatusCode(StatusCode {
                status: s,
                msg: "no addresses here".into(),
            }));
        }
        DhcpOption::IANA(IANA {
            id: iaid(&MAC),
            t1: 1800,
            t2: 2880,
            opts: o,
        })
    }

    /// A server's `kind` answer to `req` with `extra` options.
    fn answer(req: &Message, kind: MessageType, extra: Vec<DhcpOption>) -> Vec<u8> {
        let mut m = Message::new_with_id(kind, req.xid());
        let o = m.opts_mut();
        if let Some(id) = req.opts().get(OptionCode::ClientId) {
            o.insert(id.clone());
        }
        o.insert(DhcpOption::ServerId(SERVER.to_vec()));
        for e in extra {
            o.insert(e);
        }
        m.to_vec().unwrap()
    }

    fn unknown(code: u16, data: &[u8]) -> DhcpOption {
        DhcpOption::Unknown(UnknownOption::new(OptionCode::from(code), data.to_vec()))
    }

    #[test]
    fn r_dhcp_2_solicit_carries_duid_iaid_class_and_option_request() {
        let mut c = client(0);
        assert!(c.poll_transmit().is_none(), "the first SOLICIT waits");
        let due = c.poll_timeout().unwrap().0;
        assert!(due <= SOL_MAX_DELAY, "{due}");
        let s = solicit(&mut c);
        assert_eq!(s.msg_type(), MessageType::Solicit);
        assert_eq!(
            u32::from_be_bytes([0, s.xid()[0], s.xid()[1], s.xid()[2]]),
            c.xid()
        );
        assert_eq!(
            s.opts().get(OptionCode::ClientId),
            Some(&DhcpOption::ClientId(vec![
                0, 3, 0, 1, 0, 0x0e, 8, 0xab, 0xcd, 0xef
            ]))
        );
        let Some(DhcpOption::IANA(ia)) = s.opts().get(OptionCode::IANA) else {
            panic!("no IA_NA")
        };
        assert_eq!(ia.id, 0x08abcdef);
        assert_eq!(
            s.opts().get(OptionCode::VendorClass),
            Some(&DhcpOption::VendorClass(VendorClass {
                num: 9,
                data: vec![b"CP-8841-3PCC".to_vec()]
            }))
        );
        assert_eq!(
            s.opts().get(OptionCode::ElapsedTime),
            Some(&DhcpOption::ElapsedTime(0))
        );
        let Some(DhcpOption::ORO(oro)) = s.opts().get(OptionCode::ORO) else {
            panic!("no ORO")
        };
        let asked: Vec<u16> = oro.opts.iter().map(|c| u16::from(*c)).collect();
        assert_eq!(asked, vec![23, 24, 17, 56, 31, 59, 160, 159]);
        assert!(s.opts().get(OptionCode::ServerId).is_none());
    }

    #[test]
    fn rfc8415_solicit_doubles_from_1_s_with_rand_and_elapsed_time_grows() {
        let mut c = Dhcp6Client::new(
            Dhcp6ClientConfig {
                give_up_ms: 10_000_000,
                ..client(0).cfg
            },
            Time(5_000),
        );
        let first = c.poll_timeout().unwrap().0;
        assert!((5_000..=6_000).contains(&first), "{first}");
        solicit(&mut c);
        let mut now = first;
        let mut waits = Vec::new();
        for i in 0..8 {
            let due = c.poll_timeout().unwrap().0;
            waits.push(due - now);
            c.handle_timeout(Time(due - 1));
            assert!(c.poll_transmit().is_none(), "nothing before the timer");
            c.handle_timeout(Time(due));
            now = due;
            let m = decode_msg(&c.poll_transmit().unwrap());
            assert_eq!(m.msg_type(), MessageType::Solicit);
            assert_eq!(c.xid() & 0xff_ffff, c.xid(), "three bytes");
            let Some(DhcpOption::ElapsedTime(e)) = m.opts().get(OptionCode::ElapsedTime) else {
                panic!("no elapsed time in retransmission {i}")
            };
            assert_eq!(u64::from(*e), (now - first) / 10);
        }
        // The first RT is 1 s + up to 0.1 s (RAND > 0), then each is the
        // previous doubled ±10 % of it.
        assert!((1_001..=1_100).contains(&waits[0]), "{waits:?}");
        for w in waits.windows(2) {
            let (lo, hi) = (2 * w[0] - w[0] / 5, 2 * w[0] + w[0] / 5);
            assert!((lo..=hi).contains(&w[1]), "{waits:?}");
        }
        assert_eq!(c.counters().sent, 9);
    }

    #[test]
    fn rfc8415_request_from_1_s_capped_at_30_s_then_solicits_again_after_10() {
        let mut c = Dhcp6Client::new(
            Dhcp6ClientConfig {
                give_up_ms: 10_000_000,
                ..client(0).cfg
            },
            Time(0),
        );
        let s = solicit(&mut c);
        let sol_xid = c.xid();
        let t0 = c.poll_timeout().unwrap().0 - 500;
        c.handle_datagram(
            Time(t0),
            &answer(&s, MessageType::Advertise, vec![ia("fd00::150", None)]),
        );
        assert_ne!(c.xid(), sol_xid, "the REQUEST is a new transaction");
        let r = decode_msg(&c.poll_transmit().unwrap());
        assert_eq!(r.msg_type(), MessageType::Request);
        assert_eq!(
            r.opts().get(OptionCode::ServerId),
            Some(&DhcpOption::ServerId(SERVER.to_vec()))
        );
        let Some(DhcpOption::IANA(ia_req)) = r.opts().get(OptionCode::IANA) else {
            panic!("no IA_NA")
        };
        assert!(matches!(
            ia_req.opts.get(OptionCode::IAAddr),
            Some(DhcpOption::IAAddr(a)) if a.addr == "fd00::150".parse::<Ipv6Addr>().unwrap()
        ));
        let mut now = t0;
        let mut waits = Vec::new();
        for _ in 1..REQ_MAX_RC {
            let due = c.poll_timeout().unwrap().0;
            waits.push(due - now);
            c.handle_timeout(Time(due));
            now = due;
            let m = decode_msg(&c.poll_transmit().unwrap());
            assert_eq!(m.msg_type(), MessageType::Request);
        }
        assert!((900..=1_100).contains(&waits[0]), "{waits:?}");
        assert!(
            waits.iter().all(|w| *w <= 33_000),
            "REQ_MAX_RT 30 s +10 %: {waits:?}"
        );
        assert!(waits.last().unwrap() >= &27_000, "{waits:?}");
        // The tenth REQUEST's timeout: solicit again, new transaction.
        let req_xid = c.xid();
        let due = c.poll_timeout().unwrap();
        c.handle_timeout(due);
        let m = decode_msg(&c.poll_transmit().unwrap());
        assert_eq!(m.msg_type(), MessageType::Solicit);
        assert_ne!(c.xid(), req_xid);
        assert_eq!(c.counters().sent, 1 + REQ_MAX_RC as u64 + 1);
    }

    #[test]
    fn r_dhcp_2_advertise_request_reply_gives_the_lease_as_text() {
        let mut c = client(0);
        let s = solicit(&mut c);
        c.handle_datagram(
            Time(1_500),
            &answer(&s, MessageType::Advertise, vec![ia("fd00:5::150", None)]),
        );
        let r = decode_msg(&c.poll_transmit().unwrap());
        let mut sub = Vec::new();
        sub.extend_from_slice(&9u32.to_be_bytes());
        sub.extend_from_slice(&[0, 1, 0, 24]);
        sub.extend_from_slice(b"http://pv6.example/p.xml");
        let name = |s: &str| {
            let mut v = Vec::new();
            for l in s.split('.') {
                v.push(l.len() as u8);
                v.extend_from_slice(l.as_bytes());
            }
            v.push(0);
            v
        };
        let mut domains = name("lab.example");
        domains.extend(name("corp.example"));
        let mut ntp = vec![0, 1, 0, 16];
        ntp.extend_from_slice(&"fd00:5::123".parse::<Ipv6Addr>().unwrap().octets());
        let dns: Vec<u8> = ["fd00:5::1", "fd00:5::2"]
            .iter()
            .flat_map(|a| a.parse::<Ipv6Addr>().unwrap().octets())
            .collect();
        let reply = answer(
            &r,
            MessageType::Reply,
            vec![
                ia("fd00:5::150", None),
                unknown(23, &dns),
                unknown(24, &domains),
                unknown(56, &ntp),
                unknown(31, &"fd00:5::124".parse::<Ipv6Addr>().unwrap().octets()),
                unknown(17, &sub),
                unknown(160, b"https://pv.lab.example/$MA.xml"),
                unknown(159, &"fd00:5::9".parse::<Ipv6Addr>().unwrap().octets()),
                unknown(59, b"tftp://[fd00:5::9]/boot"),
            ],
        );
        c.handle_datagram(Time(1_600), &reply);
        let b = c.outcome().unwrap().unwrap();
        assert_eq!(b.address, "fd00:5::150".parse::<Ipv6Addr>().unwrap());
        assert_eq!(b.server_id, "00030001020000000001");
        let o = &b.lease.options_v6;
        assert_eq!(o[&23], "fd00:5::1,fd00:5::2");
        assert_eq!(o[&24], "lab.example,corp.example");
        assert_eq!(o[&56], "fd00:5::123");
        assert_eq!(o[&31], "fd00:5::124");
        assert_eq!(o[&17], "http://pv6.example/p.xml");
        assert_eq!(o[&160], "https://pv.lab.example/$MA.xml");
        assert_eq!(o[&159], "fd00:5::9");
        assert_eq!(o[&59], "tftp://[fd00:5::9]/boot");
        assert!(!o.contains_key(&1) && !o.contains_key(&2) && !o.contains_key(&3));
        assert!(b.lease.options.is_empty());
        assert_eq!(
            crate::provisioning_target_dual(&b.lease, "66,160", "160,17"),
            Some(crate::DhcpTarget::ProvisioningUrl(
                "https://pv.lab.example/$MA.xml".into()
            ))
        );
        assert_eq!(
            crate::provisioning_target_dual(&b.lease, "66,160", "17,160"),
            Some(crate::DhcpTarget::ProvisioningUrl(
                "http://pv6.example/p.xml".into()
            ))
        );
        assert_eq!(c.poll_timeout(), None, "bound: no timer");
        c.handle_datagram(Time(1_700), &reply);
        assert_eq!(c.counters().unexpected, 1, "a late duplicate is counted");
    }

    #[test]
    fn no_addrs_avail_is_ignored_in_an_advertise_and_fails_a_reply() {
        let mut c = Dhcp6Client::new(
            Dhcp6ClientConfig {
                give_up_ms: 5_000,
                ..client(0).cfg
            },
            Time(0),
        );
        let s = solicit(&mut c);
        let top = DhcpOption::StatusCode(StatusCode {
            status: Status::NoAddrsAvail,
            msg: "pool exhausted".into(),
        });
        c.handle_datagram(Time(1_100), &answer(&s, MessageType::Advertise, vec![top]));
        c.handle_datagram(
            Time(1_200),
            &answer(
                &s,
                MessageType::Advertise,
                vec![ia("", Some(Status::NoAddrsAvail))],
            ),
        );
        assert_eq!(c.counters().no_addrs, 2);
        assert!(c.poll_transmit().is_none(), "no REQUEST without an address");
        while let Some(t) = c.poll_timeout() {
            c.handle_timeout(t);
            while let Some(p) = c.poll_transmit() {
                assert_eq!(decode_msg(&p).msg_type(), MessageType::Solicit);
            }
        }
        let e = c.outcome().unwrap().unwrap_err();
        assert!(
            e.starts_with("DHCPv6 failed: only NoAddrsAvail (no addresses here) from the server 00030001020000000001 after 5 s"),
            "{e}"
        );
        // A REPLY with NoAddrsAvail fails at once.
        let mut c = client(0);
        let s = solicit(&mut c);
        c.handle_datagram(
            Time(1_100),
            &answer(&s, MessageType::Advertise, vec![ia("fd00::5", None)]),
        );
        let r = decode_msg(&c.poll_transmit().unwrap());
        c.handle_datagram(
            Time(1_200),
            &answer(
                &r,
                MessageType::Reply,
                vec![ia("", Some(Status::NoAddrsAvail))],
            ),
        );
        let e = c.outcome().unwrap().unwrap_err();
        assert_eq!(e, "DHCPv6 failed: the server 00030001020000000001 answered the REQUEST with NoAddrsAvail (no addresses here); check the server's DHCPv6 address range for this link");
        assert_eq!(c.poll_timeout(), None);
    }

    #[test]
    fn stray_replies_and_garbage_are_ignored_and_counted() {
        let mut c = client(0);
        let raw = {
            let due = c.poll_timeout().unwrap();
            c.handle_timeout(due);
            c.poll_transmit().unwrap()
        };
        let s = decode_msg(&raw);
        let good = answer(&s, MessageType::Advertise, vec![ia("fd00::7", None)]);
        // Another transaction.
        let mut other = s.clone();
        other.set_xid([s.xid()[0] ^ 1, s.xid()[1], s.xid()[2]]);
        c.handle_datagram(Time(1), &answer(&other, MessageType::Advertise, vec![]));
        // Another client, and none.
        let mut m = decode_msg(&good);
        m.opts_mut().remove(OptionCode::ClientId);
        c.handle_datagram(Time(2), &m.to_vec().unwrap());
        m.opts_mut()
            .insert(DhcpOption::ClientId(duid_ll(&[2, 2, 2, 2, 2, 2])));
        c.handle_datagram(Time(3), &m.to_vec().unwrap());
        // A REPLY while soliciting; an ADVERTISE without a server id.
        c.handle_datagram(Time(4), &answer(&s, MessageType::Reply, vec![]));
        let mut m = decode_msg(&good);
        m.opts_mut().remove(OptionCode::ServerId);
        c.handle_datagram(Time(5), &m.to_vec().unwrap());
        // Our own SOLICIT looped back.
        c.handle_datagram(Time(6), &raw);
        // Truncated and garbage.
        c.handle_datagram(Time(7), &good[..good.len() - 3]);
        c.handle_datagram(Time(7), &good[..3]);
        c.handle_datagram(Time(7), &[]);
        // Options dhcproto would panic on or misread, each put first.
        let bad: [&[u8]; 8] = [
            &[0, 13, 0, 1, 0],
            &[0, 16, 0, 2, 0, 0],
            &[0, 17, 0, 3, 0, 0, 0],
            &[0, 11, 0, 3, 1, 2, 3],
            &[0, 8, 0, 0],
            &[0, 9, 0, 0],
            // A Status Code of one byte inside an IA_NA.
            &[
                0, 3, 0, 17, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 13, 0, 1, 0,
            ],
            // A Vendor Class of two bytes inside Vendor Options.
            &[0, 17, 0, 10, 0, 0, 0, 9, 0, 16, 0, 2, 0, 0],
        ];
        for opt in bad {
            let mut m = good[..4].to_vec();
            m.extend_from_slice(opt);
            m.extend_from_slice(&good[4..]);
            c.handle_datagram(Time(8), &m);
        }
        let n = c.counters();
        assert_eq!(
            (
                n.wrong_xid,
                n.wrong_client,
                n.unexpected,
                n.not_a_reply,
                n.garbage
            ),
            (1, 2, 2, 1, 11),
            "{n:?}"
        );
        assert!(c.outcome().is_none());
        assert!(c.poll_transmit().is_none(), "nothing answered the strays");
        // The real ADVERTISE still works.
        c.handle_datagram(Time(9), &good);
        let r = decode_msg(&c.poll_transmit().unwrap());
        assert_eq!(r.msg_type(), MessageType::Request);
    }

    #[test]
    fn no_advertise_fails_with_one_line_and_the_fuzz_entry_holds() {
        let mut c = Dhcp6Client::new(
            Dhcp6ClientConfig {
                give_up_ms: 3_000,
                ..client(0).cfg
            },
            Time(0),
        );
        while let Some(t) = c.poll_timeout() {
            c.handle_timeout(t);
            c.poll_transmit();
        }
        let e = c.outcome().unwrap().unwrap_err();
        assert!(
            e.starts_with("DHCPv6 failed: no ADVERTISE after 3 s"),
            "{e}"
        );
        assert!(fuzz_entry(b"").is_none());
        assert!(fuzz_entry(&[7, 0, 0, 0, 0, 13, 0, 1, 0]).is_none());
    }
}
