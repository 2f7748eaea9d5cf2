//! Tokio shell of the TFTP server: one socket for requests, one socket and
//! one task per transfer (no thread per transfer, so tens of thousands of
//! transfers share one runtime; mind the file-descriptor limit).
//!
//! Content comes from a [`Handler`], which sees the path, the client address
//! and the negotiated options, so the provisioning server can render a
//! per-device profile on request; [`crate::DirHandler`] serves a directory.

use crate::dir_handler::resolve_new_path;
use crate::options::TransferOptions;
use crate::packet::{encode_error, ErrorCode, Mode};
use crate::server_core::{
    accept_request, Direction, IncomingRequest, ServerConfig, ServerTransfer,
};
use crate::udp::{Batch, MAX_GSO_SEGMENT};
use bytes::Bytes;
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::UdpSocket;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// What a [`Handler`] is asked for.
#[derive(Debug, Clone)]
pub struct ReadRequest {
    /// File name as the client sent it (unchecked: the handler decides).
    pub path: String,
    /// The client's address.
    pub client: SocketAddr,
    /// Transfer mode.
    pub mode: Mode,
    /// Negotiated blksize, windowsize and timeout.
    pub options: TransferOptions,
}

/// Content a handler returns.
pub enum Content {
    /// Everything at once (a rendered profile, a small file).
    Bytes(Bytes),
    /// A stream, read as the transfer advances; `size` (if known) is
    /// reported as tsize.
    Reader {
        /// The data.
        reader: Pin<Box<dyn AsyncRead + Send>>,
        /// Length in bytes when known.
        size: Option<u64>,
    },
}

impl std::fmt::Debug for Content {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Content::Bytes(b) => write!(f, "Content::Bytes({} bytes)", b.len()),
            Content::Reader { size, .. } => write!(f, "Content::Reader(size {size:?})"),
        }
    }
}

/// Why a handler refuses a request; mapped to a TFTP error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandlerError {
    /// ERROR 1.
    #[error("file not found: {0}")]
    NotFound(String),
    /// ERROR 2.
    #[error("access violation: {0}")]
    AccessDenied(String),
    /// ERROR 6.
    #[error("file already exists: {0}")]
    Exists(String),
    /// ERROR 0 with this message.
    #[error("{0}")]
    Other(String),
}

impl HandlerError {
    /// The one answer for a file that is not there and a file that may
    /// not be read (outside the root, a symlink out, `..`, not a regular
    /// file): ERROR 1 with the same text, so a client cannot tell which
    /// names exist outside what is served (issue 12 item 5).
    pub fn not_served() -> HandlerError {
        HandlerError::NotFound("no such file".into())
    }

    /// The TFTP error code sent to the client.
    pub fn code(&self) -> ErrorCode {
        match self {
            HandlerError::NotFound(_) => ErrorCode::FILE_NOT_FOUND,
            HandlerError::AccessDenied(_) => ErrorCode::ACCESS_VIOLATION,
            HandlerError::Exists(_) => ErrorCode::FILE_EXISTS,
            HandlerError::Other(_) => ErrorCode::UNDEFINED,
        }
    }
}

/// How a read transfer whose content the [`Handler`] gave ended
/// ([`Handler::finished`]).
#[derive(Debug)]
pub struct TransferEnd<'a> {
    /// Bytes of content the client acknowledged (all of it when the
    /// transfer completed; netascii: as converted for the wire).
    pub bytes: u64,
    /// Why the transfer stopped early: the client's ERROR, a timeout, a
    /// content source that failed; `None` when it completed.
    pub error: Option<&'a crate::TransferError>,
    /// From the read request's arrival to the transfer's end.
    pub duration: Duration,
}

/// Produces the content of read requests.
pub trait Handler: Send + Sync + 'static {
    /// Returns the content for `request`, or why not.
    fn read(
        &self,
        request: ReadRequest,
    ) -> impl Future<Output = Result<Content, HandlerError>> + Send;

    /// Called once when a transfer of content that [`Handler::read`]
    /// returned ends, completed or not (a request `read` refused gets no
    /// call); for an access log line with the bytes really sent. Does
    /// nothing by default.
    fn finished(&self, request: &ReadRequest, end: &TransferEnd<'_>) {
        let _ = (request, end);
    }
}

