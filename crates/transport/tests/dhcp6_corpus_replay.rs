//! Replays every seed of `fuzz/corpus/dhcp6_reply/` through the DHCPv6
//! client's fuzz entry point (`phoneprov_transport::dhcp6_fuzz_entry`), so
//! the corpus runs under `cargo test` without a fuzzer, and checks what
//! the named seeds must do (R-DHCP-1/2).

#[test]
fn dhcp6_reply_corpus_replays_and_only_good_replies_bind() {
    let files = phoneprov_testpeers::fuzz_corpus("dhcp6_reply");
    assert!(files.len() >= 15, "the corpus lost seeds: {}", files.len());
    let mut bound = Vec::new();
    for (name, data) in &files {
        if let Some(lease) = phoneprov_transport::dhcp6_fuzz_entry(data) {
            bound.push((name.clone(), lease));
        }
    }
    let names: Vec<&str> = bound.iter().map(|(n, _)| n.as_str()).collect();
    // A REPLY from the advertising server to this client with an address
    // binds; an error status, another server or client, an ADVERTISE, a
    // SOLICIT, a truncated message and the option lengths dhcproto would
    // panic on (a Status Code or Vendor Class too short, also inside an
    // IA_NA) or misread (an empty Elapsed Time, a Relay Message) do not.
    assert_eq!(
        names,
        ["reply_full", "reply_minimal"],
        "only good REPLYs bind"
    );
    let full = &bound[0].1.options_v6;
    assert_eq!(full[&23], "fd00:9::1,fd00:9::2");
    assert_eq!(full[&24], "lab.example");
    assert_eq!(full[&56], "fd00:9::123");
    assert_eq!(full[&17], "http://pv6.lab.example/p.xml");
    assert_eq!(full[&160], "https://pv.lab.example/$MA.xml");
    assert_eq!(full[&159], "fd00:9::9");
    assert_eq!(
        phoneprov_transport::provisioning_target_dual(&bound[0].1, "", "159,160"),
        Some(phoneprov_transport::DhcpTarget::ProvisioningServerIp(
            "fd00:9::9".into()
        ))
    );
}
