//! Human- and JSON-friendly summaries of certificates (`phoneprov ca show`).

use rustls_pki_types::CertificateDer;
use time::format_description::well_known::Rfc3339;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::ca::first_cert_der;
use crate::PkiError;

/// The facts an operator needs about one certificate. Public data only.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CertSummary {
    /// Subject DN as OpenSSL-like text (`CN=..., O=...`).
    pub subject: String,
    /// Issuer DN.
    pub issuer: String,
    /// Serial number, lowercase hex.
    pub serial: String,
    /// Start of validity, RFC 3339.
    pub not_before: String,
    /// End of validity, RFC 3339.
    pub not_after: String,
    /// SHA-256 of the DER, uppercase hex pairs joined by `:` (as
    /// `openssl x509 -fingerprint -sha256` prints it).
    pub sha256_fingerprint: String,
    /// Subject alternative names: `DNS:name`, `IP:addr`.
    pub subject_alt_names: Vec<String>,
    /// Whether this is a CA certificate.
    pub is_ca: bool,
}

/// Summarises the first certificate of a PEM input.
pub fn summarize_pem(pem: &[u8]) -> Result<CertSummary, PkiError> {
    summarize_der(&first_cert_der(pem)?)
}

/// Summarises a DER certificate.
pub fn summarize_der(der: &CertificateDer<'_>) -> Result<CertSummary, PkiError> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| PkiError::X509(e.to_string()))?;
    let time = |t: x509_parser::time::ASN1Time| {
        t.to_datetime()
            .format(&Rfc3339)
            .unwrap_or_else(|_| t.to_string())
    };
    let mut sans = Vec::new();
    if let Ok(Some(ext)) = cert.subject_alternative_name() {
        for name in &ext.value.general_names {
            match name {
                GeneralName::DNSName(d) => sans.push(format!("DNS:{d}")),
                GeneralName::IPAddress(b) => match b.len() {
                    4 => sans.push(format!(
                        "IP:{}",
                        std::net::Ipv4Addr::from(<[u8; 4]>::try_from(*b).unwrap_or_default())
                    )),
                    16 => sans.push(format!(
                        "IP:{}",
                        std::net::Ipv6Addr::from(<[u8; 16]>::try_from(*b).unwrap_or_default())
                    )),
                    _ => {}
                },
                other => sans.push(other.to_string()),
            }
        }
    }
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    let fingerprint = digest
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":");
    Ok(CertSummary {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        serial: cert.raw_serial_as_string().replace(':', ""),
        not_before: time(cert.validity().not_before),
        not_after: time(cert.validity().not_after),
        sha256_fingerprint: fingerprint,
        subject_alt_names: sans,
        is_ca: cert.is_ca(),
    })
}
