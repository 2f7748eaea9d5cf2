//! Error types. Every message says what was wrong and what to do about it,
//! because these reach operators through the CLI and the phone's log.

use thiserror::Error;

/// Errors from the individual formats ([`crate::openssl_enc`],
/// [`crate::aes128gcm`], [`crate::gzip`]).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CryptoError {
    /// Authentication failed (GCM) or no key derivation gave valid padding
    /// and plausible content (CBC). Almost always a wrong key.
    #[error(
        "cannot decrypt: wrong key or not an openssl-enc/aes128gcm file; check the --key value"
    )]
    WrongKey,

    /// The input ends before the format says it should.
    #[error("input is truncated: {0}; fetch the whole file again")]
    Truncated(String),

    /// Input given to `openssl_enc::decrypt` lacks the `"Salted__"` header.
    #[error(
        "not an openssl enc file: it does not start with \"Salted__\"; \
         encrypt with `openssl enc -aes-256-cbc -k SECRET` (salted, the default)"
    )]
    NotSalted,

    /// An aes128gcm header field is out of range.
    #[error("invalid aes128gcm header: {0}; the file is not RFC 8188 aes128gcm content")]
    BadHeader(String),

    /// A record decrypted (tag valid) but its padding/delimiter is wrong:
    /// the sender's encoder is broken or records were reordered or cut.
    #[error(
        "invalid aes128gcm record padding: {0}; the sender's encoder is not RFC 8188 conformant"
    )]
    BadPadding(String),

    /// Encryption parameters the format cannot express.
    #[error("invalid encryption parameter: {0}")]
    BadParameter(String),

    /// The gzip stream is corrupt.
    #[error("corrupt gzip data: {0}; re-create the file with `gzip -c`")]
    Gzip(String),

    /// Input handed to `gzip::decompress` is not gzip at all.
    #[error("not gzip data (missing 1f 8b 08 magic); compress with `gzip -c`")]
    NotGzip,

    /// Decompressed output would exceed the configured limit.
    #[error(
        "decompressed data exceeds the limit of {limit} bytes (possible zip bomb); \
         raise the size limit if the profile really is that large"
    )]
    TooLarge {
        /// The limit, in bytes, that was hit.
        limit: usize,
    },

    /// `encode` was asked to encrypt without a key.
    #[error("encryption requested but no key given; pass --key SECRET or drop the encryption")]
    MissingKey,

    /// A key given as base64url did not decode.
    #[error(
        "key is not valid base64url: {0}; give the IKM in base64url (RFC 4648 §5) or as raw text"
    )]
    Base64(String),
}

/// Errors from the [`crate::decode`] / [`crate::encode`] pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The input is encrypted but no key was given.
    #[error("input is encrypted ({scheme}) but no key was given; pass --key SECRET")]
    NeedKey {
        /// What the input looks like: "openssl enc aes-256-cbc" or "aes128gcm".
        scheme: &'static str,
    },

    /// A format-level failure (wrong key, truncation, corrupt gzip, ...).
    #[error(transparent)]
    Crypto(#[from] CryptoError),

    /// What is left after decryption and decompression is not XML.
    #[error("decoded content is not a profile: {0}")]
    NotAProfile(String),

    /// The HTTP Content-Encoding hint names a coding this crate does not know.
    #[error(
        "unsupported Content-Encoding {0:?}; the server may send only gzip, aes128gcm or identity"
    )]
    UnsupportedContentEncoding(String),
}
