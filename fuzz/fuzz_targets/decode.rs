#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|_data: &[u8]| {
    // placeholder: filled in by the crate that owns this parser
});
