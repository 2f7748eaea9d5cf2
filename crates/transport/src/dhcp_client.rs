//! A sans-IO DHCPv4 client for one phone (RFC 2131; R-DHCP-1/2): DISCOVER
//! → OFFER → REQUEST → ACK, on the phone's clock ([`Time`], the time type
//! of `phoneprov_phone`), with no sockets.
//!
//! The driver (the fleet's DHCP shell in `phoneprov-sim`) sends what
//! [`DhcpClient::poll_transmit`] gives to `255.255.255.255:67`, feeds every
//! datagram that arrives on port 68 to [`DhcpClient::handle_datagram`], and
//! calls [`DhcpClient::handle_timeout`] at [`DhcpClient::poll_timeout`].
//! [`DhcpClient::outcome`] says when the phone is bound (its address and
//! the ACK's options as a [`DhcpLease`]) or gave up.
//!
//! What the phone sends: `chaddr` = its MAC, a random `xid`, the broadcast
//! flag (the phone has no address yet, so the server broadcasts its
//! replies), option 60 = its vendor class ([`crate::vendor_class`]:
//! `dslforum.org` while TR-069 is on; otherwise its product name, a
//! **decision**: the seeds name only the TR-069 class), option 55 asking
//! for 1, 3, 6, 15, 42, 43, 56, 66, 125, 150, 159, 160, 252, and option 12
//! `SEP<MAC>` (the host name Cisco phones use). The lease's option 60 is
//! the server's echo, else the class the phone sent (the server answered
//! that class, so with `dslforum.org` options 43/125 name the ACS).
//!
//! Retransmission (RFC 2131 §4.1): 4, 8, 16, 32, 64 s, then 64 s,
//! each randomised by ±1 s. A DHCPNAK restarts from DISCOVER with a new
//! `xid`. An option 150 with several addresses, which `dhcproto` refuses,
//! is read as raw bytes ([`decode_reply`]); an option `dhcproto` cannot
//! read (a bad length, cut off) ends the options read from the reply, the
//! ones before it count. A reply with another `xid` or `chaddr`, a request, garbage, a
//! truncated packet or a reply that does not fit the state is ignored and
//! counted by reason ([`DhcpCounters`]). After `give_up_ms` without a lease
//! the client fails with one line saying what it heard.
//!
//! Messages are encoded and decoded by the `dhcproto` crate (maintained,
//! typed options, DHCPv4 and DHCPv6); the text form of the ACK's options
//! ([`lease_from_reply`]) is ours, because the rest of the phone reads a
//! lease as `N=VALUE` text ([`crate::dhcp`]).

use std::net::Ipv4Addr;

use dhcproto::v4::{
    DhcpOption, DhcpOptions, Flags, HType, Message, MessageType, Opcode, OptionCode,
};
use dhcproto::{Decodable, Decoder, Encodable};
use phoneprov_phone::Time;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::dhcp::DhcpLease;

/// The options the phone asks for (option 55).
pub const PARAMETER_REQUEST_LIST: [u8; 13] = [1, 3, 6, 15, 42, 43, 56, 66, 125, 150, 159, 160, 252];

/// The default time a phone tries before it gives up, ms.
pub const DEFAULT_GIVE_UP_MS: u64 = 60_000;

/// Options whose value is a list of IPv4 addresses (shown as `a,b`).
const IP_LIST_OPTIONS: [u8; 9] = [1, 3, 6, 28, 41, 42, 44, 54, 150];
/// Options whose value is a 32-bit number (lease times).
const U32_OPTIONS: [u8; 3] = [51, 58, 59];

/// What the phone sends and how long it tries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhcpClientConfig {
    /// The phone's MAC (`chaddr`).
    pub mac: [u8; 6],
    /// Option 60.
    pub vendor_class: String,
    /// Seeds the `xid`s and the retransmission jitter.
    pub seed: u64,
    /// No lease after this long: the client fails.
    pub give_up_ms: u64,
}

/// Datagrams ignored, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct DhcpCounters {
    /// Not a DHCP message (truncated, garbage, bad options, no type).
    pub garbage: u64,
    /// A BOOTREQUEST (another client's broadcast).
    pub not_a_reply: u64,
    /// Another transaction's `xid`.
    pub wrong_xid: u64,
    /// Our `xid` but another client's hardware address.
    pub wrong_chaddr: u64,
    /// A reply that does not fit the state (an ACK before an offer, a
    /// second offer, anything after the lease).
    pub unexpected: u64,
    /// DHCPNAKs (each restarts the exchange).
    pub naks: u64,
    /// DISCOVERs and REQUESTs sent.
    pub sent: u64,
}

