//! Connecting to PostgreSQL, with TLS (rustls, the workspace's one TLS
//! stack, ring provider) when the URL asks for it.
//!
//! - `sslmode=disable` or `prefer` (libpq's default): a plain connection.
//!   `prefer` would try TLS without checking the certificate, which only
//!   protects against passive listeners; phoneprov does not offer that
//!   middle ground: ask for `require`.
//! - `sslmode=require`: TLS, and unlike libpq's `require` the server's
//!   certificate **is** verified (a device-key database deserves it):
//!   against the Mozilla roots (`webpki-roots`) and, when set, the PEM
//!   file named by `PGSSLROOTCERT` (libpq's variable, for a private CA),
//!   with the URL's host as the name.

use std::sync::Arc;

use postgres::config::SslMode;
use postgres::{Client, Config, NoTls};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

/// Why a connection could not be opened.
pub(crate) enum ConnectError {
    /// The driver's error (refused, unreachable, authentication…).
    Pg(postgres::Error),
    /// The TLS setup itself (an unreadable `PGSSLROOTCERT`).
    Tls(String),
}

/// Opens a client for `config`.
pub(crate) fn connect(config: &Config) -> Result<Client, ConnectError> {
    match config.get_ssl_mode() {
        SslMode::Require => config.connect(tls().map_err(ConnectError::Tls)?),
        _ => {
            let mut plain = config.clone();
            plain.ssl_mode(SslMode::Disable);
            plain.connect(NoTls)
        }
    }
    .map_err(ConnectError::Pg)
}

fn tls() -> Result<tokio_postgres_rustls::MakeRustlsConnect, String> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = std::env::var_os("PGSSLROOTCERT").filter(|p| !p.is_empty()) {
        let certs = CertificateDer::pem_file_iter(&path)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("PGSSLROOTCERT {}: {e}", path.to_string_lossy()))?;
        let (added, _) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(format!(
                "PGSSLROOTCERT {} holds no usable CA certificate",
                path.to_string_lossy()
            ));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}
