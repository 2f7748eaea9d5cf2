//! RFC 8188 `aes128gcm` encrypted content coding (SPEC R-FMT-7b).
//!
//! Layout: `salt(16) | rs(u32 BE) | idlen(u8) | keyid(idlen) | records`.
//! Each record but the last is exactly `rs` bytes: AES-128-GCM of
//! `data | delimiter | zero padding` plus a 16-byte tag. The delimiter is
//! 0x01 in every record but the last, which has 0x02 (so a stream cut on a
//! record boundary is detected). Keys (RFC 8188 §2.2, §2.3):
//! `PRK = HKDF-Extract(salt, IKM)`,
//! `CEK = HKDF-Expand(PRK, "Content-Encoding: aes128gcm\0", 16)`,
//! `NONCE = HKDF-Expand(PRK, "Content-Encoding: nonce\0", 12)`, and record
//! `i` uses `NONCE XOR i` (i as a 96-bit big-endian integer).
//!
//! The IKM is whatever bytes the caller passes; phoneprov passes the raw
//! bytes of the `--key` / `IKM_HTTP_Encrypt_Content` string (see the crate
//! docs and [`crate::ikm_from_base64url`]). AES-GCM and HKDF are RustCrypto's;
//! only the framing is written here.

use aes_gcm::aead::Aead;
use aes_gcm::{Aes128Gcm, KeyInit, Nonce};
use hkdf::Hkdf;
use sha2::Sha256;

use crate::CryptoError;

/// Salt length in the header.
pub const SALT_LEN: usize = 16;
/// Header length without the key id: salt, rs, idlen.
pub const FIXED_HEADER_LEN: usize = SALT_LEN + 4 + 1;
/// AES-GCM tag length.
pub const TAG_LEN: usize = 16;
/// Smallest record size that can carry one byte of data (tag + delimiter + 1).
pub const MIN_RECORD_SIZE: u32 = 18;
/// Record size used when the caller has no preference (RFC 8188's example).
pub const DEFAULT_RECORD_SIZE: u32 = 4096;

/// A parsed aes128gcm header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header<'a> {
    /// Per-message salt.
    pub salt: [u8; SALT_LEN],
    /// Record size: bytes per encrypted record, tag included.
    pub rs: u32,
    /// Key identifier (opaque; phoneprov does not use it to pick keys).
    pub keyid: &'a [u8],
}

impl<'a> Header<'a> {
    /// Parses the header and returns it with the offset of the first record.
    pub fn parse(data: &'a [u8]) -> Result<(Header<'a>, usize), CryptoError> {
        if data.len() < FIXED_HEADER_LEN {
            return Err(CryptoError::Truncated(format!(
                "aes128gcm header needs {FIXED_HEADER_LEN} bytes, got {}",
                data.len()
            )));
        }
        let mut salt = [0u8; SALT_LEN];
        salt.copy_from_slice(&data[..SALT_LEN]);
        let rs = u32::from_be_bytes([data[16], data[17], data[18], data[19]]);
        if rs < MIN_RECORD_SIZE {
            return Err(CryptoError::BadHeader(format!(
                "record size {rs} is below the minimum {MIN_RECORD_SIZE}"
            )));
        }
        let idlen = usize::from(data[20]);
        let end = FIXED_HEADER_LEN + idlen;
        if data.len() < end {
            return Err(CryptoError::Truncated(format!(
                "aes128gcm key id needs {idlen} bytes, got {}",
                data.len() - FIXED_HEADER_LEN
            )));
        }
        Ok((
            Header {
                salt,
                rs,
                keyid: &data[FIXED_HEADER_LEN..end],
            },
            end,
        ))
    }
}

/// Whether `data` could be aes128gcm content: a well-formed header followed
/// by at least one minimal record (tag + delimiter). Cheap; used by
/// [`crate::decode`] to decide whether trying a key makes sense.
pub fn is_plausible(data: &[u8]) -> bool {
    match Header::parse(data) {
        Ok((_, off)) => data.len() - off > TAG_LEN,
        Err(_) => false,
    }
}

/// Encrypts with a fresh random salt and no padding.
pub fn encrypt(
    plain: &[u8],
    ikm: &[u8],
    keyid: &[u8],
    record_size: u32,
) -> Result<Vec<u8>, CryptoError> {
    let salt: [u8; SALT_LEN] = rand::random();
    encrypt_with_salt(plain, ikm, keyid, record_size, salt, 0)
}