/// A shared handler (e.g. one held by several servers) is a handler too.
impl<H: Handler> Handler for Arc<H> {
    fn read(
        &self,
        request: ReadRequest,
    ) -> impl Future<Output = Result<Content, HandlerError>> + Send {
        (**self).read(request)
    }

    fn finished(&self, request: &ReadRequest, end: &TransferEnd<'_>) {
        (**self).finished(request, end)
    }
}

/// Server-wide limits enforced by the shell.
#[derive(Debug, Clone)]
pub struct ServerLimits {
    /// Transfers running at once; further requests get ERROR 0 "busy".
    pub max_transfers: usize,
    /// Requests per second accepted from one client IP (token bucket with a
    /// burst of twice the rate); `None` for no limit.
    pub per_client_rate: Option<f64>,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            max_transfers: 20_000,
            per_client_rate: None,
        }
    }
}

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The listening socket could not be bound.
    #[error("cannot listen on udp://{addr}: {error}; pick another address/port or stop the program using it")]
    Bind {
        /// Requested address.
        addr: SocketAddr,
        /// OS error (in the message, not a `source`, so chains print it once).
        error: io::Error,
    },
    /// Receiving on the listening socket failed.
    #[error("TFTP listening socket failed: {0}")]
    Io(io::Error),
}

impl From<io::Error> for ServerError {
    fn from(e: io::Error) -> Self {
        ServerError::Io(e)
    }
}

/// A bound TFTP server; call [`Server::serve_until`] to run it.
pub struct Server<H> {
    socket: Arc<UdpSocket>,
    handler: Arc<H>,
    config: Arc<ServerConfig>,
    limits: ServerLimits,
    upload_dir: Option<Arc<PathBuf>>,
}

impl<H: Handler> Server<H> {
    /// Binds the request socket.
    pub async fn bind(addr: SocketAddr, handler: H) -> Result<Server<H>, ServerError> {
        let socket = UdpSocket::bind(addr)
            .await
            .map_err(|error| ServerError::Bind { addr, error })?;
        Ok(Server {
            socket: Arc::new(socket),
            handler: Arc::new(handler),
            config: Arc::new(ServerConfig::default()),
            limits: ServerLimits::default(),
            upload_dir: None,
        })
    }

    /// Replaces the protocol limits (blksize, windowsize, timeout, retries).
    /// `max_upload` is managed by [`with_uploads`](Self::with_uploads).
    pub fn with_config(mut self, mut config: ServerConfig) -> Self {
        config.max_upload = self.config.max_upload;
        self.config = Arc::new(config);
        self
    }

