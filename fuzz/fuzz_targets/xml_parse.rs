//! Fuzz the flat-profile reader: `FlatProfile::parse_bytes`, `lint_bytes`,
//! and the canonical round trip (see `phoneprov_profile::fuzzing::xml_parse`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    phoneprov_profile::fuzzing::xml_parse(data);
});
