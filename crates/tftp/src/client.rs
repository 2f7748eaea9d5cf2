//! Tokio shell of the TFTP client: [`TftpClient::get`] into memory, a writer
//! or a file, with errors sorted into the classes the phone side acts on
//! ([`ClientErrorKind`]: not found vs. timeout vs. other).

use crate::client_core::ClientTransfer;
use crate::options::{RequestedOptions, TransferOptions};
use crate::packet::{ErrorCode, Mode};
use crate::transfer::{TransferError, TransferState, DEFAULT_RETRIES};
use crate::udp::Batch;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::ops::RangeInclusive;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::UdpSocket;

/// Client settings.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// blksize to ask for (RFC 2348); `None` sends no blksize option.
    pub blksize: Option<u16>,
    /// windowsize to ask for (RFC 7440).
    pub windowsize: Option<u16>,
    /// Retransmission timeout; also sent as the `timeout` option (whole
    /// seconds, RFC 2349) when `send_timeout_option` is set.
    pub timeout: Duration,
    /// Whether to negotiate `timeout`.
    pub send_timeout_option: bool,
    /// Whether to ask for the size (tsize 0, RFC 2349).
    pub tsize: bool,
    /// Retransmissions before giving up.
    pub retries: u32,
    /// Transfer mode.
    pub mode: Mode,
    /// Local ports to try in order (R-TFTP-1: phones use 53240–53245 when
    /// the server is not on port 69); `None` for an ephemeral port.
    pub local_ports: Option<RangeInclusive<u16>>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            blksize: None,
            windowsize: None,
            timeout: Duration::from_secs(1),
            send_timeout_option: false,
            tsize: true,
            retries: DEFAULT_RETRIES,
            mode: Mode::Octet,
            local_ports: None,
        }
    }
}

/// What a successful transfer did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fetched {
    /// Bytes written (after netascii conversion).
    pub bytes: u64,
    /// Parameters the server agreed to (RFC 1350 defaults if it sent no OACK).
    pub options: TransferOptions,
}

/// The three outcomes the phone side distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientErrorKind {
    /// The server answered ERROR 1.
    NotFound,
    /// The server never answered or stopped answering.
    Timeout,
    /// Anything else (access denied, protocol error, local I/O).
    Other,
}

/// Why a `get` failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// ERROR 1 from the server.
    #[error("{path} not found on TFTP server {server} ({message}): check the file name and the server's root")]
    NotFound {
        /// Server address.
        server: SocketAddr,
        /// Requested path.
        path: String,
        /// Server's message.
        message: String,
    },
    /// No answer.
    #[error("TFTP server {server} did not answer for {path} after {retries} retransmissions: check the address, the port and that the server runs")]
    Timeout {
        /// Server address.
        server: SocketAddr,
        /// Requested path.
        path: String,
        /// Retransmissions tried.
        retries: u32,
    },
    /// Any other transfer failure.
    // The cause is part of the message (not a `source`), so error chains
    // print it once.
    #[error("TFTP transfer of {path} from {server} failed: {cause}")]
    Transfer {
        /// Server address.
        server: SocketAddr,
        /// Requested path.
        path: String,
        /// Cause.
        cause: TransferError,
    },
    /// Local socket or file trouble.
    #[error("{context}: {cause}")]
    Io {
        /// What was being done.
        context: String,
        /// OS error.
        cause: io::Error,
    },
}

impl ClientError {
    /// The class the phone side acts on.
    pub fn kind(&self) -> ClientErrorKind {
        match self {
            ClientError::NotFound { .. } => ClientErrorKind::NotFound,
            ClientError::Timeout { .. } => ClientErrorKind::Timeout,
            _ => ClientErrorKind::Other,
        }
    }
}

/// A TFTP client (cheap to clone; holds only settings).
#[derive(Debug, Clone, Default)]
pub struct TftpClient {
    config: ClientConfig,
}

impl TftpClient {
    /// A client with these settings.
    pub fn new(config: ClientConfig) -> TftpClient {
        TftpClient { config }
    }