    /// Replaces the shell's limits.
    pub fn with_limits(mut self, limits: ServerLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Accepts uploads (WRQ) into `dir`, at most `max_bytes` each; new files
    /// only. Without this call every WRQ gets ERROR 2.
    pub fn with_uploads(mut self, dir: PathBuf, max_bytes: u64) -> io::Result<Self> {
        let dir = std::fs::canonicalize(&dir).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "upload directory {} cannot be opened ({e}): create it first",
                    dir.display()
                ),
            )
        })?;
        let mut config = (*self.config).clone();
        config.max_upload = Some(max_bytes);
        self.config = Arc::new(config);
        self.upload_dir = Some(Arc::new(dir));
        Ok(self)
    }

    /// The bound address (useful after binding port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Serves until `shutdown` completes, then stops accepting requests and
    /// waits for the running transfers to finish (graceful shutdown).
    pub async fn serve_until(self, shutdown: impl Future<Output = ()>) -> Result<(), ServerError> {
        let permits = Arc::new(Semaphore::new(self.limits.max_transfers));
        let mut rate = RateLimiter::new(self.limits.per_client_rate);
        let mut tasks = JoinSet::new();
        let local_ip = self.socket.local_addr()?.ip();
        let mut buf = vec![0u8; 65536];
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                r = self.socket.recv_from(&mut buf) => {
                    let (n, from) = match r {
                        Ok(x) => x,
                        // ICMP errors surface here on some systems; keep serving.
                        Err(e) if is_transient(&e) => continue,
                        Err(e) => return Err(e.into()),
                    };
                    self.on_request(&buf[..n], from, local_ip, &permits, &mut rate, &mut tasks).await;
                }
            }
        }
        tracing::info!(
            running = tasks.len(),
            "TFTP server stopping; letting transfers finish"
        );
        while tasks.join_next().await.is_some() {}
        Ok(())
    }

    async fn on_request(
        &self,
        bytes: &[u8],
        from: SocketAddr,
        local_ip: IpAddr,
        permits: &Arc<Semaphore>,
        rate: &mut RateLimiter,
        tasks: &mut JoinSet<()>,
    ) {
        let reject = |code: ErrorCode, msg: &str| {
            let socket = self.socket.clone();
            let p = encode_error(code, msg);
            async move {
                let _ = socket.send_to(&p, from).await;
            }
        };
        if !rate.allow(from.ip(), Instant::now()) {
            return reject(
                ErrorCode::UNDEFINED,
                "too many requests from this address: slow down",
            )
            .await;
        }
        let request = match accept_request(bytes, &self.config) {
            Ok(r) => r,
            Err(rej) => {
                tracing::debug!(%from, ?rej, "TFTP request rejected");
                if let Some(p) = rej.packet() {
                    let _ = self.socket.send_to(&p, from).await;
                }
                return;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            return reject(
                ErrorCode::UNDEFINED,
                "server busy: too many transfers, retry later",
            )
            .await;
        };
        let handler = self.handler.clone();
        let config = self.config.clone();
        let upload_dir = self.upload_dir.clone();
        tasks.spawn(async move {
            let _permit = permit;
            let socket = match UdpSocket::bind(SocketAddr::new(local_ip, 0)).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(%from, "cannot open a TFTP transfer socket: {e}");
                    return;
                }
            };
            let path = request.path.clone();
            let result = match request.direction {
                Direction::Read => serve_read(socket, from, request, &*handler, &config).await,
                Direction::Write => serve_write(socket, from, request, upload_dir, &config).await,
            };
            match result {
                Ok(()) => tracing::debug!(%from, path, "TFTP transfer done"),
                Err(e) => tracing::info!(%from, path, "TFTP transfer failed: {e}"),
            }
        });
    }
}

fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    )
}

async fn send_error(socket: &UdpSocket, to: SocketAddr, code: ErrorCode, msg: &str) {
    let _ = socket.send_to(&encode_error(code, msg), to).await;
}

async fn serve_read<H: Handler>(
    socket: UdpSocket,
    peer: SocketAddr,
    request: IncomingRequest,
    handler: &H,
    config: &ServerConfig,
) -> Result<(), String> {
    let start = Instant::now();
    let req = ReadRequest {
        path: request.path.clone(),
        client: peer,
        mode: request.mode,
        options: request.options,
    };
    let content = match handler.read(req.clone()).await {
        Ok(c) => c,
        Err(e) => {
            send_error(&socket, peer, e.code(), &e.to_string()).await;
            return Err(e.to_string());
        }
    };
    let (reader, size, bytes) = match content {
        Content::Bytes(b) => (None, Some(b.len() as u64), Some(b)),
        Content::Reader { reader, size } => (Some(reader), size, None),
    };
    let mut t = ServerTransfer::read(peer, &request, size, config, Instant::now());
    if let Some(b) = bytes {
        t.push_data(&b);
        t.finish_data();
    }
    let mut io = Pump::Reader {
        reader,
        chunk: Vec::new(),
    };
    drive(&socket, &mut t, &mut io).await;
    let error = match t.state() {
        crate::TransferState::Failed(e) => Some(e),
        _ => None,
    };
    handler.finished(
        &req,
        &TransferEnd {
            bytes: t.sent_bytes(),
            error,
            duration: start.elapsed(),
        },
    );
    match error {
        Some(e) => Err(e.to_string()),
        None => Ok(()),
    }
}

/// How long one read of a handler's content may take.
const READ_STALL_LIMIT: Duration = Duration::from_secs(30);

/// Moves content between the core and the handler's reader or the upload file.
enum Pump {
    Reader {
        reader: Option<Pin<Box<dyn AsyncRead + Send>>>,
        chunk: Vec<u8>,
    },
    Upload {
        file: tokio::fs::File,
        error: Option<String>,
    },
}

