//! The driver's decisions ([`Pacer`]) on a virtual wall clock: what
//! `phoneprov sim` does per phone under `--once`, `--boot-storm` and
//! `--activation-retry-wait`, without sockets or tokio.

mod common;

use common::{http, identity, ok_xml, profile};
use phoneprov_phone::activation::{ActivationRequest, QueryAnswer};
use phoneprov_phone::pacing::{Pacer, RunPolicy, Step};
use phoneprov_phone::upgrade::make_image;
use phoneprov_phone::*;

const RULE: &str = "http://prov.example.com/p.xml";
const FW: &str = "http://fw.example.com/sip88xx.12-0-1.loads";

/// A device, its pacer, a virtual wall clock (ms) and what it did.
struct Run {
    dev: Device,
    pace: Pacer,
    wall: u64,
    /// Fetches the driver holds (in flight or queued).
    fetches: Vec<FetchRequest>,
    log: Vec<(Time, Action)>,
}

impl Run {
    fn new(params: &[(&str, &str)], policy: RunPolicy, act: Option<ActivationSetup>) -> Run {
        let mut pc = PhoneConfig::new(identity());
        pc.seed = 3;
        pc.initial_params = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut dev = Device::new(DeviceConfig {
            phone: pc,
            activation: act,
            tr069: None,
            sip_port: None,
        });
        let mut pace = Pacer::new(policy);
        let wall = 1_000_000;
        pace.input(&mut dev, Input::PowerOn, wall);
        Run {
            dev,
            pace,
            wall,
            fetches: Vec::new(),
            log: Vec::new(),
        }
    }

    /// Takes the device's actions as the driver does.
    fn actions(&mut self) {
        while let Some(a) = self.dev.poll_action() {
            self.pace.on_action(&a);
            if let Action::Fetch(r) = &a {
                self.fetches.push(r.clone());
            }
            self.log.push((self.pace.now(self.wall), a));
        }
    }

    fn step(&mut self) -> Step {
        self.actions();
        self.pace
            .step(&self.dev, self.wall, self.fetches.is_empty())
    }

    fn answer(&mut self, result: FetchResult) {
        let r = self.fetches.remove(0);
        let done = Input::FetchDone {
            id: r.id,
            result,
            server_ip: None,
        };
        self.pace.input(&mut self.dev, done, self.wall);
    }

    /// Waits for the next timer (the wall clock moves by the wait).
    fn wait(&mut self, ms: u64) {
        self.wall += ms;
        self.pace.on_timer(&mut self.dev, self.wall);
    }

    fn resyncs(&self) -> Vec<Class> {
        self.log
            .iter()
            .filter_map(|(_, a)| match a {
                Action::ResyncFinished { class, .. } => Some(*class),
                _ => None,
            })
            .collect()
    }
}

fn once(boot_storm: bool) -> RunPolicy {
    RunPolicy {
        once: true,
        boot_storm,
        inform_attempts: 3,
        ..RunPolicy::default()
    }
}

#[test]
fn boot_storm_fast_forwards_the_boot_resync_and_stops_after_it() {
    let p = [("Profile_Rule", RULE), ("Resync_Random_Delay", "600")];
    let mut r = Run::new(&p, once(true), None);
    let start = r.wall;
    assert_eq!(r.step(), Step::Wait(Some(0)), "the boot timer is due now");
    r.wait(0);
    assert_eq!(r.step(), Step::Wait(None), "the profile fetch is in flight");
    assert_eq!(r.fetches.len(), 1);
    r.answer(ok_xml(&profile(&[("GPP_A", "1")])));
    assert_eq!(r.step(), Step::Stop);
    assert_eq!(r.resyncs(), vec![Class::A]);
    assert_eq!(r.wall, start, "no real time passed");
    assert!(r.pace.skew_ms() > 0, "the phone's clock moved instead");
    assert!(r.pace.skew_ms() <= 600_000);
}

#[test]
fn once_without_boot_storm_keeps_the_boot_spread_then_fast_forwards_a_retry() {
    let p = [
        ("Profile_Rule", RULE),
        ("Resync_Random_Delay", "600"),
        ("Resync_Error_Retry_Delay", "3600"),
    ];
    let mut r = Run::new(&p, once(false), None);
    let Step::Wait(Some(spread)) = r.step() else {
        panic!("a boot timer is armed");
    };
    assert!(spread > 0 && spread <= 600_000, "{spread}");
    assert_eq!(r.pace.skew_ms(), 0, "the boot spread runs in real time");
    r.wait(spread);
    r.step();
    // The phone stops after its first resync, even a failed one.
    r.answer(http(500, &[], b""));
    assert_eq!(r.step(), Step::Stop);
    assert_eq!(r.resyncs(), vec![Class::C]);
    assert_eq!(r.pace.skew_ms(), 0);
}

