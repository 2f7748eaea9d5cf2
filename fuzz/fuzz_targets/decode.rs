//! Fuzz target `decode`: the first byte picks key / Content-Encoding hint,
//! the rest goes to `phoneprov_crypto::decode` (see
//! `phoneprov_crypto::fuzzing::decode_one`). Seeds in `fuzz/corpus/decode/`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = phoneprov_crypto::fuzzing::decode_one(data);
});