/// A lease the server acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhcpBound {
    /// `yiaddr` of the ACK.
    pub address: Ipv4Addr,
    /// The server (option 54, else the ACK's `siaddr`).
    pub server: Ipv4Addr,
    /// The ACK's options as text.
    pub lease: DhcpLease,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Selecting,
    Requesting { offered: Ipv4Addr, server: Ipv4Addr },
    Bound(DhcpBound),
    Failed(String),
}

/// One phone's DHCPv4 exchange; see the module docs.
#[derive(Debug, Clone)]
pub struct DhcpClient {
    cfg: DhcpClientConfig,
    rng: StdRng,
    xid: u32,
    state: State,
    started: Time,
    /// Retransmissions of the current message so far.
    tries: u32,
    next: Option<Time>,
    out: Vec<Vec<u8>>,
    counters: DhcpCounters,
}

impl DhcpClient {
    /// Starts the exchange at `now`: a DISCOVER is ready to send.
    pub fn new(cfg: DhcpClientConfig, now: Time) -> DhcpClient {
        let mut rng = StdRng::seed_from_u64(cfg.seed);
        let xid = rng.gen();
        let mut c = DhcpClient {
            cfg,
            rng,
            xid,
            state: State::Selecting,
            started: now,
            tries: 0,
            next: None,
            out: Vec::new(),
            counters: DhcpCounters::default(),
        };
        c.send(now);
        c
    }

    /// The transaction id the replies must carry.
    pub fn xid(&self) -> u32 {
        self.xid
    }

    /// Ignored datagrams and messages sent.
    pub fn counters(&self) -> DhcpCounters {
        self.counters
    }

