//! `openssl enc -aes-256-cbc` file format (SPEC R-FMT-7): `"Salted__"`,
//! 8-byte salt, AES-256-CBC ciphertext with PKCS#7 padding.
//!
//! Key and IV (32 + 16 bytes) come from the passphrase and salt through
//! [`Kdf`]. `EVP_BytesToKey` is written here by hand (see the crate docs);
//! AES/CBC, MD5, SHA-256 and PBKDF2 are RustCrypto's.
//!
//! [`decrypt`] only checks the PKCS#7 padding, like `openssl enc -d` does;
//! with an unauthenticated cipher a wrong key still passes that check about
//! once in 256 tries. [`crate::decode`] adds the content check (gzip or XML)
//! that makes a wrong key a reliable error.

use aes::cipher::{block_padding::Pkcs7, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use md5::Md5;
use sha2::{Digest, Sha256};

use crate::{CryptoError, Kdf, Md};

/// The 8-byte magic that starts every salted `openssl enc` file.
pub const MAGIC: &[u8; 8] = b"Salted__";
/// Magic plus salt.
pub const HEADER_LEN: usize = 16;
const BLOCK: usize = 16;

type Enc = cbc::Encryptor<aes::Aes256>;
type Dec = cbc::Decryptor<aes::Aes256>;

/// Encrypts like `openssl enc -aes-256-cbc -k PASSPHRASE` with a fresh random
/// salt.
pub fn encrypt(plain: &[u8], passphrase: &[u8], kdf: Kdf) -> Vec<u8> {
    let salt: [u8; 8] = rand::random();
    encrypt_with_salt(plain, passphrase, kdf, salt)
}

/// Encrypts with a caller-chosen salt (reproducible output for tests and
/// fixtures; `openssl enc -S HEX` does the same).
pub fn encrypt_with_salt(plain: &[u8], passphrase: &[u8], kdf: Kdf, salt: [u8; 8]) -> Vec<u8> {
    let (key, iv) = derive_key_iv(passphrase, &salt, kdf);
    let body = Enc::new(&key.into(), &iv.into()).encrypt_padded_vec_mut::<Pkcs7>(plain);
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&salt);
    out.extend_from_slice(&body);
    out
}

/// Decrypts an `openssl enc` file with one given derivation.
///
/// Errors: [`CryptoError::NotSalted`] without the header,
/// [`CryptoError::Truncated`] when the body is empty or not whole AES blocks,
/// [`CryptoError::WrongKey`] when the PKCS#7 padding is invalid.
pub fn decrypt(data: &[u8], passphrase: &[u8], kdf: Kdf) -> Result<Vec<u8>, CryptoError> {
    let body = check_layout(data)?;
    let salt: [u8; 8] = data[8..HEADER_LEN]
        .try_into()
        .map_err(|_| CryptoError::Truncated("openssl enc salt missing".into()))?;
    let (key, iv) = derive_key_iv(passphrase, &salt, kdf);
    Dec::new(&key.into(), &iv.into())
        .decrypt_padded_vec_mut::<Pkcs7>(body)
        .map_err(|_| CryptoError::WrongKey)
}

/// Checks magic, salt and block structure; returns the ciphertext body.
pub(crate) fn check_layout(data: &[u8]) -> Result<&[u8], CryptoError> {
    if data.len() < MAGIC.len() {
        if MAGIC.starts_with(data) && !data.is_empty() {
            return Err(CryptoError::Truncated(format!(
                "openssl enc header cut after {} bytes",
                data.len()
            )));
        }
        return Err(CryptoError::NotSalted);
    }
    if &data[..MAGIC.len()] != MAGIC {
        return Err(CryptoError::NotSalted);
    }
    if data.len() < HEADER_LEN {
        return Err(CryptoError::Truncated(format!(
            "openssl enc salt is {} of 8 bytes",
            data.len() - MAGIC.len()
        )));
    }
    let body = &data[HEADER_LEN..];
    if body.is_empty() || !body.len().is_multiple_of(BLOCK) {
        return Err(CryptoError::Truncated(format!(
            "openssl enc ciphertext is {} bytes, not a positive multiple of the 16-byte AES block",
            body.len()
        )));
    }
    Ok(body)
}

/// Derives the AES-256 key and CBC IV exactly as `openssl enc` does.
pub fn derive_key_iv(passphrase: &[u8], salt: &[u8; 8], kdf: Kdf) -> ([u8; 32], [u8; 16]) {
    let mut km = [0u8; 48];
    match kdf {
        Kdf::EvpBytesToKey(Md::Sha256) => evp_bytes_to_key::<Sha256>(passphrase, salt, &mut km),
        Kdf::EvpBytesToKey(Md::Md5) => evp_bytes_to_key::<Md5>(passphrase, salt, &mut km),
        Kdf::Pbkdf2 { iterations } => {
            // OpenSSL refuses 0 iterations; treat it as 1 rather than fail.
            pbkdf2::pbkdf2_hmac::<Sha256>(passphrase, salt, iterations.max(1), &mut km)
        }
    }
    let mut key = [0u8; 32];
    let mut iv = [0u8; 16];
    key.copy_from_slice(&km[..32]);
    iv.copy_from_slice(&km[32..]);
    (key, iv)
}

/// OpenSSL's `EVP_BytesToKey` with count = 1:
/// `D_i = H(D_{i-1} || passphrase || salt)`, output `D_1 || D_2 || ...`.
/// Hand-written because no maintained crate offers this legacy derivation.
fn evp_bytes_to_key<D: Digest>(passphrase: &[u8], salt: &[u8], out: &mut [u8]) {
    let mut prev: Vec<u8> = Vec::new();
    let mut filled = 0;
    while filled < out.len() {
        let mut h = D::new();
        h.update(&prev);
        h.update(passphrase);
        h.update(salt);
        prev = h.finalize().to_vec();
        let n = prev.len().min(out.len() - filled);
        out[filled..filled + n].copy_from_slice(&prev[..n]);
        filled += n;
    }
}

#[cfg(test)]
mod tests;
