//! Transport errors. Each says what failed and what an operator can check;
//! [`TransportError::class_hint`] maps them onto the R-RESULT classes the
//! resync engine schedules retries with.

/// Why one fetch failed before any HTTP status could be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// The name did not resolve.
    #[error("DNS lookup failed: {0}; check the host name and the DNS server")]
    Dns(String),
    /// No address accepted a connection (every address tried is listed).
    #[error("could not connect: {0}; check that the server runs and the port is right")]
    Connect(String),
    /// The TLS handshake failed (certificate, name, cipher, client cert).
    #[error("TLS handshake with {0}; check the server certificate, the trusted CA and the client certificate")]
    Tls(String),
    /// The request did not complete within the request timeout.
    #[error("request timed out; the server is too slow or unreachable, retry later")]
    Timeout,
    /// The peer broke HTTP (or proxy) framing.
    #[error("protocol error: {0}; the server or proxy sent something that is not valid HTTP/1.1")]
    Protocol(String),
    /// TFTP ERROR 1.
    #[error("{0}")]
    TftpNotFound(String),
    /// TFTP ERROR 2.
    #[error("TFTP access violation: {0}; check the server's permissions on the file")]
    TftpAccess(String),
    /// Any other TFTP failure (including timeouts).
    #[error("{0}")]
    Tftp(String),
    /// The body exceeded the configured maximum.
    #[error("response body larger than the configured maximum; raise max_body or fix the URL")]
    TooLarge,
    /// The URL cannot be fetched by this transport.
    #[error("bad URL: {0}")]
    BadUrl(String),
}

/// The R-RESULT class a transport failure falls into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClassHint {
    /// Class B: file not found (retry per `Resync_Error_Retry_Delay`).
    NotFound,
    /// Class C: any other failure (bad URL or address, connection error).
    OtherFailure,
}

impl TransportError {
    /// The R-RESULT class: only a TFTP "file not found" is class B; HTTP 404
    /// is a status, not an error, and is classified by the engine.
    pub fn class_hint(&self) -> ClassHint {
        match self {
            TransportError::TftpNotFound(_) => ClassHint::NotFound,
            _ => ClassHint::OtherFailure,
        }
    }
}