    /// The next datagram for `255.255.255.255:67`.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        if self.out.is_empty() {
            None
        } else {
            Some(self.out.remove(0))
        }
    }

    /// When [`DhcpClient::handle_timeout`] is due (`None` once settled).
    pub fn poll_timeout(&self) -> Option<Time> {
        match self.state {
            State::Bound(_) | State::Failed(_) => None,
            _ => self.next,
        }
    }

    /// `Some(Ok)` once bound, `Some(Err(line))` once given up.
    pub fn outcome(&self) -> Option<Result<&DhcpBound, &str>> {
        match &self.state {
            State::Bound(b) => Some(Ok(b)),
            State::Failed(e) => Some(Err(e)),
            _ => None,
        }
    }

    /// The retransmission timer: send again with the next back-off, or
    /// give up.
    pub fn handle_timeout(&mut self, now: Time) {
        let Some(due) = self.poll_timeout() else {
            return;
        };
        if now < due {
            return;
        }
        if now.0.saturating_sub(self.started.0) >= self.cfg.give_up_ms {
            let c = self.counters;
            let heard = match &self.state {
                State::Requesting { server, .. } => {
                    format!("an offer from {server} but no DHCPACK")
                }
                _ => "no DHCPOFFER".to_string(),
            };
            self.state = State::Failed(format!(
                "DHCP failed: {heard} after {} s ({} messages sent, {} NAKs, {} replies ignored); check that a DHCP server serves this interface",
                self.cfg.give_up_ms / 1000,
                c.sent,
                c.naks,
                c.garbage + c.not_a_reply + c.wrong_xid + c.wrong_chaddr + c.unexpected
            ));
            self.next = None;
            return;
        }
        self.tries += 1;
        self.send(now);
    }

    /// One datagram from port 67 (or anything that arrived on port 68).
    pub fn handle_datagram(&mut self, now: Time, data: &[u8]) {
        let Some((msg, moved_150)) = decode_reply(data) else {
            self.counters.garbage += 1;
            return;
        };
        if msg.opcode() != Opcode::BootReply {
            self.counters.not_a_reply += 1;
            return;
        }
        if msg.xid() != self.xid {
            self.counters.wrong_xid += 1;
            return;
        }
        if msg.chaddr().get(..6) != Some(&self.cfg.mac[..]) {
            self.counters.wrong_chaddr += 1;
            return;
        }
        let Some(DhcpOption::MessageType(kind)) = msg.opts().get(OptionCode::MessageType) else {
            self.counters.garbage += 1;
            return;
        };
        let server_id = match msg.opts().get(OptionCode::ServerIdentifier) {
            Some(DhcpOption::ServerIdentifier(ip)) => Some(*ip),
            _ => None,
        };
        match (&self.state, *kind) {
            (State::Selecting, MessageType::Offer) if !msg.yiaddr().is_unspecified() => {
                self.state = State::Requesting {
                    offered: msg.yiaddr(),
                    server: server_id.unwrap_or(msg.siaddr()),
                };
                self.tries = 0;
                self.send(now);
            }
            (State::Requesting { server, .. }, MessageType::Ack)
                if server_id.is_none_or(|s| s == *server) =>
            {
                let mut lease = lease_of(&msg, moved_150);
                // The lease was given for the class the phone sent: a
                // server that does not echo option 60 still answered a
                // `dslforum.org` phone, so 43/125 name its ACS (R-TR69-1).
                lease
                    .options
                    .entry(60)
                    .or_insert_with(|| self.cfg.vendor_class.clone());
                self.state = State::Bound(DhcpBound {
                    address: msg.yiaddr(),
                    server: *server,
                    lease,
                });
                self.next = None;
            }
            (State::Requesting { server, .. }, MessageType::Nak)
                if server_id.is_none_or(|s| s == *server) =>
            {
                self.counters.naks += 1;
                self.xid = self.rng.gen();
                self.state = State::Selecting;
                self.tries = 0;
                self.send(now);
            }
            _ => self.counters.unexpected += 1,
        }
    }

    /// Queues the current state's message and arms the back-off timer.
    fn send(&mut self, now: Time) {
        let mut msg = Message::new_with_id(
            self.xid,
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::UNSPECIFIED,
            &self.cfg.mac,
        );
        msg.set_opcode(Opcode::BootRequest)
            .set_htype(HType::Eth)
            .set_flags(Flags::default().set_broadcast())
            .set_secs(((now.0.saturating_sub(self.started.0)) / 1000).min(u16::MAX as u64) as u16);
        let mut opts = DhcpOptions::new();
        match &self.state {
            State::Requesting { offered, server } => {
                opts.insert(DhcpOption::MessageType(MessageType::Request));
                opts.insert(DhcpOption::RequestedIpAddress(*offered));
                opts.insert(DhcpOption::ServerIdentifier(*server));
            }
            _ => {
                opts.insert(DhcpOption::MessageType(MessageType::Discover));
            }
        }
        let mut client_id = vec![1u8];
        client_id.extend_from_slice(&self.cfg.mac);
        opts.insert(DhcpOption::ClientIdentifier(client_id));
        opts.insert(DhcpOption::ClassIdentifier(
            self.cfg.vendor_class.as_bytes().to_vec(),
        ));
        opts.insert(DhcpOption::Hostname(format!(
            "SEP{}",
            self.cfg
                .mac
                .iter()
                .map(|b| format!("{b:02X}"))
                .collect::<String>()
        )));
        opts.insert(DhcpOption::MaxMessageSize(1500));
        opts.insert(DhcpOption::ParameterRequestList(
            PARAMETER_REQUEST_LIST
                .iter()
                .map(|&n| OptionCode::from(n))
                .collect(),
        ));
        msg.set_opts(opts);
        if let Ok(bytes) = msg.to_vec() {
            self.out.push(bytes);
            self.counters.sent += 1;
        }
        let jitter: i64 = self.rng.gen_range(-1000..=1000);
        self.next = Some(Time(
            now.0
                .saturating_add_signed(backoff_ms(self.tries) as i64 + jitter),
        ));
    }
}

/// Where [`decode_reply`] moves an option 150 that `dhcproto` cannot
/// read (it takes exactly one address; Cisco's TFTP server list may hold
/// several): 223, unassigned, which `dhcproto` keeps as raw bytes (a real
/// option 223 in the same reply would be read as 150: none is assigned).
const MOVED_150: u8 = 223;

