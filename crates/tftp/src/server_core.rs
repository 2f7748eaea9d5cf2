//! Sans-IO server side: [`accept_request`] turns the first datagram into a
//! negotiated [`IncomingRequest`] (or the ERROR to answer with), and
//! [`ServerTransfer`] runs one transfer from its own TID.
//!
//! The shell feeds it datagrams ([`ServerTransfer::handle_packet`]), timer
//! expiries ([`ServerTransfer::handle_timeout`]) and, for reads, content
//! chunks ([`ServerTransfer::push_data`]) as its handler produces them; it
//! sends what [`ServerTransfer::poll_transmit`] returns and sleeps until
//! [`ServerTransfer::poll_timeout`]. Time is always passed in, so tests run
//! on a virtual clock.

use crate::options::{OptionError, RequestedOptions, TransferOptions, MAX_BLKSIZE};
use crate::packet::{encode_error, ErrorCode, Mode, Packet};
use crate::receiver::{DataOutcome, Receiver};
use crate::sender::Sender;
use crate::transfer::{TransferError, TransferState, Transmit, DEFAULT_RETRIES};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Limits and defaults of the server's protocol core.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Largest blksize granted (RFC 2348 allows up to 65464; bigger requests
    /// are narrowed, not refused).
    pub max_blksize: u16,
    /// Largest windowsize granted (RFC 7440).
    pub max_windowsize: u16,
    /// Retransmission timeout when the client does not negotiate one.
    pub timeout: Duration,
    /// Retransmissions before a transfer is abandoned.
    pub max_retries: u32,
    /// Largest upload accepted; `None` refuses every WRQ with ERROR 2
    /// (uploads are off unless explicitly configured).
    pub max_upload: Option<u64>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_blksize: MAX_BLKSIZE,
            max_windowsize: 64,
            timeout: Duration::from_secs(1),
            max_retries: DEFAULT_RETRIES,
            max_upload: None,
        }
    }
}

/// Whether the client reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// RRQ: the server sends.
    Read,
    /// WRQ: the server receives.
    Write,
}

/// A request accepted by [`accept_request`], with options negotiated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingRequest {
    /// Read or write.
    pub direction: Direction,
    /// Path exactly as the client sent it (the handler checks it).
    pub path: String,
    /// Transfer mode.
    pub mode: Mode,
    /// Negotiated parameters (tsize is the client's announced size for a
    /// write, and filled in by [`ServerTransfer::read`] for a read).
    pub options: TransferOptions,
    requested: RequestedOptions,
}

/// How the listening socket answers a datagram it will not start a transfer for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// Answer with this ERROR (from a fresh TID, as a transfer would).
    Error {
        /// Code.
        code: ErrorCode,
        /// Message.
        message: String,
    },
    /// Drop silently (a stray ACK/DATA/ERROR: answering could start an
    /// error ping-pong).
    Ignore(String),
}

impl Rejection {
    fn error(code: ErrorCode, message: impl Into<String>) -> Rejection {
        Rejection::Error {
            code,
            message: message.into(),
        }
    }

    /// The ERROR packet to send, if any.
    pub fn packet(&self) -> Option<Vec<u8>> {
        match self {
            Rejection::Error { code, message } => Some(encode_error(*code, message)),
            Rejection::Ignore(_) => None,
        }
    }
}

/// Parses the first datagram of a transfer and negotiates its options
/// (R-TFTP-1). Errors map to ERROR 4 (malformed, mail mode), 2 (uploads
/// off), 3 (announced upload too large) and 8 (bad options, RFC 2347).
pub fn accept_request(bytes: &[u8], config: &ServerConfig) -> Result<IncomingRequest, Rejection> {
    let packet = Packet::parse(bytes).map_err(|e| {
        Rejection::error(
            ErrorCode::ILLEGAL_OPERATION,
            format!("malformed request: {e}"),
        )
    })?;
    let (direction, req) = match packet {
        Packet::Rrq(r) => (Direction::Read, r),
        Packet::Wrq(r) => (Direction::Write, r),
        other => {
            return Err(Rejection::Ignore(format!(
                "not a request on the listening port: {other:?}"
            )))
        }
    };
    if req.mode == Mode::Mail {
        return Err(Rejection::error(
            ErrorCode::ILLEGAL_OPERATION,
            "mail mode is not supported: use octet or netascii",
        ));
    }
    if direction == Direction::Write && config.max_upload.is_none() {
        return Err(Rejection::error(
            ErrorCode::ACCESS_VIOLATION,
            "uploads are disabled on this server",
        ));
    }
    let requested = RequestedOptions::parse(&req.options)
        .map_err(|e| Rejection::error(ErrorCode::OPTION_REFUSED, e.to_string()))?;
    let mut options =
        requested.negotiate(config.max_blksize, config.max_windowsize, config.timeout);
    if direction == Direction::Write {
        if let (Some(size), Some(max)) = (requested.tsize, config.max_upload) {
            if size > max {
                let e = OptionError::TooLarge { size, max };
                return Err(Rejection::error(ErrorCode::DISK_FULL, e.to_string()));
            }
        }
        options.tsize = requested.tsize;
    }
    Ok(IncomingRequest {
        direction,
        path: req.filename,
        mode: req.mode,
        options,
        requested,
    })
}

