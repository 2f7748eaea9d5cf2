//! Unit tests for the encode/decode pipeline (R-FMT-6, R-FMT-7): layering,
//! detection, and the errors an operator sees.

use super::*;
use crate::test_util::hex;
use crate::Md;

const XML: &[u8] = b"<flat-profile><GPP_A>12345678</GPP_A></flat-profile>\n";
const KEY: &[u8] = b"MyOwnSecret";

/// `gzip -n -c p.xml | openssl enc -aes-256-cbc -k MyOwnSecret` (OpenSSL
/// 3.0.19, gzip 1.12): the seeds' worked example (SPEC §13).
const FIX_GZIP_CBC: &str = "53616c7465645f5fcafb1fa6146622a39c74d7eaad230cb1dc763d61739eb82d115a97029f7adb9c69b28e57d8b2ea4166af819b5766712e1545729d073fe5fabc5411e6ccbf328e7e92e888a3ab4f92";

fn with_key(key: &[u8]) -> DecodeOptions<'_> {
    DecodeOptions {
        key: Some(key),
        ..Default::default()
    }
}

#[test]
fn r_fmt_7_decodes_real_gzip_then_openssl_output() {
    let d = decode(&hex(FIX_GZIP_CBC), &with_key(KEY)).unwrap();
    assert_eq!(d.plain, XML);
    assert_eq!(
        d.layers,
        vec![
            Layer::Aes256Cbc(Kdf::EvpBytesToKey(Md::Sha256)),
            Layer::Gzip
        ]
    );
}

#[test]
fn r_fmt_6_layering_gzip_then_cbc_each_kdf() {
    for kdf in [
        Kdf::EvpBytesToKey(Md::Sha256),
        Kdf::EvpBytesToKey(Md::Md5),
        Kdf::Pbkdf2 { iterations: 10_000 },
    ] {
        let opts = EncodeOptions {
            scheme: Some(Scheme::Aes256Cbc),
            key: Some(KEY.to_vec()),
            kdf,
            gzip: true,
        };
        let enc = encode(XML, &opts).unwrap();
        let d = decode(&enc, &with_key(KEY)).unwrap();
        assert_eq!(d.plain, XML);
        assert_eq!(d.layers, vec![Layer::Aes256Cbc(kdf), Layer::Gzip]);
    }
}