impl Pump {
    async fn pump(&mut self, t: &mut ServerTransfer) {
        match self {
            Pump::Reader { reader, chunk } => {
                while let Some(r) = reader.as_mut() {
                    if chunk.is_empty() {
                        chunk.resize(64 * 1024, 0);
                    }
                    let want = t.wants_data();
                    if want == 0 {
                        break;
                    }
                    let n = want.min(chunk.len());
                    // A content source that stalls must not hold the transfer forever.
                    let read =
                        tokio::time::timeout(READ_STALL_LIMIT, r.read(&mut chunk[..n])).await;
                    let read = read.unwrap_or_else(|_| {
                        Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "content source stalled",
                        ))
                    });
                    match read {
                        Ok(0) => {
                            t.finish_data();
                            *reader = None;
                        }
                        Ok(n) => t.push_data(&chunk[..n]),
                        Err(e) => {
                            let msg = format!("server could not read the file: {e}");
                            t.abort(ErrorCode::UNDEFINED, &msg);
                            *reader = None;
                        }
                    }
                }
            }
            Pump::Upload { file, error } => {
                let data = t.take_received();
                if !data.is_empty() && error.is_none() {
                    if let Err(e) = file.write_all(&data).await {
                        t.abort(ErrorCode::DISK_FULL, "server could not store the upload");
                        *error = Some(e.to_string());
                    }
                }
            }
        }
    }
}

async fn serve_write(
    socket: UdpSocket,
    peer: SocketAddr,
    request: IncomingRequest,
    upload_dir: Option<Arc<PathBuf>>,
    config: &ServerConfig,
) -> Result<(), String> {
    let Some(dir) = upload_dir else {
        send_error(
            &socket,
            peer,
            ErrorCode::ACCESS_VIOLATION,
            "uploads are disabled",
        )
        .await;
        return Err("uploads are disabled".into());
    };
    let target = match resolve_new_path(&dir, &request.path) {
        Ok(p) => p,
        Err(e) => {
            send_error(&socket, peer, e.code(), &e.to_string()).await;
            return Err(e.to_string());
        }
    };
    let part = target.with_file_name(format!(
        ".{}.part",
        target
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("upload")
    ));
    let file = match tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&part)
        .await
    {
        Ok(f) => f,
        Err(e) => {
            let msg = format!("cannot create {}: {e}", request.path);
            send_error(&socket, peer, ErrorCode::ACCESS_VIOLATION, &msg).await;
            return Err(msg);
        }
    };
    let mut t = ServerTransfer::write(peer, &request, config, Instant::now());
    let mut io = Pump::Upload { file, error: None };
    drive(&socket, &mut t, &mut io).await;
    let Pump::Upload {
        mut file,
        error: write_error,
    } = io
    else {
        unreachable!("constructed as Upload above")
    };
    let _ = file.flush().await;
    drop(file);
    match (t.state(), write_error) {
        (crate::TransferState::Done, None) => tokio::fs::rename(&part, &target)
            .await
            .map_err(|e| format!("cannot rename upload into place: {e}")),
        (state, err) => {
            let _ = tokio::fs::remove_file(&part).await;
            Err(err.unwrap_or_else(|| format!("{state:?}")))
        }
    }
}