    /// The settings.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Reads `path` from `server` into memory.
    pub async fn get(&self, server: SocketAddr, path: &str) -> Result<Vec<u8>, ClientError> {
        let mut out = Vec::new();
        self.get_to_writer(server, path, &mut out).await?;
        Ok(out)
    }

    /// Reads `path` from `server` into `file` (created or truncated; removed
    /// again if the transfer fails).
    pub async fn get_to_file(
        &self,
        server: SocketAddr,
        path: &str,
        file: &Path,
    ) -> Result<Fetched, ClientError> {
        let io_err = |cause| ClientError::Io {
            context: format!("cannot write {}", file.display()),
            cause,
        };
        let mut f = tokio::fs::File::create(file).await.map_err(io_err)?;
        let result = self.get_to_writer(server, path, &mut f).await;
        let flushed = f.flush().await;
        drop(f);
        match result {
            Ok(n) => {
                flushed.map_err(io_err)?;
                Ok(n)
            }
            Err(e) => {
                let _ = tokio::fs::remove_file(file).await;
                Err(e)
            }
        }
    }

    /// Reads `path` from `server` into `writer`.
    pub async fn get_to_writer<W: AsyncWrite + Unpin>(
        &self,
        server: SocketAddr,
        path: &str,
        writer: &mut W,
    ) -> Result<Fetched, ClientError> {
        let c = &self.config;
        let socket = bind_local(server, c.local_ports.clone()).await?;
        let requested = RequestedOptions {
            blksize: c.blksize,
            timeout: c
                .send_timeout_option
                .then(|| c.timeout.as_secs().clamp(1, 255) as u8),
            // tsize means little for netascii and tftpd-hpa refuses it there.
            tsize: (c.tsize && c.mode == Mode::Octet).then_some(0),
            windowsize: c.windowsize,
        };
        let mut t = ClientTransfer::get(
            server,
            path,
            c.mode,
            requested,
            c.timeout,
            c.retries,
            Instant::now(),
        );
        // Windowed: GRO/recvmmsg, a whole window per receive, into a buffer
        // big enough for a coalesced batch. Lockstep: a plain socket and a
        // buffer of one block (plus one byte to notice an oversized block),
        // which keeps thousands of concurrent clients small.
        let windowed = c.windowsize.is_some_and(|w| w > 1);
        let batch = if windowed {
            Batch::new(&socket).ok()
        } else {
            None
        };
        let buf_len = if batch.is_some() {
            65536 + 4
        } else {
            usize::from(c.blksize.unwrap_or(crate::options::DEFAULT_BLKSIZE)).max(512) + 5
        };
        let mut buf = vec![0u8; buf_len];
        let mut written = 0u64;
        // Lazily re-armed timer, as in the server shell.
        let sleep = tokio::time::sleep(c.timeout);
        tokio::pin!(sleep);
        let mut armed: Option<Instant> = None;
        loop {
            while let Some(tx) = t.poll_transmit() {
                let _ = socket.send_to(&tx.payload, tx.dest).await;
            }
            // Hand data to the writer in large batches.
            if t.buffered_len() >= 256 * 1024 || (t.is_finished() && t.has_data()) {
                let data = t.take_data();
                if let Err(e) = writer.write_all(&data).await {
                    t.abort(ErrorCode::DISK_FULL, "client could not store the file");
                    while let Some(tx) = t.poll_transmit() {
                        let _ = socket.send_to(&tx.payload, tx.dest).await;
                    }
                    return Err(ClientError::Io {
                        context: "cannot write the received data".into(),
                        cause: e,
                    });
                }
                written += data.len() as u64;
            }
            if t.is_finished() {
                break;
            }
            let deadline = t
                .poll_timeout()
                .unwrap_or_else(|| Instant::now() + c.timeout);
            if armed.is_none_or(|a| deadline < a) {
                sleep.as_mut().reset(deadline.into());
                armed = Some(deadline);
            }
            tokio::select! {
                r = recv(&socket, batch.as_ref(), &mut buf, &mut t) => {
                    if r.is_ok() && windowed {
                        // Drain the rest of the window before answering.
                        while try_recv(&socket, batch.as_ref(), &mut buf, &mut t).is_ok() {}
                    }
                }
                _ = &mut sleep => {
                    armed = None;
                    t.handle_timeout(Instant::now());
                }
            }
        }
        let state = t.state().clone();
        let options = t.options().copied();
        if state == TransferState::Done {
            dally(socket, t, buf);
        }
        match state {
            TransferState::Done => {
                writer.flush().await.map_err(|e| ClientError::Io {
                    context: "cannot write the received data".into(),
                    cause: e,
                })?;
                Ok(Fetched {
                    bytes: written,
                    options: options.expect("a finished read has options"),
                })
            }
            TransferState::Failed(e) => Err(classify(server, path, e)),
            TransferState::Running => unreachable!("loop exits only when finished"),
        }
    }
}

