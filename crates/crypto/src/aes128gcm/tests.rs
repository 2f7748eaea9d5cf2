//! Unit tests for aes128gcm (R-FMT-7b): the RFC 8188 §3.1 and §3.2 examples,
//! wrong keys, truncation, padding and header errors.

use super::*;
use crate::ikm_from_base64url as b64;

const WALRUS: &[u8] = b"I am the walrus";
// RFC 8188 §3.1: single record, rs = 4096, empty key id.
const IKM_31: &str = "yqdlZ-tYemfogSmv7Ws5PQ";
const SALT_31: &str = "I1BsxtFttlv3u_Oo94xnmw";
const BODY_31: &str = "I1BsxtFttlv3u_Oo94xnmwAAEAAA-NAVub2qFgBEuQKRapoZu-IxkIva3MEB1PD-ly8Thjg";
// RFC 8188 §3.2: two records, rs = 25, key id "a1", one byte of padding.
const IKM_32: &str = "BO3ZVPxUlnLORbVGMpbT1Q";
const BODY_32: &str = "uNCkWiNYzKTnBN9ji3-qWAAAABkCYTHOG8chz_gnvgOqdGYovxyjuqRyJFjEDyoF1Fvkj6hQPdPHI51OEUKEpgz3SsLWIqS_uA";

fn salt(s: &str) -> [u8; 16] {
    b64(s).unwrap().try_into().unwrap()
}

#[test]
fn rfc8188_3_1_intermediate_keys() {
    let (cek, nonce) = derive_keys(&b64(IKM_31).unwrap(), &salt(SALT_31));
    assert_eq!(cek.to_vec(), b64("_wniytB-ofscZDh4tbSjHw").unwrap());
    assert_eq!(nonce.to_vec(), b64("Bcs8gkIRKLI8GeI8").unwrap());
}

#[test]
fn rfc8188_3_1_decrypts() {
    let body = b64(BODY_31).unwrap();
    assert_eq!(body.len(), 53);
    assert_eq!(decrypt(&body, &b64(IKM_31).unwrap()).unwrap(), WALRUS);
}

#[test]
fn rfc8188_3_1_encrypt_reproduces_the_rfc_bytes() {
    let out =
        encrypt_with_salt(WALRUS, &b64(IKM_31).unwrap(), b"", 4096, salt(SALT_31), 0).unwrap();
    assert_eq!(out, b64(BODY_31).unwrap());
}

#[test]
fn rfc8188_3_2_decrypts_multiple_records() {
    let body = b64(BODY_32).unwrap();
    let (h, off) = Header::parse(&body).unwrap();
    assert_eq!((h.rs, h.keyid, off), (25, &b"a1"[..], 23));
    assert_eq!(body.len() - off, 50, "two records of 25 bytes");
    assert_eq!(decrypt(&body, &b64(IKM_32).unwrap()).unwrap(), WALRUS);
}

#[test]
fn rfc8188_3_2_encrypt_with_padding_reproduces_the_rfc_bytes() {
    let body = b64(BODY_32).unwrap();
    let s: [u8; 16] = body[..16].try_into().unwrap();
    let out = encrypt_with_salt(WALRUS, &b64(IKM_32).unwrap(), b"a1", 25, s, 1).unwrap();
    assert_eq!(out, body);
}

#[test]
fn wrong_key_is_an_error_not_garbage() {
    let body = b64(BODY_32).unwrap();
    let err = decrypt(&body, b"not the key").unwrap_err();
    assert_eq!(err, CryptoError::WrongKey);
    assert!(err.to_string().contains("--key"), "{err}");
}

#[test]
fn truncated_header_and_records() {
    let body = b64(BODY_32).unwrap();
    let ikm = b64(IKM_32).unwrap();
    // Cut inside the fixed header, inside the key id, right after the header,
    // inside the second record, and on the record boundary.
    for cut in [0, 10, 21, 22, 23, 60, 48] {
        let err = decrypt(&body[..cut], &ikm).unwrap_err();
        assert!(
            matches!(err, CryptoError::Truncated(_)),
            "cut {cut}: {err:?}"
        );
    }
}

#[test]
fn record_size_below_minimum_is_rejected_both_ways() {
    let mut body = b64(BODY_31).unwrap();
    body[16..20].copy_from_slice(&17u32.to_be_bytes());
    assert!(matches!(
        decrypt(&body, b"k"),
        Err(CryptoError::BadHeader(_))
    ));
    assert!(matches!(
        encrypt(b"x", b"k", b"", 17),
        Err(CryptoError::BadParameter(_))
    ));
    assert!(matches!(
        encrypt(b"x", b"k", &[0; 256], 4096),
        Err(CryptoError::BadParameter(_))
    ));
}

/// Seals hand-made record plaintexts so the padding checks can be exercised
/// with authentic (correctly tagged) records.
fn seal(records: &[&[u8]], rs: u32) -> Vec<u8> {
    let s = [7u8; 16];
    let (cipher, nonce) = derive(b"k", &s);
    let mut out = s.to_vec();
    out.extend_from_slice(&rs.to_be_bytes());
    out.push(0);
    for (i, r) in records.iter().enumerate() {
        out.extend(cipher.encrypt(&record_nonce(&nonce, i as u64), *r).unwrap());
    }
    out
}

#[test]
fn padding_rules() {
    // Valid: delimiter then zeros, in both positions.
    let ok = seal(&[b"ab\x01\x00", b"c\x02\x00\x00"], 20);
    assert_eq!(decrypt(&ok, b"k").unwrap(), b"abc");
    // All-zero record: no delimiter.
    let e = decrypt(&seal(&[b"\x00\x00"], 20), b"k").unwrap_err();
    assert!(matches!(e, CryptoError::BadPadding(_)), "{e:?}");
    // Final delimiter in a non-final record.
    let e = decrypt(&seal(&[b"ab\x02\x00", b"c\x02"], 20), b"k").unwrap_err();
    assert!(matches!(e, CryptoError::BadPadding(_)), "{e:?}");
    // Unknown delimiter value.
    let e = decrypt(&seal(&[b"ab\x03"], 20), b"k").unwrap_err();
    assert!(matches!(e, CryptoError::BadPadding(_)), "{e:?}");
    // Last record not marked final: records missing.
    let e = decrypt(&seal(&[b"ab\x01"], 20), b"k").unwrap_err();
    assert!(matches!(e, CryptoError::Truncated(_)), "{e:?}");
}

#[test]
fn data_filling_the_last_record_exactly_needs_no_extra_record() {
    // rs 20 carries 3 bytes per record; 6 bytes give two full records.
    let out = encrypt_with_salt(b"abcdef", b"k", b"", 20, [1; 16], 0).unwrap();
    assert_eq!(out.len(), 21 + 40);
    assert_eq!(decrypt(&out, b"k").unwrap(), b"abcdef");
}

#[test]
fn empty_plaintext_is_one_delimiter_record() {
    let out = encrypt(b"", b"k", b"id", DEFAULT_RECORD_SIZE).unwrap();
    assert_eq!(out.len(), 21 + 2 + 17);
    assert_eq!(decrypt(&out, b"k").unwrap(), b"");
}

#[test]
fn plausibility_needs_header_and_one_record() {
    let body = b64(BODY_31).unwrap();
    assert!(is_plausible(&body));
    assert!(!is_plausible(&body[..21 + 16]));
    assert!(!is_plausible(b"<flat-profile></flat-profile>"));
}
