//! rustls server configuration for `phoneprov serve` (R-HTTPS-5).
//!
//! The server authenticates with a certificate from the provisioning CA and
//! may require (mutual TLS) or merely accept client certificates from the
//! phones. Only the ring provider is used (no aws-lc, no OpenSSL).
//!
//! Session resumption (issue 17 item 6): a phone fetches its bootstrap
//! profile, its profile and its firmware over HTTPS within minutes, so
//! every configuration resumes sessions: TLS 1.3 tickets and TLS 1.2
//! tickets from rustls' ring [`Ticketer`](rustls::crypto::ring::Ticketer)
//! (ChaCha20-Poly1305 keys rotated every 6 hours, tickets valid 12 hours),
//! and TLS 1.2 session IDs from a server-side cache of
//! [`SESSION_CACHE_ENTRIES`] sessions (for clients that send no ticket
//! extension). A resumed session carries the client certificate chain of
//! the full handshake it resumes (rustls keeps it in the ticket or cache
//! entry), so a phone identified by its certificate stays identified.
//! Each configuration gets its own ticket keys and cache: a reload that
//! changes the client CA cannot let a session verified by the old CA
//! resume.
//!
//! For benchmarks only, the environment variable `PHONEPROV_TLS_TICKETS`
//! changes what a new session gets: `stateful` (TLS 1.3 tickets that name
//! an entry of the server's cache, no encrypted tickets: rustls' default,
//! as before issue 17) or `off` (no TLS 1.3 ticket at all); anything else,
//! or unset, is the behaviour above. Issue 11's boot-storm comparison uses
//! it to tell the cost of the tickets from the rest.

use std::sync::Arc;

use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::PkiError;

/// Whether the server asks phones for their client certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuth {
    /// No client certificate is requested.
    #[default]
    Off,
    /// A certificate is requested; clients without one still connect, but a
    /// certificate that is sent must verify against the client CA.
    Optional,
    /// Mutual TLS: clients without a certificate from the client CA are
    /// refused during the handshake (browsers and other clients included).
    Required,
}

/// The crypto provider used everywhere in this crate.
pub(crate) fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The HTTPS server's provider: ring's suites with AES-128-GCM first in
/// each TLS version (issue 17, full-handshake cost). Its key schedule runs
/// on SHA-256, which ring computes with the CPU's SHA extensions, where
/// the default first choice of most clients (AES-256-GCM-SHA384) runs
/// SHA-384 in software: a profile showed it at an eighth of the server's
/// CPU per full handshake. Every suite offered stays allowed.
pub(crate) fn server_provider() -> Arc<rustls::crypto::CryptoProvider> {
    use rustls::CipherSuite as S;
    let mut p = rustls::crypto::ring::default_provider();
    p.cipher_suites.sort_by_key(|s| {
        !matches!(
            s.suite(),
            S::TLS13_AES_128_GCM_SHA256
                | S::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
                | S::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
        )
    });
    Arc::new(p)
}

/// All `CERTIFICATE` blocks of a PEM input, in order.
pub(crate) fn cert_chain(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, PkiError> {
    let chain = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PkiError::PemBad {
            what: "certificate chain",
            detail: e.to_string(),
        })?;
    if chain.is_empty() {
        return Err(PkiError::PemMissing {
            what: "certificate",
            label: "CERTIFICATE",
        });
    }
    Ok(chain)
}

/// The first private key (PKCS#8, PKCS#1 or SEC1) of a PEM input.
pub(crate) fn private_key(pem: &[u8]) -> Result<PrivateKeyDer<'static>, PkiError> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => PkiError::PemMissing {
            what: "private key",
            label: "PRIVATE KEY",
        },
        other => PkiError::PemBad {
            what: "private key",
            detail: other.to_string(),
        },
    })
}

/// A root store holding every certificate of a PEM input.
pub(crate) fn root_store(pem: &[u8]) -> Result<RootCertStore, PkiError> {
    let mut roots = RootCertStore::empty();
    for cert in cert_chain(pem)? {
        roots.add(cert)?;
    }
    Ok(roots)
}

/// TLS 1.2 session-ID cache size of [`server_config`]: a boot storm of
/// this many phones within the resumption window (minutes) still resumes
/// (a few hundred bytes plus the client certificate chain each; the
/// oldest entries go first).
pub const SESSION_CACHE_ENTRIES: usize = 16_384;

/// Builds the HTTPS server configuration (session resumption on, see the
/// module docs).
///
/// `cert_chain_pem` is the server certificate (plus any intermediates),
/// `key_pem` its key. `client_ca_pem` is the CA whose phone certificates are
/// accepted; it is needed for [`ClientAuth::Optional`] and
/// [`ClientAuth::Required`] and ignored for [`ClientAuth::Off`]. ALPN offers
/// `http/1.1` only (the phones speak HTTP/1.x, R-HTTP-2).
pub fn server_config(
    cert_chain_pem: &[u8],
    key_pem: &[u8],
    client_ca_pem: Option<&[u8]>,
    client_auth: ClientAuth,
) -> Result<Arc<rustls::ServerConfig>, PkiError> {
    let chain = cert_chain(cert_chain_pem)?;
    let key = private_key(key_pem)?;
    let provider = server_provider();
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let builder = match client_auth {
        ClientAuth::Off => builder.with_no_client_auth(),
        ClientAuth::Optional | ClientAuth::Required => {
            let ca_pem = client_ca_pem.ok_or(PkiError::PemMissing {
                what: "client CA certificate (needed when client auth is on)",
                label: "CERTIFICATE",
            })?;
            let roots = Arc::new(root_store(ca_pem)?);
            let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider);
            let verifier = if client_auth == ClientAuth::Optional {
                verifier.allow_unauthenticated().build()?
            } else {
                verifier.build()?
            };
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    // The server's order of suites ([`server_provider`]), not the client's.
    config.ignore_client_order = true;
    match std::env::var("PHONEPROV_TLS_TICKETS").as_deref() {
        Ok("stateful") => {}
        Ok("off") => config.send_tls13_tickets = 0,
        _ => config.ticketer = rustls::crypto::ring::Ticketer::new()?,
    }
    config.session_storage = rustls::server::ServerSessionMemoryCache::new(SESSION_CACHE_ENTRIES);
    Ok(Arc::new(config))
}
