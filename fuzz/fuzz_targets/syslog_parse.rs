#![no_main]
//! Fuzz target: bytes → `phoneprov_syslog::parse` (RFC 3164/5424, tolerant),
//! MAC search and classification, then format → parse again.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    phoneprov_syslog::fuzz_entry(data);
});
