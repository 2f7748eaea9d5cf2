//! The shared encode/decode pipeline (SPEC R-FMT-6, R-FMT-7): the server
//! calls [`encode`] (gzip, then encrypt), the phone calls [`decode`] (detect
//! and undo encryption, then gzip, then check for XML). See the crate docs
//! for the detection order.

use crate::{aes128gcm, gzip, openssl_enc, CryptoError, DecodeError, Kdf};

/// Default cap on decoded output (64 MiB): far above any real profile, far
/// below what a zip bomb would need to hurt a phone or the server.
pub const DEFAULT_MAX_PLAIN: usize = 64 << 20;

/// Encryption scheme for [`encode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `openssl enc -aes-256-cbc` format; derivation from [`EncodeOptions::kdf`].
    Aes256Cbc,
    /// RFC 8188 aes128gcm, record size 4096, empty key id, no padding.
    Aes128Gcm,
}

/// What [`encode`] does. The default is the identity (no gzip, no cipher).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EncodeOptions {
    /// `None`: no encryption (a key, if given, is ignored).
    pub scheme: Option<Scheme>,
    /// Passphrase (openssl enc) or IKM (aes128gcm): the key string's bytes.
    pub key: Option<Vec<u8>>,
    /// Key derivation for [`Scheme::Aes256Cbc`]; ignored for aes128gcm.
    pub kdf: Kdf,
    /// Compress with gzip before encrypting (R-FMT-6: compress, then encrypt).
    pub gzip: bool,
}

/// Encodes a rendered profile: gzip first (if asked), then encrypt (if
/// asked). Fails only when encryption is asked for without a key.
pub fn encode(plain: &[u8], opts: &EncodeOptions) -> Result<Vec<u8>, CryptoError> {
    let data = if opts.gzip {
        gzip::compress(plain)
    } else {
        plain.to_vec()
    };
    let Some(scheme) = opts.scheme else {
        return Ok(data);
    };
    let key = opts.key.as_deref().ok_or(CryptoError::MissingKey)?;
    match scheme {
        Scheme::Aes256Cbc => Ok(openssl_enc::encrypt(&data, key, opts.kdf)),
        Scheme::Aes128Gcm => aes128gcm::encrypt(&data, key, b"", aes128gcm::DEFAULT_RECORD_SIZE),
    }
}

/// One layer [`decode`] removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// openssl enc AES-256-CBC, with the derivation that worked.
    Aes256Cbc(Kdf),
    /// RFC 8188 aes128gcm.
    Aes128Gcm,
    /// gzip.
    Gzip,
}

/// Result of [`decode`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The XML profile.
    pub plain: Vec<u8>,
    /// Layers removed, outermost first (e.g. `[Aes256Cbc(..), Gzip]`).
    pub layers: Vec<Layer>,
}

/// Inputs of [`decode`] besides the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeOptions<'a> {
    /// `--key` bytes: openssl passphrase or aes128gcm IKM.
    pub key: Option<&'a [u8]>,
    /// HTTP `Content-Encoding` of the response, e.g. `"aes128gcm"` or
    /// `"gzip, aes128gcm"`; forces aes128gcm when it names it.
    pub content_encoding: Option<&'a str>,
    /// Largest decoded (and decompressed) size accepted, in bytes.
    pub max_plain: usize,
}

impl Default for DecodeOptions<'_> {
    fn default() -> Self {
        DecodeOptions {
            key: None,
            content_encoding: None,
            max_plain: DEFAULT_MAX_PLAIN,
        }
    }
}

const CBC_NAME: &str = "openssl enc aes-256-cbc";
const GCM_NAME: &str = "aes128gcm";

/// Detects and undoes encryption, then gzip, and checks the result is XML.
/// Never panics; every failure is a [`DecodeError`] saying what to do.
pub fn decode(input: &[u8], opts: &DecodeOptions) -> Result<Decoded, DecodeError> {
    let hint_gcm = match opts.content_encoding {
        Some(ce) => hint_names_aes128gcm(ce)?,
        None => false,
    };
    let mut layers = Vec::with_capacity(2);
    let mut data: Vec<u8>;
    if input.starts_with(openssl_enc::MAGIC) {
        openssl_enc::check_layout(input)?;
        let key = opts.key.ok_or(DecodeError::NeedKey { scheme: CBC_NAME })?;
        let (plain, kdf) = decrypt_openssl_any(input, key)?;
        layers.push(Layer::Aes256Cbc(kdf));
        data = plain;
    } else if hint_gcm || (!gzip::is_gzip(input) && !looks_like_xml(input)) {
        if input.is_empty() {
            return Err(DecodeError::NotAProfile("the input is empty".into()));
        }
        if !hint_gcm && !aes128gcm::is_plausible(input) {
            return Err(DecodeError::NotAProfile(format!(
                "the input is not XML, gzip, openssl enc (\"Salted__\") or aes128gcm ({})",
                describe(input)
            )));
        }
        let key = opts.key.ok_or(DecodeError::NeedKey { scheme: GCM_NAME })?;
        data = aes128gcm::decrypt(input, key)?;
        layers.push(Layer::Aes128Gcm);
    } else {
        data = input.to_vec();
    }
    if gzip::is_gzip(&data) {
        data = gzip::decompress(&data, opts.max_plain)?;
        layers.push(Layer::Gzip);
    }
    if data.len() > opts.max_plain {
        return Err(CryptoError::TooLarge {
            limit: opts.max_plain,
        }
        .into());
    }
    if !looks_like_xml(&data) {
        let after = if layers.is_empty() {
            String::new()
        } else {
            format!(" after removing {layers:?}")
        };
        return Err(DecodeError::NotAProfile(format!(
            "expected XML starting with '<'{after}, got {}",
            describe(&data)
        )));
    }
    Ok(Decoded {
        plain: data,
        layers,
    })
}

/// Tries each `openssl enc` derivation in [`Kdf::DECODE_ORDER`]; accepts the
/// first whose padding is valid and whose output is gzip or XML. The content
/// check is what makes a wrong key an error: CBC padding alone passes for
/// about 1 wrong key in 256.
fn decrypt_openssl_any(input: &[u8], key: &[u8]) -> Result<(Vec<u8>, Kdf), CryptoError> {
    for kdf in Kdf::DECODE_ORDER {
        if let Ok(plain) = openssl_enc::decrypt(input, key, kdf) {
            if gzip::is_gzip(&plain) || looks_like_xml(&plain) {
                return Ok((plain, kdf));
            }
        }
    }
    Err(CryptoError::WrongKey)
}

/// Reads an HTTP `Content-Encoding` list; true when it names aes128gcm.
fn hint_names_aes128gcm(ce: &str) -> Result<bool, DecodeError> {
    let mut gcm = false;
    for token in ce.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        match token.to_ascii_lowercase().as_str() {
            "aes128gcm" => gcm = true,
            "gzip" | "x-gzip" | "identity" => {}
            _ => return Err(DecodeError::UnsupportedContentEncoding(token.to_string())),
        }
    }
    Ok(gcm)
}

/// XML-looking: valid UTF-8 that, after an optional BOM and whitespace,
/// starts with `<`. Deliberately shallow; the profile parser does the rest.
pub fn looks_like_xml(data: &[u8]) -> bool {
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    match std::str::from_utf8(data) {
        Ok(text) => text.trim_start().starts_with('<'),
        Err(_) => false,
    }
}

/// Short human description of unrecognised bytes for error messages.
fn describe(data: &[u8]) -> String {
    let head: Vec<String> = data.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("{} bytes starting with {}", data.len(), head.join(" "))
}

#[cfg(test)]
mod tests;
