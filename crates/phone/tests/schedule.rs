//! Every timing form (R-FLOW-5, R-RESULT): periodic plain / list / N+R with
//! Resync_Random_Delay, Resync_At__HHmm_, error retry plain / 0 / backoff,
//! Resync_On_Reset, calls and Forced_Resync_Delay, triggers,
//! Provision_Enable, all on a virtual clock.

mod common;
use common::*;
use phoneprov_phone::*;

const URL: &str = "http://prov.example/p.xml";
const GOOD: &str = "<flat-profile><GPP_A>1</GPP_A></flat-profile>";

fn ok_server() -> impl FnMut(&FetchRequest) -> FetchResult {
    routes(&[(URL, vec![ok_xml(GOOD)])])
}

fn gaps(h: &Harness) -> Vec<u64> {
    let t: Vec<u64> = h.fetches().iter().map(|(t, _)| t.0).collect();
    t.windows(2).map(|w| w[1] - w[0]).collect()
}

#[test]
fn r_result_periodic_plain_with_random_delay_bounds() {
    let mut h = Harness::new(
        &[
            ("Profile_Rule", URL),
            ("Resync_Periodic", "30"),
            ("Resync_Random_Delay", "10"),
        ],
        ok_server(),
    );
    h.power_on();
    h.run_for_secs(3600);
    let first = h.fetches()[0].0;
    assert!(
        first <= Time::from_secs(10),
        "boot resync within Resync_Random_Delay: {first:?}"
    );
    let g = gaps(&h);
    assert!(g.len() >= 80, "{}", g.len());
    assert!(g.iter().all(|&d| (30_000..=40_000).contains(&d)), "{g:?}");
    // The spread is really random, not always the same value.
    assert!(g.iter().any(|&d| d != g[0]));
}

#[test]
fn r_result_periodic_zero_disables() {
    let mut h = Harness::new(
        &[
            ("Profile_Rule", URL),
            ("Resync_Periodic", "0"),
            ("Resync_Random_Delay", "0"),
        ],
        ok_server(),
    );
    h.power_on();
    h.run_for_secs(86_400);
    assert_eq!(h.fetches().len(), 1);
    assert_eq!(h.phone.poll_timeout(), None);
}

#[test]
fn r_result_periodic_list_steps_and_repeats_last() {
    let mut h = Harness::new(
        &[
            ("Profile_Rule", URL),
            ("Resync_Periodic", "10,20,40"),
            ("Resync_Random_Delay", "0"),
        ],
        ok_server(),
    );
    h.power_on();
    h.run_for_secs(200);
    assert_eq!(gaps(&h)[..5], [10_000, 20_000, 40_000, 40_000, 40_000]);
}

#[test]
fn r_result_periodic_n_plus_r() {
    let mut h = Harness::new(
        &[
            ("Profile_Rule", URL),
            ("Resync_Periodic", "100+50"),
            ("Resync_Random_Delay", "0"),
        ],
        ok_server(),
    );
    h.power_on();
    h.run_for_secs(20_000);
    let g = gaps(&h);
    assert!(g.len() > 100);
    assert!(g.iter().all(|&d| (100_000..=150_000).contains(&d)), "{g:?}");
    assert!(g.iter().any(|&d| d > 125_000) && g.iter().any(|&d| d < 125_000));
}

#[test]
fn same_seed_same_schedule() {
    let run = || {
        let mut h = Harness::new(
            &[("Profile_Rule", URL), ("Resync_Periodic", "100+50")],
            ok_server(),
        );
        h.power_on();
        h.run_for_secs(5000);
        gaps(&h)
    };
    assert_eq!(run(), run());
}

#[test]
fn r_flow_5_resync_at_hhmm_daily_with_random_delay() {
    let mut h = Harness::new(
        &[
            ("Profile_Rule", URL),
            ("Resync_On_Reset", "No"),
            ("Resync_Periodic", "0"),
            ("Resync_At__HHmm_", "0230"),
            ("Resync_At_Random_Delay", "600"),
        ],
        ok_server(),
    );
    h.power_on();
    h.run_until(Time(3 * DAY_MS));
    let times: Vec<u64> = h.fetches().iter().map(|(t, _)| t.0).collect();
    assert_eq!(times.len(), 3, "{times:?}");
    for (day, t) in times.iter().enumerate() {
        let at = day as u64 * DAY_MS + 9_000_000;
        assert!((at..=at + 600_000).contains(t), "day {day}: {t}");
    }
}

