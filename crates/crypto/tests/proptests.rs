//! Property tests (R-FMT-6, R-FMT-7): every encrypt/decrypt and
//! encode/decode pair round-trips, and `decode` never panics on arbitrary,
//! prefixed or mutated input.

use phoneprov_crypto::{
    aes128gcm, decode, encode, gzip, looks_like_xml, openssl_enc, DecodeOptions, EncodeOptions,
    Kdf, Md, Scheme,
};
use proptest::prelude::*;

fn md() -> impl Strategy<Value = Md> {
    prop_oneof![Just(Md::Sha256), Just(Md::Md5)]
}

/// Small iteration counts keep PBKDF2 fast in a debug build.
fn cheap_kdf() -> impl Strategy<Value = Kdf> {
    prop_oneof![
        md().prop_map(Kdf::EvpBytesToKey),
        (1u32..=100).prop_map(|iterations| Kdf::Pbkdf2 { iterations }),
    ]
}

/// XML-ish documents: `<` then arbitrary text (any Unicode).
fn xmlish() -> impl Strategy<Value = Vec<u8>> {
    (any::<String>(), "[ \t\r\n]{0,3}").prop_map(|(s, ws)| format!("{ws}<{s}").into_bytes())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn openssl_enc_round_trip(
        plain in proptest::collection::vec(any::<u8>(), 0..600),
        pass in proptest::collection::vec(any::<u8>(), 0..40),
        salt in any::<[u8; 8]>(),
        kdf in cheap_kdf(),
    ) {
        let ct = openssl_enc::encrypt_with_salt(&plain, &pass, kdf, salt);
        prop_assert_eq!(&ct[..8], b"Salted__");
        prop_assert_eq!(&ct[8..16], &salt);
        prop_assert_eq!((ct.len() - 16) % 16, 0);
        prop_assert!(ct.len() - 16 > plain.len());
        prop_assert_eq!(openssl_enc::decrypt(&ct, &pass, kdf).unwrap(), plain);
    }

    #[test]
    fn aes128gcm_round_trip(
        plain in proptest::collection::vec(any::<u8>(), 0..1500),
        ikm in proptest::collection::vec(any::<u8>(), 0..40),
        keyid in proptest::collection::vec(any::<u8>(), 0..=255),
        rs in 18u32..400,
        pad in 0usize..300,
        salt in any::<[u8; 16]>(),
    ) {
        let ct = aes128gcm::encrypt_with_salt(&plain, &ikm, &keyid, rs, salt, pad).unwrap();
        let (h, off) = aes128gcm::Header::parse(&ct).unwrap();
        prop_assert_eq!((h.salt, h.rs, h.keyid), (salt, rs, keyid.as_slice()));
        // Records: each carries rs-17 bytes of data+padding, at least one record.
        let cap = rs as usize - 17;
        let records = (plain.len() + pad).div_ceil(cap).max(1);
        prop_assert_eq!(ct.len() - off, plain.len() + pad + records * 17);
        prop_assert_eq!(aes128gcm::decrypt(&ct, &ikm).unwrap(), plain);
    }

    #[test]
    fn gzip_round_trip(plain in proptest::collection::vec(any::<u8>(), 0..3000)) {
        let gz = gzip::compress(&plain);
        prop_assert!(gzip::is_gzip(&gz));
        prop_assert_eq!(gzip::decompress(&gz, plain.len()).unwrap(), plain);
    }
}

proptest! {
    // decode tries PBKDF2 with OpenSSL's 10000 iterations: fewer cases.
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn decode_inverts_encode(
        x in xmlish(),
        scheme in prop_oneof![Just(None), Just(Some(Scheme::Aes256Cbc)), Just(Some(Scheme::Aes128Gcm))],
        kdf in prop_oneof![
            md().prop_map(Kdf::EvpBytesToKey),
            Just(Kdf::Pbkdf2 { iterations: Kdf::OPENSSL_PBKDF2_ITERATIONS }),
        ],
        key in proptest::collection::vec(any::<u8>(), 0..32),
        gz in any::<bool>(),
    ) {
        let opts = EncodeOptions { scheme, key: Some(key.clone()), kdf, gzip: gz };
        let enc = encode(&x, &opts).unwrap();
        let d = decode(&enc, &DecodeOptions { key: Some(&key), ..Default::default() }).unwrap();
        prop_assert_eq!(&d.plain, &x);
        prop_assert_eq!(d.layers.len(), usize::from(scheme.is_some()) + usize::from(gz));
    }

    #[test]
    fn decode_never_panics_on_arbitrary_bytes(
        data in proptest::collection::vec(any::<u8>(), 0..300),
        prefix in prop_oneof![
            Just(Vec::new()),
            Just(b"Salted__".to_vec()),
            Just(vec![0x1f, 0x8b, 0x08]),
            // A plausible aes128gcm header: salt, rs = 64, idlen 0.
            Just([[7u8; 16].as_slice(), &[0, 0, 0, 64, 0]].concat()),
        ],
        key in prop_oneof![Just(None), Just(Some(b"MyOwnSecret".to_vec()))],
        hint in prop_oneof![Just(None), Just(Some("aes128gcm")), Just(Some("gzip"))],
    ) {
        let input = [prefix, data].concat();
        let opts = DecodeOptions { key: key.as_deref(), content_encoding: hint, max_plain: 1 << 16 };
        if let Ok(d) = decode(&input, &opts) {
            prop_assert!(looks_like_xml(&d.plain));
        }
    }

    #[test]
    fn decode_never_panics_on_mutated_encodings(
        x in xmlish(),
        scheme in prop_oneof![Just(Scheme::Aes256Cbc), Just(Scheme::Aes128Gcm)],
        pos in any::<prop::sample::Index>(),
        flip in 1u8..=255,
        cut in any::<prop::sample::Index>(),
    ) {
        let opts = EncodeOptions { scheme: Some(scheme), key: Some(b"k".to_vec()), gzip: true, ..Default::default() };
        let mut enc = encode(&x, &opts).unwrap();
        let i = pos.index(enc.len());
        enc[i] ^= flip;
        let n = cut.index(enc.len() + 1);
        let dopts = DecodeOptions { key: Some(b"k"), ..Default::default() };
        for input in [&enc[..], &enc[..n]] {
            if let Ok(d) = decode(input, &dopts) {
                prop_assert!(looks_like_xml(&d.plain));
            }
        }
    }
}