#[test]
fn r_fmt_6_layering_gzip_then_gcm_with_and_without_hint() {
    let opts = EncodeOptions {
        scheme: Some(Scheme::Aes128Gcm),
        key: Some(KEY.to_vec()),
        gzip: true,
        ..Default::default()
    };
    let enc = encode(XML, &opts).unwrap();
    for ce in [None, Some("aes128gcm"), Some("gzip, AES128GCM")] {
        let d = decode(
            &enc,
            &DecodeOptions {
                key: Some(KEY),
                content_encoding: ce,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(d.plain, XML);
        assert_eq!(d.layers, vec![Layer::Aes128Gcm, Layer::Gzip], "{ce:?}");
    }
}

#[test]
fn plain_and_gzip_only() {
    let d = decode(XML, &DecodeOptions::default()).unwrap();
    assert_eq!((d.plain.as_slice(), d.layers.len()), (XML, 0));
    let d = decode(&gzip::compress(XML), &DecodeOptions::default()).unwrap();
    assert_eq!((d.plain.as_slice(), d.layers), (XML, vec![Layer::Gzip]));
    // A key given for an unencrypted file is fine; layers show it was plain.
    assert!(decode(XML, &with_key(KEY)).unwrap().layers.is_empty());
}

#[test]
fn no_key_for_encrypted_input_asks_for_key() {
    let cbc = hex(FIX_GZIP_CBC);
    let e = decode(&cbc, &DecodeOptions::default()).unwrap_err();
    assert_eq!(e, DecodeError::NeedKey { scheme: CBC_NAME });
    assert!(e.to_string().contains("pass --key"), "{e}");
    let gcm = aes128gcm::encrypt(XML, KEY, b"", 4096).unwrap();
    let e = decode(&gcm, &DecodeOptions::default()).unwrap_err();
    assert_eq!(e, DecodeError::NeedKey { scheme: GCM_NAME });
}

#[test]
fn wrong_key_is_a_clear_error_for_both_ciphers() {
    let cbc = hex(FIX_GZIP_CBC);
    let gcm = aes128gcm::encrypt(XML, KEY, b"", 4096).unwrap();
    for input in [cbc, gcm] {
        let e = decode(&input, &with_key(b"NotMySecret")).unwrap_err();
        assert_eq!(e, DecodeError::Crypto(CryptoError::WrongKey));
        assert!(e.to_string().contains("check the --key value"), "{e}");
    }
}

#[test]
fn wrong_key_never_yields_garbage_over_many_salts() {
    // CBC padding alone accepts ~1/256 wrong keys; 2000 salts make it near
    // certain that some wrong key passes the padding check, so this proves
    // the content check rejects those.
    for i in 0u16..2000 {
        let mut salt = [0u8; 8];
        salt[..2].copy_from_slice(&i.to_be_bytes());
        let ct = openssl_enc::encrypt_with_salt(XML, KEY, Kdf::default(), salt);
        match decode_cbc_only(&ct, b"wrong") {
            Err(CryptoError::WrongKey) => {}
            other => panic!("salt {i}: {other:?}"),
        }
    }
}

/// The CBC branch of decode without the 10000-iteration PBKDF2 try, so the
/// loop above stays fast; same acceptance rule as `decrypt_openssl_any`.
fn decode_cbc_only(ct: &[u8], key: &[u8]) -> Result<Vec<u8>, CryptoError> {
    for md in [Md::Sha256, Md::Md5] {
        if let Ok(p) = openssl_enc::decrypt(ct, key, Kdf::EvpBytesToKey(md)) {
            if gzip::is_gzip(&p) || looks_like_xml(&p) {
                return Ok(p);
            }
        }
    }
    Err(CryptoError::WrongKey)
}

#[test]
fn truncated_inputs_are_clear_errors() {
    let cbc = hex(FIX_GZIP_CBC);
    for cut in [10, 16, 20, cbc.len() - 1] {
        let e = decode(&cbc[..cut], &with_key(KEY)).unwrap_err();
        assert!(e.to_string().contains("truncated"), "cut {cut}: {e}");
    }
    let gz = gzip::compress(XML);
    let e = decode(&gz[..gz.len() - 3], &DecodeOptions::default()).unwrap_err();
    assert!(matches!(
        e,
        DecodeError::Crypto(CryptoError::Truncated(_) | CryptoError::Gzip(_))
    ));
    let gcm = aes128gcm::encrypt(&[b'<'; 100], KEY, b"", 40).unwrap();
    let e = decode(&gcm[..gcm.len() - 40], &with_key(KEY)).unwrap_err();
    assert!(e.to_string().contains("truncated"), "{e}");
}

#[test]
fn non_profile_content_is_rejected() {
    let e = decode(b"", &DecodeOptions::default()).unwrap_err();
    assert!(matches!(e, DecodeError::NotAProfile(_)));
    let e = decode(
        &gzip::compress(b"\x00\x01binary"),
        &DecodeOptions::default(),
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("decoded content is not a profile"),
        "{e}"
    );
    let e = decode(b"hello world", &DecodeOptions::default()).unwrap_err();
    assert!(matches!(e, DecodeError::NotAProfile(_)), "{e:?}");
    // Encrypted, authentic, but not XML.
    let gcm = aes128gcm::encrypt(b"{\"json\":1}", KEY, b"", 4096).unwrap();
    let e = decode(&gcm, &with_key(KEY)).unwrap_err();
    assert!(matches!(e, DecodeError::NotAProfile(_)), "{e:?}");
}

#[test]
fn size_limit_applies_to_decompressed_and_plain_output() {
    let big = [b"<a>".as_slice(), &vec![b' '; 10_000], b"</a>"].concat();
    let opts = DecodeOptions {
        max_plain: 1000,
        ..Default::default()
    };
    for input in [gzip::compress(&big), big.clone()] {
        let e = decode(&input, &opts).unwrap_err();
        assert_eq!(
            e,
            DecodeError::Crypto(CryptoError::TooLarge { limit: 1000 })
        );
    }
}

#[test]
fn unknown_content_encoding_is_rejected() {
    let opts = DecodeOptions {
        content_encoding: Some("br"),
        ..Default::default()
    };
    assert_eq!(
        decode(XML, &opts),
        Err(DecodeError::UnsupportedContentEncoding("br".into()))
    );
}

#[test]
fn encode_without_key_fails_and_identity_by_default() {
    let opts = EncodeOptions {
        scheme: Some(Scheme::Aes256Cbc),
        ..Default::default()
    };
    assert_eq!(encode(XML, &opts), Err(CryptoError::MissingKey));
    assert_eq!(encode(XML, &EncodeOptions::default()).unwrap(), XML);
}

#[test]
fn xml_detection() {
    assert!(looks_like_xml(b"\xEF\xBB\xBF \n\t<flat-profile/>"));
    assert!(looks_like_xml("<x>예</x>".as_bytes()));
    assert!(!looks_like_xml(b"<x>\xff</x>"));
    assert!(!looks_like_xml(b"x<"));
    assert!(!looks_like_xml(b""));
}
