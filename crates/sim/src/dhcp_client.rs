//! The fleet's DHCP shell (`phoneprov sim --dhcp-interface IFACE`, R-DHCP):
//! per address family one UDP socket for the whole fleet, bound to the
//! interface (`SO_BINDTODEVICE`), every phone's exchange driven over it
//! and replies handed to the phone whose transaction id they carry.
//! DHCPv4 (the sans-IO [`DhcpClient`]): `0.0.0.0:68` with `SO_BROADCAST`,
//! to `255.255.255.255:67`. DHCPv6 (the sans-IO [`Dhcp6Client`]):
//! `[::]:546`, to `[ff02::1:2]:547` with the interface's scope id.
//!
//! Which families run is the phones' `IP_Mode` ([`IpMode`]): `IPv4 Only`,
//! `IPv6 Only` or `Dual Mode`, as on a real phone. **Decision:** without
//! `--param IP_Mode` the simulator runs DHCPv4 only (the schema's default
//! is `Dual Mode`; a fleet that does not ask for DHCPv6 does not wait for
//! a DHCPv6 server it may not have). In dual mode both exchanges run at
//! the same time; the lease holds both sets of options and the target is
//! read v4 first, then v6 in `DHCPv6_Option_To_Use` order
//! ([`phoneprov_transport::provisioning_target_dual`]).
//!
//! Every phone has its leases (or has given up) before any phone powers
//! on its provisioning engine, so what follows (option 66/160/150/159 per
//! `DHCP_Option_To_Use` and 17/160/159 per `DHCPv6_Option_To_Use`, 6 or
//! v6 23 for the DNS server, 15 or v6 24 for the SRV step, 42/56 in the
//! status, 252 for WPAD) runs through the same code as a lease given with
//! `--dhcp-option`.
//!
//! **Decisions.** The simulator does not configure the leased addresses on
//! the interface (a fleet of thousands would need thousands of addresses):
//! the phones' later traffic leaves from the host's own address, and the
//! lease's address is shown in the status and the report. `--dhcp-option`
//! together with `--dhcp-interface`: the server's options win, the
//! `--dhcp-option` values fill in the options it did not send. A phone
//! whose exchange fails says so (`dhcp.error`, `dhcp.v6.error` in its
//! status and in the report) and goes on with what it has.

use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::time::Duration;

use phoneprov_phone::Time;
use phoneprov_transport::{
    Dhcp6Bound, Dhcp6Client, Dhcp6ClientConfig, Dhcp6Counters, DhcpBound, DhcpClient,
    DhcpClientConfig, DhcpCounters, DhcpLease,
};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;

use crate::SimError;

/// The DHCP server port (RFC 2131).
const SERVER_PORT: u16 = 67;
/// The DHCP client port.
const CLIENT_PORT: u16 = 68;
/// The DHCPv6 server port (RFC 8415 §7.2).
const SERVER_PORT6: u16 = 547;
/// The DHCPv6 client port.
const CLIENT_PORT6: u16 = 546;
/// All_DHCP_Relay_Agents_and_Servers (RFC 8415 §7.1).
const ALL_SERVERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 1, 2);

/// Which DHCP exchanges a phone runs: its `IP_Mode` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpMode {
    /// `IPv4 Only` (and the simulator's default without `IP_Mode`).
    V4,
    /// `IPv6 Only`.
    V6,
    /// `Dual Mode`.
    Dual,
}

impl IpMode {
    /// `IP_Mode`'s value (`None`: not given → [`IpMode::V4`]).
    pub fn parse(v: Option<&str>) -> Result<IpMode, SimError> {
        match v.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
            None | Some("ipv4 only") => Ok(IpMode::V4),
            Some("ipv6 only") => Ok(IpMode::V6),
            Some("dual mode") => Ok(IpMode::Dual),
            Some(_) => Err(SimError::Config(format!(
                "--param IP_Mode={:?}: give `IPv4 Only`, `IPv6 Only` or `Dual Mode`",
                v.unwrap_or_default()
            ))),
        }
    }

    /// Whether DHCPv4 runs.
    pub fn v4(self) -> bool {
        self != IpMode::V6
    }

    /// Whether DHCPv6 runs.
    pub fn v6(self) -> bool {
        self != IpMode::V4
    }
}

/// One phone's exchange as the fleet asks for it.
#[derive(Debug, Clone)]
pub struct DhcpPhone {
    /// `chaddr`.
    pub mac: [u8; 6],
    /// Option 60.
    pub vendor_class: String,
    /// Seeds its `xid`s and jitter.
    pub seed: u64,
}

