#![no_main]
//! Fuzz target: bytes → the DHCPv4 client's reply handling
//! (`phoneprov_transport::dhcp_fuzz_entry`: a selecting and a requesting
//! client, the datagram as sent and aimed at the client's xid and MAC).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = phoneprov_transport::dhcp_fuzz_entry(data);
});