#[derive(Debug)]
enum Role {
    Read {
        sender: Sender,
        /// OACK waiting for ACK 0; resent on timeout.
        oack: Option<Vec<u8>>,
        oack_retries: u32,
        oack_deadline: Option<Instant>,
    },
    Write {
        receiver: Receiver,
    },
}

/// One server-side transfer, talking to one client TID.
#[derive(Debug)]
pub struct ServerTransfer {
    peer: SocketAddr,
    options: TransferOptions,
    role: Role,
    queue: VecDeque<Transmit>,
    state: TransferState,
    max_retries: u32,
    scratch: Vec<Vec<u8>>,
}

impl ServerTransfer {
    /// Starts sending `request`'s content to `peer`. `size` is the content
    /// length when known (reported as tsize for octet transfers, RFC 2349).
    pub fn read(
        peer: SocketAddr,
        request: &IncomingRequest,
        size: Option<u64>,
        config: &ServerConfig,
        now: Instant,
    ) -> ServerTransfer {
        let mut options = request.options;
        // tsize of a netascii file would be the converted size, unknown
        // before conversion; tftpd-hpa leaves it out too.
        options.tsize = if request.mode == Mode::Octet {
            size
        } else {
            None
        };
        let oack_list = request.requested.oack_list(&options);
        if oack_list.is_empty() {
            // No OACK means RFC 1350 defaults (RFC 2347).
            options.blksize = crate::options::DEFAULT_BLKSIZE;
            options.windowsize = 1;
        }
        let sender = Sender::new(
            options.blksize,
            options.windowsize,
            options.timeout,
            config.max_retries,
            request.mode == Mode::Netascii,
            now,
        );
        let mut t = ServerTransfer {
            peer,
            options,
            role: Role::Read {
                sender,
                oack: None,
                oack_retries: 0,
                oack_deadline: None,
            },
            queue: VecDeque::new(),
            state: TransferState::Running,
            max_retries: config.max_retries,
            scratch: Vec::new(),
        };
        if !oack_list.is_empty() {
            let oack = Packet::Oack { options: oack_list }.encode();
            t.send(oack.clone());
            if let Role::Read {
                oack: o,
                oack_deadline,
                ..
            } = &mut t.role
            {
                *o = Some(oack);
                *oack_deadline = Some(now + options.timeout);
            }
        }
        t
    }

    /// Starts receiving an upload from `peer` (only for requests that
    /// [`accept_request`] let through, i.e. with uploads configured).
    pub fn write(
        peer: SocketAddr,
        request: &IncomingRequest,
        config: &ServerConfig,
        now: Instant,
    ) -> ServerTransfer {
        let mut options = request.options;
        let oack_list = request.requested.oack_list(&options);
        let first = if oack_list.is_empty() {
            options.blksize = crate::options::DEFAULT_BLKSIZE;
            options.windowsize = 1;
            crate::packet::encode_ack(0)
        } else {
            Packet::Oack { options: oack_list }.encode()
        };
        let receiver = Receiver::new(
            options.blksize,
            options.windowsize,
            options.timeout,
            config.max_retries,
            request.mode == Mode::Netascii,
            config.max_upload,
            Some(first.clone()),
            now,
        );
        let mut t = ServerTransfer {
            peer,
            options,
            role: Role::Write { receiver },
            queue: VecDeque::new(),
            state: TransferState::Running,
            max_retries: config.max_retries,
            scratch: Vec::new(),
        };
        t.send(first);
        t
    }