#[test]
fn r_result_error_retry_plain() {
    let mut h = Harness::new(
        &[
            ("Profile_Rule", URL),
            ("Resync_Error_Retry_Delay", "30"),
            ("Resync_Random_Delay", "0"),
        ],
        routes(&[(URL, vec![http(503, &[], b"")])]),
    );
    h.power_on();
    h.run_for_secs(300);
    assert_eq!(gaps(&h), vec![30_000; 10]);
    assert!(h.classes().iter().all(|c| *c == Class::C));
}

#[test]
fn r_result_error_retry_zero_means_never() {
    let mut h = Harness::new(
        &[
            ("Profile_Rule", URL),
            ("Resync_Error_Retry_Delay", "0"),
            ("Resync_Random_Delay", "0"),
        ],
        routes(&[(URL, vec![http(404, &[], b"")])]),
    );
    h.power_on();
    h.run_for_secs(86_400);
    assert_eq!(h.fetches().len(), 1);
    assert_eq!(h.classes(), vec![Class::B]);
}

#[test]
fn r_result_error_retry_backoff_list_then_success_resets() {
    let mut h = Harness::new(
        &[
            ("Profile_Rule", URL),
            ("Resync_Error_Retry_Delay", "60,120,240"),
            ("Resync_Periodic", "1000"),
            ("Resync_Random_Delay", "0"),
        ],
        routes(&[(
            URL,
            vec![
                http(500, &[], b""),
                http(500, &[], b""),
                http(500, &[], b""),
                http(500, &[], b""),
                http(500, &[], b""),
                ok_xml(GOOD),
                http(500, &[], b""),
            ],
        )]),
    );
    h.power_on();
    h.run_for_secs(60 + 120 + 240 + 240 + 240 + 1000 + 100);
    assert_eq!(
        gaps(&h)[..7],
        [60_000, 120_000, 240_000, 240_000, 240_000, 1_000_000, 60_000]
    );
}

#[test]
fn r_flow_5_resync_on_reset_yes_and_no() {
    let mut h = Harness::new(
        &[
            ("Profile_Rule", URL),
            ("Resync_Periodic", "500"),
            ("Resync_Random_Delay", "5"),
        ],
        ok_server(),
    );
    h.power_on();
    h.run_for_secs(10);
    assert_eq!(h.fetches().len(), 1);
    assert!(h.fetches()[0].0 <= Time::from_secs(5));

    let mut h = Harness::new(
        &[
            ("Profile_Rule", URL),
            ("Resync_On_Reset", "No"),
            ("Resync_Periodic", "500"),
            ("Resync_Random_Delay", "5"),
        ],
        ok_server(),
    );
    h.power_on();
    h.run_for_secs(499);
    assert!(h.fetches().is_empty(), "no boot resync");
    h.run_for_secs(10);
    assert_eq!(h.fetches().len(), 1, "first periodic resync");
    assert!((Time::from_secs(500)..=Time::from_secs(505)).contains(&h.fetches()[0].0));
}

#[test]
fn r_flow_5_call_postpones_until_call_ends() {
    let mut h = Harness::new(
        &[
            ("Profile_Rule", URL),
            ("Resync_Periodic", "100"),
            ("Resync_Random_Delay", "0"),
        ],
        ok_server(),
    );
    h.power_on();
    assert_eq!(h.fetches().len(), 1);
    h.input(Input::CallStarted);
    h.run_for_secs(150); // periodic due at 100 s: postponed
    assert_eq!(h.fetches().len(), 1);
    assert_eq!(h.phone.status_json()["state"], "in-call");
    assert_eq!(h.phone.status_json()["pending_resync"], true);
    h.input(Input::CallEnded);
    assert_eq!(h.fetches().len(), 2);
    assert_eq!(h.fetches()[1].0, Time::from_secs(150));
}

#[test]
fn r_flow_5_forced_resync_delay_forces_during_a_long_call() {
    let mut h = Harness::new(
        &[
            ("Profile_Rule", URL),
            ("Resync_Periodic", "100"),
            ("Resync_Random_Delay", "0"),
            ("Forced_Resync_Delay", "300"),
        ],
        ok_server(),
    );
    h.power_on();
    h.input(Input::CallStarted);
    h.run_for_secs(1000);
    let t: Vec<Time> = h.fetches().iter().map(|(t, _)| *t).collect();
    // Due at 100, forced at 400; then due at 500, forced at 800.
    assert_eq!(t, vec![Time(0), Time::from_secs(400), Time::from_secs(800)]);
    assert!(h.phone.in_call());
}

