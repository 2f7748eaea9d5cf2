//! Interop with the Python `http_ece` module (R-FMT-7b), both directions:
//! its aes128gcm output is decrypted by us, ours by it. The IKM is the raw
//! bytes of the key string, as phoneprov's `--key` defines it.

mod common;

use common::{noise, run, run_output, XML};
use phoneprov_crypto::{aes128gcm, decode, CryptoError, DecodeOptions, Layer};

const PKG: &str = "the peers' Python virtual environment with http_ece";

/// argv: mode (enc|dec), IKM hex, salt hex, keyid, rs; data on stdin.
const SCRIPT: &str = r#"
import sys, http_ece
mode, key, salt, keyid, rs = sys.argv[1:6]
data = sys.stdin.buffer.read()
key = bytes.fromhex(key)
if mode == "enc":
    out = http_ece.encrypt(data, salt=bytes.fromhex(salt), key=key, keyid=keyid, rs=int(rs), version="aes128gcm")
else:
    out = http_ece.decrypt(data, key=key, version="aes128gcm")
sys.stdout.buffer.write(out)
"#;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn py(mode: &str, data: &[u8], ikm: &[u8], salt: &[u8; 16], keyid: &str, rs: u32) -> Vec<u8> {
    let rs = rs.to_string();
    let args = ["-c", SCRIPT, mode, &hex(ikm), &hex(salt), keyid, &rs];
    let python = phoneprov_testpeers::venv_python();
    run(python.to_str().unwrap(), &args, data, PKG)
}

/// (plaintext, IKM, key id, record size) combinations, all non-empty
/// (see `http_ece_empty_input_quirk`).
fn cases() -> Vec<(Vec<u8>, Vec<u8>, &'static str, u32)> {
    vec![
        (XML.to_vec(), b"MyOwnSecret".to_vec(), "", 4096),
        (XML.to_vec(), b"MyOwnSecret".to_vec(), "a1", 25),
        (b"x".to_vec(), b"k".to_vec(), "key-7", 18),
        (noise(5000, 9), noise(16, 4), "", 100),
        // Data filling the last record exactly (rs 33 carries 16 per record).
        (noise(64, 5), b"MyOwnSecret".to_vec(), "z", 33),
    ]
}

#[test]
fn http_ece_output_is_decrypted_by_us() {
    for (i, (plain, ikm, keyid, rs)) in cases().into_iter().enumerate() {
        let salt = [i as u8 + 1; 16];
        let theirs = py("enc", &plain, &ikm, &salt, keyid, rs);
        assert_eq!(
            aes128gcm::decrypt(&theirs, &ikm).unwrap(),
            plain,
            "case {i}"
        );
        // http_ece pads nothing, so our encoder with the same salt produces
        // the same bytes.
        let ours =
            aes128gcm::encrypt_with_salt(&plain, &ikm, keyid.as_bytes(), rs, salt, 0).unwrap();
        assert_eq!(ours, theirs, "case {i}: byte-identical output");
    }
}

#[test]
fn our_output_is_decrypted_by_http_ece() {
    for (i, (plain, ikm, keyid, rs)) in cases().into_iter().enumerate() {
        for pad in [0, 1, 40] {
            let ours =
                aes128gcm::encrypt_with_salt(&plain, &ikm, keyid.as_bytes(), rs, [9; 16], pad)
                    .unwrap();
            let back = py("dec", &ours, &ikm, &[0; 16], "", 0);
            assert_eq!(back, plain, "case {i} pad {pad}");
        }
        let random_salt = aes128gcm::encrypt(&plain, &ikm, keyid.as_bytes(), rs).unwrap();
        assert_eq!(
            py("dec", &random_salt, &ikm, &[0; 16], "", 0),
            plain,
            "case {i}"
        );
    }
}

#[test]
fn http_ece_output_decodes_as_a_profile_with_and_without_hint() {
    let theirs = py("enc", XML, b"MyOwnSecret", &[3; 16], "", 4096);
    for ce in [None, Some("aes128gcm")] {
        let d = decode(
            &theirs,
            &DecodeOptions {
                key: Some(b"MyOwnSecret"),
                content_encoding: ce,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(
            (d.plain.as_slice(), d.layers),
            (XML, vec![Layer::Aes128Gcm])
        );
    }
}

#[test]
fn real_gzip_then_http_ece_decodes_in_two_layers() {
    // R-FMT-6 order (compress, then encrypt) produced entirely by peers.
    let gz = run("gzip", &["-c"], XML, "gzip");
    let theirs = py("enc", &gz, b"MyOwnSecret", &[4; 16], "", 4096);
    let opts = DecodeOptions {
        key: Some(b"MyOwnSecret"),
        ..Default::default()
    };
    let d = decode(&theirs, &opts).unwrap();
    assert_eq!(d.plain, XML);
    assert_eq!(d.layers, vec![Layer::Aes128Gcm, Layer::Gzip]);
}

#[test]
fn http_ece_rejects_our_output_under_a_wrong_key() {
    let ours = aes128gcm::encrypt(XML, b"MyOwnSecret", b"", 4096).unwrap();
    let args = ["-c", SCRIPT, "dec", &hex(b"wrong"), "", "", "0"];
    let python = phoneprov_testpeers::venv_python();
    let out = run_output(python.to_str().unwrap(), &args, &ours, PKG);
    assert!(!out.status.success(), "http_ece accepted a wrong key");
}

#[test]
fn http_ece_empty_input_quirk() {
    // http_ece writes a bare header with no record for empty input. RFC 8188
    // §2 requires a final record (delimiter 0x02), so we refuse it as
    // truncated rather than accept a stream whose records could all have
    // been cut off.
    let theirs = py("enc", b"", b"k", &[1; 16], "", 4096);
    assert_eq!(theirs.len(), 21, "header only");
    assert!(matches!(
        aes128gcm::decrypt(&theirs, b"k"),
        Err(CryptoError::Truncated(_))
    ));
    // Our empty encoding (one delimiter-only record) is read by http_ece.
    let ours = aes128gcm::encrypt(b"", b"k", b"", 4096).unwrap();
    assert_eq!(py("dec", &ours, b"k", &[0; 16], "", 0), b"");
}
