//! Types shared by the sans-IO transfer state machines: what they ask the
//! shell to send ([`Transmit`]), how a transfer ends ([`TransferError`]) and
//! the tuning knobs common to both ends.

use crate::options::OptionError;
use crate::packet::ErrorCode;
use std::net::SocketAddr;

/// A datagram the shell must send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Where to send it.
    pub dest: SocketAddr,
    /// Encoded TFTP packet.
    pub payload: Vec<u8>,
}

/// Why a transfer failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransferError {
    /// The peer stopped answering.
    #[error("no answer from the TFTP peer after {retries} retransmissions: check that it is running, the address and port, and that UDP is not filtered")]
    Timeout {
        /// Retransmissions tried.
        retries: u32,
    },
    /// The peer sent an ERROR packet.
    #[error("TFTP peer answered ERROR {code}: {message}")]
    Remote {
        /// Code sent by the peer.
        code: ErrorCode,
        /// Message sent by the peer.
        message: String,
    },
    /// The peer sent something the protocol does not allow here.
    #[error("TFTP peer broke the protocol ({0}); the transfer was stopped with ERROR 4")]
    Protocol(String),
    /// Option negotiation failed (ERROR 8 was sent).
    #[error("TFTP option negotiation failed: {0}")]
    Options(OptionError),
    /// The local side stopped the transfer (ERROR was sent to the peer).
    #[error("TFTP transfer aborted: {message}")]
    Aborted {
        /// Code sent to the peer.
        code: ErrorCode,
        /// Reason.
        message: String,
    },
}

/// Lifecycle of a transfer as seen by its shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferState {
    /// Still exchanging packets.
    Running,
    /// All data delivered and acknowledged.
    Done,
    /// Ended with an error.
    Failed(TransferError),
}

impl TransferState {
    /// True once the transfer is over (done or failed).
    pub fn is_finished(&self) -> bool {
        !matches!(self, TransferState::Running)
    }
}

/// Default retransmissions before a transfer is given up (tftpd-hpa uses a
/// similar budget; long enough for a few lost packets in a row).
pub const DEFAULT_RETRIES: u32 = 5;
