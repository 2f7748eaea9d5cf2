//! Interop with the real `openssl enc` (R-FMT-7a), both directions, for the
//! three derivations: default (`-md sha256` on OpenSSL >= 1.1), `-md md5`
//! and `-pbkdf2`; plus the seeds' `gzip | openssl enc` example.

mod common;

use common::{noise, run, run_output, XML};
use phoneprov_crypto::{
    decode, encode, openssl_enc, DecodeOptions, EncodeOptions, Kdf, Layer, Md, Scheme,
};

const SECRET: &str = "MyOwnSecret";
const PKG: &str = "openssl";

/// (extra `openssl enc` flags, the matching derivation).
fn variants() -> [(&'static [&'static str], Kdf); 5] {
    [
        (&[], Kdf::EvpBytesToKey(Md::Sha256)),
        (&["-md", "sha256"], Kdf::EvpBytesToKey(Md::Sha256)),
        (&["-md", "md5"], Kdf::EvpBytesToKey(Md::Md5)),
        (&["-pbkdf2"], Kdf::Pbkdf2 { iterations: 10_000 }),
        (
            &["-pbkdf2", "-iter", "1000"],
            Kdf::Pbkdf2 { iterations: 1000 },
        ),
    ]
}

fn openssl_enc(extra: &[&str], decrypt: bool, input: &[u8], secret: &str) -> Vec<u8> {
    let mut args = vec!["enc", "-aes-256-cbc", "-k", secret];
    if decrypt {
        args.push("-d");
    }
    args.extend_from_slice(extra);
    run("openssl", &args, input, PKG)
}

#[test]
fn openssl_output_is_decrypted_by_us() {
    for (flags, kdf) in variants() {
        for len in [0, 1, 15, 16, 17, 1000] {
            let plain = noise(len, len as u64 + 1);
            let ct = openssl_enc(flags, false, &plain, SECRET);
            assert_eq!(
                openssl_enc::decrypt(&ct, SECRET.as_bytes(), kdf).unwrap(),
                plain,
                "{flags:?} len {len}"
            );
        }
    }
}

#[test]
fn openssl_output_is_decoded_with_detected_kdf() {
    for (flags, kdf) in variants() {
        let ct = openssl_enc(flags, false, XML, SECRET);
        let r = decode(
            &ct,
            &DecodeOptions {
                key: Some(SECRET.as_bytes()),
                ..Default::default()
            },
        );
        if flags.contains(&"-iter") {
            // decode only tries OpenSSL's default 10000 iterations.
            assert!(r.is_err(), "{flags:?}");
            continue;
        }
        let d = r.unwrap();
        assert_eq!(d.plain, XML, "{flags:?}");
        assert_eq!(d.layers, vec![Layer::Aes256Cbc(kdf)], "{flags:?}");
    }
}

#[test]
fn our_output_is_decrypted_by_openssl() {
    for (flags, kdf) in variants() {
        for len in [0, 1, 15, 16, 17, 1000] {
            let plain = noise(len, len as u64 + 7);
            let ct = openssl_enc::encrypt(&plain, SECRET.as_bytes(), kdf);
            assert_eq!(
                openssl_enc(flags, true, &ct, SECRET),
                plain,
                "{flags:?} len {len}"
            );
        }
    }
}

#[test]
fn openssl_rejects_our_output_under_a_wrong_passphrase() {
    // Sanity check of the peer itself: with a wrong -k, openssl fails on the
    // padding (or, ~1/256, prints garbage that is not our plaintext).
    let ct = openssl_enc::encrypt(XML, SECRET.as_bytes(), Kdf::default());
    let out = run_output(
        "openssl",
        &["enc", "-aes-256-cbc", "-d", "-k", "wrong"],
        &ct,
        PKG,
    );
    assert!(!out.status.success() || out.stdout != XML);
}

#[test]
fn seeds_example_gzip_then_openssl_both_ways() {
    // SPEC §13: `gzip` of the profile, then `openssl enc -aes-256-cbc -k MyOwnSecret`.
    let gz = run("gzip", &["-c"], XML, "gzip");
    let ct = openssl_enc(&[], false, &gz, SECRET);
    let d = decode(
        &ct,
        &DecodeOptions {
            key: Some(SECRET.as_bytes()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(d.plain, XML);
    assert_eq!(
        d.layers,
        vec![
            Layer::Aes256Cbc(Kdf::EvpBytesToKey(Md::Sha256)),
            Layer::Gzip
        ]
    );

    // And ours through their pipeline: openssl enc -d | gzip -dc.
    for (flags, kdf) in variants() {
        let ours = encode(
            XML,
            &EncodeOptions {
                scheme: Some(Scheme::Aes256Cbc),
                key: Some(SECRET.as_bytes().to_vec()),
                kdf,
                gzip: true,
            },
        )
        .unwrap();
        let gz = openssl_enc(flags, true, &ours, SECRET);
        assert_eq!(run("gzip", &["-dc"], &gz, "gzip"), XML, "{flags:?}");
    }
}
