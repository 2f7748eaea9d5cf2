//! Replays every seed of the `decode` fuzz target through the same entry
//! point (no panic), and checks the named seeds give the expected outcome.

use phoneprov_crypto::fuzzing::decode_one;
use phoneprov_crypto::{CryptoError, DecodeError, Layer};

fn corpus() -> Vec<(String, Vec<u8>)> {
    phoneprov_testpeers::fuzz_corpus("decode")
}

#[test]
fn every_seed_replays_without_panic() {
    let files = corpus();
    assert!(files.len() >= 4, "corpus is missing seeds: {}", files.len());
    for (name, data) in &files {
        assert!(decode_one(data).is_some(), "{name} is empty");
    }
}

#[test]
fn named_seeds_decode_as_their_names_say() {
    for (name, data) in corpus() {
        let r = decode_one(&data).expect("seed not empty");
        match name.as_str() {
            "xml_plain_no_key" => assert_eq!(r.unwrap().layers, vec![]),
            "gzip_xml_no_key" => assert_eq!(r.unwrap().layers, vec![Layer::Gzip]),
            "salted_sha256_gzip_with_key" | "salted_md5_with_key" => {
                assert!(
                    matches!(r.unwrap().layers[0], Layer::Aes256Cbc(_)),
                    "{name}"
                )
            }
            "aes128gcm_gzip_with_key_and_hint" | "aes128gcm_gzip_with_key_no_hint" => {
                assert_eq!(
                    r.unwrap().layers,
                    vec![Layer::Aes128Gcm, Layer::Gzip],
                    "{name}"
                )
            }
            "salted_no_key" => assert!(matches!(r, Err(DecodeError::NeedKey { .. }))),
            "salted_truncated_with_key" => assert!(matches!(
                r,
                Err(DecodeError::Crypto(CryptoError::Truncated(_)))
            )),
            "aes128gcm_rfc8188_3_2_wrong_key" => {
                assert_eq!(r, Err(DecodeError::Crypto(CryptoError::WrongKey)))
            }
            _ => {}
        }
    }
}
