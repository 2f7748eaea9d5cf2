//! gzip (RFC 1952 around RFC 1951 deflate) through `flate2`, with a
//! decompression size limit (SPEC R-FMT-6).
//!
//! `flate2` runs on its `zlib-rs` backend (a Rust port of zlib-ng), not the
//! default `miniz_oxide`: serve gzips every rendered profile before
//! encrypting it, and for a 6 KB profile miniz spent about 75 µs per call,
//! most of it zeroing its large state, against about 25 µs for zlib-rs
//! (`examples/gzip_cost.rs`, 2 000 calls). The output is standard gzip either
//! way (`gzip -dc` reads it; see the interop tests).
//!
//! The limit exists because a profile fetched from the network is untrusted:
//! a few kilobytes of gzip can expand to gigabytes (zip bomb). Output beyond
//! `limit` bytes is never produced; the read stops and fails instead.

use std::io::{Read, Write};

use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;

use crate::CryptoError;

/// gzip magic plus the deflate method byte (the only one RFC 1952 defines).
pub const MAGIC: [u8; 3] = [0x1f, 0x8b, 0x08];

/// Compresses with the default level, like `gzip -c` (no file name, mtime 0,
/// so output is reproducible).
pub fn compress(plain: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(
        Vec::with_capacity(plain.len() / 2 + 32),
        Compression::default(),
    );
    // Writing into a Vec cannot fail; the fallbacks only avoid a panic path.
    if enc.write_all(plain).is_err() {
        return Vec::new();
    }
    enc.finish().unwrap_or_default()
}

/// Whether `data` starts with the gzip magic `1f 8b 08`.
pub fn is_gzip(data: &[u8]) -> bool {
    data.starts_with(&MAGIC)
}

/// Decompresses a gzip stream (concatenated members allowed, as `gzip -dc`
/// does), producing at most `limit` bytes.
///
/// Errors: [`CryptoError::NotGzip`] without the magic,
/// [`CryptoError::TooLarge`] past `limit`, [`CryptoError::Truncated`] when the
/// stream ends early, [`CryptoError::Gzip`] when it is corrupt.
pub fn decompress(data: &[u8], limit: usize) -> Result<Vec<u8>, CryptoError> {
    if !is_gzip(data) {
        return Err(CryptoError::NotGzip);
    }
    let mut out = Vec::with_capacity(data.len().saturating_mul(4).min(limit).min(1 << 20));
    // Read one byte past the limit to tell "exactly limit" from "more".
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    let mut reader = MultiGzDecoder::new(data).take(cap);
    match reader.read_to_end(&mut out) {
        Ok(_) if out.len() > limit => Err(CryptoError::TooLarge { limit }),
        Ok(_) => Ok(out),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(CryptoError::Truncated(
            "gzip stream ends before its trailer".into(),
        )),
        Err(e) => Err(CryptoError::Gzip(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const XML: &[u8] = b"<flat-profile><GPP_A>12345678</GPP_A></flat-profile>\n";

    #[test]
    fn r_fmt_6_round_trip() {
        let gz = compress(XML);
        assert!(is_gzip(&gz));
        assert_eq!(decompress(&gz, 1 << 20).unwrap(), XML);
    }

    #[test]
    fn limit_is_enforced_and_exact_limit_passes() {
        let big = vec![b'a'; 100_000];
        let gz = compress(&big);
        assert!(gz.len() < 1000, "compresses well: {}", gz.len());
        assert_eq!(
            decompress(&gz, 99_999),
            Err(CryptoError::TooLarge { limit: 99_999 })
        );
        assert_eq!(decompress(&gz, 100_000).unwrap().len(), 100_000);
    }

    #[test]
    fn truncated_stream_is_an_error() {
        let gz = compress(XML);
        for cut in [3, 10, gz.len() / 2, gz.len() - 4, gz.len() - 1] {
            let e = decompress(&gz[..cut], 1 << 20).unwrap_err();
            assert!(
                matches!(e, CryptoError::Truncated(_) | CryptoError::Gzip(_)),
                "cut {cut}: {e:?}"
            );
        }
    }

    #[test]
    fn corrupt_crc_is_an_error() {
        let mut gz = compress(XML);
        let n = gz.len();
        gz[n - 8] ^= 0xff; // CRC32 in the trailer
        assert!(matches!(
            decompress(&gz, 1 << 20),
            Err(CryptoError::Gzip(_))
        ));
    }

    #[test]
    fn not_gzip() {
        assert_eq!(decompress(XML, 100), Err(CryptoError::NotGzip));
        assert!(!is_gzip(b"\x1f\x8b"));
    }

    #[test]
    fn concatenated_members_like_gzip_dc() {
        let mut gz = compress(b"<a>");
        gz.extend(compress(b"</a>"));
        assert_eq!(decompress(&gz, 100).unwrap(), b"<a></a>");
    }
}
