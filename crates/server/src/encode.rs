//! Encoding a rendered profile for the wire: lint (R-LINT; with
//! `profiles.strict` an error refuses the profile), then for the encrypted
//! variant gzip (optional) and encryption with the device key (AES-256-CBC
//! in `openssl enc` format, or aes128gcm), then a strong ETag over the
//! bytes sent. The bootstrap variant is sent as plaintext XML.

use std::hash::{Hash, Hasher};

use phoneprov_crypto::{EncodeOptions, Scheme};
use phoneprov_profile::lint::{lint_str_with, LintOptions, Severity};
use phoneprov_profile::schema;

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

/// Lints `xml` (rendered from `template`) for the device's `model` when it
/// is known (R-LINT; issue 16): a parameter the model lacks (`Line_Enable_6_`
/// for a CP-6821-3PCC) is a warning, logged, and counted in the answer;
/// `Err` only for errors in strict mode.
pub fn lint(
    template: &str,
    xml: &str,
    strict: bool,
    mac: &str,
    model: Option<&str>,
) -> Result<usize, EncodeError> {
    let opts = LintOptions {
        model: model.and_then(schema::model),
        ..LintOptions::default()
    };
    let found = lint_str_with(template, xml, opts);
    let off_model: Vec<_> = found.iter().filter(|d| d.code == "not-on-model").collect();
    if let Some(d) = off_model.first() {
        tracing::warn!(%mac, template, model, count = off_model.len(), first = %d.message, "profile sets parameters the device's model does not have (the phone ignores them)");
    }
    let errors: Vec<_> = found
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    let Some(e) = errors.first() else {
        return Ok(off_model.len());
    };
    let first = e.to_string().lines().next().unwrap_or("").to_string();
    if strict {
        return Err(EncodeError::Lint {
            count: errors.len(),
            first,
        });
    }
    tracing::warn!(%mac, template, count = errors.len(), first, "serving a profile with lint errors (strict = false)");
    Ok(off_model.len())
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

#[cfg(test)]
mod tests {
    use super::*;

    const XML: &str = "<flat-profile>\n<Line_Enable_1_>Yes</Line_Enable_1_>\n<Line_Enable_3_>Yes</Line_Enable_3_>\n</flat-profile>\n";

    #[test]
    fn lint_uses_the_device_model() {
        // A CP-6821-3PCC has two lines: line 3 is not on it (issue 16).
        assert_eq!(
            lint("t.xml", XML, true, "m", Some("CP-6821-3PCC")).unwrap(),
            1
        );
        // A 4-line model, and an unknown model, have nothing to say.
        assert_eq!(
            lint("t.xml", XML, true, "m", Some("CP-7841-3PCC")).unwrap(),
            0
        );
        assert_eq!(lint("t.xml", XML, true, "m", None).unwrap(), 0);
        // Not on the model is a warning: strict mode still serves it.
        let broken = XML.replace("<Line_Enable_1_>Yes", "<Line_Enable_1_>perhaps");
        assert!(lint("t.xml", &broken, false, "m", Some("CP-6821-3PCC")).is_ok());
        assert!(matches!(
            lint("t.xml", &broken, true, "m", Some("CP-6821-3PCC")),
            Err(EncodeError::Lint { count: 1, .. })
        ));
    }
}