/// Encrypts with a caller-chosen salt and `pad` bytes of zero padding.
///
/// Each record holds up to `rs - 17` bytes of data plus padding; padding is
/// placed in the earliest records first. With `pad = 1`, `rs = 25`, keyid
/// `"a1"` this reproduces RFC 8188 §3.2's record layout; with `pad = 0`,
/// `rs = 4096` it reproduces §3.1 byte for byte. The output grows by `pad`
/// bytes, so callers taking `pad` from outside must bound it.
pub fn encrypt_with_salt(
    plain: &[u8],
    ikm: &[u8],
    keyid: &[u8],
    record_size: u32,
    salt: [u8; SALT_LEN],
    pad: usize,
) -> Result<Vec<u8>, CryptoError> {
    if record_size < MIN_RECORD_SIZE {
        return Err(CryptoError::BadParameter(format!(
            "aes128gcm record size {record_size} is below the minimum {MIN_RECORD_SIZE}"
        )));
    }
    let idlen = u8::try_from(keyid.len()).map_err(|_| {
        CryptoError::BadParameter(format!(
            "aes128gcm key id is {} bytes, at most 255 allowed",
            keyid.len()
        ))
    })?;
    let (cipher, nonce_base) = derive(ikm, &salt);
    let cap = record_size as usize - TAG_LEN - 1;
    let records = (plain.len() + pad).div_ceil(cap).max(1);
    let mut out =
        Vec::with_capacity(FIXED_HEADER_LEN + keyid.len() + plain.len() + pad + records * 17);
    out.extend_from_slice(&salt);
    out.extend_from_slice(&record_size.to_be_bytes());
    out.push(idlen);
    out.extend_from_slice(keyid);

    let mut data = plain;
    let mut pad_left = pad;
    let mut seq: u64 = 0;
    let mut record = Vec::with_capacity(cap.min(plain.len() + pad) + 1);
    loop {
        let p = pad_left.min(cap);
        let d = data.len().min(cap - p);
        pad_left -= p;
        let (chunk, rest) = data.split_at(d);
        data = rest;
        let last = data.is_empty() && pad_left == 0;
        record.clear();
        record.extend_from_slice(chunk);
        record.push(if last { 2 } else { 1 });
        record.resize(record.len() + p, 0);
        let sealed = cipher
            .encrypt(&record_nonce(&nonce_base, seq), record.as_slice())
            .map_err(|_| CryptoError::BadParameter("record too large for AES-GCM".into()))?;
        out.extend_from_slice(&sealed);
        if last {
            return Ok(out);
        }
        seq += 1;
    }
}

/// Decrypts aes128gcm content with the given IKM and strips the padding.
///
/// Errors: [`CryptoError::WrongKey`] when the first record fails
/// authentication; [`CryptoError::Truncated`] when the header is short, a
/// later record fails (cut or altered), or the last record present is not
/// marked final; [`CryptoError::BadHeader`] / [`CryptoError::BadPadding`] for
/// malformed but authentic content.
pub fn decrypt(data: &[u8], ikm: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let (header, off) = Header::parse(data)?;
    let body = &data[off..];
    if body.is_empty() {
        return Err(CryptoError::Truncated(
            "aes128gcm content has a header but no records".into(),
        ));
    }
    let (cipher, nonce_base) = derive(ikm, &header.salt);
    let rs = header.rs as usize;
    let count = body.len().div_ceil(rs);
    let mut out = Vec::with_capacity(body.len());
    for (i, rec) in body.chunks(rs).enumerate() {
        let last = i + 1 == count;
        if rec.len() <= TAG_LEN {
            return Err(CryptoError::Truncated(format!(
                "aes128gcm record {i} is {} bytes, shorter than tag plus delimiter",
                rec.len()
            )));
        }
        let plain = cipher
            .decrypt(&record_nonce(&nonce_base, i as u64), rec)
            .map_err(|_| {
                if i == 0 {
                    CryptoError::WrongKey
                } else {
                    CryptoError::Truncated(format!(
                        "aes128gcm record {i} fails authentication although record 0 \
                         decrypted, so the content was cut or altered"
                    ))
                }
            })?;
        let Some(pos) = plain.iter().rposition(|&b| b != 0) else {
            return Err(CryptoError::BadPadding(format!(
                "record {i} is all zeros, it has no delimiter"
            )));
        };
        match (plain[pos], last) {
            (1, false) | (2, true) => {}
            (1, true) => {
                return Err(CryptoError::Truncated(format!(
                    "aes128gcm record {i} is the last one received but is not marked final \
                     (delimiter 0x01), so records are missing"
                )))
            }
            (2, false) => {
                return Err(CryptoError::BadPadding(format!(
                    "record {i} is marked final (0x02) but more records follow"
                )))
            }
            (d, _) => {
                return Err(CryptoError::BadPadding(format!(
                    "record {i} ends in 0x{d:02x}, expected delimiter 0x01 or 0x02"
                )))
            }
        }
        out.extend_from_slice(&plain[..pos]);
    }
    Ok(out)
}

/// Derives the AES-128-GCM cipher and the nonce base (RFC 8188 §2.2, §2.3).
fn derive(ikm: &[u8], salt: &[u8; SALT_LEN]) -> (Aes128Gcm, [u8; 12]) {
    let (cek, nonce) = derive_keys(ikm, salt);
    (Aes128Gcm::new(&cek.into()), nonce)
}

/// CEK and NONCE base from IKM and salt.
fn derive_keys(ikm: &[u8], salt: &[u8; SALT_LEN]) -> ([u8; 16], [u8; 12]) {
    let hk = Hkdf::<Sha256>::new(Some(salt), ikm);
    let mut cek = [0u8; 16];
    let mut nonce = [0u8; 12];
    // Both lengths are far below HKDF-SHA256's 255*32 limit, so expand
    // cannot fail; fall back to zero keys rather than panic regardless.
    let _ = hk.expand(b"Content-Encoding: aes128gcm\0", &mut cek);
    let _ = hk.expand(b"Content-Encoding: nonce\0", &mut nonce);
    (cek, nonce)
}

/// `NONCE XOR seq`, seq as a 96-bit big-endian integer (RFC 8188 §2.3).
fn record_nonce(base: &[u8; 12], seq: u64) -> Nonce<aes_gcm::aead::consts::U12> {
    let mut n = *base;
    for (b, s) in n[4..].iter_mut().zip(seq.to_be_bytes()) {
        *b ^= s;
    }
    n.into()
}

#[cfg(test)]
mod tests;