    fn send(&mut self, payload: Vec<u8>) {
        self.queue.push_back(Transmit {
            dest: self.peer,
            payload,
        });
    }

    fn fail(&mut self, error: TransferError, reply: Option<(ErrorCode, &str)>) {
        if let Some((code, msg)) = reply {
            self.send(encode_error(code, msg));
        }
        if !self.state.is_finished() {
            self.state = TransferState::Failed(error);
        }
    }

    /// The negotiated parameters.
    pub fn options(&self) -> &TransferOptions {
        &self.options
    }

    /// The client's address (its TID).
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// Feeds one datagram received on this transfer's socket from `from`.
    pub fn handle_packet(&mut self, from: SocketAddr, bytes: &[u8], now: Instant) {
        if from != self.peer {
            // RFC 1350 §4: answer the stranger, leave the transfer alone.
            self.queue.push_back(Transmit {
                dest: from,
                payload: encode_error(ErrorCode::UNKNOWN_TID, "unknown transfer ID"),
            });
            return;
        }
        if self.state.is_finished() {
            // Late duplicates after the end: nothing to do.
            return;
        }
        // Fast path for DATA: no copy into a packet value.
        if bytes.len() >= 4 && bytes[..2] == [0, 3] {
            let block = u16::from_be_bytes([bytes[2], bytes[3]]);
            return self.handle_data(block, &bytes[4..], now);
        }
        match Packet::parse(bytes) {
            Ok(Packet::Ack { block }) => self.handle_ack(block, now),
            Ok(Packet::Error { code, message }) => {
                self.state = TransferState::Failed(TransferError::Remote { code, message })
            }
            Ok(other) => {
                let msg = format!("unexpected {} packet", kind(&other));
                self.fail(
                    TransferError::Protocol(msg.clone()),
                    Some((ErrorCode::ILLEGAL_OPERATION, &msg)),
                )
            }
            Err(e) => {
                let msg = e.to_string();
                self.fail(
                    TransferError::Protocol(msg.clone()),
                    Some((ErrorCode::ILLEGAL_OPERATION, &msg)),
                )
            }
        }
    }

    fn handle_ack(&mut self, block: u16, now: Instant) {
        let Role::Read {
            sender,
            oack,
            oack_deadline,
            ..
        } = &mut self.role
        else {
            let msg = "ACK during an upload";
            return self.fail(
                TransferError::Protocol(msg.into()),
                Some((ErrorCode::ILLEGAL_OPERATION, msg)),
            );
        };
        if oack.is_some() {
            if block == 0 {
                *oack = None;
                *oack_deadline = None;
                // Start the data timer now that the client is ready.
                sender.restart_timer(now);
            }
            return;
        }
        sender.handle_ack(block, now);
        if sender.is_done() {
            self.state = TransferState::Done;
        }
    }

    fn handle_data(&mut self, block: u16, data: &[u8], now: Instant) {
        let Role::Write { receiver } = &mut self.role else {
            let msg = "DATA during a download";
            return self.fail(
                TransferError::Protocol(msg.into()),
                Some((ErrorCode::ILLEGAL_OPERATION, msg)),
            );
        };
        let mut out = std::mem::take(&mut self.scratch);
        let outcome = receiver.handle_data(block, data, now, &mut out);
        let done = receiver.is_done();
        for p in out.drain(..) {
            self.send(p);
        }
        self.scratch = out;
        match outcome {
            DataOutcome::Ok => {
                if done {
                    self.state = TransferState::Done;
                }
            }
            DataOutcome::Oversized => {
                let msg = "DATA block larger than the negotiated blksize";
                self.fail(
                    TransferError::Protocol(msg.into()),
                    Some((ErrorCode::ILLEGAL_OPERATION, msg)),
                )
            }
            DataOutcome::TooLarge => {
                let msg = "upload exceeds the server's size limit";
                self.fail(
                    TransferError::Aborted {
                        code: ErrorCode::DISK_FULL,
                        message: msg.into(),
                    },
                    Some((ErrorCode::DISK_FULL, msg)),
                )
            }
        }
    }

