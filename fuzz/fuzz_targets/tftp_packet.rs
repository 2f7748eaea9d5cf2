#![no_main]
//! Fuzz target: bytes → `Packet::parse` (and encode/parse round trip), then
//! fed as datagrams into server and client transfer cores.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    phoneprov_tftp::fuzzing::tftp_packet(data);
});