/// Decodes a DHCP message. An option 150 that is not one address (which
/// `dhcproto` would take for the end of the options) is renumbered to
/// [`MOVED_150`] first (`true`: it was moved).
fn decode_reply(data: &[u8]) -> Option<(Message, bool)> {
    // hlen over 16: dhcproto decodes it and then panics in `chaddr()`
    // (found by the fuzz target); no reply to us has one.
    if data.get(2).is_some_and(|&hlen| hlen > 16) {
        return None;
    }
    // Options follow the 236-byte header and the magic cookie (RFC 2131
    // §3): without it this is not a DHCP reply. `dhcproto` reads the four
    // bytes without checking them, so the screen below must see every
    // option it would decode (the fuzz target's third crash: no cookie, a
    // three-byte 152).
    if data.get(236..240) != Some(&[99, 130, 83, 99]) {
        return None;
    }
    let mut d = data.to_vec();
    let mut moved = false;
    {
        let mut i = 240;
        while i + 1 < d.len() {
            match d[i] {
                0 => i += 1,
                255 => break,
                code => {
                    let len = d[i + 1] as usize;
                    if !length_decodable(code, len) {
                        return None;
                    }
                    if code == 150 && len != 4 {
                        d[i] = MOVED_150;
                        moved = true;
                    }
                    i += 2 + len;
                }
            }
        }
    }
    Message::decode(&mut Decoder::new(&d))
        .ok()
        .map(|m| (m, moved))
}

/// Whether `dhcproto` 0.15 can decode option `code` with `len` bytes
/// without tripping its own assertions. For these options it checks the
/// length with `debug_assert!` (a panic in a debug build) or subtracts from
/// it (an overflow): rapid commit (80) is empty, client network interface
/// (94) three bytes, the bulk leasequery times (152-155) four, the status
/// code (151) at least one and the client FQDN (81) at least three. The
/// `dhcp_reply` fuzz target found the one of 155; no server answers a
/// phone with any of them, so a reply that has one malformed is garbage.
fn length_decodable(code: u8, len: usize) -> bool {
    match code {
        80 => len == 0,
        94 => len == 3,
        152..=155 => len == 4,
        151 => len >= 1,
        81 => len >= 3,
        _ => true,
    }
}

/// RFC 2131 §4.1: the wait after the `tries`-th retransmission before the
/// next one, without the ±1 s jitter: 4, 8, 16, 32, 64, 64... s.
pub fn backoff_ms(tries: u32) -> u64 {
    4000u64 << tries.min(4)
}

/// The options of a DHCP reply as a [`DhcpLease`]: IP lists (1, 3, 6, 42,
/// 150, ...) as `a,b`, lease times as numbers, text options (15, 56, 66,
/// 159, 160, 252) as text (four bytes that are not text, as dnsmasq sends
/// `159,10.0.0.9`, as an address), and anything else (43, 125: vendor
/// sub-option framing around an ACS URL) with its non-printable bytes as
/// spaces, which is what [`crate::provisioning_target`] reads.
pub fn lease_from_reply(msg: &Message) -> DhcpLease {
    lease_of(msg, false)
}

/// [`lease_from_reply`]; `moved_150`: option [`MOVED_150`] is 150.
fn lease_of(msg: &Message, moved_150: bool) -> DhcpLease {
    let mut lease = DhcpLease::default();
    for (code, opt) in msg.opts().iter() {
        let n = match u8::from(*code) {
            MOVED_150 if moved_150 => 150,
            n => n,
        };
        if matches!(n, 0 | 53 | 55 | 255) {
            continue;
        }
        let Some(data) = raw_option(opt) else {
            continue;
        };
        lease.options.insert(n, option_text(n, &data));
    }
    lease
}

/// The option's value bytes (an encoded option is `code len data`,
/// repeated for values over 255 bytes).
fn raw_option(opt: &DhcpOption) -> Option<Vec<u8>> {
    let enc = opt.to_vec().ok()?;
    let mut data = Vec::new();
    let mut rest = &enc[..];
    while rest.len() >= 2 {
        let len = rest[1] as usize;
        let end = (2 + len).min(rest.len());
        data.extend_from_slice(&rest[2..end]);
        rest = &rest[end..];
    }
    Some(data)
}

fn ips(data: &[u8]) -> String {
    data.chunks_exact(4)
        .map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3]).to_string())
        .collect::<Vec<_>>()
        .join(",")
}

