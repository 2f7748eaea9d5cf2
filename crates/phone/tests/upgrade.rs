//! Firmware upgrade paths (R-FLOW-3, R-FLOW-5): enable/disable, $SWVER
//! conditions, Downgrade_Rev_Limit, Upgrade_Error_Retry_Delay, no retry
//! until the rule changes, idle only, multi-stage chains, UpgradeNow.

mod common;
use common::*;
use phoneprov_phone::upgrade::make_image;
use phoneprov_phone::*;

const PROFILE: &str = "http://prov.example/p.xml";

fn img(v: &str) -> FetchResult {
    http(200, &[], &make_image(v, b"\x7fELF..."))
}

fn params(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut v = vec![
        ("Profile_Rule", PROFILE),
        ("Resync_Random_Delay", "0"),
        ("Resync_Periodic", "30"),
    ];
    v.extend_from_slice(extra);
    v
}

fn with_profile(
    mut table: Vec<(&'static str, Vec<FetchResult>)>,
) -> impl FnMut(&FetchRequest) -> FetchResult {
    table.push((PROFILE, vec![ok_xml("<flat-profile/>")]));
    routes(&table)
}

fn firmware_fetches(h: &Harness) -> Vec<(Time, String)> {
    h.fetches()
        .into_iter()
        .filter(|(_, r)| r.purpose == Purpose::Firmware)
        .map(|(t, r)| (t, r.url.to_string()))
        .collect()
}

fn reboots(h: &Harness) -> Vec<String> {
    h.log
        .iter()
        .filter_map(|(_, a)| match a {
            Action::Reboot { new_swver } => Some(new_swver.clone()),
            _ => None,
        })
        .collect()
}

fn upgrade_results(h: &Harness) -> Vec<(bool, bool)> {
    h.log
        .iter()
        .filter_map(|(_, a)| match a {
            Action::UpgradeFinished {
                ok, final_failure, ..
            } => Some((*ok, *final_failure)),
            _ => None,
        })
        .collect()
}

#[test]
fn r_flow_3_upgrade_by_file_name_then_stays() {
    let fw = "http://s.example/sip8841.12-0-1MPP.loads";
    let mut h = Harness::new(
        &params(&[("Upgrade_Rule", fw)]),
        with_profile(vec![(fw, vec![http(200, &[], b"opaque image")])]),
    );
    h.power_on();
    h.run_for_secs(3600);
    assert_eq!(firmware_fetches(&h).len(), 1);
    assert_eq!(reboots(&h), vec!["sip8841.12-0-1MPP"]);
    assert_eq!(h.phone.identity().swver, "sip8841.12-0-1MPP");
    assert_eq!(h.phone.stats().upgrades_ok, 1);
    // The reboot resynced at once (Resync_After_Upgrade_Attempt), and the
    // User-Agent now carries the new version.
    let after: Vec<_> = h
        .fetches()
        .into_iter()
        .filter(|(t, _)| *t == Time(0))
        .collect();
    assert_eq!(after.len(), 3, "profile, firmware, profile after reboot");
    assert_eq!(
        after[2].1.header("User-Agent"),
        Some("Cisco-CP-8841-3PCC/sip8841.12-0-1MPP (000e08abcdef)")
    );
}

#[test]
fn r_flow_3_upgrade_disabled() {
    let fw = "http://s.example/sip8841.12-0-1MPP.loads";
    let mut h = Harness::new(
        &params(&[("Upgrade_Rule", fw), ("Upgrade_Enable", "No")]),
        with_profile(vec![(fw, vec![img("12.0.1")])]),
    );
    h.power_on();
    h.input(Input::UpgradeNow { url: fw.into() });
    h.run_for_secs(600);
    assert!(firmware_fetches(&h).is_empty());
    assert!(h.log.iter().any(
        |(_, a)| matches!(a, Action::RequestRefused { reason } if reason.contains("Upgrade_Enable"))
    ));
}

#[test]
fn r_flow_3_swver_condition() {
    let mut h = Harness::new(
        &params(&[(
            "Upgrade_Rule",
            "($SWVER lt 12.0.0)? http://s.example/fw.loads",
        )]),
        with_profile(vec![("http://s.example/fw.loads", vec![img("12.0.0")])]),
    );
    h.power_on();
    h.run_for_secs(3600);
    assert_eq!(firmware_fetches(&h).len(), 1);
    assert_eq!(h.phone.identity().swver, "12.0.0");
}

#[test]
fn r_flow_3_downgrade_limit_is_final_until_rule_changes() {
    let mut h = Harness::new(
        &params(&[
            ("Upgrade_Rule", "http://s.example/old.loads"),
            ("Downgrade_Rev_Limit", "11.0.0"),
            ("Upgrade_Error_Retry_Delay", "60"),
        ]),
        with_profile(vec![
            ("http://s.example/old.loads", vec![img("10.5.0")]),
            ("http://s.example/new.loads", vec![img("11.5.0")]),
            (
                "http://prov.example/change.xml",
                vec![ok_xml(&profile(&[(
                    "Upgrade_Rule",
                    "http://s.example/new.loads",
                )]))],
            ),
        ]),
    );
    h.power_on();
    h.run_for_secs(3600);
    assert_eq!(firmware_fetches(&h).len(), 1, "final: never retried");
    assert_eq!(upgrade_results(&h), vec![(false, true)]);
    assert_eq!(h.phone.identity().swver, "11.0.1");
    assert!(h
        .phone
        .stats()
        .last_upgrade_error
        .as_deref()
        .unwrap()
        .contains("Downgrade_Rev_Limit"));
    // The rule changes: a new attempt, which succeeds.
    h.input(Input::ResyncNow {
        rule: Some("http://prov.example/change.xml".into()),
        from_host: None,
    });
    h.run_for_secs(60);
    let fw = firmware_fetches(&h);
    assert_eq!(fw.len(), 2);
    assert_eq!(fw[1].1, "http://s.example/new.loads");
    assert_eq!(h.phone.identity().swver, "11.5.0");
}

#[test]
fn r_flow_3_image_without_version_is_final() {
    let mut h = Harness::new(
        &params(&[("Upgrade_Rule", "http://s.example/final.loads")]),
        with_profile(vec![(
            "http://s.example/final.loads",
            vec![http(200, &[], b"no header")],
        )]),
    );
    h.power_on();
    h.run_for_secs(600);
    assert_eq!(firmware_fetches(&h).len(), 1);
    assert_eq!(upgrade_results(&h), vec![(false, true)]);
}

#[test]
fn r_flow_3_retry_after_upgrade_error_retry_delay() {
    let fw = "http://s.example/fw.loads";
    let mut h = Harness::new(
        &params(&[("Upgrade_Rule", fw), ("Upgrade_Error_Retry_Delay", "600")]),
        with_profile(vec![(
            fw,
            vec![http(503, &[], b""), FetchResult::Timeout, img("12.0.0")],
        )]),
    );
    h.power_on();
    h.run_for_secs(3600);
    let t: Vec<u64> = firmware_fetches(&h)
        .iter()
        .map(|(t, _)| t.0 / 1000)
        .collect();
    assert_eq!(
        t,
        vec![0, 600, 1200],
        "periodic resyncs every 30 s do not retry early"
    );
    assert_eq!(
        upgrade_results(&h),
        vec![(false, false), (false, false), (true, false)]
    );
    assert_eq!(h.phone.identity().swver, "12.0.0");
}

#[test]
fn r_flow_3_retry_delay_zero_means_no_retry() {
    let fw = "http://s.example/fw.loads";
    let mut h = Harness::new(
        &params(&[("Upgrade_Rule", fw), ("Upgrade_Error_Retry_Delay", "0")]),
        with_profile(vec![(fw, vec![http(500, &[], b"")])]),
    );
    h.power_on();
    h.run_for_secs(3600);
    assert_eq!(firmware_fetches(&h).len(), 1);
    assert_eq!(upgrade_results(&h), vec![(false, true)]);
}

#[test]
fn r_flow_5_upgrade_only_when_idle() {
    let fw = "http://s.example/fw.loads";
    let mut h = Harness::new(
        &params(&[
            ("Upgrade_Rule", fw),
            ("Forced_Resync_Delay", "10"),
            ("Resync_Periodic", "0"),
        ]),
        with_profile(vec![(fw, vec![img("12.0.0")])]),
    );
    h.input(Input::PowerOn); // boot resync due at 0 s, not run yet
    h.input(Input::CallStarted);
    h.run_for_secs(99);
    // The boot resync was forced at 10 s; the upgrade waits for idle.
    assert_eq!(h.fetches().len(), 1);
    assert_eq!(h.fetches()[0].0, Time::from_secs(10));
    assert!(firmware_fetches(&h).is_empty());
    h.run_for_secs(1);
    h.input(Input::CallEnded);
    assert_eq!(
        firmware_fetches(&h),
        vec![(Time::from_secs(100), fw.to_string())]
    );
}

#[test]
fn r_flow_5_multi_stage_upgrade_three_hops_then_stop() {
    let rule = "($SWVER lt 11.0.1)? http://s/stage1.loads | ($SWVER lt 12.0.1)? http://s/stage2.loads | http://s/final.loads";
    let mut h = Harness::with_config(
        &params(&[("Upgrade_Rule", rule), ("Resync_Periodic", "3600")]),
        |c| c.identity.swver = "10.0.0".into(),
        with_profile(vec![
            ("http://s/stage1.loads", vec![img("11.0.1")]),
            ("http://s/stage2.loads", vec![img("12.0.1")]),
            ("http://s/final.loads", vec![img("12.5.0")]),
        ]),
    );
    h.power_on();
    h.run_until(Time(DAY_MS));
    let urls: Vec<String> = firmware_fetches(&h).into_iter().map(|(_, u)| u).collect();
    assert_eq!(
        urls,
        vec![
            "http://s/stage1.loads",
            "http://s/stage2.loads",
            "http://s/final.loads"
        ]
    );
    assert_eq!(reboots(&h), vec!["11.0.1", "12.0.1", "12.5.0"]);
    assert_eq!(h.phone.identity().swver, "12.5.0");
    assert!(h.classes().len() >= 24, "periodic resyncs went on");
}

#[test]
fn r_flow_3_upgrade_now_and_execute_item() {
    let mut h = Harness::new(
        &params(&[("Resync_Periodic", "0")]),
        with_profile(vec![("http://s/x.loads", vec![img("13.0.0")])]),
    );
    h.power_on();
    let items = parse_execute_xml(r#"<CP-8841-3PCCExecute><ExecuteItem URL="Upgrade:http://s/x.loads"/></CP-8841-3PCCExecute>"#).unwrap();
    h.input(items[0].to_input(None).unwrap());
    assert_eq!(reboots(&h), vec!["13.0.0"]);
}

#[test]
fn r_log_upgrade_messages() {
    let mut h = Harness::new(
        &params(&[
            ("Upgrade_Rule", "http://s/x.loads"),
            ("Syslog_Server", "10.0.0.5:514"),
            ("Log_Request_Msg", ""),
            ("Log_Success_Msg", ""),
        ]),
        with_profile(vec![("http://s/x.loads", vec![img("13.0.0")])]),
    );
    h.power_on();
    let logs = h.syslogs();
    assert_eq!(
        logs,
        vec![
            "CP-8841-3PCC 00:0e:08:ab:cd:ef -- Requesting upgrade http://s:80/x.loads",
            "CP-8841-3PCC 00:0e:08:ab:cd:ef -- Successful upgrade http://s:80/x.loads",
        ]
    );
}

#[test]
fn r_flow_5_install_waits_for_a_call_that_started_during_download() {
    let fw = "http://s/x.loads";
    let mut cfg = PhoneConfig::new(identity());
    cfg.initial_params = vec![
        ("Profile_Rule".into(), "#".into()),
        ("Upgrade_Rule".into(), fw.into()),
        ("Resync_Random_Delay".into(), "0".into()),
    ];
    let mut phone = Phone::new(cfg);
    phone.handle_input(Input::PowerOn, Time(0));
    phone.handle_timeout(Time(0));
    let mut fetch = None;
    while let Some(a) = phone.poll_action() {
        if let Action::Fetch(r) = a {
            fetch = Some(r);
        }
    }
    let fetch = fetch.expect("firmware fetch");
    assert_eq!(fetch.purpose, Purpose::Firmware);
    // A call starts while the image downloads.
    phone.handle_input(Input::CallStarted, Time(1000));
    phone.handle_input(
        Input::FetchDone {
            id: fetch.id,
            result: img("12.0.0"),
            server_ip: None,
        },
        Time(2000),
    );
    assert!(std::iter::from_fn(|| phone.poll_action()).all(|a| !matches!(a, Action::Reboot { .. })));
    assert_eq!(phone.status_json()["state"], "install-pending");
    assert_eq!(phone.identity().swver, "11.0.1");
    phone.handle_input(Input::CallEnded, Time(9000));
    let actions: Vec<Action> = std::iter::from_fn(|| phone.poll_action()).collect();
    assert!(
        actions.contains(&Action::Reboot {
            new_swver: "12.0.0".into()
        }),
        "{actions:?}"
    );
    assert_eq!(phone.identity().swver, "12.0.0");
}
