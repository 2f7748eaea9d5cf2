//! Replays every seed of the `pac_result` fuzz target through the same
//! entry point (no panic), and checks each named seed parses as its name
//! says (R-SEC-4).

use phoneprov_phone::proxy::{fuzz_entry, PacResultError, ProxyChoice};

fn px(h: &str, p: u16) -> ProxyChoice {
    ProxyChoice::Proxy {
        host: h.into(),
        port: p,
    }
}

#[test]
fn every_pac_seed_replays_and_parses_as_named() {
    let files = phoneprov_testpeers::fuzz_corpus("pac_result");
    assert!(
        files.len() >= 10,
        "corpus is missing seeds: {}",
        files.len()
    );
    for (name, data) in files {
        let r = fuzz_entry(&data);
        match name.as_str() {
            "direct" => assert_eq!(r, Ok(vec![ProxyChoice::Direct])),
            "failover" => assert_eq!(
                r,
                Ok(vec![
                    px("p1.lan", 3128),
                    px("10.0.0.2", 8080),
                    ProxyChoice::Direct
                ])
            ),
            "v6" => assert_eq!(r, Ok(vec![px("2001:db8::1", 3128)])),
            "socks-then-proxy" => assert_eq!(r, Ok(vec![px("p", 80)])),
            "socks-only" => assert!(matches!(r, Err(PacResultError::NothingUsable(_))), "{r:?}"),
            "empty" => assert_eq!(r, Err(PacResultError::Empty)),
            "mixed-case" => assert_eq!(r, Ok(vec![px("h", 8080), ProxyChoice::Direct])),
            "undefined" | "bad-port" | "bad-v6" => {
                assert!(
                    matches!(r, Err(PacResultError::Garbage(_))),
                    "{name}: {r:?}"
                )
            }
            // Seeds the fuzzer added: only "no panic" is asserted.
            _ if name.len() == 40 && name.bytes().all(|b| b.is_ascii_hexdigit()) => {}
            other => panic!("seed {other} has no expectation; add one"),
        }
    }
}
