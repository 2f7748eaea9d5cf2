//! The UDP shell around the parser: receive datagrams, parse and classify
//! each, hand the result to a sink.
//!
//! The sink is a plain `Fn(Received)` called on the receive task, so it must
//! not block: the server's filer (`phoneprov_server::syslog_filing`) works on
//! its own thread behind a bounded queue, and its `sink()` only enqueues.
//!
//! Each message counts in `phoneprov_syslog_messages_total{kind}` (the
//! [`PhoneLogKind`] name) through the `metrics` facade, which the server's
//! Prometheus recorder exports on `/metrics`.

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use phoneprov_types::Mac;
use tokio::net::UdpSocket;

use crate::classify::{classify, find_mac, PhoneLogKind};
use crate::message::SyslogMessage;
use crate::parse::parse;

/// Largest datagram read (the UDP maximum); longer ones cannot exist.
pub const MAX_DATAGRAM: usize = 65_535;

/// The syslog socket failed for good.
#[derive(Debug, thiserror::Error)]
#[error(
    "syslog socket {} stopped receiving: {cause}; restart `phoneprov serve`, and check that nothing closed or reconfigured the syslog port",
    local.map_or_else(|| "(unknown address)".to_string(), |a| a.to_string())
)]
pub struct ReceiveError {
    /// The socket's address, when it could still be read.
    pub local: Option<SocketAddr>,
    /// The receive error.
    pub cause: io::Error,
}

/// One received, parsed and classified syslog message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The sender (the phone, or a relay).
    pub from: SocketAddr,
    /// Receive time, Unix ms: phones without NTP send a meaningless
    /// timestamp, so this is the time that is filed.
    pub at_ms: i64,
    /// The parsed message.
    pub message: SyslogMessage,
    /// The MAC found in the message text, else in the hostname or tag.
    pub mac: Option<Mac>,
    /// What the message reports (R-LOG-1).
    pub kind: PhoneLogKind,
}

impl Received {
    /// Parses and classifies one datagram (sans-IO; what the receiver
    /// does for each packet).
    pub fn from_datagram(from: SocketAddr, at_ms: i64, datagram: &[u8]) -> Received {
        let message = parse(datagram);
        let mac = find_mac(&message.msg)
            .or_else(|| message.hostname.as_deref().and_then(find_mac))
            .or_else(|| message.app_name.as_deref().and_then(find_mac));
        let kind = classify(&message.msg);
        Received {
            from,
            at_ms,
            message,
            mac,
            kind,
        }
    }
}

/// Receives syslog datagrams on `socket` until `shutdown` completes,
/// calling `sink` with each parsed message.
///
/// Transient receive errors (ICMP-induced `ConnectionRefused`/`Reset`,
/// interrupts) are logged and skipped; any other error ends the loop and
/// is returned. Returns `Ok(())` on shutdown.
pub async fn run_receiver<F, S>(socket: UdpSocket, sink: F, shutdown: S) -> Result<(), ReceiveError>
where
    F: Fn(Received) + Send + Sync + 'static,
    S: Future,
{
    let mut buf = vec![0u8; MAX_DATAGRAM];
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return Ok(()),
            got = socket.recv_from(&mut buf) => match got {
                Ok((n, from)) => {
                    let r = Received::from_datagram(from, unix_ms(), &buf[..n]);
                    metrics::counter!("phoneprov_syslog_messages_total", "kind" => r.kind.as_str())
                        .increment(1);
                    sink(r)
                }
                Err(e) if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionRefused
                        | io::ErrorKind::ConnectionReset
                        | io::ErrorKind::Interrupted
                        | io::ErrorKind::WouldBlock
                ) => {
                    tracing::debug!(error = %e, "syslog: transient receive error, continuing");
                }
                Err(cause) => {
                    return Err(ReceiveError {
                        local: socket.local_addr().ok(),
                        cause,
                    })
                }
            }
        }
    }
}

/// Now, Unix ms (the receive time that is filed).
fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
