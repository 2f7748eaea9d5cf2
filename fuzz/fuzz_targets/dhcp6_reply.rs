#![no_main]
//! Fuzz target: bytes → the DHCPv6 client's reply handling
//! (`phoneprov_transport::dhcp6_fuzz_entry`: a soliciting and a requesting
//! client, the datagram as sent and aimed at the client's transaction id).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = phoneprov_transport::dhcp6_fuzz_entry(data);
});
