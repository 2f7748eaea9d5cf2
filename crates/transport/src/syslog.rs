//! Syslog sender for the phone side (SPEC §9, R-LOG-1): one UDP datagram
//! per message, RFC 3164 framing `<PRI>Mmm dd hh:mm:ss HOST TAG: MSG`.
//!
//! The timestamp is formatted here (UTC, no time-zone database): pulling a
//! date crate for one fixed format is not worth it.

use std::net::SocketAddr;

use tokio::net::UdpSocket;

use crate::{Resolver, TransportError};

/// Default syslog port.
pub const SYSLOG_PORT: u16 = 514;
/// RFC 3164 §4.1: datagrams are at most 1024 bytes.
pub const MAX_DATAGRAM: usize = 1024;

/// Sends RFC 3164 messages.
#[derive(Debug, Clone)]
pub struct SyslogSender {
    /// HOSTNAME field (a phone uses its model and MAC or its IP).
    pub hostname: String,
    /// TAG field (program name).
    pub tag: String,
    /// Facility (default 16 = local0).
    pub facility: u8,
    /// Severity (default 6 = informational).
    pub severity: u8,
    /// DNS for a server given by name.
    pub resolver: Resolver,
}

impl SyslogSender {
    /// A sender with facility local0 and severity informational.
    pub fn new(hostname: impl Into<String>, tag: impl Into<String>) -> SyslogSender {
        SyslogSender {
            hostname: hostname.into(),
            tag: tag.into(),
            facility: 16,
            severity: 6,
            resolver: Resolver::system(),
        }
    }

    /// Sends `message` to `server` (`host`, `host:port`, `[v6]:port`;
    /// port 514 by default). An empty message sends nothing (R-LOG-2: an
    /// empty template sends nothing).
    pub async fn send(&self, server: &str, message: &str) -> Result<(), TransportError> {
        if message.is_empty() {
            return Ok(());
        }
        let (host, port) = split_server(server)?;
        let addrs = self.resolver.lookup_host(host, port).await?;
        let addr = addrs[0];
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let datagram = format_rfc3164(
            self.facility * 8 + self.severity,
            now,
            &self.hostname,
            &self.tag,
            message,
        );
        let local: SocketAddr = if addr.is_ipv4() {
            "0.0.0.0:0".parse().expect("literal")
        } else {
            "[::]:0".parse().expect("literal")
        };
        let sock = UdpSocket::bind(local).await.map_err(|e| {
            TransportError::Connect(format!("syslog: cannot open a UDP socket: {e}"))
        })?;
        sock.send_to(datagram.as_bytes(), addr)
            .await
            .map_err(|e| TransportError::Connect(format!("syslog to {addr}: {e}")))?;
        Ok(())
    }
}

fn split_server(server: &str) -> Result<(&str, u16), TransportError> {
    let server = server.trim();
    let bad = || TransportError::BadUrl(format!("syslog server {server:?} is not host[:port]"));
    if server.is_empty() {
        return Err(bad());
    }
    if let Some(rest) = server.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(bad)?;
        return match after.strip_prefix(':') {
            Some(p) => Ok((host, p.parse().map_err(|_| bad())?)),
            None if after.is_empty() => Ok((host, SYSLOG_PORT)),
            None => Err(bad()),
        };
    }
    match server.rsplit_once(':') {
        // A bare IPv6 address has several colons: no port then.
        Some((h, _)) if h.contains(':') => Ok((server, SYSLOG_PORT)),
        Some((h, p)) => Ok((h, p.parse().map_err(|_| bad())?)),
        None => Ok((server, SYSLOG_PORT)),
    }
}

/// One RFC 3164 datagram, cut to [`MAX_DATAGRAM`] bytes on a character
/// boundary.
pub fn format_rfc3164(pri: u8, unix_secs: u64, hostname: &str, tag: &str, message: &str) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = (unix_secs / 86_400) as i64;
    let secs = unix_secs % 86_400;
    let (_, month, day) = civil_from_days(days);
    let host = if hostname.is_empty() { "-" } else { hostname };
    let mut out = format!(
        "<{pri}>{} {day:>2} {:02}:{:02}:{:02} {host} {tag}: {message}",
        MONTHS[(month - 1) as usize],
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
    );
    if out.len() > MAX_DATAGRAM {
        let mut cut = MAX_DATAGRAM;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
    }
    out
}

/// Days since 1970-01-01 → (year, month 1-12, day 1-31); Howard Hinnant's
/// `civil_from_days`.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r_log_3_framing() {
        // 2026-11-01 09:05:03 UTC
        let t = 1_793_523_903;
        assert_eq!(
            format_rfc3164(134, t, "ATA192-MPP", "prov", "00:0e:08:ab:cd:ef –- Successful resync tftp://192.168.1.200/basic.txt"),
            "<134>Nov  1 09:05:03 ATA192-MPP prov: 00:0e:08:ab:cd:ef –- Successful resync tftp://192.168.1.200/basic.txt"
        );
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        let long = "é".repeat(2000);
        let d = format_rfc3164(134, 0, "h", "t", &long);
        assert!(d.len() <= MAX_DATAGRAM && d.starts_with("<134>Jan  1 00:00:00 h t: é"));
    }

    #[test]
    fn server_forms() {
        assert_eq!(split_server("10.0.0.1").unwrap(), ("10.0.0.1", 514));
        assert_eq!(split_server("log.lan:5514").unwrap(), ("log.lan", 5514));
        assert_eq!(split_server("[::1]:601").unwrap(), ("::1", 601));
        assert_eq!(split_server("::1").unwrap(), ("::1", 514));
        assert!(split_server("h:port").is_err());
        assert!(split_server("").is_err());
    }
}