fn option_text(n: u8, data: &[u8]) -> String {
    let quad = !data.is_empty() && data.len().is_multiple_of(4);
    if IP_LIST_OPTIONS.contains(&n) && quad {
        return ips(data);
    }
    if U32_OPTIONS.contains(&n) && data.len() == 4 {
        return u32::from_be_bytes([data[0], data[1], data[2], data[3]]).to_string();
    }
    match text_of(data) {
        None if quad && n == 159 => ips(data),
        t => t.unwrap_or_else(|| spaced(data)),
    }
}

/// An option value as text (a trailing NUL dropped), or `None` when it
/// holds control bytes (then [`spaced`] or an address reading applies).
/// Shared by the DHCPv4 and DHCPv6 clients.
pub(crate) fn text_of(data: &[u8]) -> Option<String> {
    let text = data.strip_suffix(&[0]).unwrap_or(data);
    let printable = text.iter().all(|b| (0x20..0x7f).contains(b));
    match std::str::from_utf8(text) {
        Ok(s) if printable || !s.chars().any(char::is_control) => Some(s.to_string()),
        _ => None,
    }
}

/// `data` with its non-printable bytes as spaces, trimmed (vendor
/// sub-option framing around a URL).
pub(crate) fn spaced(data: &[u8]) -> String {
    let text = data.strip_suffix(&[0]).unwrap_or(data);
    text.iter()
        .map(|&b| {
            if (0x20..0x7f).contains(&b) {
                b as char
            } else {
                ' '
            }
        })
        .collect::<String>()
        .trim()
        .to_string()
}

