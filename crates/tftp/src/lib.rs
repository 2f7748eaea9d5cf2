//! `phoneprov-tftp`: a small sans-IO TFTP implementation with thin tokio
//! shells for the server and the client (SPEC §5, R-TFTP-1).
//!
//! # Why hand-written
//! Phones fetch profiles and firmware over TFTP, and phoneprov needs both a
//! server that renders per-device profiles on request and a client for the
//! phone side and the fleet simulator, with RFC 7440 windowing. No crate
//! offers that: `async-tftp` is server-only, runs its own reactor and has
//! open retransmission bugs; `tftpd` is blocking and directory-only. So this
//! crate implements the protocol itself, following the workspace's sans-IO
//! design (DESIGN.md): state machines that take bytes and the time and return
//! bytes to send and the next deadline, driven by tokio tasks.
//!
//! # Layers
//! - [`packet`]: wire format (RFC 1350, OACK of RFC 2347).
//! - [`options`]: blksize (RFC 2348), timeout/tsize (RFC 2349), windowsize
//!   (RFC 7440); option errors become ERROR 8.
//! - [`ServerTransfer`], [`ClientTransfer`]: sans-IO transfers with sliding
//!   windows, 64-bit block numbers (rollover past 65535 is transparent),
//!   netascii, retransmission with a retry limit, no Sorcerer's Apprentice,
//!   ERROR 5 to packets from unknown TIDs.
//! - [`server`]: tokio server (one socket for requests, one per transfer,
//!   one task per transfer, no thread per transfer) over a [`Handler`];
//!   [`DirHandler`] serves a directory with path-safety checks.
//! - [`client`]: tokio client ([`TftpClient::get`]), errors classed as not
//!   found / timeout / other for the phone side, optional source-port range
//!   (53240–53245 in SPEC R-TFTP-1).
//! - Windowed transfers send a whole window per syscall (UDP GSO) and receive
//!   it per syscall (GRO/recvmmsg) through `quinn-udp`.
//!
//! Uploads (WRQ) are refused with ERROR 2 unless the server is given an
//! upload directory and a size cap ([`Server::with_uploads`]).
//!
//! # Example
//! ```no_run
//! use phoneprov_tftp::{Content, Handler, HandlerError, ReadRequest, Server};
//!
//! struct Profiles;
//! impl Handler for Profiles {
//!     async fn read(&self, r: ReadRequest) -> Result<Content, HandlerError> {
//!         match r.path.strip_suffix(".cfg") {
//!             Some(dev) => Ok(Content::Bytes(format!("<flat-profile><!-- {dev} --></flat-profile>").into())),
//!             None => Err(HandlerError::NotFound(r.path)),
//!         }
//!     }
//! }
//!
//! # async fn run() -> Result<(), phoneprov_tftp::ServerError> {
//! let server = Server::bind("0.0.0.0:6969".parse().unwrap(), Profiles).await?;
//! server.serve_until(async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```

pub mod client;
mod client_core;
mod dir_handler;
#[doc(hidden)]
pub mod fuzzing;
mod netascii;
pub mod options;
pub mod packet;
mod receiver;
mod sender;
pub mod server;
mod server_core;
mod transfer;
mod udp;

pub use client::{ClientConfig, ClientError, ClientErrorKind, Fetched, TftpClient};
pub use client_core::ClientTransfer;
pub use dir_handler::{resolve_path, DirHandler};
pub use options::{OptionError, RequestedOptions, TransferOptions};
pub use packet::{ErrorCode, Mode, Packet, PacketError, Request};
pub use server::{
    Content, Handler, HandlerError, ReadRequest, Server, ServerError, ServerLimits, TransferEnd,
};
pub use server_core::{
    accept_request, Direction, IncomingRequest, Rejection, ServerConfig, ServerTransfer,
};
pub use transfer::{TransferError, TransferState, Transmit, DEFAULT_RETRIES};
