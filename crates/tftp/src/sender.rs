//! The sending half of a transfer (server side of an RRQ): a sliding window
//! of DATA blocks (RFC 7440) over a buffer the shell fills as content becomes
//! available.
//!
//! Block numbers are tracked as 64-bit absolute numbers and only truncated to
//! 16 bits on the wire, which makes rollover past block 65535 a non-event.
//! Sorcerer's Apprentice (RFC 1123 §4.2.3.1): a duplicate ACK never causes a
//! retransmission; only the timer does, so the stream can never double.

use crate::netascii;
use crate::packet::encode_data;
use bytes::{Buf, BytesMut};
use std::time::{Duration, Instant};

/// Upper bound of what the sender buffers ahead of the window base.
const MAX_BUFFER: usize = 16 << 20;
/// Lower bound, so a streaming reader is asked for big chunks (one file read
/// per many blocks, not one per block).
const MIN_BUFFER: usize = 256 << 10;

#[derive(Debug)]
pub(crate) struct Sender {
    blksize: usize,
    window: u64,
    timeout: Duration,
    max_retries: u32,
    netascii: bool,
    /// Content from the first byte of block `base` onwards.
    buf: BytesMut,
    eof: bool,
    /// First unacknowledged block.
    base: u64,
    /// Next block to put on the wire.
    next: u64,
    /// One past the highest block ever sent (late ACKs may cover it).
    high: u64,
    deadline: Option<Instant>,
    retries: u32,
    done: bool,
    timed_out: bool,
    /// Bytes the client acknowledged (as sent on the wire).
    acked: u64,
}

impl Sender {
    pub(crate) fn new(
        blksize: u16,
        window: u16,
        timeout: Duration,
        max_retries: u32,
        netascii: bool,
        now: Instant,
    ) -> Sender {
        Sender {
            blksize: blksize.into(),
            window: window.max(1).into(),
            timeout,
            max_retries,
            netascii,
            buf: BytesMut::new(),
            eof: false,
            base: 1,
            next: 1,
            high: 1,
            deadline: Some(now + timeout),
            retries: 0,
            done: false,
            timed_out: false,
            acked: 0,
        }
    }

    pub(crate) fn push_data(&mut self, data: &[u8]) {
        if self.eof {
            return;
        }
        if self.netascii {
            let mut v = Vec::new();
            netascii::encode_into(data, &mut v);
            self.buf.extend_from_slice(&v);
        } else {
            self.buf.extend_from_slice(data);
        }
    }

    pub(crate) fn finish_data(&mut self) {
        self.eof = true;
    }

    pub(crate) fn wants_data(&self) -> usize {
        if self.eof {
            return 0;
        }
        let target = (self.window as usize)
            .saturating_mul(self.blksize)
            .saturating_mul(2)
            .clamp(MIN_BUFFER, MAX_BUFFER)
            .max(self.blksize * 2);
        // Refill only below half the target, so reads come in big batches.
        if self.buf.len() > target / 2 {
            return 0;
        }
        target - self.buf.len()
    }

    /// Absolute number of the last block, once the content end is known.
    fn last_block(&self) -> Option<u64> {
        self.eof
            .then(|| self.base + (self.buf.len() / self.blksize) as u64)
    }

    fn block(&self, n: u64) -> Option<&[u8]> {
        let off = ((n - self.base) as usize).checked_mul(self.blksize)?;
        if off + self.blksize <= self.buf.len() {
            Some(&self.buf[off..off + self.blksize])
        } else if self.eof && off <= self.buf.len() {
            Some(&self.buf[off..])
        } else {
            None
        }
    }

    /// Writes the next DATA packet into `out`, if the window and the buffer
    /// allow one.
    pub(crate) fn poll_data(&mut self, out: &mut Vec<u8>) -> bool {
        if self.done || self.timed_out || self.next >= self.base + self.window {
            return false;
        }
        let n = self.next;
        let Some(data) = self.block(n) else {
            return false;
        };
        encode_data(out, n as u16, data);
        self.next += 1;
        self.high = self.high.max(self.next);
        true
    }

    pub(crate) fn handle_ack(&mut self, block: u16, now: Instant) {
        if self.done {
            return;
        }
        // Distance from the last acknowledged block; 0 is a duplicate ACK,
        // which is ignored (no Sorcerer's Apprentice).
        let d = block.wrapping_sub((self.base - 1) as u16) as u64;
        if d == 0 || d > self.high - self.base {
            return;
        }
        let last = self.last_block();
        let drop = (d as usize)
            .saturating_mul(self.blksize)
            .min(self.buf.len());
        self.buf.advance(drop);
        self.acked += drop as u64;
        self.base += d;
        // An ACK short of the last block sent means the receiver saw a gap
        // (or timed out): go back and resend from the block after it
        // (RFC 7440 §4).
        self.next = self.base;
        self.retries = 0;
        self.deadline = Some(now + self.timeout);
        if let Some(last) = last {
            if self.base > last {
                self.done = true;
                self.deadline = None;
            }
        }
    }

    pub(crate) fn restart_timer(&mut self, now: Instant) {
        self.retries = 0;
        self.deadline = Some(now + self.timeout);
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        let Some(deadline) = self.deadline else {
            return;
        };
        if self.done || now < deadline {
            return;
        }
        self.deadline = Some(now + self.timeout);
        if self.next == self.base {
            // Nothing outstanding: waiting for the shell's content.
            return;
        }
        self.retries += 1;
        if self.retries > self.max_retries {
            self.timed_out = true;
            self.deadline = None;
            return;
        }
        self.next = self.base;
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// Bytes of content the client has acknowledged.
    pub(crate) fn acked_bytes(&self) -> u64 {
        self.acked
    }

    pub(crate) fn is_done(&self) -> bool {
        self.done
    }

    pub(crate) fn timed_out(&self) -> Option<u32> {
        self.timed_out.then(|| self.retries - 1)
    }
}