#[test]
fn daemon_mode_never_moves_the_clock() {
    let p = [
        ("Profile_Rule", RULE),
        ("Resync_Random_Delay", "0"),
        ("Resync_Periodic", "3600"),
    ];
    let mut r = Run::new(&p, RunPolicy::default(), None);
    assert_eq!(r.step(), Step::Wait(Some(0)));
    r.wait(0);
    r.step();
    r.answer(ok_xml(&profile(&[])));
    assert_eq!(r.step(), Step::Wait(Some(3_600_000)), "the periodic resync");
    r.wait(3_600_000);
    r.step();
    assert_eq!(r.fetches.len(), 1, "the second resync started");
    r.answer(ok_xml(&profile(&[])));
    assert_eq!(r.step(), Step::Wait(Some(3_600_000)));
    assert_eq!(r.resyncs(), vec![Class::A, Class::A]);
    assert_eq!(r.pace.skew_ms(), 0);
}

#[test]
fn once_fast_forwards_every_timer_after_boot() {
    // Resync_On_Reset = No: no boot resync; the periodic one is the first.
    let p = [
        ("Profile_Rule", RULE),
        ("Resync_On_Reset", "No"),
        ("Resync_Periodic", "86400"),
    ];
    let mut r = Run::new(&p, once(false), None);
    assert_eq!(r.step(), Step::Wait(Some(0)));
    r.wait(0);
    r.step();
    r.answer(ok_xml(&profile(&[])));
    assert_eq!(r.step(), Step::Stop);
    assert_eq!(r.resyncs(), vec![Class::A]);
    assert!(r.pace.skew_ms() > 0);
}

#[test]
fn once_with_nothing_to_do_ends_when_nobody_can_send_an_input() {
    let p = [("Profile_Rule", RULE), ("Provision_Enable", "No")];
    let mut r = Run::new(&p, once(true), None);
    assert_eq!(r.step(), Step::Wait(None), "a trigger may still come");
    r.pace.inputs_closed();
    assert_eq!(r.step(), Step::Stop);
    assert!(r.resyncs().is_empty());
}

#[test]
fn once_waits_for_the_upgrade_after_the_resync() {
    let p = [
        ("Profile_Rule", RULE),
        ("Resync_Random_Delay", "0"),
        ("Upgrade_Rule", FW),
    ];
    let mut r = Run::new(&p, once(true), None);
    assert_eq!(r.step(), Step::Wait(Some(0)));
    r.wait(0);
    r.step();
    r.answer(ok_xml(&profile(&[])));
    // The firmware fetch follows the resync: not done while it runs, nor
    // while the driver holds no transfer but the upgrade is under way.
    assert!(matches!(r.step(), Step::Wait(_)));
    assert_eq!(r.resyncs(), vec![Class::A]);
    assert_eq!(r.fetches.len(), 1);
    assert_eq!(r.fetches[0].purpose, Purpose::Firmware);
    assert!(matches!(r.pace.step(&r.dev, r.wall, true), Step::Wait(_)));
    r.answer(http(200, &[], &make_image("12.0.1", b"\x7fELF")));
    assert_eq!(r.step(), Step::Stop);
    assert!(r
        .log
        .iter()
        .any(|(_, a)| matches!(a, Action::UpgradeFinished { ok: true, .. })));
}

#[test]
fn activation_retry_wait_jumps_over_the_backoff() {
    let setup = ActivationSetup {
        server: "https://activation.example".into(),
        dhcp_server: false,
        gds_code: None,
        seed: 7,
    };
    let policy = RunPolicy {
        activation_retry_wait_ms: Some(1000),
        ..RunPolicy::default()
    };
    let mut r = Run::new(&[], policy, Some(setup));
    let queries = |r: &Run| {
        r.log
            .iter()
            .filter(|(_, a)| matches!(a, Action::Activation(ActivationRequest::Query { .. })))
            .count()
    };
    for round in 1..=3u64 {
        r.step();
        assert_eq!(queries(&r), round as usize);
        r.pace.input(
            &mut r.dev,
            Input::QueryAnswer(QueryAnswer::Error("connection refused".into())),
            r.wall,
        );
        let before = r.pace.skew_ms();
        // The back-off (60, 120, 240 s) is cut to 1 s of real time.
        assert_eq!(r.step(), Step::Wait(Some(1000)));
        let jumped = r.pace.skew_ms() - before;
        let base = 60_000 << (round - 1);
        assert!(
            jumped + 1000 >= base && jumped + 1000 <= base + base / 10,
            "{round}: {jumped}"
        );
        r.wait(1000);
    }
    r.step();
    assert_eq!(queries(&r), 4);
}
