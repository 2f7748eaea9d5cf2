//! Sans-IO client side of a read (RRQ): sends the request, checks the OACK,
//! receives the window-acknowledged DATA stream.
//!
//! Like [`crate::ServerTransfer`], it is driven by the shell with datagrams,
//! timer expiries and the current time, and it hands back datagrams to send.
//! After the last block it stays able to re-ACK a retransmitted final block
//! (dallying, RFC 1350 §6) for as long as the shell keeps feeding it.

use crate::options::{RequestedOptions, TransferOptions};
use crate::packet::{encode_ack, encode_error, ErrorCode, Mode, Packet, Request};
use crate::receiver::{DataOutcome, Receiver};
use crate::transfer::{TransferError, TransferState, Transmit};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

#[derive(Debug)]
enum Phase {
    /// RRQ sent, no answer yet.
    Requesting {
        rrq: Vec<u8>,
        retries: u32,
        deadline: Instant,
    },
    /// Server chose a TID; data flowing.
    Receiving(Receiver),
}

/// One client read transfer.
#[derive(Debug)]
pub struct ClientTransfer {
    server: SocketAddr,
    peer: Option<SocketAddr>,
    requested: RequestedOptions,
    mode: Mode,
    timeout: Duration,
    max_retries: u32,
    phase: Phase,
    options: Option<TransferOptions>,
    queue: VecDeque<Transmit>,
    state: TransferState,
    scratch: Vec<Vec<u8>>,
}

impl ClientTransfer {
    /// Starts reading `path` from the server listening at `server`.
    /// `timeout` is the retransmission timeout until the server agrees to a
    /// `timeout` option (RFC 2349).
    pub fn get(
        server: SocketAddr,
        path: &str,
        mode: Mode,
        requested: RequestedOptions,
        timeout: Duration,
        max_retries: u32,
        now: Instant,
    ) -> ClientTransfer {
        let rrq = Packet::Rrq(Request {
            filename: path.to_string(),
            mode,
            options: requested.to_list(),
        })
        .encode();
        let mut queue = VecDeque::new();
        queue.push_back(Transmit {
            dest: server,
            payload: rrq.clone(),
        });
        ClientTransfer {
            server,
            peer: None,
            requested,
            mode,
            timeout,
            max_retries,
            phase: Phase::Requesting {
                rrq,
                retries: 0,
                deadline: now + timeout,
            },
            options: None,
            queue,
            state: TransferState::Running,
            scratch: Vec::new(),
        }
    }

    fn send(&mut self, payload: Vec<u8>) {
        let dest = self.peer.unwrap_or(self.server);
        self.queue.push_back(Transmit { dest, payload });
    }

    fn fail(&mut self, error: TransferError, reply: Option<(ErrorCode, String)>) {
        if let Some((code, msg)) = reply {
            self.send(encode_error(code, &msg));
        }
        if !self.state.is_finished() {
            self.state = TransferState::Failed(error);
        }
    }

    fn protocol_error(&mut self, msg: String) {
        self.fail(
            TransferError::Protocol(msg.clone()),
            Some((ErrorCode::ILLEGAL_OPERATION, msg)),
        );
    }

    /// Negotiated parameters, once the server has answered.
    pub fn options(&self) -> Option<&TransferOptions> {
        self.options.as_ref()
    }

