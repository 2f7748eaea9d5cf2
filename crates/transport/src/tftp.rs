//! TFTP fetch for the phone side (R-TFTP-1): resolves the host, wraps
//! [`phoneprov_tftp::TftpClient`] and maps its error classes onto
//! [`TransportError`] (not found → class B, the rest → class C). ERROR 2,
//! and tftpd-hpa's ERROR 0 "Permission denied", become `TftpAccess`.

use std::ops::RangeInclusive;

use phoneprov_tftp::{ClientConfig, ClientError, ErrorCode, TftpClient, TransferError};

use crate::{Resolver, TransportError};

/// Local ports phones use when the server is not on port 69 (R-TFTP-1).
pub const PHONE_TFTP_PORTS: RangeInclusive<u16> = 53240..=53245;

/// TFTP fetch settings.
#[derive(Debug, Clone, Default)]
pub struct TftpOptions {
    /// Client settings (blksize, windowsize, timeout, retries, ports).
    pub client: ClientConfig,
    /// DNS for a host name.
    pub resolver: Resolver,
    /// Use [`PHONE_TFTP_PORTS`] as local ports when `port != 69` and
    /// `client.local_ports` is unset, like a real phone. Off by default:
    /// a fleet simulator with thousands of phones on one host cannot share
    /// six ports.
    pub phone_ports: bool,
}

/// Reads `path` from the TFTP server `host:port` into memory.
pub async fn tftp_get(
    host: &str,
    port: u16,
    path: &str,
    opts: &TftpOptions,
) -> Result<Vec<u8>, TransportError> {
    let addrs = opts.resolver.lookup_host(host, port).await?;
    let mut config = opts.client.clone();
    if opts.phone_ports && port != 69 && config.local_ports.is_none() {
        config.local_ports = Some(PHONE_TFTP_PORTS);
    }
    // TFTP has no connection to fail fast on: use the first address.
    let server = addrs[0];
    TftpClient::new(config)
        .get(server, path)
        .await
        .map_err(map_error)
}

fn map_error(e: ClientError) -> TransportError {
    let text = e.to_string();
    match &e {
        ClientError::NotFound { .. } => TransportError::TftpNotFound(text),
        ClientError::Transfer {
            cause: TransferError::Remote { code, .. },
            ..
        } if *code == ErrorCode::ACCESS_VIOLATION => TransportError::TftpAccess(text),
        // tftpd-hpa reports EACCES as ERROR 0 "Permission denied".
        ClientError::Transfer {
            cause: TransferError::Remote { code, message },
            ..
        } if *code == ErrorCode::UNDEFINED
            && message.to_ascii_lowercase().contains("permission denied") =>
        {
            TransportError::TftpAccess(text)
        }
        _ => TransportError::Tftp(text),
    }
}
