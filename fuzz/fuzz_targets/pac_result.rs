#![no_main]
//! Fuzz target: bytes → `phoneprov_phone::proxy::parse_pac_result` (what a
//! PAC file's `FindProxyForURL` returned, R-SEC-4), with the round trip of
//! what it accepts.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = phoneprov_phone::proxy::fuzz_entry(data);
});
