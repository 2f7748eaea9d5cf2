//! Encoding a rendered profile for the wire: lint (R-LINT; with
//! `profiles.strict` an error refuses the profile), then for the encrypted
//! variant gzip (optional) and encryption with the device key (AES-256-CBC
//! in `openssl enc` format, or aes128gcm), then a strong ETag over the
//! bytes sent. The bootstrap variant is sent as plaintext XML.

use std::hash::{Hash, Hasher};

use phoneprov_crypto::{EncodeOptions, Scheme};
use phoneprov_profile::lint::{lint_str, Severity};

use crate::config::{Encryption, ProfilesConfig};

/// Bytes ready to send, with their headers.
#[derive(Debug)]
pub struct Encoded {
    /// Body.
    pub body: Vec<u8>,
    /// `Content-Encoding` (`aes128gcm`), if any.
    pub content_encoding: Option<&'static str>,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// Strong ETag, quoted.
    pub etag: http::HeaderValue,
}

/// Why a profile cannot be sent. Messages never hold the key or the
/// profile text.
#[derive(Debug, Clone)]
pub enum EncodeError {
    /// Strict lint found errors.
    Lint {
        /// Number of errors.
        count: usize,
        /// The first error, one line.
        first: String,
    },
    /// Encryption failed.
    Crypto(String),
}

/// Lints `xml` (rendered from `template`); `Err` only in strict mode.
pub fn lint(template: &str, xml: &str, strict: bool, mac: &str) -> Result<(), EncodeError> {
    let errors: Vec<_> = lint_str(template, xml)
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    let Some(e) = errors.first() else {
        return Ok(());
    };
    let first = e.to_string().lines().next().unwrap_or("").to_string();
    if strict {
        return Err(EncodeError::Lint {
            count: errors.len(),
            first,
        });
    }
    tracing::warn!(%mac, template, count = errors.len(), first, "serving a profile with lint errors (strict = false)");
    Ok(())
}

/// The plaintext bootstrap profile.
pub fn plain(xml: String) -> Encoded {
    let body = xml.into_bytes();
    Encoded {
        etag: etag(&body),
        body,
        content_encoding: None,
        content_type: "application/xml",
    }
}

/// The full profile: gzipped when configured, encrypted with `key`.
pub fn encrypted(xml: &str, key: &str, cfg: &ProfilesConfig) -> Result<Encoded, EncodeError> {
    let scheme = match cfg.encryption {
        Encryption::Aes256cbc => Scheme::Aes256Cbc,
        Encryption::Aes128gcm => Scheme::Aes128Gcm,
    };
    let opts = EncodeOptions {
        scheme: Some(scheme),
        key: Some(key.as_bytes().to_vec()),
        gzip: cfg.gzip,
        ..EncodeOptions::default()
    };
    let body = phoneprov_crypto::encode(xml.as_bytes(), &opts)
        .map_err(|e| EncodeError::Crypto(e.to_string()))?;
    Ok(Encoded {
        etag: etag(&body),
        body,
        content_encoding: (scheme == Scheme::Aes128Gcm).then_some("aes128gcm"),
        content_type: "application/octet-stream",
    })
}

/// A strong ETag over the bytes sent: each encryption uses a fresh salt,
/// so the cache keeps the bytes (and this tag) until an input changes.
fn etag(body: &[u8]) -> http::HeaderValue {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut h);
    http::HeaderValue::from_str(&format!(
        "\"{:016x}{:04x}\"",
        h.finish(),
        body.len() & 0xffff
    ))
    .expect("hex is a valid header value")
}
