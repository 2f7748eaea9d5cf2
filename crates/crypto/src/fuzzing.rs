//! The entry point of the `decode` fuzz target, kept in the library so the
//! corpus replay test runs exactly what the fuzzer runs.

use crate::{decode, looks_like_xml, DecodeError, DecodeOptions, Decoded};

/// Key the fuzz corpus seeds are encrypted with.
pub const FUZZ_KEY: &[u8] = b"MyOwnSecret";
/// Output cap while fuzzing, so a found zip bomb costs little memory.
pub const FUZZ_MAX_PLAIN: usize = 1 << 20;

/// First byte selects the options, the rest is the input:
/// bit 0 = pass [`FUZZ_KEY`]; bit 1 = Content-Encoding hint `aes128gcm`;
/// bit 2 (without bit 1) = hint `gzip`. Panics only if `decode` breaks its
/// own contract (success that is not XML or exceeds the limit).
pub fn decode_one(data: &[u8]) -> Option<Result<Decoded, DecodeError>> {
    let (&sel, input) = data.split_first()?;
    let hint = match (sel & 2 != 0, sel & 4 != 0) {
        (true, _) => Some("aes128gcm"),
        (false, true) => Some("gzip"),
        (false, false) => None,
    };
    let opts = DecodeOptions {
        key: (sel & 1 != 0).then_some(FUZZ_KEY),
        content_encoding: hint,
        max_plain: FUZZ_MAX_PLAIN,
    };
    let result = decode(input, &opts);
    if let Ok(d) = &result {
        assert!(looks_like_xml(&d.plain), "decode returned non-XML");
        assert!(d.plain.len() <= FUZZ_MAX_PLAIN, "decode exceeded max_plain");
    }
    Some(result)
}