/// Runs one transfer on its socket until it finishes. `pump` runs before
/// every send round (to move content in or out of the core).
async fn drive(socket: &UdpSocket, t: &mut ServerTransfer, io: &mut Pump) {
    let idle_limit = Duration::from_secs(300);
    let opts = *t.options();
    // GSO for windowed reads with MTU-sized blocks (see `udp`).
    let batch = (matches!(io, Pump::Reader { .. })
        && opts.windowsize > 1
        && usize::from(opts.blksize) + 4 <= MAX_GSO_SEGMENT)
        .then(|| Batch::new(socket).ok())
        .flatten();
    let mut out = Vec::new();
    // Reads only receive ACKs and ERRORs (a long ERROR message may be cut,
    // which parsing tolerates); uploads receive whole blocks (+1 byte to
    // notice an oversized one).
    let buf_len = match io {
        Pump::Reader { .. } => 1024,
        Pump::Upload { .. } => usize::from(opts.blksize) + 5,
    };
    let mut buf = vec![0u8; buf_len];
    let drain = matches!(io, Pump::Upload { .. }) && opts.windowsize > 1;
    // The timer is re-armed lazily: only when it fires or must fire sooner,
    // not on every ACK that pushes the deadline back (firing early is a
    // no-op for the core). Saves a timer-wheel update per packet.
    let sleep = tokio::time::sleep(idle_limit);
    tokio::pin!(sleep);
    let mut armed: Option<Instant> = None;
    loop {
        io.pump(t).await;
        send_all(socket, t, batch.as_ref(), &mut out).await;
        if t.is_finished() {
            io.pump(t).await;
            return;
        }
        let deadline = t
            .poll_timeout()
            .unwrap_or_else(|| Instant::now() + idle_limit);
        if armed.is_none_or(|a| deadline < a) {
            sleep.as_mut().reset(deadline.into());
            armed = Some(deadline);
        }
        tokio::select! {
            r = socket.recv_from(&mut buf) => {
                if let Ok((n, from)) = r {
                    t.handle_packet(from, &buf[..n], Instant::now());
                    // Windowed uploads: drain the rest of the window before
                    // answering. Reads get one ACK per window, and lockstep
                    // would only pay for an extra empty read.
                    if drain {
                        while let Ok((n, from)) = socket.try_recv_from(&mut buf) {
                            t.handle_packet(from, &buf[..n], Instant::now());
                        }
                    }
                }
            }
            _ = &mut sleep => {
                armed = None;
                t.handle_timeout(Instant::now());
            }
        }
    }
}

/// Sends everything the core has queued; with `batch`, runs of equal-size
/// datagrams to one destination go out as one GSO send.
async fn send_all(
    socket: &UdpSocket,
    t: &mut ServerTransfer,
    batch: Option<&Batch>,
    out: &mut Vec<u8>,
) {
    let Some(batch) = batch else {
        while let Some(tx) = t.poll_transmit() {
            let _ = socket.send_to(&tx.payload, tx.dest).await;
        }
        return;
    };
    let max = batch.max_segments().max(1);
    let mut group: Option<(SocketAddr, usize)> = None;
    out.clear();
    while let Some(tx) = t.poll_transmit() {
        let len = tx.payload.len();
        let fits = group.is_some_and(|(dest, seg)| {
            dest == tx.dest
                && len <= seg
                && out.len().is_multiple_of(seg)
                && out.len() / seg < max
                && out.len() + len <= 63 * 1024
        });
        if !fits {
            if let Some((dest, seg)) = group {
                let _ = batch.send(socket, dest, out, seg).await;
            }
            out.clear();
            group = Some((tx.dest, len.max(1)));
        }
        out.extend_from_slice(&tx.payload);
    }
    if let Some((dest, seg)) = group {
        let _ = batch.send(socket, dest, out, seg).await;
    }
}

/// Per-client-IP token bucket.
struct RateLimiter {
    rate: Option<f64>,
    buckets: HashMap<IpAddr, (f64, Instant)>,
}

impl RateLimiter {
    fn new(rate: Option<f64>) -> Self {
        RateLimiter {
            rate,
            buckets: HashMap::new(),
        }
    }

    fn allow(&mut self, ip: IpAddr, now: Instant) -> bool {
        let Some(rate) = self.rate else {
            return true;
        };
        let burst = (rate * 2.0).max(1.0);
        if self.buckets.len() > 100_000 {
            // Forget idle clients so the map cannot grow without bound.
            self.buckets
                .retain(|_, (_, last)| now.duration_since(*last) < Duration::from_secs(10));
        }
        let (tokens, last) = self.buckets.entry(ip).or_insert((burst, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * rate).min(burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limiter_refills() {
        let mut r = RateLimiter::new(Some(1.0));
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let t0 = Instant::now();
        assert!(r.allow(ip, t0));
        assert!(r.allow(ip, t0));
        assert!(!r.allow(ip, t0));
        assert!(r.allow(ip, t0 + Duration::from_secs(1)));
    }
}
