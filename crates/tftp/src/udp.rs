//! Batched UDP I/O for the shells through `quinn-udp` (a well-kept crate from
//! the quinn QUIC project): GSO sends a whole TFTP window in one syscall and
//! GRO/recvmmsg receives it in one, which is what makes windowed transfers
//! much faster than lockstep ones on the same CPU.
//!
//! `quinn-udp` sets the don't-fragment bit on the socket, so the server only
//! uses it for segments that fit an Ethernet MTU (blksize ≤ 1428); larger
//! blocks go through plain `send_to` and may be fragmented as TFTP expects.

use quinn_udp::{RecvMeta, Transmit, UdpSocketState};
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use tokio::io::Interest;
use tokio::net::UdpSocket;

/// Largest segment (4-byte header + blksize 1428) sent with GSO.
pub(crate) const MAX_GSO_SEGMENT: usize = 1432;

/// Batching helper bound to one socket.
#[derive(Debug)]
pub(crate) struct Batch {
    state: UdpSocketState,
}

impl Batch {
    pub(crate) fn new(socket: &UdpSocket) -> io::Result<Batch> {
        Ok(Batch {
            state: UdpSocketState::new(socket.into())?,
        })
    }

    /// Most segments one send may carry.
    pub(crate) fn max_segments(&self) -> usize {
        self.state.max_gso_segments()
    }

    /// Sends `contents` (equal-size `segment`s, the last may be shorter) to
    /// `dest` in one call when the OS can, else one datagram at a time.
    pub(crate) async fn send(
        &self,
        socket: &UdpSocket,
        dest: SocketAddr,
        contents: &[u8],
        segment: usize,
    ) -> io::Result<()> {
        if contents.len() <= segment || self.max_segments() <= 1 {
            for d in contents.chunks(segment.max(1)) {
                socket.send_to(d, dest).await?;
            }
            return Ok(());
        }
        let transmit = Transmit {
            destination: dest,
            ecn: None,
            contents,
            segment_size: Some(segment),
            src_ip: None,
        };
        let r = socket
            .async_io(Interest::WRITABLE, || {
                self.state.try_send(socket.into(), &transmit)
            })
            .await;
        match r {
            Ok(()) => Ok(()),
            // GSO refused by this path: fall back to single datagrams.
            Err(_) => {
                for d in contents.chunks(segment) {
                    socket.send_to(d, dest).await?;
                }
                Ok(())
            }
        }
    }

    /// Receives one batch into `buf`; calls `f(from, datagram)` for each
    /// datagram (GRO-coalesced ones are split by their stride).
    pub(crate) async fn recv(
        &self,
        socket: &UdpSocket,
        buf: &mut [u8],
        mut f: impl FnMut(SocketAddr, &[u8]),
    ) -> io::Result<()> {
        let mut meta = [RecvMeta::default()];
        let n = socket
            .async_io(Interest::READABLE, || {
                let mut bufs = [IoSliceMut::new(buf)];
                self.state.recv(socket.into(), &mut bufs, &mut meta)
            })
            .await?;
        deliver(&meta[..n], buf, &mut f);
        Ok(())
    }

    /// Like [`recv`](Self::recv) but returns `WouldBlock` instead of waiting.
    pub(crate) fn try_recv(
        &self,
        socket: &UdpSocket,
        buf: &mut [u8],
        mut f: impl FnMut(SocketAddr, &[u8]),
    ) -> io::Result<()> {
        let mut meta = [RecvMeta::default()];
        let n = socket.try_io(Interest::READABLE, || {
            let mut bufs = [IoSliceMut::new(buf)];
            self.state.recv(socket.into(), &mut bufs, &mut meta)
        })?;
        deliver(&meta[..n], buf, &mut f);
        Ok(())
    }
}

fn deliver(meta: &[RecvMeta], buf: &[u8], f: &mut impl FnMut(SocketAddr, &[u8])) {
    for m in meta {
        let data = &buf[..m.len];
        let stride = if m.stride == 0 {
            m.len.max(1)
        } else {
            m.stride
        };
        for d in data.chunks(stride) {
            f(m.addr, d);
        }
        if m.len == 0 {
            f(m.addr, &[]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn gso_batch_arrives_as_separate_datagrams() {
        let tx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let rx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let batch = Batch::new(&tx).unwrap();
        let mut contents = vec![1u8; 100];
        contents.extend([2u8; 100]);
        contents.extend([3u8; 40]);
        batch
            .send(&tx, rx.local_addr().unwrap(), &contents, 100)
            .await
            .unwrap();
        // A plain receiver sees three datagrams; a batching one may get them
        // coalesced but must hand them out split.
        let mut buf = [0u8; 2048];
        let (n, _) = rx.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], &[1u8; 100][..]);
        let rx_batch = Batch::new(&rx).unwrap();
        let mut got = Vec::new();
        while got.len() < 2 {
            rx_batch
                .recv(&rx, &mut buf, |_, d| got.push(d.to_vec()))
                .await
                .unwrap();
        }
        assert_eq!(got, vec![vec![2u8; 100], vec![3u8; 40]]);
        eprintln!("max GSO segments here: {}", batch.max_segments());
    }
}
