#![no_main]
//! Fuzz target: bytes → `parse_envelope`; when it parses, `write_envelope`
//! must produce bytes that parse back to the same envelope. The bytes are
//! also fed to a fresh ACS session machine, which must not panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    phoneprov_cwmp::fuzzing::soap_parse(data);
});