    /// Feeds a timer expiry (call when `now >= poll_timeout()`; calling
    /// early is harmless).
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.state.is_finished() {
            return;
        }
        match &mut self.role {
            Role::Read {
                oack: Some(oack),
                oack_retries,
                oack_deadline,
                ..
            } => {
                if oack_deadline.is_some_and(|d| now >= d) {
                    *oack_retries += 1;
                    if *oack_retries > self.max_retries {
                        let retries = self.max_retries;
                        self.state = TransferState::Failed(TransferError::Timeout { retries });
                        return;
                    }
                    *oack_deadline = Some(now + self.options.timeout);
                    let p = oack.clone();
                    self.send(p);
                }
            }
            Role::Read { sender, .. } => {
                sender.handle_timeout(now);
                if let Some(retries) = sender.timed_out() {
                    self.state = TransferState::Failed(TransferError::Timeout { retries });
                }
            }
            Role::Write { receiver } => {
                let mut out = std::mem::take(&mut self.scratch);
                receiver.handle_timeout(now, &mut out);
                let timed_out = receiver.timed_out();
                for p in out.drain(..) {
                    self.send(p);
                }
                self.scratch = out;
                if let Some(retries) = timed_out {
                    self.state = TransferState::Failed(TransferError::Timeout { retries });
                }
            }
        }
    }

    /// Next datagram to send, if any.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        if let Some(t) = self.queue.pop_front() {
            return Some(t);
        }
        if self.state.is_finished() {
            return None;
        }
        if let Role::Read {
            sender, oack: None, ..
        } = &mut self.role
        {
            let mut payload = Vec::new();
            if sender.poll_data(&mut payload) {
                return Some(Transmit {
                    dest: self.peer,
                    payload,
                });
            }
        }
        None
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.state.is_finished() {
            return None;
        }
        match &self.role {
            Role::Read {
                oack: Some(_),
                oack_deadline,
                ..
            } => *oack_deadline,
            Role::Read { sender, .. } => sender.poll_timeout(),
            Role::Write { receiver } => receiver.poll_timeout(),
        }
    }

    /// Read transfers: how many more content bytes the core would like
    /// buffered now (0 when it has enough or the content has ended).
    pub fn wants_data(&self) -> usize {
        match &self.role {
            Role::Read { sender, .. } if !self.state.is_finished() => sender.wants_data(),
            _ => 0,
        }
    }

    /// Read transfers: appends content (converted to netascii if that mode
    /// was asked for).
    pub fn push_data(&mut self, data: &[u8]) {
        if let Role::Read { sender, .. } = &mut self.role {
            sender.push_data(data);
        }
    }

    /// Read transfers: marks the end of the content.
    pub fn finish_data(&mut self) {
        if let Role::Read { sender, .. } = &mut self.role {
            sender.finish_data();
        }
    }

    /// Write transfers: takes the data received so far (netascii decoded).
    pub fn take_received(&mut self) -> Vec<u8> {
        match &mut self.role {
            Role::Write { receiver } => receiver.take_data(),
            Role::Read { .. } => Vec::new(),
        }
    }

    /// Write transfers: bytes received on the wire so far.
    pub fn received_bytes(&self) -> u64 {
        match &self.role {
            Role::Write { receiver } => receiver.received(),
            Role::Read { .. } => 0,
        }
    }

    /// Read transfers: bytes of content the client acknowledged so far
    /// (all of it once the transfer is done).
    pub fn sent_bytes(&self) -> u64 {
        match &self.role {
            Role::Read { sender, .. } => sender.acked_bytes(),
            Role::Write { .. } => 0,
        }
    }

    /// Stops the transfer, telling the client why (e.g. the content reader
    /// failed).
    pub fn abort(&mut self, code: ErrorCode, message: &str) {
        if self.state.is_finished() {
            return;
        }
        self.fail(
            TransferError::Aborted {
                code,
                message: message.into(),
            },
            Some((code, message)),
        );
    }

    /// Current state.
    pub fn state(&self) -> &TransferState {
        &self.state
    }

    /// True once done or failed (the queue may still hold a final ERROR;
    /// drain [`poll_transmit`](Self::poll_transmit) first).
    pub fn is_finished(&self) -> bool {
        self.state.is_finished()
    }
}

fn kind(p: &Packet) -> &'static str {
    match p {
        Packet::Rrq(_) => "RRQ",
        Packet::Wrq(_) => "WRQ",
        Packet::Data { .. } => "DATA",
        Packet::Ack { .. } => "ACK",
        Packet::Error { .. } => "ERROR",
        Packet::Oack { .. } => "OACK",
    }
}