/// How one phone's DHCPv6 exchange ended.
#[derive(Debug, Clone)]
pub struct Dhcp6Result {
    /// The lease, or the one line that says why there is none.
    pub outcome: Result<Dhcp6Bound, String>,
    /// Replies the phone ignored, by reason; messages sent.
    pub counters: Dhcp6Counters,
}

/// How one phone's exchange ended.
#[derive(Debug, Clone)]
pub struct DhcpResult {
    /// The lease, or the one line that says why there is none.
    pub outcome: Result<DhcpBound, String>,
    /// Replies the phone ignored, by reason; messages sent.
    pub counters: DhcpCounters,
    /// What it sent as option 60.
    pub vendor_class: String,
}

/// Every phone's exchange on one interface.
#[derive(Debug, Clone, Default)]
pub struct DhcpRun {
    /// The interface (`--dhcp-interface`).
    pub interface: String,
    /// Which exchanges ran.
    pub mode: Option<IpMode>,
    /// DHCPv4 per phone, in fleet order (empty with `IPv6 Only`).
    pub phones: Vec<DhcpResult>,
    /// DHCPv6 per phone, in fleet order (empty with `IPv4 Only`).
    pub phones6: Vec<Dhcp6Result>,
    /// Datagrams on port 68 or 546 that matched no phone's transaction
    /// id (another host's exchange, a truncated packet).
    pub unmatched: u64,
}

impl DhcpRun {
    /// Phone `i`'s leases as one [`DhcpLease`] (v4 options from its ACK,
    /// v6 options from its REPLY), `None` when neither exchange bound.
    pub fn lease_of(&self, i: usize) -> Option<DhcpLease> {
        let v4 = self.phones.get(i).and_then(|p| p.outcome.as_ref().ok());
        let v6 = self.phones6.get(i).and_then(|p| p.outcome.as_ref().ok());
        if v4.is_none() && v6.is_none() {
            return None;
        }
        let mut lease = v4.map(|b| b.lease.clone()).unwrap_or_default();
        if let Some(b) = v6 {
            lease.options_v6 = b.lease.options_v6.clone();
        }
        Some(lease)
    }

    /// The first phone's leases that a server confirmed (fleet-wide
    /// settings come from it: the DNS server for host lookups; each
    /// phone's SRV step asks its own lease's DNS server for its own
    /// domain, and each phone informs the ACS of its own lease).
    pub fn first_bound(&self) -> Option<DhcpLease> {
        (0..self.phones.len().max(self.phones6.len())).find_map(|i| self.lease_of(i))
    }
}

/// `lease`'s options with `model`'s (from `--dhcp-option`) added where
/// the server sent none.
pub fn merge(lease: &DhcpLease, model: &DhcpLease) -> DhcpLease {
    let mut out = model.clone();
    out.options
        .extend(lease.options.iter().map(|(k, v)| (*k, v.clone())));
    out.options_v6
        .extend(lease.options_v6.iter().map(|(k, v)| (*k, v.clone())));
    out
}

/// One exchange the shell drives: the DHCPv4 and DHCPv6 clients.
trait Exchange {
    fn xid(&self) -> u32;
    fn poll_transmit(&mut self) -> Option<Vec<u8>>;
    fn poll_timeout(&self) -> Option<Time>;
    fn handle_timeout(&mut self, now: Time);
    fn handle_datagram(&mut self, now: Time, data: &[u8]);
    /// The transaction id a datagram for this kind of client carries.
    fn xid_of(data: &[u8]) -> Option<u32>;
}

impl Exchange for DhcpClient {
    fn xid(&self) -> u32 {
        DhcpClient::xid(self)
    }
    fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        DhcpClient::poll_transmit(self)
    }
    fn poll_timeout(&self) -> Option<Time> {
        DhcpClient::poll_timeout(self)
    }
    fn handle_timeout(&mut self, now: Time) {
        DhcpClient::handle_timeout(self, now)
    }
    fn handle_datagram(&mut self, now: Time, data: &[u8]) {
        DhcpClient::handle_datagram(self, now, data)
    }
    fn xid_of(data: &[u8]) -> Option<u32> {
        data.get(4..8)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
}

impl Exchange for Dhcp6Client {
    fn xid(&self) -> u32 {
        Dhcp6Client::xid(self)
    }
    fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        Dhcp6Client::poll_transmit(self)
    }
    fn poll_timeout(&self) -> Option<Time> {
        Dhcp6Client::poll_timeout(self)
    }
    fn handle_timeout(&mut self, now: Time) {
        Dhcp6Client::handle_timeout(self, now)
    }
    fn handle_datagram(&mut self, now: Time, data: &[u8]) {
        Dhcp6Client::handle_datagram(self, now, data)
    }
    fn xid_of(data: &[u8]) -> Option<u32> {
        data.get(1..4)
            .map(|b| u32::from_be_bytes([0, b[0], b[1], b[2]]))
    }
}

