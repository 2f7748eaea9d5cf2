//! The receiving half of a transfer (client side of an RRQ, server side of a
//! WRQ): accepts DATA in order, ACKs once per window (RFC 7440), and answers
//! a gap or a duplicate with one ACK of the last in-order block.
//!
//! A duplicate is re-acknowledged only when it is the first block of the
//! window the last ACK closed (the sender evidently missed that ACK), so a
//! retransmitted window costs one ACK, not `windowsize`.

use crate::netascii;
use crate::packet::encode_ack;
use std::time::{Duration, Instant};

/// What one DATA packet did to the receiver.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum DataOutcome {
    /// Nothing to report (the ACK, if any, is in `ack`).
    Ok,
    /// The block was larger than the negotiated block size.
    Oversized,
    /// The received size passed the configured limit.
    TooLarge,
}

#[derive(Debug)]
pub(crate) struct Receiver {
    blksize: usize,
    window: u64,
    timeout: Duration,
    max_retries: u32,
    decoder: Option<netascii::Decoder>,
    /// Next block expected (absolute).
    expected: u64,
    since_ack: u64,
    gap_acked: bool,
    /// Absolute blocks of the last two distinct ACKs sent.
    last_ack: u64,
    prev_ack: u64,
    /// Decoded data not yet taken by the shell.
    out: Vec<u8>,
    received: u64,
    max_size: Option<u64>,
    /// Resent on timeout instead of ACK 0 while nothing has arrived (the
    /// server's OACK answering a WRQ).
    initial_reply: Option<Vec<u8>>,
    deadline: Option<Instant>,
    retries: u32,
    done: bool,
    timed_out: bool,
}

impl Receiver {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        blksize: u16,
        window: u16,
        timeout: Duration,
        max_retries: u32,
        netascii: bool,
        max_size: Option<u64>,
        initial_reply: Option<Vec<u8>>,
        now: Instant,
    ) -> Receiver {
        Receiver {
            blksize: blksize.into(),
            window: window.max(1).into(),
            timeout,
            max_retries,
            decoder: netascii.then(netascii::Decoder::default),
            expected: 1,
            since_ack: 0,
            gap_acked: false,
            last_ack: 0,
            prev_ack: 0,
            out: Vec::new(),
            received: 0,
            max_size,
            initial_reply,
            deadline: Some(now + timeout),
            retries: 0,
            done: false,
            timed_out: false,
        }
    }

    fn ack_last(&mut self) -> Vec<u8> {
        self.since_ack = 0;
        let ack = self.expected - 1;
        if ack != self.last_ack {
            self.prev_ack = self.last_ack;
            self.last_ack = ack;
        }
        encode_ack(ack as u16)
    }

    /// Handles one DATA block; pushes an ACK to `send` when one is due.
    pub(crate) fn handle_data(
        &mut self,
        block: u16,
        data: &[u8],
        now: Instant,
        send: &mut Vec<Vec<u8>>,
    ) -> DataOutcome {
        if self.timed_out {
            return DataOutcome::Ok;
        }
        if self.done {
            // Dallying: our final ACK was lost, say it again.
            if block == (self.expected - 1) as u16 {
                send.push(self.ack_last());
            }
            return DataOutcome::Ok;
        }
        let d = block.wrapping_sub(self.expected as u16) as u64;
        if d == 0 {
            if data.len() > self.blksize {
                return DataOutcome::Oversized;
            }
            self.received += data.len() as u64;
            if self.max_size.is_some_and(|m| self.received > m) {
                return DataOutcome::TooLarge;
            }
            match &mut self.decoder {
                Some(dec) => dec.decode_into(data, &mut self.out),
                None => self.out.extend_from_slice(data),
            }
            self.expected += 1;
            self.since_ack += 1;
            self.gap_acked = false;
            self.retries = 0;
            self.deadline = Some(now + self.timeout);
            if data.len() < self.blksize {
                if let Some(dec) = &mut self.decoder {
                    dec.finish(&mut self.out);
                }
                self.done = true;
                self.deadline = None;
                send.push(self.ack_last());
            } else if self.since_ack >= self.window {
                send.push(self.ack_last());
            }
        } else if d < self.window {
            // A block went missing inside the window (RFC 7440 §4): tell the
            // sender where to restart, once per gap.
            if !self.gap_acked {
                self.gap_acked = true;
                send.push(self.ack_last());
            }
        } else {
            // An old block. If it starts the window our last ACK closed, the
            // sender missed that ACK and went back: say it again. Other
            // duplicates (network copies, the rest of a resent window) get
            // no answer, so a resent window costs one ACK, and copies do not
            // make the sender go back needlessly.
            let behind = (self.expected as u16).wrapping_sub(block) as u64;
            let abs = self.expected.saturating_sub(behind);
            if abs == self.prev_ack + 1 {
                send.push(self.ack_last());
            }
        }
        DataOutcome::Ok
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant, send: &mut Vec<Vec<u8>>) {
        let Some(deadline) = self.deadline else {
            return;
        };
        if self.done || now < deadline {
            return;
        }
        self.retries += 1;
        if self.retries > self.max_retries {
            self.timed_out = true;
            self.deadline = None;
            return;
        }
        self.deadline = Some(now + self.timeout);
        self.gap_acked = false;
        match (&self.initial_reply, self.expected) {
            (Some(first), 1) => send.push(first.clone()),
            _ => send.push(self.ack_last()),
        }
    }

    pub(crate) fn take_data(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    pub(crate) fn buffered_len(&self) -> usize {
        self.out.len()
    }

    pub(crate) fn has_data(&self) -> bool {
        !self.out.is_empty()
    }

    pub(crate) fn received(&self) -> u64 {
        self.received
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    pub(crate) fn is_done(&self) -> bool {
        self.done
    }

    pub(crate) fn timed_out(&self) -> Option<u32> {
        self.timed_out.then_some(self.max_retries)
    }
}
