//! The fleet's SIP listener (`--sip-listen ADDR:PORT`, R-RULE-6): one UDP
//! socket and one TCP listener on the same address, for every phone.
//!
//! Each datagram, and each message framed from a TCP stream
//! (`Content-Length`, RFC 3261 §18.3, with [`phoneprov_phone::sip::message_len`]),
//! goes to one phone as `Input::Sip`: the phone whose MAC is the user part
//! of the Request-URI (`sip:000e08abcdef@host`, any MAC spelling), or the
//! only phone of a one-phone fleet. The phone's [`phoneprov_phone::Device`]
//! decides and writes the answer; [`SipListener::respond`] sends it back
//! on the socket or connection the request came on. A message for no
//! phone, or a stream that is not SIP, gets one log line and is dropped
//! (a stream is closed); the listener keeps serving.
//! A message over TCP larger than [`MAX_MESSAGE`] whose head can be read
//! goes to the phone as that head alone (it answers 513 Message Too Large
//! and shows the refusal in its status); its body is skipped and the
//! connection stays open for the next message.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use phoneprov_phone::sip::{
    message_len, oversize_frame, SipInput, SipOutput, SipTransport, MAX_MESSAGE,
};
use phoneprov_phone::Input;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;

use crate::driver::Control;
use crate::triggers::{mac_of, Registry};
use crate::SimError;

/// The UDP socket and the open TCP connections of the listener.
pub struct SipListener {
    udp: Arc<UdpSocket>,
    conns: Mutex<HashMap<u64, mpsc::UnboundedSender<Vec<u8>>>>,
    next_conn: AtomicU64,
}

/// Token of the UDP socket in [`SipInput::conn`].
const UDP_CONN: u64 = 0;

impl SipListener {
    /// Binds UDP and TCP on `addr` (TCP first; UDP on the port it got).
    pub async fn bind(addr: SocketAddr) -> Result<(Arc<SipListener>, TcpListener), SimError> {
        let err = |e: std::io::Error| {
            SimError::Config(format!(
                "cannot listen for SIP on --sip-listen {addr}: {e}; pick a free ADDR:PORT"
            ))
        };
        let tcp = TcpListener::bind(addr).await.map_err(err)?;
        let local = tcp.local_addr().map_err(err)?;
        let udp = UdpSocket::bind(local).await.map_err(err)?;
        Ok((
            Arc::new(SipListener {
                udp: Arc::new(udp),
                conns: Mutex::new(HashMap::new()),
                next_conn: AtomicU64::new(1),
            }),
            tcp,
        ))
    }