    /// The server's transfer address, once it has answered.
    pub fn peer(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// Feeds one datagram received from `from`.
    pub fn handle_packet(&mut self, from: SocketAddr, bytes: &[u8], now: Instant) {
        if let Some(peer) = self.peer {
            if from != peer {
                self.queue.push_back(Transmit {
                    dest: from,
                    payload: encode_error(ErrorCode::UNKNOWN_TID, "unknown transfer ID"),
                });
                return;
            }
        }
        if matches!(self.state, TransferState::Failed(_)) {
            return;
        }
        if bytes.len() >= 4 && bytes[..2] == [0, 3] {
            self.peer.get_or_insert(from);
            let block = u16::from_be_bytes([bytes[2], bytes[3]]);
            return self.handle_data(block, &bytes[4..], now);
        }
        let packet = match Packet::parse(bytes) {
            Ok(p) => p,
            Err(e) => {
                if self.peer.is_none() {
                    // Garbage from someone who is not our server yet: ignore.
                    return;
                }
                return self.protocol_error(e.to_string());
            }
        };
        match packet {
            Packet::Error { code, message } => {
                self.peer.get_or_insert(from);
                self.state = TransferState::Failed(TransferError::Remote { code, message });
            }
            Packet::Oack { options } => {
                self.peer.get_or_insert(from);
                match &self.phase {
                    Phase::Requesting { .. } => {
                        match self.requested.accept_oack(&options, self.timeout) {
                            Ok(t) => {
                                self.start_receiving(t, now);
                                self.send(encode_ack(0));
                            }
                            Err(e) => {
                                let msg = e.to_string();
                                self.fail(
                                    TransferError::Options(e),
                                    Some((ErrorCode::OPTION_REFUSED, msg)),
                                );
                            }
                        }
                    }
                    // Our ACK 0 was lost and the OACK came again.
                    Phase::Receiving(r) if r.received() == 0 && !r.is_done() => {
                        self.send(encode_ack(0))
                    }
                    Phase::Receiving(_) => {}
                }
            }
            other => {
                self.peer.get_or_insert(from);
                self.protocol_error(format!("unexpected packet during a read: {other:?}"))
            }
        }
    }

    fn start_receiving(&mut self, options: TransferOptions, now: Instant) {
        let r = Receiver::new(
            options.blksize,
            options.windowsize,
            options.timeout,
            self.max_retries,
            self.mode == Mode::Netascii,
            None,
            None,
            now,
        );
        self.options = Some(options);
        self.phase = Phase::Receiving(r);
    }

    fn handle_data(&mut self, block: u16, data: &[u8], now: Instant) {
        if let Phase::Requesting { .. } = self.phase {
            // The server ignored our options: RFC 1350 defaults.
            self.start_receiving(
                TransferOptions {
                    blksize: crate::options::DEFAULT_BLKSIZE,
                    windowsize: 1,
                    timeout: self.timeout,
                    tsize: None,
                },
                now,
            );
        }
        let Phase::Receiving(r) = &mut self.phase else {
            unreachable!("phase set just above")
        };
        let mut out = std::mem::take(&mut self.scratch);
        let outcome = r.handle_data(block, data, now, &mut out);
        let done = r.is_done();
        for p in out.drain(..) {
            self.send(p);
        }
        self.scratch = out;
        match outcome {
            DataOutcome::Ok => {
                if done && self.state == TransferState::Running {
                    self.state = TransferState::Done;
                }
            }
            DataOutcome::Oversized => {
                self.protocol_error("DATA block larger than the negotiated blksize".into())
            }
            DataOutcome::TooLarge => unreachable!("client receiver has no size limit"),
        }
    }

    /// Feeds a timer expiry.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.state.is_finished() {
            return;
        }
        match &mut self.phase {
            Phase::Requesting {
                rrq,
                retries,
                deadline,
            } => {
                if now < *deadline {
                    return;
                }
                *retries += 1;
                if *retries > self.max_retries {
                    let retries = self.max_retries;
                    self.state = TransferState::Failed(TransferError::Timeout { retries });
                    return;
                }
                *deadline = now + self.timeout;
                let p = rrq.clone();
                self.send(p);
            }
            Phase::Receiving(r) => {
                let mut out = std::mem::take(&mut self.scratch);
                r.handle_timeout(now, &mut out);
                let timed_out = r.timed_out();
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
        self.queue.pop_front()
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.state.is_finished() {
            return None;
        }
        match &self.phase {
            Phase::Requesting { deadline, .. } => Some(*deadline),
            Phase::Receiving(r) => r.poll_timeout(),
        }
    }

    /// Takes the data received so far (netascii decoded).
    pub fn take_data(&mut self) -> Vec<u8> {
        match &mut self.phase {
            Phase::Receiving(r) => r.take_data(),
            Phase::Requesting { .. } => Vec::new(),
        }
    }

    /// Bytes waiting in [`take_data`](Self::take_data).
    pub fn buffered_len(&self) -> usize {
        match &self.phase {
            Phase::Receiving(r) => r.buffered_len(),
            Phase::Requesting { .. } => 0,
        }
    }

    /// True when [`take_data`](Self::take_data) would return something.
    pub fn has_data(&self) -> bool {
        matches!(&self.phase, Phase::Receiving(r) if r.has_data())
    }

    /// Current state.
    pub fn state(&self) -> &TransferState {
        &self.state
    }

    /// True once done or failed.
    pub fn is_finished(&self) -> bool {
        self.state.is_finished()
    }

    /// Stops the transfer and tells the server (e.g. the output file could
    /// not be written).
    pub fn abort(&mut self, code: ErrorCode, message: &str) {
        if self.state.is_finished() {
            return;
        }
        self.fail(
            TransferError::Aborted {
                code,
                message: message.into(),
            },
            Some((code, message.into())),
        );
    }
}