/// The DHCPv4 socket: port 68 on `iface`, broadcast allowed.
fn open_socket(iface: &str) -> Result<UdpSocket, SimError> {
    let err = |e: std::io::Error| SimError::Dhcp {
        iface: iface.to_string(),
        err: e.to_string(),
    };
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).map_err(err)?;
    s.set_reuse_address(true).map_err(err)?;
    s.set_broadcast(true).map_err(err)?;
    // Bound to the device before the port, so fleets on other interfaces
    // (and other tests) can hold port 68 at the same time.
    s.bind_device(Some(iface.as_bytes())).map_err(err)?;
    s.bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, CLIENT_PORT)).into())
        .map_err(err)?;
    s.set_nonblocking(true).map_err(err)?;
    UdpSocket::from_std(s.into()).map_err(err)
}

/// The DHCPv6 socket: `[::]:546` on `iface`, and where to send:
/// `[ff02::1:2%iface]:547`.
fn open_socket6(iface: &str) -> Result<(UdpSocket, SocketAddr), SimError> {
    let err = |e: std::io::Error| SimError::Dhcp {
        iface: iface.to_string(),
        err: format!("DHCPv6: {e}"),
    };
    let name = std::ffi::CString::new(iface)
        .map_err(|_| err(std::io::Error::other("a NUL in the interface name")))?;
    // SAFETY: `name` is a NUL-terminated string that outlives the call.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if index == 0 {
        return Err(err(std::io::Error::last_os_error()));
    }
    let s = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP)).map_err(err)?;
    s.set_only_v6(true).map_err(err)?;
    s.set_reuse_address(true).map_err(err)?;
    s.bind_device(Some(iface.as_bytes())).map_err(err)?;
    s.set_multicast_if_v6(index).map_err(err)?;
    s.bind(&SocketAddr::from((Ipv6Addr::UNSPECIFIED, CLIENT_PORT6)).into())
        .map_err(err)?;
    s.set_nonblocking(true).map_err(err)?;
    let to = SocketAddr::V6(SocketAddrV6::new(ALL_SERVERS, SERVER_PORT6, 0, index));
    Ok((UdpSocket::from_std(s.into()).map_err(err)?, to))
}

/// Runs every phone's exchanges on `iface` (the families of `mode`) until
/// each is bound or has given up after `give_up`. `oro_extra`: the
/// DHCPv6 options of `DHCPv6_Option_To_Use`, asked for in the ORO.
pub async fn acquire(
    iface: &str,
    phones: Vec<DhcpPhone>,
    give_up: Duration,
    mode: IpMode,
    oro_extra: Vec<u16>,
) -> Result<DhcpRun, SimError> {
    let give_up_ms = give_up.as_millis() as u64;
    let v4 = match mode.v4() {
        true => Some((
            open_socket(iface)?,
            SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::BROADCAST, SERVER_PORT)),
        )),
        false => None,
    };
    let v6 = match mode.v6() {
        true => Some(open_socket6(iface)?),
        false => None,
    };
    let run4 = async {
        let Some((sock, to)) = v4 else {
            return (Vec::new(), 0);
        };
        let start = tokio::time::Instant::now();
        let clients = phones
            .iter()
            .map(|p| {
                DhcpClient::new(
                    DhcpClientConfig {
                        mac: p.mac,
                        vendor_class: p.vendor_class.clone(),
                        seed: p.seed,
                        give_up_ms,
                    },
                    Time(0),
                )
            })
            .collect();
        drive(&sock, to, clients, start).await
    };
    let run6 = async {
        let Some((sock, to)) = v6 else {
            return (Vec::new(), 0);
        };
        let start = tokio::time::Instant::now();
        let clients = phones
            .iter()
            .map(|p| {
                Dhcp6Client::new(
                    Dhcp6ClientConfig {
                        mac: p.mac,
                        vendor_class: p.vendor_class.clone(),
                        oro_extra: oro_extra.clone(),
                        // Another stream than the v4 client's.
                        seed: p.seed ^ 0x6666_6666_6666_6666,
                        give_up_ms,
                    },
                    Time(0),
                )
            })
            .collect();
        drive(&sock, to, clients, start).await
    };
    let ((c4, u4), (c6, u6)) = tokio::join!(run4, run6);
    let phones4 = c4
        .into_iter()
        .zip(&phones)
        .map(|(c, p)| DhcpResult {
            outcome: match c.outcome() {
                Some(Ok(b)) => Ok(b.clone()),
                Some(Err(e)) => Err(e.to_string()),
                None => Err("DHCP failed: the exchange did not finish".into()),
            },
            counters: c.counters(),
            vendor_class: p.vendor_class.clone(),
        })
        .collect();
    let phones6 = c6
        .into_iter()
        .map(|c| Dhcp6Result {
            outcome: match c.outcome() {
                Some(Ok(b)) => Ok(b.clone()),
                Some(Err(e)) => Err(e.to_string()),
                None => Err("DHCPv6 failed: the exchange did not finish".into()),
            },
            counters: c.counters(),
        })
        .collect();
    Ok(DhcpRun {
        interface: iface.to_string(),
        mode: Some(mode),
        phones: phones4,
        phones6,
        unmatched: u4 + u6,
    })
}

