//! Property tests: any sequence of inputs (power, calls, network, requests,
//! fetch results of every kind, stale ids, time jumps) leaves the engine
//! consistent: no panic, at most one transfer outstanding, timers never in
//! the past after `handle_timeout`, and every started resync finishes with
//! exactly one `ResyncFinished` once its fetches are answered.

mod common;
use common::*;
use phoneprov_phone::upgrade::make_image;
use phoneprov_phone::*;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Step {
    Input(Input),
    Advance(u64),
    Answer(u8),
    StaleAnswer,
}

fn result(kind: u8) -> FetchResult {
    match kind % 14 {
        0 => ok_xml(
            "<flat-profile><GPP_A>x</GPP_A><Resync_Periodic>45</Resync_Periodic></flat-profile>",
        ),
        1 => http(404, &[], b""),
        2 => http(500, &[], b""),
        3 => http(302, &[("Location", "http://prov.example/r.xml")], b""),
        4 => http(
            401,
            &[(
                "WWW-Authenticate",
                "Digest realm=\"r\", nonce=\"n\", qop=\"auth\"",
            )],
            b"",
        ),
        5 => http(407, &[("Proxy-Authenticate", "Basic realm=\"p\"")], b""),
        6 => FetchResult::TftpNotFound,
        7 => FetchResult::Timeout,
        8 => http(200, &[], b"\x1f\x8b\x08garbage"),
        9 => http(200, &[], &make_image("12.0.0", b"")),
        10 => http(
            200,
            &[],
            b"<flat-profile><Upgrade_Rule>http://s/b.loads</Upgrade_Rule></flat-profile>",
        ),
        11 => http(200, &[("Content-Encoding", "aes128gcm")], b"junk"),
        12 => http(301, &[], b""),
        _ => FetchResult::DnsError("nx".into()),
    }
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        Just(Step::Input(Input::PowerOn)),
        Just(Step::Input(Input::CallStarted)),
        Just(Step::Input(Input::CallEnded)),
        Just(Step::Input(Input::NetworkDown)),
        Just(Step::Input(Input::NetworkUp)),
        Just(Step::Input(Input::ResyncNow {
            rule: None,
            from_host: None
        })),
        Just(Step::Input(Input::ResyncNow {
            rule: Some("http://one.example/x".into()),
            from_host: None
        })),
        Just(Step::Input(Input::UpgradeNow {
            url: "http://s/a.loads".into()
        })),
        Just(Step::Input(Input::ReportNow {
            rule: Some("[--delta] http://s/r".into())
        })),
        Just(Step::Input(Input::SetParams {
            params: vec![("Provision_Enable".into(), "No".into())]
        })),
        Just(Step::Input(Input::SetParams {
            params: vec![("Provision_Enable".into(), "Yes".into())]
        })),
        (0u64..200_000).prop_map(Step::Advance),
        any::<u8>().prop_map(Step::Answer),
        Just(Step::StaleAnswer),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn engine_stays_consistent(steps in proptest::collection::vec(step(), 1..80), seed in any::<u64>()) {
        let mut cfg = PhoneConfig::new(identity());
        cfg.seed = seed;
        cfg.default_server = Some("10.0.0.1".into());
        cfg.credentials = Some(Credentials::new("u", "p"));
        cfg.initial_params = [
            ("Profile_Rule", "http://prov.example/p.xml"),
            ("Profile_Rule_B", "($A eq x)? [--key k] http://prov.example/b.xml"),
            ("Upgrade_Rule", "($SWVER lt 12.0.0)? http://s/a.loads"),
            ("Resync_Periodic", "60,120+30"),
            ("Resync_Error_Retry_Delay", "30,60"),
            ("Resync_Trigger_1", "$PRVTMR ge 500"),
            ("Resync_At__HHmm_", "0100"),
            ("Forced_Resync_Delay", "90"),
            ("Syslog_Server", "10.0.0.9"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mut phone = Phone::new(cfg);
        let mut now = Time(0);
        let mut outstanding: Vec<FetchRequest> = Vec::new();
        let mut started = 0u64;
        let mut finished = 0u64;
        let drain = |phone: &mut Phone, outstanding: &mut Vec<FetchRequest>, finished: &mut u64| {
            while let Some(a) = phone.poll_action() {
                match a {
                    Action::Fetch(r) => outstanding.push(r),
                    Action::ResyncFinished { .. } => *finished += 1,
                    Action::Reboot { .. } => outstanding.clear(), // the phone rebooted
                    _ => {}
                }
            }
        };
        for s in steps {
            match s {
                Step::Input(i) => {
                    if i == Input::PowerOn {
                        // A reboot abandons the operation in progress.
                        outstanding.clear();
                        finished = phone.stats().resyncs_started;
                    }
                    phone.handle_input(i, now);
                }
                Step::Advance(ms) => {
                    now = now.plus_millis(ms);
                    while let Some(t) = phone.poll_timeout() {
                        if t > now { break; }
                        phone.handle_timeout(t.max(Time(0)));
                        drain(&mut phone, &mut outstanding, &mut finished);
                        if let Some(t2) = phone.poll_timeout() {
                            prop_assert!(t2 > t || !outstanding.is_empty() || phone.in_call(),
                                "timer did not move: {t:?} -> {t2:?}");
                            if t2 <= t { break; }
                        }
                    }
                    phone.handle_timeout(now);
                }
                Step::Answer(kind) => {
                    if let Some(r) = outstanding.pop() {
                        phone.handle_input(Input::FetchDone { id: r.id, result: result(kind), server_ip: None }, now);
                    }
                }
                Step::StaleAnswer => {
                    phone.handle_input(Input::FetchDone { id: FetchId(u64::MAX), result: result(0), server_ip: None }, now);
                }
            }
            drain(&mut phone, &mut outstanding, &mut finished);
            prop_assert!(outstanding.len() <= 1, "more than one transfer outstanding: {outstanding:?}");
            started = phone.stats().resyncs_started;
            prop_assert!(finished <= started);
            prop_assert!(started - finished <= 1, "{started} started, {finished} finished");
        }
        let _ = started;
    }
}
