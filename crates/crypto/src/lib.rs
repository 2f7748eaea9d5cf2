//! Profile encryption and compression shared by the server and the phone
//! (SPEC R-FMT-6, R-FMT-7).
//!
//! The server renders a profile, then [`encode`]s it: gzip first (R-FMT-6),
//! then optionally encrypt. The phone fetches bytes and [`decode`]s them:
//! detect and undo the encryption, then the compression, and check that what
//! is left is an XML profile. Both halves call the same two functions, so the
//! server can never produce something the phone cannot read.
//!
//! # Formats
//! * **openssl enc** ([`openssl_enc`]): exactly what
//!   `openssl enc -aes-256-cbc -k SECRET` writes: `"Salted__"`, an 8-byte
//!   salt, then AES-256-CBC with PKCS#7 padding. Key and IV come from the
//!   passphrase and salt through one of three derivations:
//!   `EVP_BytesToKey` with SHA-256 and one iteration (OpenSSL >= 1.1 default),
//!   `EVP_BytesToKey` with MD5 (`-md md5`, older firmware and OpenSSL 1.0),
//!   or PBKDF2-HMAC-SHA256 (`-pbkdf2`, 10000 iterations by default), each
//!   giving 48 bytes = 32-byte key + 16-byte IV.
//! * **aes128gcm** ([`aes128gcm`]): RFC 8188 encrypted content coding, a
//!   header (16-byte salt, record size, key id) then AES-128-GCM records,
//!   each ending in a delimiter (0x01, last record 0x02) and optional zero
//!   padding. The input keying material (IKM) is **the raw bytes of the key
//!   string** the operator gives (`--key` or `IKM_HTTP_Encrypt_Content`), so
//!   `--key MyOwnSecret` means IKM = `b"MyOwnSecret"`. Callers holding an IKM
//!   in base64url (as in RFC 8188's examples and most web-push tooling) turn
//!   it into bytes with [`ikm_from_base64url`] first.
//! * **gzip** ([`gzip`]): RFC 1952 through `flate2`; decompression stops at a
//!   caller-chosen size limit (zip-bomb protection, default
//!   [`DEFAULT_MAX_PLAIN`] = 64 MiB).
//!
//! # Detection order in [`decode`]
//! 1. `"Salted__"` prefix: openssl enc. A key is required; the derivations
//!    are tried in the order SHA-256, MD5, PBKDF2 (10000 iterations) and the
//!    first whose PKCS#7 padding is valid **and** whose output is gzip or XML
//!    wins. CBC has no authentication, so this content check is what turns a
//!    wrong key into an error instead of garbage.
//! 2. An HTTP `Content-Encoding` hint naming `aes128gcm` forces aes128gcm.
//! 3. gzip magic (`1f 8b 08`): gunzip.
//! 4. Text starting with `<` (after an optional BOM and whitespace): plain XML.
//! 5. A plausible aes128gcm header (rs >= 18, sane key-id length, enough
//!    bytes for one record) with a key given: aes128gcm (the GCM tag rejects
//!    a wrong key). Without a key: an error asking for `--key`.
//!
//! After decryption a gzip layer is undone if present, and the final result
//! must look like XML (valid UTF-8 starting with `<`), otherwise
//! [`DecodeError::NotAProfile`]. [`decode`] never panics, whatever the input.
//!
//! # Why some of this is hand-written
//! AES, CBC, GCM, HKDF, HMAC, PBKDF2, SHA-256 and MD5 all come from the
//! RustCrypto crates, and gzip from `flate2`. Two small pieces are written
//! here: `EVP_BytesToKey` (a dozen lines: repeated `H(prev || pass || salt)`;
//! no maintained crate provides OpenSSL's legacy derivation on its own) and
//! the RFC 8188 record framing (header parsing, per-record nonces, padding
//! delimiters, about a hundred lines), because the `ece` crate needs OpenSSL
//! or NSS as its backend, which the design rules out (RustCrypto, no OpenSSL
//! linkage).

mod error;
mod pipeline;
#[cfg(test)]
mod test_util;

pub mod aes128gcm;
#[doc(hidden)]
pub mod fuzzing;
pub mod gzip;
pub mod openssl_enc;

pub use error::{CryptoError, DecodeError};
pub use pipeline::{
    decode, encode, looks_like_xml, DecodeOptions, Decoded, EncodeOptions, Layer, Scheme,
    DEFAULT_MAX_PLAIN,
};

/// Message digest used by OpenSSL's `EVP_BytesToKey` (`openssl enc -md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Md {
    /// SHA-256: the default of `openssl enc` since OpenSSL 1.1.0.
    Sha256,
    /// MD5: `-md md5`, the default of OpenSSL 1.0 and older phone firmware.
    Md5,
}

/// How `openssl enc` turns the passphrase and salt into key and IV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kdf {
    /// OpenSSL's legacy `EVP_BytesToKey` with one iteration (`-k SECRET`).
    EvpBytesToKey(Md),
    /// `-pbkdf2 [-iter N]`: PBKDF2 with HMAC-SHA256, OpenSSL's default
    /// `-pbkdf2` digest.
    Pbkdf2 {
        /// Iteration count; OpenSSL's default is [`Kdf::OPENSSL_PBKDF2_ITERATIONS`].
        iterations: u32,
    },
}

impl Kdf {
    /// `openssl enc -pbkdf2` iteration count when `-iter` is not given.
    pub const OPENSSL_PBKDF2_ITERATIONS: u32 = 10_000;

    /// The derivations [`decode`] tries, in order, for a `"Salted__"` input:
    /// the OpenSSL >= 1.1 default first, then the legacy MD5, then `-pbkdf2`.
    pub const DECODE_ORDER: [Kdf; 3] = [
        Kdf::EvpBytesToKey(Md::Sha256),
        Kdf::EvpBytesToKey(Md::Md5),
        Kdf::Pbkdf2 {
            iterations: Kdf::OPENSSL_PBKDF2_ITERATIONS,
        },
    ];
}

impl Default for Kdf {
    /// What `openssl enc -aes-256-cbc -k SECRET` uses on OpenSSL >= 1.1.
    fn default() -> Self {
        Kdf::EvpBytesToKey(Md::Sha256)
    }
}

/// Decodes an IKM written in base64url (RFC 4648 §5, padding optional), the
/// notation RFC 8188 uses for its examples. Use it when the operator says the
/// key is base64url; otherwise the key string's raw bytes are the IKM.
pub fn ikm_from_base64url(text: &str) -> Result<Vec<u8>, CryptoError> {
    use base64::Engine as _;
    let trimmed = text.trim().trim_end_matches('=');
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(trimmed)
        .map_err(|e| CryptoError::Base64(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_ikm_with_or_without_padding() {
        let want = vec![0xca, 0xa7, 0x65, 0x67, 0xeb, 0x58, 0x7a, 0x67];
        assert_eq!(ikm_from_base64url("yqdlZ-tYemc").unwrap(), want);
        assert_eq!(ikm_from_base64url(" yqdlZ-tYemc= ").unwrap(), want);
        let e = ikm_from_base64url("not base64!").unwrap_err();
        assert!(matches!(e, CryptoError::Base64(_)));
        assert!(e.to_string().contains("base64url"), "{e}");
    }

    #[test]
    fn kdf_default_is_openssl_1_1_default() {
        assert_eq!(Kdf::default(), Kdf::EvpBytesToKey(Md::Sha256));
        assert_eq!(Kdf::DECODE_ORDER[0], Kdf::default());
    }
}
