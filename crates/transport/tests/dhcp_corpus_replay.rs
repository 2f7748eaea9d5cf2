//! Replays every seed of `fuzz/corpus/dhcp_reply/` through the DHCP
//! client's fuzz entry point (`phoneprov_transport::dhcp_fuzz_entry`), so
//! the corpus runs under `cargo test` without a fuzzer, and checks what
//! the named seeds must do (R-DHCP-2).

#[test]
fn dhcp_reply_corpus_replays_and_only_good_acks_bind() {
    let files = phoneprov_testpeers::fuzz_corpus("dhcp_reply");
    assert!(files.len() >= 12, "the corpus lost seeds: {}", files.len());
    let mut bound = Vec::new();
    for (name, data) in &files {
        if let Some(lease) = phoneprov_transport::dhcp_fuzz_entry(data) {
            bound.push((name.clone(), lease));
        }
    }
    let names: Vec<&str> = bound.iter().map(|(n, _)| n.as_str()).collect();
    // An ACK whose last options are cut off or malformed still binds with
    // the options before them (dhcproto stops at the unreadable one); a
    // NAK, an offer, another server's ACK, a request, garbage do not.
    assert_eq!(
        names,
        [
            "ack_150_two_addresses",
            "ack_full",
            "ack_no_server_id",
            "bad_option_length",
            "truncated_ack"
        ],
        "only ACKs from the offering server bind"
    );
    assert!(!bound[3].1.options.contains_key(&6), "{:?}", bound[3].1);
    assert!(!bound[4].1.options.contains_key(&51), "{:?}", bound[4].1);
    let full = &bound[1].1.options;
    assert_eq!(full[&160], "https://pv.lab.example/$MA.xml");
    assert_eq!(full[&6], "10.0.0.1,10.0.0.2");
    assert_eq!(full[&56], "Welcome to the lab");
    assert_eq!(full[&159], "10.0.0.7");
    assert_eq!(full[&252], "http://wpad.lab.example/wpad.dat");
    assert_eq!(
        phoneprov_transport::provisioning_target(&bound[1].1, "43"),
        Some(phoneprov_transport::DhcpTarget::AcsUrl(
            "http://acs.lab.example:7547/cwmp".into()
        ))
    );
    // Several TFTP servers in option 150: the first is the server.
    assert_eq!(bound[0].1.options[&150], "10.0.0.5,10.0.0.6");
    assert_eq!(
        phoneprov_transport::provisioning_target(&bound[0].1, "150"),
        Some(phoneprov_transport::DhcpTarget::TftpServer(
            "10.0.0.5".into()
        ))
    );
}
