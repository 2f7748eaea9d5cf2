//! Built-in minimal syslog receiver (R-LOG), used until the
//! `phoneprov-syslog` crate is mounted through
//! [`crate::StartOptions::syslog`]: each datagram that names a MAC
//! (12 hex digits, or six colon/dash-separated pairs, as in the R-LOG-3
//! example `ATA192-MPP 00:0e:08:ab:cd:ef –- Successful resync …`) becomes
//! a `syslog` event on that device's timeline (no status change).

use std::sync::Arc;

use phoneprov_store::{EventKind, Mac};
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

use crate::state::AppState;
use crate::store_io::StatusMsg;

/// Spawns the receive loop.
pub fn spawn(socket: UdpSocket, state: Arc<AppState>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut buf = vec![0u8; 8192];
        loop {
            let Ok((n, from)) = socket.recv_from(&mut buf).await else {
                continue;
            };
            let text = String::from_utf8_lossy(&buf[..n]);
            if let Some(mac) = find_mac(&text) {
                let message: String = text.trim().chars().take(1024).collect();
                state.status.send(StatusMsg::Seen {
                    mac,
                    ip: from.ip(),
                    firmware: None,
                    outcome: None,
                    kind: EventKind::Syslog,
                    message,
                });
            }
        }
    })
}

/// The first MAC-looking token of a syslog line.
pub fn find_mac(text: &str) -> Option<Mac> {
    text.split(|c: char| c.is_whitespace() || "()[]<>,;\"'".contains(c))
        .find_map(|tok| {
            let t = tok.trim_matches(|c: char| !c.is_ascii_hexdigit());
            (t.len() == 12 || t.len() == 17)
                .then(|| Mac::parse(t).ok())
                .flatten()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_mac_of_the_spec_example() {
        // R-LOG-3.
        let m = find_mac(
            "<134>ATA192-MPP 00:0e:08:ab:cd:ef –- Successful resync tftp://192.168.1.200/basic.txt",
        );
        assert_eq!(m, Some(Mac::parse("000e08abcdef").unwrap()));
        assert_eq!(
            find_mac("CP-8841 (00562b043615) hello"),
            Some(Mac::parse("00562b043615").unwrap())
        );
        assert_eq!(find_mac("nothing here 1234"), None);
    }
}