/// Drives `clients` over `sock` (times relative to `start`) until every
/// one is settled; returns them and the count of datagrams that matched
/// no client's transaction id.
async fn drive<C: Exchange>(
    sock: &UdpSocket,
    to: SocketAddr,
    mut clients: Vec<C>,
    start: tokio::time::Instant,
) -> (Vec<C>, u64) {
    let now = || Time(start.elapsed().as_millis() as u64);
    let mut by_xid: HashMap<u32, usize> = clients
        .iter()
        .enumerate()
        .map(|(i, c)| (c.xid(), i))
        .collect();
    // After any call the client may have a new transaction id (a NAK, a
    // REQUEST, a new SOLICIT): keep the map in step and send what it has.
    async fn after<C: Exchange>(
        sock: &UdpSocket,
        to: SocketAddr,
        by_xid: &mut HashMap<u32, usize>,
        i: usize,
        old: u32,
        c: &mut C,
    ) {
        if c.xid() != old {
            by_xid.remove(&old);
            by_xid.insert(c.xid(), i);
        }
        while let Some(p) = c.poll_transmit() {
            // A failed send is retried by the client's own back-off.
            if let Err(e) = sock.send_to(&p, to).await {
                tracing::warn!("DHCP send to {to} failed: {e}");
            }
        }
    }
    for (i, c) in clients.iter_mut().enumerate() {
        let old = c.xid();
        after(sock, to, &mut by_xid, i, old, c).await;
    }
    let mut unmatched = 0u64;
    let mut buf = vec![0u8; 1500];
    while let Some(due) = clients.iter().filter_map(|c| c.poll_timeout()).min() {
        let wake = start + Duration::from_millis(due.0);
        tokio::select! {
            r = sock.recv_from(&mut buf) => {
                let Ok((n, _)) = r else { continue };
                let data = &buf[..n];
                match C::xid_of(data).and_then(|x| by_xid.get(&x).copied()) {
                    Some(i) => {
                        let c = &mut clients[i];
                        let old = c.xid();
                        c.handle_datagram(now(), data);
                        after(sock, to, &mut by_xid, i, old, c).await;
                    }
                    None => unmatched += 1,
                }
            }
            _ = tokio::time::sleep_until(wake) => {
                let t = now();
                for (i, c) in clients.iter_mut().enumerate() {
                    if c.poll_timeout().is_some_and(|d| d <= t) {
                        let old = c.xid();
                        c.handle_timeout(t);
                        after(sock, to, &mut by_xid, i, old, c).await;
                    }
                }
            }
        }
    }
    (clients, unmatched)
}

/// The `dhcp` part of the fleet report (`--dhcp-interface`).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct DhcpReport {
    /// The interface.
    pub interface: String,
    /// `IPv4 Only`, `IPv6 Only` or `Dual Mode`.
    pub ip_mode: String,
    /// Phones with a DHCPv4 lease.
    pub bound: u64,
    /// Phones whose DHCPv4 exchange gave up.
    pub failed: u64,
    /// Phones with a DHCPv6 lease.
    pub bound6: u64,
    /// Phones whose DHCPv6 exchange failed.
    pub failed6: u64,
    /// Each distinct failure line and how many phones it names.
    pub failures: BTreeMap<String, u64>,
    /// Replies the phones ignored (stray, garbage, unexpected) and
    /// datagrams that matched no phone.
    pub ignored: u64,
    /// NAKs received (each restarted an exchange).
    pub naks: u64,
    /// DHCPv6 ADVERTISEs without an address (NoAddrsAvail).
    pub no_addrs: u64,
    /// Per phone (the first 1000): MAC and its status's `dhcp` object.
    pub phones: Vec<serde_json::Value>,
}

/// Phones listed one by one in [`DhcpReport::phones`] at most.
pub const REPORT_PHONES: usize = 1000;
