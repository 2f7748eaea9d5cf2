//! Interop with the real `gzip` (R-FMT-6), both directions: `gzip -c`
//! output is decompressed and decoded by us, our output by `gzip -dc`.

mod common;

use common::{noise, run, XML};
use phoneprov_crypto::{decode, gzip, DecodeOptions, Layer};

const PKG: &str = "gzip";

fn payloads() -> Vec<Vec<u8>> {
    let text: Vec<u8> = XML.iter().copied().cycle().take(200_000).collect();
    vec![
        Vec::new(),
        b"x".to_vec(),
        XML.to_vec(),
        text,
        noise(70_000, 3),
    ]
}

#[test]
fn gzip_output_is_decompressed_by_us() {
    for level in ["-1", "-6", "-9"] {
        for p in payloads() {
            let gz = run("gzip", &["-c", level], &p, PKG);
            assert!(gzip::is_gzip(&gz));
            assert_eq!(
                gzip::decompress(&gz, p.len()).unwrap(),
                p,
                "{level} len {}",
                p.len()
            );
        }
    }
}

#[test]
fn gzip_output_is_decoded_as_a_profile() {
    let gz = run("gzip", &["-c"], XML, PKG);
    let d = decode(&gz, &DecodeOptions::default()).unwrap();
    assert_eq!((d.plain.as_slice(), d.layers), (XML, vec![Layer::Gzip]));
}

#[test]
fn our_output_is_decompressed_by_gzip() {
    for p in payloads() {
        let gz = gzip::compress(&p);
        assert_eq!(run("gzip", &["-dc"], &gz, PKG), p, "len {}", p.len());
        // `gzip -t` checks the CRC and length trailer too.
        run("gzip", &["-t"], &gz, PKG);
    }
}

#[test]
fn concatenated_gzip_members_decompress_like_gzip_dc() {
    let mut two = run("gzip", &["-c"], b"<a>", PKG);
    two.extend(run("gzip", &["-c"], b"</a>", PKG));
    assert_eq!(run("gzip", &["-dc"], &two, PKG), b"<a></a>");
    assert_eq!(gzip::decompress(&two, 100).unwrap(), b"<a></a>");
}

#[test]
fn size_limit_stops_a_gzip_bomb_from_the_real_gzip() {
    let zeros = vec![0u8; 4 << 20];
    let gz = run("gzip", &["-c", "-9"], &zeros, PKG);
    assert!(gz.len() < 10_000, "bomb is small: {}", gz.len());
    assert!(matches!(
        gzip::decompress(&gz, 1 << 20),
        Err(phoneprov_crypto::CryptoError::TooLarge { limit: 1048576 })
    ));
}