/// The fuzz entry point (`fuzz/fuzz_targets/dhcp_reply.rs`, replayed by
/// `tests/dhcp_corpus_replay.rs`): `data` as a datagram to a selecting
/// client, then with its `xid` and `chaddr` made the client's (so a
/// well-formed reply reaches the state machine), then the same to a client
/// that has sent its REQUEST. Checks that nothing panics, that a client is
/// bound only by an ACK it asked for, and that a bound lease parses as
/// text. Returns the lease when `data` bound the requesting client.
pub fn fuzz_entry(data: &[u8]) -> Option<DhcpLease> {
    const MAC: [u8; 6] = [0x00, 0x0e, 0x08, 0x12, 0x34, 0x56];
    let cfg = DhcpClientConfig {
        mac: MAC,
        vendor_class: "dslforum.org".into(),
        seed: 1,
        give_up_ms: DEFAULT_GIVE_UP_MS,
    };
    let aimed = |xid: u32| {
        let mut d = data.to_vec();
        if d.len() >= 34 {
            d[4..8].copy_from_slice(&xid.to_be_bytes());
            d[28..34].copy_from_slice(&MAC);
        }
        d
    };
    // Selecting: nothing but an OFFER moves it, nothing binds it.
    let mut c = DhcpClient::new(cfg.clone(), Time(0));
    c.poll_transmit();
    c.handle_datagram(Time(1), data);
    c.handle_datagram(Time(2), &aimed(c.xid()));
    assert!(
        !matches!(c.outcome(), Some(Ok(_))),
        "bound without a REQUEST"
    );
    // Requesting: an OFFER from 10.0.0.1 first.
    let mut c = DhcpClient::new(cfg, Time(0));
    c.poll_transmit();
    let mut offer = Message::new_with_id(
        c.xid(),
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::new(10, 0, 0, 100),
        Ipv4Addr::new(10, 0, 0, 1),
        Ipv4Addr::UNSPECIFIED,
        &MAC,
    );
    offer.set_opcode(Opcode::BootReply);
    let mut o = DhcpOptions::new();
    o.insert(DhcpOption::MessageType(MessageType::Offer));
    o.insert(DhcpOption::ServerIdentifier(Ipv4Addr::new(10, 0, 0, 1)));
    offer.set_opts(o);
    c.handle_datagram(Time(1), &offer.to_vec().expect("an OFFER encodes"));
    assert!(c.poll_transmit().is_some(), "the OFFER is answered");
    c.handle_datagram(Time(2), data);
    c.handle_datagram(Time(3), &aimed(c.xid()));
    while c.poll_transmit().is_some() {}
    match c.outcome() {
        Some(Ok(b)) => {
            let text: Vec<&str> = b.lease.options.values().map(String::as_str).collect();
            assert!(text.iter().all(|v| !v.contains('\0')), "{text:?}");
            Some(b.lease.clone())
        }
        Some(Err(e)) => panic!("a datagram cannot fail the exchange: {e}"),
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

    const MAC: [u8; 6] = [0x00, 0x0e, 0x08, 0xab, 0xcd, 0xef];
    const SERVER: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 1);

    fn client(now: u64) -> DhcpClient {
        DhcpClient::new(
            DhcpClientConfig {
                mac: MAC,
                vendor_class: "dslforum.org".into(),
                seed: 7,
                give_up_ms: DEFAULT_GIVE_UP_MS,
            },
            Time(now),
        )
    }

    fn decode(b: &[u8]) -> Message {
        Message::decode(&mut Decoder::new(b)).unwrap()
    }

    /// A server's reply to `req` of type `kind` with `extra` options.
    fn reply(req: &Message, kind: MessageType, extra: Vec<DhcpOption>) -> Vec<u8> {
        let mut m = Message::new_with_id(
            req.xid(),
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::new(10, 9, 0, 150),
            SERVER,
            Ipv4Addr::UNSPECIFIED,
            &req.chaddr()[..6],
        );
        m.set_opcode(Opcode::BootReply);
        if kind == MessageType::Nak {
            m.set_yiaddr(Ipv4Addr::UNSPECIFIED);
        }
        let mut o = DhcpOptions::new();
        o.insert(DhcpOption::MessageType(kind));
        o.insert(DhcpOption::ServerIdentifier(SERVER));
        for e in extra {
            o.insert(e);
        }
        m.set_opts(o);
        m.to_vec().unwrap()
    }

    fn type_of(m: &Message) -> MessageType {
        match m.opts().get(OptionCode::MessageType) {
            Some(DhcpOption::MessageType(t)) => *t,
            other => panic!("no message type: {other:?}"),
        }
    }

    #[test]
    fn r_dhcp_2_discover_carries_mac_broadcast_class_and_request_list() {
        let mut c = client(0);
        let d = decode(&c.poll_transmit().unwrap());
        assert!(c.poll_transmit().is_none());
        assert_eq!(type_of(&d), MessageType::Discover);
        assert_eq!(d.opcode(), Opcode::BootRequest);
        assert_eq!(&d.chaddr()[..6], &MAC);
        assert_eq!(d.xid(), c.xid());
        assert!(d.flags().broadcast());
        assert_eq!(
            d.opts().get(OptionCode::ClassIdentifier),
            Some(&DhcpOption::ClassIdentifier(b"dslforum.org".to_vec()))
        );
        let Some(DhcpOption::ParameterRequestList(prl)) =
            d.opts().get(OptionCode::ParameterRequestList)
        else {
            panic!("no option 55")
        };
        let asked: Vec<u8> = prl.iter().map(|c| u8::from(*c)).collect();
        for n in [1, 3, 6, 15, 42, 43, 56, 66, 125, 150, 159, 160, 252] {
            assert!(asked.contains(&n), "option 55 lacks {n}: {asked:?}");
        }
    }

    #[test]
    fn rfc2131_retransmission_doubles_from_4_s_with_1_s_jitter_capped_at_64() {
        let mut c = client(1_000);
        c.poll_transmit().unwrap();
        let mut now = 1_000u64;
        let mut waits = Vec::new();
        for _ in 0..7 {
            let due = c.poll_timeout().unwrap().0;
            waits.push(due - now);
            // Nothing before the timer.
            c.handle_timeout(Time(due - 1));
            assert!(c.poll_transmit().is_none());
            c.handle_timeout(Time(due));
            now = due;
            if now - 1_000 >= DEFAULT_GIVE_UP_MS {
                break;
            }
            let again = decode(&c.poll_transmit().unwrap());
            assert_eq!(type_of(&again), MessageType::Discover);
            assert_eq!(again.xid(), c.xid(), "a retransmission keeps its xid");
        }
        for (i, w) in waits.iter().enumerate() {
            let base = 4000u64 << i.min(4);
            assert!(
                (base - 1000..=base + 1000).contains(w),
                "wait {i} was {w} ms, not {base} ms ±1 s: {waits:?}"
            );
        }
        assert!(waits.len() >= 4, "{waits:?}");
        // Past the give-up time the client fails with one line.
        while let Some(t) = c.poll_timeout() {
            c.handle_timeout(t);
            c.poll_transmit();
        }
        let err = c.outcome().unwrap().unwrap_err();
        assert!(err.contains("no DHCPOFFER"), "{err}");
        assert_eq!(backoff_ms(10), 64_000);
    }

    #[test]
    fn r_dhcp_2_offer_request_ack_gives_the_lease_as_text() {
        let mut c = client(0);
        let d = decode(&c.poll_transmit().unwrap());
        c.handle_datagram(Time(300), &reply(&d, MessageType::Offer, vec![]));
        let r = decode(&c.poll_transmit().unwrap());
        assert_eq!(type_of(&r), MessageType::Request);
        assert_eq!(
            r.opts().get(OptionCode::RequestedIpAddress),
            Some(&DhcpOption::RequestedIpAddress(Ipv4Addr::new(
                10, 9, 0, 150
            )))
        );
        assert_eq!(
            r.opts().get(OptionCode::ServerIdentifier),
            Some(&DhcpOption::ServerIdentifier(SERVER))
        );
        assert!(r.opts().get(OptionCode::ClassIdentifier).is_some());
        // The REQUEST's timer starts again at 4 s.
        let due = c.poll_timeout().unwrap().0;
        assert!((3300..=5300).contains(&due), "{due}");
        let unknown = |code: u8, data: &[u8]| {
            DhcpOption::Unknown(dhcproto::v4::UnknownOption::new(
                OptionCode::from(code),
                data.to_vec(),
            ))
        };
        let ack = reply(
            &d,
            MessageType::Ack,
            vec![
                DhcpOption::DomainNameServer(vec![
                    Ipv4Addr::new(10, 9, 0, 1),
                    Ipv4Addr::new(10, 9, 0, 2),
                ]),
                DhcpOption::DomainName("lab.example".into()),
                DhcpOption::NtpServers(vec![Ipv4Addr::new(10, 9, 0, 123)]),
                DhcpOption::Message("Welcome".into()),
                DhcpOption::TFTPServerName(b"tftp.lab.example".to_vec()),
                DhcpOption::VendorExtensions(b"\x01\x1fhttp://acs.lab.example:7547/cwmp".to_vec()),
                unknown(160, b"https://pv.lab.example/$MA.xml"),
                unknown(159, &[10, 9, 0, 7]),
                unknown(252, b"http://wpad.lab.example/wpad.dat\0"),
                DhcpOption::AddressLeaseTime(3600),
            ],
        );
        c.handle_datagram(Time(400), &ack);
        let b = c.outcome().unwrap().unwrap();
        assert_eq!(b.address, Ipv4Addr::new(10, 9, 0, 150));
        assert_eq!(b.server, SERVER);
        let o = &b.lease.options;
        assert_eq!(o[&6], "10.9.0.1,10.9.0.2");
        assert_eq!(o[&15], "lab.example");
        assert_eq!(o[&42], "10.9.0.123");
        assert_eq!(o[&56], "Welcome");
        assert_eq!(o[&66], "tftp.lab.example");
        assert_eq!(o[&160], "https://pv.lab.example/$MA.xml");
        assert_eq!(o[&159], "10.9.0.7");
        assert_eq!(o[&252], "http://wpad.lab.example/wpad.dat");
        assert_eq!(o[&51], "3600");
        assert_eq!(o[&54], "10.9.0.1");
        // The class the phone sent stands for the server's echo, and 43
        // keeps the URL readable for the lease parser.
        assert_eq!(o[&60], "dslforum.org");
        assert_eq!(
            crate::provisioning_target(&b.lease, "43"),
            Some(crate::DhcpTarget::AcsUrl(
                "http://acs.lab.example:7547/cwmp".into()
            ))
        );
        assert_eq!(c.poll_timeout(), None, "bound: no timer");
        // A late duplicate ACK is counted, changes nothing.
        c.handle_datagram(Time(500), &ack);
        assert_eq!(c.counters().unexpected, 1);
    }

    #[test]
    fn rfc2131_nak_restarts_with_a_new_xid() {
        let mut c = client(0);
        let d = decode(&c.poll_transmit().unwrap());
        c.handle_datagram(Time(100), &reply(&d, MessageType::Offer, vec![]));
        c.poll_transmit().unwrap();
        let old = c.xid();
        c.handle_datagram(Time(200), &reply(&d, MessageType::Nak, vec![]));
        assert_eq!(c.counters().naks, 1);
        assert!(c.outcome().is_none());
        let again = decode(&c.poll_transmit().unwrap());
        assert_eq!(type_of(&again), MessageType::Discover);
        assert_ne!(again.xid(), old);
        assert_eq!(again.xid(), c.xid());
        // The old transaction's ACK is now another xid.
        c.handle_datagram(Time(300), &reply(&d, MessageType::Ack, vec![]));
        assert_eq!(c.counters().wrong_xid, 1);
        assert!(c.outcome().is_none());
        // The new one binds.
        c.handle_datagram(Time(400), &reply(&again, MessageType::Offer, vec![]));
        c.poll_transmit().unwrap();
        c.handle_datagram(Time(500), &reply(&again, MessageType::Ack, vec![]));
        assert!(c.outcome().unwrap().is_ok());
    }

    #[test]
    fn stray_replies_and_garbage_are_ignored_and_counted() {
        let mut c = client(0);
        let raw = c.poll_transmit().unwrap();
        let d = decode(&raw);
        // Another client's xid.
        let mut other = d.clone();
        other.set_xid(d.xid().wrapping_add(1));
        c.handle_datagram(Time(1), &reply(&other, MessageType::Offer, vec![]));
        // Our xid, another MAC.
        let mut m = decode(&reply(&d, MessageType::Offer, vec![]));
        m.set_chaddr(&[2, 2, 2, 2, 2, 2]);
        c.handle_datagram(Time(2), &m.to_vec().unwrap());
        // An ACK before any offer.
        c.handle_datagram(Time(3), &reply(&d, MessageType::Ack, vec![]));
        // Our own broadcast DISCOVER coming back.
        c.handle_datagram(Time(4), &raw);
        // Truncated and garbage.
        let offer = reply(&d, MessageType::Offer, vec![]);
        c.handle_datagram(Time(5), &offer[..100]);
        c.handle_datagram(Time(6), b"\xff\x00 not dhcp");
        c.handle_datagram(Time(7), &[]);
        // hlen 255 (dhcproto's chaddr() would panic on it).
        let mut long = offer.clone();
        long[2] = 255;
        c.handle_datagram(Time(7), &long);
        // Options whose length dhcproto asserts or subtracts from (the
        // fuzz target's second crash was a 155 of one byte): each a reply
        // that would otherwise be read, put before the real options.
        let bad: [&[u8]; 6] = [
            &[155, 1, 0],
            &[152, 0],
            &[80, 1, 0],
            &[94, 2, 1, 2],
            &[151, 0],
            &[81, 2, 0, 0],
        ];
        for opt in bad {
            let mut m = offer[..240].to_vec();
            m.extend_from_slice(opt);
            m.extend_from_slice(&offer[240..]);
            c.handle_datagram(Time(7), &m);
        }
        // No magic cookie (dhcproto would decode the options anyway).
        let mut no_cookie = offer.clone();
        no_cookie[236] = 10;
        c.handle_datagram(Time(7), &no_cookie);
        let n = c.counters();
        assert_eq!(
            (
                n.wrong_xid,
                n.wrong_chaddr,
                n.unexpected,
                n.not_a_reply,
                n.garbage
            ),
            (1, 1, 1, 1, 11),
            "{n:?}"
        );
        assert!(c.outcome().is_none());
        assert!(c.poll_transmit().is_none(), "nothing answered the strays");
        // The real offer still works.
        c.handle_datagram(Time(8), &offer);
        let r = decode(&c.poll_transmit().unwrap());
        assert_eq!(type_of(&r), MessageType::Request);
    }

    #[test]
    fn requesting_without_ack_fails_naming_the_server() {
        let mut c = DhcpClient::new(
            DhcpClientConfig {
                mac: MAC,
                vendor_class: "CP-8841-3PCC".into(),
                seed: 1,
                give_up_ms: 10_000,
            },
            Time(0),
        );
        let d = decode(&c.poll_transmit().unwrap());
        c.handle_datagram(Time(10), &reply(&d, MessageType::Offer, vec![]));
        while let Some(t) = c.poll_timeout() {
            c.handle_timeout(t);
            while let Some(p) = c.poll_transmit() {
                assert_eq!(type_of(&decode(&p)), MessageType::Request);
            }
        }
        let e = c.outcome().unwrap().unwrap_err();
        assert!(e.contains("an offer from 10.9.0.1 but no DHCPACK"), "{e}");
    }
}