/// Keeps the socket open a little after the last block (RFC 1350 §6): if
/// our final ACK was lost, the server resends the last block and gets the
/// ACK again instead of failing its transfer. Runs detached, so `get`
/// returns at once; it ends after one quiet timeout period.
fn dally(socket: UdpSocket, mut t: ClientTransfer, mut buf: Vec<u8>) {
    let quiet = t.options().map_or(Duration::from_secs(1), |o| o.timeout);
    tokio::spawn(async move {
        while let Ok(Ok((n, from))) = tokio::time::timeout(quiet, socket.recv_from(&mut buf)).await
        {
            t.handle_packet(from, &buf[..n], Instant::now());
            while let Some(tx) = t.poll_transmit() {
                let _ = socket.send_to(&tx.payload, tx.dest).await;
            }
        }
    });
}

async fn recv(
    socket: &UdpSocket,
    batch: Option<&Batch>,
    buf: &mut [u8],
    t: &mut ClientTransfer,
) -> io::Result<()> {
    match batch {
        Some(b) => {
            b.recv(socket, buf, |from, d| {
                t.handle_packet(from, d, Instant::now())
            })
            .await
        }
        None => {
            let (n, from) = socket.recv_from(buf).await?;
            t.handle_packet(from, &buf[..n], Instant::now());
            Ok(())
        }
    }
}

fn try_recv(
    socket: &UdpSocket,
    batch: Option<&Batch>,
    buf: &mut [u8],
    t: &mut ClientTransfer,
) -> io::Result<()> {
    match batch {
        Some(b) => b.try_recv(socket, buf, |from, d| {
            t.handle_packet(from, d, Instant::now())
        }),
        None => {
            let (n, from) = socket.try_recv_from(buf)?;
            t.handle_packet(from, &buf[..n], Instant::now());
            Ok(())
        }
    }
}

fn classify(server: SocketAddr, path: &str, e: TransferError) -> ClientError {
    let path = path.to_string();
    match e {
        TransferError::Remote { code, message } if code == ErrorCode::FILE_NOT_FOUND => {
            ClientError::NotFound {
                server,
                path,
                message,
            }
        }
        TransferError::Timeout { retries } => ClientError::Timeout {
            server,
            path,
            retries,
        },
        cause => ClientError::Transfer {
            server,
            path,
            cause,
        },
    }
}

async fn bind_local(
    server: SocketAddr,
    ports: Option<RangeInclusive<u16>>,
) -> Result<UdpSocket, ClientError> {
    let ip: IpAddr = match server {
        SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    };
    let Some(range) = ports else {
        return UdpSocket::bind((ip, 0))
            .await
            .map_err(|cause| ClientError::Io {
                context: "cannot open a UDP socket for the TFTP client".into(),
                cause,
            });
    };
    let mut last = None;
    for port in range.clone() {
        match UdpSocket::bind((ip, port)).await {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    Err(ClientError::Io {
        context: format!(
            "no free local UDP port in {}-{} for the TFTP client: free one or widen the range",
            range.start(),
            range.end()
        ),
        cause: last
            .unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty port range")),
    })
}