#[test]
fn r_flow_5_triggers_fire_on_condition() {
    // Trigger 1 fires when GPP_C becomes "go"; a ResyncNow one-shot rule
    // sets it (rule assignment), the trigger then resyncs the configured
    // rules.
    let mut h = Harness::new(
        &[
            ("Profile_Rule", URL),
            ("Resync_Periodic", "0"),
            ("Resync_Random_Delay", "0"),
            ("Resync_Trigger_1", "$C eq go"),
        ],
        routes(&[
            (URL, vec![ok_xml(GOOD)]),
            (
                "http://prov.example/set.xml",
                vec![ok_xml("<flat-profile><GPP_C>go</GPP_C></flat-profile>")],
            ),
        ]),
    );
    h.power_on();
    h.run_for_secs(100);
    assert_eq!(h.fetch_urls(), vec![URL]);
    h.input(Input::ResyncNow {
        rule: Some("http://prov.example/set.xml".into()),
        from_host: None,
    });
    h.run_for_secs(100);
    assert_eq!(
        h.fetch_urls(),
        vec![URL, "http://prov.example/set.xml", URL]
    );
    assert_eq!(h.phone.stats().triggers_fired, 1);
    // Still true: no loop.
    h.run_for_secs(10_000);
    assert_eq!(h.fetches().len(), 3);
}

#[test]
fn r_flow_5_trigger_with_time_macro() {
    // `$PRVTMR ge 300`: resync when the last one is 300 s old (polled).
    let mut h = Harness::new(
        &[
            ("Profile_Rule", URL),
            ("Resync_Periodic", "0"),
            ("Resync_Random_Delay", "0"),
            ("Resync_Trigger_2", "($PRVTMR ge 300)?"),
        ],
        ok_server(),
    );
    h.power_on();
    h.run_for_secs(1000);
    let t: Vec<u64> = h.fetches().iter().map(|(t, _)| t.0 / 1000).collect();
    assert!(t.len() >= 3, "{t:?}");
    for w in t.windows(2) {
        assert!(
            (300..=300 + TRIGGER_POLL_SECS).contains(&(w[1] - w[0])),
            "{t:?}"
        );
    }
}

#[test]
fn r_flow_5_provision_enable_no_stops_everything() {
    let mut h = Harness::new(
        &[
            ("Profile_Rule", URL),
            ("Provision_Enable", "No"),
            ("Resync_Periodic", "10"),
        ],
        ok_server(),
    );
    h.power_on();
    h.input(Input::ResyncNow {
        rule: None,
        from_host: None,
    });
    h.input(Input::UpgradeNow {
        url: "http://s/f.loads".into(),
    });
    h.run_for_secs(86_400);
    assert!(h.fetches().is_empty());
    assert_eq!(h.phone.poll_timeout(), None);
    let refused = h
        .log
        .iter()
        .filter(|(_, a)| matches!(a, Action::RequestRefused { .. }))
        .count();
    assert_eq!(refused, 2);
}

#[test]
fn r_flow_5_provision_disabled_by_a_profile() {
    let mut h = Harness::new(
        &[
            ("Profile_Rule", URL),
            ("Resync_Periodic", "10"),
            ("Resync_Random_Delay", "0"),
        ],
        routes(&[(
            URL,
            vec![ok_xml(
                "<flat-profile><Provision_Enable>No</Provision_Enable></flat-profile>",
            )],
        )]),
    );
    h.power_on();
    h.run_for_secs(1000);
    assert_eq!(h.fetches().len(), 1);
}

#[test]
fn r_flow_5_network_up_resyncs_and_down_waits() {
    let mut h = Harness::new(
        &[
            ("Profile_Rule", URL),
            ("Resync_Periodic", "100"),
            ("Resync_Random_Delay", "0"),
        ],
        ok_server(),
    );
    h.power_on();
    h.input(Input::NetworkDown);
    h.run_for_secs(150);
    assert_eq!(h.fetches().len(), 1, "no fetch while the network is down");
    h.input(Input::NetworkUp);
    assert_eq!(h.fetches().len(), 2);
    assert_eq!(h.fetches()[1].0, Time::from_secs(150));
}

#[test]
fn r_flow_5_a_24_hour_schedule_runs_in_milliseconds() {
    let started = std::time::Instant::now();
    let mut h = Harness::new(
        &[
            ("Profile_Rule", URL),
            ("Resync_Periodic", "30"),
            ("Resync_Random_Delay", "0"),
            ("Resync_At__HHmm_", "1200"),
        ],
        ok_server(),
    );
    h.power_on();
    h.run_until(Time(DAY_MS));
    // 2880 periodic resyncs + the boot one + the daily one (which resets
    // the periodic timer, so the count is approximate): at least 2880.
    let n = h.classes().len();
    assert!((2880..=2883).contains(&n), "{n}");
    assert!(h.classes().iter().all(|c| *c == Class::A));
    // Reported, not asserted (tests must not assert timings).
    eprintln!("24 h of resyncs simulated in {:?}", started.elapsed());
}