    /// The address both sockets listen on.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.udp.local_addr()
    }

    /// Serves UDP and TCP until the returned tasks are aborted.
    pub fn serve(
        self: &Arc<Self>,
        tcp: TcpListener,
        phones: Registry,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let phones = Arc::new(phones);
        let me = self.clone();
        let p = phones.clone();
        let udp = tokio::spawn(async move {
            let mut buf = vec![0u8; MAX_MESSAGE + 1];
            loop {
                let (n, peer) = match me.udp.recv_from(&mut buf).await {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!("SIP UDP receive: {e}");
                        continue;
                    }
                };
                route(&p, SipTransport::Udp, peer, UDP_CONN, buf[..n].to_vec()).await;
            }
        });
        let me = self.clone();
        let tcp = tokio::spawn(async move {
            loop {
                let Ok((stream, peer)) = tcp.accept().await else {
                    continue;
                };
                let me = me.clone();
                let phones = phones.clone();
                tokio::spawn(async move { me.connection(stream, peer, phones).await });
            }
        });
        vec![udp, tcp]
    }

    async fn connection(
        self: Arc<Self>,
        stream: tokio::net::TcpStream,
        peer: SocketAddr,
        phones: Arc<Registry>,
    ) {
        let id = self.next_conn.fetch_add(1, Ordering::Relaxed);
        let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
        self.conns.lock().expect("sip conns").insert(id, tx);
        let (mut rd, mut wr) = stream.into_split();
        let writer = tokio::spawn(async move {
            while let Some(b) = rx.recv().await {
                if wr.write_all(&b).await.is_err() {
                    break;
                }
            }
        });
        let mut buf: Vec<u8> = Vec::new();
        let mut chunk = vec![0u8; 4096];
        // Bytes of an oversized message's body still to be skipped.
        let mut skip_body = 0usize;
        'read: loop {
            let mut fresh = match rd.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => &chunk[..n],
            };
            let k = skip_body.min(fresh.len());
            skip_body -= k;
            fresh = &fresh[k..];
            buf.extend_from_slice(fresh);
            loop {
                match message_len(&buf) {
                    Ok(Some(len)) => {
                        let msg: Vec<u8> = buf.drain(..len).collect();
                        route(&phones, SipTransport::Tcp, peer, id, msg).await;
                    }
                    Ok(None) => break,
                    Err(e) => match oversize_frame(&buf) {
                        // Too large but framed: the phone gets the head and
                        // answers 513 on this connection (RFC 3261
                        // §21.5.14); the body is skipped and the stream
                        // stays usable.
                        Some((head, total)) => {
                            let msg = buf[..head].to_vec();
                            let have = buf.len().min(total);
                            buf.drain(..have);
                            skip_body = total - have;
                            route(&phones, SipTransport::Tcp, peer, id, msg).await;
                        }
                        None => {
                            tracing::info!("SIP over TCP from {peer}: {e}; closing the connection");
                            break 'read;
                        }
                    },
                }
            }
        }
        self.conns.lock().expect("sip conns").remove(&id);
        writer.abort();
    }

    /// Sends a phone's answer where its request came from.
    pub fn respond(&self, out: SipOutput) {
        match out.transport {
            SipTransport::Udp => {
                let Ok(peer) = out.peer.parse::<SocketAddr>() else {
                    return;
                };
                if let Err(e) = self.udp.try_send_to(&out.bytes, peer) {
                    tracing::info!("SIP answer to {peer}: {e}");
                }
            }
            SipTransport::Tcp => {
                if let Some(tx) = self.conns.lock().expect("sip conns").get(&out.conn) {
                    let _ = tx.send(out.bytes);
                }
            }
        }
    }
}

/// The MAC in a request line's URI user part (`NOTIFY sip:USER@host`).
fn uri_mac(msg: &[u8]) -> Option<String> {
    let line = msg
        .split(|b| *b == b'\n')
        .find(|l| !l.trim_ascii().is_empty())?;
    let line = std::str::from_utf8(line).ok()?;
    let uri = line.split(' ').nth(1)?;
    let rest = uri.split_once(':')?.1;
    let user = rest.split_once('@')?.0;
    mac_of(user)
}

async fn route(
    phones: &Registry,
    transport: SipTransport,
    peer: SocketAddr,
    conn: u64,
    bytes: Vec<u8>,
) {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return; // CRLF keep-alive (RFC 5626 §4.4.1)
    }
    let phone = match uri_mac(&bytes) {
        Some(mac) => phones.get(&mac),
        None if phones.len() == 1 => phones.values().next(),
        None => None,
    };
    let Some(phone) = phone else {
        tracing::info!(
            "SIP from {peer}: no phone of this fleet matches the Request-URI (use sip:MAC@host); dropped"
        );
        return;
    };
    let input = Input::Sip(SipInput {
        transport,
        peer: peer.to_string(),
        conn,
        bytes,
    });
    let _ = phone.send(Control::Input(input)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_uri_user_names_the_phone() {
        assert_eq!(
            uri_mac(b"NOTIFY sip:00:0E:08:AB:CD:EF@127.0.0.1 SIP/2.0\r\n").as_deref(),
            Some("000e08abcdef")
        );
        assert_eq!(uri_mac(b"NOTIFY sip:127.0.0.1 SIP/2.0\r\n"), None);
        assert_eq!(uri_mac(b"\xff\xfe"), None);
    }
}
