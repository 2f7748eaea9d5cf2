//! The fleet's DHCP shell (`phoneprov sim --dhcp-interface IFACE`, R-DHCP):
//! one UDP socket for the whole fleet, bound to `0.0.0.0:68` on IFACE
//! (`SO_BINDTODEVICE`, `SO_BROADCAST`), every phone's DHCPv4 exchange
//! (the sans-IO [`DhcpClient`]) driven over it, replies handed to the phone
//! whose `xid` they carry.
//!
//! Every phone has its lease (or has given up) before any phone powers on
//! its provisioning engine, so what follows (option 66/160/150/159 per
//! `DHCP_Option_To_Use`, 6 for the DNS server, 15 for the SRV step, 42/56
//! in the status, 252 for WPAD) runs through the same code as a lease given
//! with `--dhcp-option`.
//!
//! **Decisions.** The simulator does not configure the leased addresses on
//! the interface (a fleet of thousands would need thousands of addresses):
//! the phones' later traffic leaves from the host's own address, and the
//! lease's address is shown in the status and the report. `--dhcp-option`
//! together with `--dhcp-interface`: the server's options win, the
//! `--dhcp-option` values fill in the options it did not send. A phone
//! whose exchange fails says so (`dhcp.error` in its status and in the
//! report) and goes on with the `--dhcp-option` lease alone.

use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use phoneprov_phone::Time;
use phoneprov_transport::{DhcpBound, DhcpClient, DhcpClientConfig, DhcpCounters, DhcpLease};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;

use crate::SimError;

/// The DHCP server port (RFC 2131).
const SERVER_PORT: u16 = 67;
/// The DHCP client port.
const CLIENT_PORT: u16 = 68;

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
    /// Per phone, in fleet order.
    pub phones: Vec<DhcpResult>,
    /// Datagrams on port 68 that matched no phone's `xid` (another host's
    /// exchange, a truncated packet).
    pub unmatched: u64,
}

impl DhcpRun {
    /// The first phone's lease the server acknowledged (fleet-wide
    /// settings come from it: the DNS server, the SRV step, the ACS).
    pub fn first_bound(&self) -> Option<&DhcpBound> {
        self.phones.iter().find_map(|p| p.outcome.as_ref().ok())
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

/// The socket: port 68 on `iface`, broadcast allowed.
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

/// Runs every phone's exchange on `iface` until each is bound or has
/// given up after `give_up`.
pub async fn acquire(
    iface: &str,
    phones: Vec<DhcpPhone>,
    give_up: Duration,
) -> Result<DhcpRun, SimError> {
    let sock = open_socket(iface)?;
    let to = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::BROADCAST, SERVER_PORT));
    let start = tokio::time::Instant::now();
    let now = || Time(start.elapsed().as_millis() as u64);
    let mut clients: Vec<DhcpClient> = phones
        .iter()
        .map(|p| {
            DhcpClient::new(
                DhcpClientConfig {
                    mac: p.mac,
                    vendor_class: p.vendor_class.clone(),
                    seed: p.seed,
                    give_up_ms: give_up.as_millis() as u64,
                },
                now(),
            )
        })
        .collect();
    let mut by_xid: HashMap<u32, usize> = clients
        .iter()
        .enumerate()
        .map(|(i, c)| (c.xid(), i))
        .collect();
    for c in clients.iter_mut() {
        flush(&sock, to, c).await;
    }
    let mut unmatched = 0u64;
    let mut buf = vec![0u8; 1500];
    while let Some(due) = clients.iter().filter_map(|c| c.poll_timeout()).min() {
        let wake = start + Duration::from_millis(due.0);
        tokio::select! {
            r = sock.recv_from(&mut buf) => {
                let Ok((n, _)) = r else { continue };
                let data = &buf[..n];
                let xid = data.get(4..8).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
                match xid.and_then(|x| by_xid.get(&x).copied()) {
                    Some(i) => {
                        let c = &mut clients[i];
                        let old = c.xid();
                        c.handle_datagram(now(), data);
                        if c.xid() != old {
                            by_xid.remove(&old);
                            by_xid.insert(c.xid(), i);
                        }
                        flush(&sock, to, c).await;
                    }
                    None => unmatched += 1,
                }
            }
            _ = tokio::time::sleep_until(wake) => {
                let t = now();
                for c in clients.iter_mut() {
                    if c.poll_timeout().is_some_and(|d| d <= t) {
                        c.handle_timeout(t);
                        flush(&sock, to, c).await;
                    }
                }
            }
        }
    }
    let phones = clients
        .into_iter()
        .zip(phones)
        .map(|(c, p)| DhcpResult {
            outcome: match c.outcome() {
                Some(Ok(b)) => Ok(b.clone()),
                Some(Err(e)) => Err(e.to_string()),
                None => Err("DHCP failed: the exchange did not finish".into()),
            },
            counters: c.counters(),
            vendor_class: p.vendor_class,
        })
        .collect();
    Ok(DhcpRun {
        interface: iface.to_string(),
        phones,
        unmatched,
    })
}

/// Sends what the client has queued (a failed send is retried by the
/// client's own back-off).
async fn flush(sock: &UdpSocket, to: SocketAddr, c: &mut DhcpClient) {
    while let Some(p) = c.poll_transmit() {
        if let Err(e) = sock.send_to(&p, to).await {
            tracing::warn!("DHCP send on port 68 failed: {e}");
        }
    }
}

/// The `dhcp` part of the fleet report (`--dhcp-interface`).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct DhcpReport {
    /// The interface.
    pub interface: String,
    /// Phones with a lease.
    pub bound: u64,
    /// Phones that gave up.
    pub failed: u64,
    /// Each distinct failure line and how many phones it names.
    pub failures: BTreeMap<String, u64>,
    /// Replies the phones ignored (stray, garbage, unexpected) and
    /// datagrams that matched no phone.
    pub ignored: u64,
    /// NAKs received (each restarted an exchange).
    pub naks: u64,
    /// Per phone (the first 1000): MAC and its status's `dhcp` object.
    pub phones: Vec<serde_json::Value>,
}

/// Phones listed one by one in [`DhcpReport::phones`] at most.
pub const REPORT_PHONES: usize = 1000;
