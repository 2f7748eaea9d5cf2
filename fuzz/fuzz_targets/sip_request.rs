#![no_main]
//! Fuzz target: bytes → `phoneprov_phone::sip` (the phone's SIP request
//! parser, stream framing and answer builder, R-RULE-6).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = phoneprov_phone::sip::fuzz_entry(data);
});
