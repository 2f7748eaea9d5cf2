//! Replays every seed of the `sip_request` fuzz target through the same
//! entry point (no panic), and checks the named seeds parse as their
//! names say (R-RULE-6).

use phoneprov_phone::sip::{fuzz_entry, SipError};

fn corpus() -> Vec<(String, Vec<u8>)> {
    phoneprov_testpeers::fuzz_corpus("sip_request")
}

#[test]
fn every_seed_replays_and_parses_as_named() {
    let files = corpus();
    assert!(files.len() >= 8, "corpus is missing seeds: {}", files.len());
    for (name, data) in files {
        let r = fuzz_entry(&data);
        match name.as_str() {
            "notify_check_sync_reboot" => {
                let (ev, params) = r.unwrap().event().unwrap();
                assert_eq!(ev, "check-sync");
                assert_eq!(params[0], ("reboot".into(), "true".into()));
            }
            "notify_compact_execute_body" => {
                let req = r.unwrap();
                assert_eq!(req.event().unwrap().0, "resync");
                assert!(req.body.ends_with(b"</CP-8841-3PCCExecute>\n"), "{req:?}");
                assert_eq!(req.header("Content-Type"), Some("application/xml"));
            }
            "notify_without_event" => assert_eq!(r.unwrap().event(), None),
            "folded_via_no_length" => {
                let req = r.unwrap();
                assert_eq!(req.header("Via"), Some("SIP/2.0/UDP h Folded; continued"));
            }
            "short_body" => assert_eq!(r, Err(SipError::ShortBody { got: 5, want: 99 })),
            "no_blank_line" | "keepalive" => assert_eq!(r, Err(SipError::Incomplete)),
            "not_utf8" => assert!(r.is_err(), "{r:?}"),
            other => panic!("seed {other} has no expectation; add one"),
        }
    }
}
