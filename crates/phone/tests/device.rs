//! The composed device on a virtual clock: the scenarios that take hours
//! of phone time (resync schedule, error retry, activation back-off,
//! periodic inform and its back-off, upgrade retry, SIP registration
//! refresh and retry) and SIP NOTIFY (R-RULE-6), each in microseconds.

mod common;

use common::{http, identity, ok_xml, profile, routes};
use phoneprov_httpauth::{authorization, parse_challenges, Credentials};
use phoneprov_phone::activation::{
    ActivationRequest, CodeAnswer, CustomizationState as S, QueryAnswer,
};
use phoneprov_phone::sip::{SipInput, SipTransport};
use phoneprov_phone::*;

type Server = Box<dyn FnMut(&FetchRequest) -> FetchResult>;
type Activation = Box<dyn FnMut(&Action) -> Option<Input>>;

/// A device, its virtual clock, scripted servers and everything it did.
struct Dev {
    dev: Device,
    now: Time,
    server: Server,
    activation: Activation,
    log: Vec<(Time, Action)>,
}

impl Dev {
    fn new(params: &[(&str, &str)], activation: Option<ActivationSetup>) -> Dev {
        Dev::with_tr069(params, activation, None)
    }

    fn with_tr069(
        params: &[(&str, &str)],
        activation: Option<ActivationSetup>,
        tr069: Option<Tr069Setup>,
    ) -> Dev {
        let mut pc = PhoneConfig::new(identity());
        pc.initial_params = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Dev {
            dev: Device::new(DeviceConfig {
                phone: pc,
                activation,
                tr069,
                sip_port: None,
            }),
            now: Time(1_000_000),
            server: Box::new(routes(&[])),
            activation: Box::new(|_| None),
            log: Vec::new(),
        }
    }

    fn input(&mut self, i: Input) {
        self.dev.handle_input(i, self.now);
        self.pump();
    }

    fn pump(&mut self) {
        while let Some(a) = self.dev.poll_action() {
            self.log.push((self.now, a.clone()));
            let answer = match &a {
                Action::Fetch(req) => Some(Input::FetchDone {
                    id: req.id,
                    result: (self.server)(req),
                    server_ip: None,
                }),
                other => (self.activation)(other),
            };
            if let Some(i) = answer {
                self.dev.handle_input(i, self.now);
            }
        }
    }

    fn run_until(&mut self, until: Time) {
        self.pump();
        while let Some(t) = self.dev.poll_timeout() {
            if t > until {
                break;
            }
            self.now = t.max(self.now);
            self.dev.handle_timeout(self.now);
            self.pump();
        }
        self.now = self.now.max(until);
    }

    fn run_for_secs(&mut self, s: u64) {
        self.run_until(self.now.plus_secs(s));
    }

    /// Seconds (from the first) of every fetch of `purpose`.
    fn fetch_secs(&self, firmware: bool) -> Vec<u64> {
        let t: Vec<u64> = self
            .log
            .iter()
            .filter_map(|(t, a)| match a {
                Action::Fetch(r) if (r.purpose == Purpose::Firmware) == firmware => Some(t.0),
                _ => None,
            })
            .collect();
        t.iter().map(|x| (x - t[0]) / 1000).collect()
    }

    fn sip(&mut self, msg: &str) -> String {
        self.input(Input::Sip(SipInput {
            transport: SipTransport::Udp,
            peer: "127.0.0.1:5070".into(),
            conn: 0,
            bytes: msg.as_bytes().to_vec(),
        }));
        self.log
            .iter()
            .rev()
            .find_map(|(_, a)| match a {
                Action::SipResponse(o) => Some(String::from_utf8_lossy(&o.bytes).to_string()),
                _ => None,
            })
            .unwrap_or_default()
    }

    fn refusals(&self) -> Vec<String> {
        self.log
            .iter()
            .filter_map(|(_, a)| match a {
                Action::RequestRefused { reason } => Some(reason.clone()),
                _ => None,
            })
            .collect()
    }
}

const RULE: &str = "http://prov.example.com/p.xml";

#[test]
fn r_timing_resync_schedule_over_a_day() {
    let mut d = Dev::new(
        &[
            ("Profile_Rule", RULE),
            ("Resync_Periodic", "3600"),
            ("Resync_Random_Delay", "0"),
        ],
        None,
    );
    d.server = Box::new(routes(&[(RULE, vec![ok_xml(&profile(&[("GPP_A", "1")]))])]));
    d.input(Input::PowerOn);
    d.run_for_secs(24 * 3600);
    let secs = d.fetch_secs(false);
    assert_eq!(secs.len(), 25, "{secs:?}");
    assert!(secs.windows(2).all(|w| w[1] - w[0] == 3600), "{secs:?}");
    assert_eq!(d.dev.params().get("GPP_A"), Some("1"));
}

#[test]
fn r_result_error_retry_follows_the_delay_list() {
    let mut d = Dev::new(
        &[
            ("Profile_Rule", RULE),
            ("Resync_Error_Retry_Delay", "30,60,120"),
            ("Resync_Random_Delay", "0"),
        ],
        None,
    );
    d.server = Box::new(routes(&[(RULE, vec![http(500, &[], b"")])]));
    d.input(Input::PowerOn);
    d.run_for_secs(1000);
    let secs = d.fetch_secs(false);
    assert_eq!(&secs[..6], &[0, 30, 90, 210, 330, 450], "{secs:?}");
}

#[test]
fn r_act_3_activation_backs_off_60_120_240_then_acquires() {
    let setup = ActivationSetup {
        server: "https://activation.example".into(),
        dhcp_server: false,
        gds_code: None,
        seed: 7,
    };
    let mut d = Dev::new(&[("Resync_Random_Delay", "0")], Some(setup));
    let queries = std::rc::Rc::new(std::cell::Cell::new(0u32));
    let q = queries.clone();
    d.activation = Box::new(move |a| match a {
        Action::Activation(ActivationRequest::Query { mac, .. }) => {
            assert_eq!(mac, "000e08abcdef");
            q.set(q.get() + 1);
            Some(Input::QueryAnswer(if q.get() <= 3 {
                QueryAnswer::Error("connection refused".into())
            } else {
                QueryAnswer::Redirect(RULE.into())
            }))
        }
        _ => None,
    });
    d.server = Box::new(routes(&[(RULE, vec![ok_xml(&profile(&[("GPP_B", "2")]))])]));
    d.input(Input::PowerOn);
    assert!(!d.dev.engine_on(), "the engine waits for activation");
    assert_eq!(d.dev.customization(), Some(S::Pending));
    d.run_for_secs(3600);
    let at: Vec<u64> = d
        .log
        .iter()
        .filter(|(_, a)| matches!(a, Action::Activation(ActivationRequest::Query { .. })))
        .map(|(t, _)| t.0)
        .collect();
    let gaps: Vec<u64> = at.windows(2).map(|w| (w[1] - w[0]) / 1000).collect();
    assert_eq!(gaps.len(), 3, "{gaps:?}");
    for (g, base) in gaps.iter().zip([60u64, 120, 240]) {
        assert!(*g >= base && *g <= base + base / 10, "{gaps:?}");
    }
    assert_eq!(d.dev.customization(), Some(S::Acquired));
    assert!(d.dev.engine_on());
    assert_eq!(d.dev.params().get("GPP_B"), Some("2"));
    assert_eq!(d.dev.params().get("Profile_Rule"), Some(RULE));
    let status = d.dev.status_json();
    assert_eq!(status["activation"]["state"], "Acquired");
    assert_eq!(status["activation"]["queries"], 4);
}

#[test]
fn r_act_gds_code_reboot_and_factory_reset() {
    let setup = ActivationSetup {
        server: "https://activation.example".into(),
        dhcp_server: false,
        gds_code: Some("#1234".into()),
        seed: 1,
    };
    let mut d = Dev::new(&[("Resync_Random_Delay", "0")], Some(setup));
    d.activation = Box::new(|a| match a {
        Action::Activation(ActivationRequest::Query { .. }) => {
            Some(Input::QueryAnswer(QueryAnswer::Unbound))
        }
        Action::Activation(ActivationRequest::SubmitCode { code, .. }) => {
            assert_eq!(code.to_string(), "#1234");
            Some(Input::CodeAnswer(CodeAnswer::Redirect(RULE.into())))
        }
        _ => None,
    });
    d.server = Box::new(routes(&[(RULE, vec![ok_xml(&profile(&[("GPP_C", "3")]))])]));
    d.input(Input::PowerOn);
    d.run_for_secs(10);
    assert_eq!(d.dev.customization(), Some(S::GdsAcquired));
    assert_eq!(d.dev.params().get("GPP_C"), Some("3"));
    // A reboot keeps the final state: no query.
    let before = d.log.len();
    d.input(Input::Reboot);
    d.run_for_secs(10);
    assert!(!d.log[before..]
        .iter()
        .any(|(_, a)| matches!(a, Action::Activation(ActivationRequest::Query { .. }))));
    assert_eq!(d.dev.customization(), Some(S::GdsAcquired));
    // A factory reset forgets it all and asks again.
    d.activation = Box::new(|_| None);
    d.input(Input::FactoryReset);
    assert_eq!(d.dev.customization(), Some(S::Pending));
    assert_ne!(d.dev.params().get("GPP_C"), Some("3"));
    assert!(matches!(
        d.log.last(),
        Some((_, Action::Activation(ActivationRequest::Query { .. })))
    ));
}

#[test]
fn r_upgrade_retry_after_upgrade_error_retry_delay() {
    let fw = "http://fw.example.com/sip88xx.12-0-1.loads";
    let mut d = Dev::new(
        &[
            ("Profile_Rule", RULE),
            ("Resync_Periodic", "0"),
            ("Resync_Random_Delay", "0"),
            ("Upgrade_Rule", fw),
            ("Upgrade_Error_Retry_Delay", "1800"),
        ],
        None,
    );
    d.server = Box::new(routes(&[
        (RULE, vec![ok_xml(&profile(&[]))]),
        (fw, vec![http(503, &[], b"")]),
    ]));
    d.input(Input::PowerOn);
    d.run_for_secs(6 * 3600);
    let secs = d.fetch_secs(true);
    assert!(secs.len() >= 12, "{secs:?}");
    assert!(secs.windows(2).all(|w| w[1] - w[0] == 1800), "{secs:?}");
}

fn notify(event: Option<&str>, extra: &str, body: &str) -> String {
    let ev = event.map(|e| format!("Event: {e}\r\n")).unwrap_or_default();
    format!(
        "NOTIFY sip:000e08abcdef@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1\r\nFrom: <sip:pbx@127.0.0.1>;tag=a\r\nTo: <sip:000e08abcdef@127.0.0.1>\r\nCall-ID: n1@127.0.0.1\r\nCSeq: 1 NOTIFY\r\n{ev}{extra}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn booted(params: &[(&str, &str)]) -> Dev {
    let mut all = vec![
        ("Profile_Rule", RULE),
        ("Resync_Periodic", "0"),
        ("Resync_Random_Delay", "0"),
    ];
    all.extend_from_slice(params);
    let mut d = Dev::new(&all, None);
    d.server = Box::new(routes(&[(RULE, vec![ok_xml(&profile(&[]))])]));
    d.input(Input::PowerOn);
    d.run_for_secs(1);
    d
}

#[test]
fn r_rule_6_notify_check_sync_resyncs() {
    let mut d = booted(&[]);
    let n = d.fetch_secs(false).len();
    let resp = d.sip(&notify(Some("check-sync"), "", ""));
    assert!(resp.starts_with("SIP/2.0 200 OK\r\n"), "{resp}");
    assert!(resp.contains("CSeq: 1 NOTIFY"), "{resp}");
    assert_eq!(d.fetch_secs(false).len(), n + 1, "one resync");
    let resp = d.sip(&notify(Some("resync"), "", ""));
    assert!(resp.starts_with("SIP/2.0 200 OK"), "{resp}");
    assert_eq!(d.fetch_secs(false).len(), n + 2);
    // ;reboot=true reboots; the boot resync follows.
    let boots = d.dev.engine().stats().boots;
    let resp = d.sip(&notify(Some("check-sync;reboot=true"), "", ""));
    assert!(resp.starts_with("SIP/2.0 200 OK"), "{resp}");
    d.run_for_secs(1);
    assert_eq!(d.dev.engine().stats().boots, boots + 1);
    assert_eq!(d.fetch_secs(false).len(), n + 3);
    assert_eq!(d.dev.status_json()["sip"]["notifies"], 3);
}

#[test]
fn r_rule_6_notify_execute_body_runs_its_items() {
    let mut d = booted(&[]);
    let other = "http://other.example.com/x.xml";
    d.server = Box::new(routes(&[(
        other,
        vec![ok_xml(&profile(&[("GPP_D", "4")]))],
    )]));
    let body =
        format!("<CP-8841-3PCCExecute><ExecuteItem URL=\"Resync:{other}\"/></CP-8841-3PCCExecute>");
    let resp = d.sip(&notify(
        Some("check-sync"),
        "Content-Type: application/xml\r\n",
        &body,
    ));
    assert!(resp.starts_with("SIP/2.0 200 OK"), "{resp}");
    assert_eq!(d.dev.params().get("GPP_D"), Some("4"));
    let resp = d.sip(&notify(Some("check-sync"), "", "<oops"));
    assert!(resp.starts_with("SIP/2.0 400"), "{resp}");
}

#[test]
fn r_rule_6_notify_refusals_keep_the_phone_working() {
    let mut d = booted(&[]);
    let n = d.fetch_secs(false).len();
    assert!(d.sip(&notify(None, "", "")).starts_with("SIP/2.0 400"));
    let r = d.sip(&notify(Some("dialog"), "", ""));
    assert!(r.starts_with("SIP/2.0 489 Bad Event"), "{r}");
    assert!(r.contains("Allow-Events: check-sync, resync"), "{r}");
    let r = d.sip("INVITE sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n");
    assert!(r.starts_with("SIP/2.0 405"), "{r}");
    // Malformed: no answer (nobody to send it to), one log line.
    let before = d.log.len();
    d.sip("garbage\r\n\r\n");
    assert!(!d.log[before..]
        .iter()
        .any(|(_, a)| matches!(a, Action::SipResponse(_))));
    // Huge body: 513.
    let huge = notify(Some("check-sync"), "", &"x".repeat(sip::MAX_MESSAGE));
    assert!(d.sip(&huge).starts_with("SIP/2.0 513"));
    let refusals = d.refusals();
    assert_eq!(refusals.len(), 5, "{refusals:?}");
    assert!(refusals
        .iter()
        .any(|r| r.contains("without an Event header")));
    assert!(refusals
        .iter()
        .any(|r| r.contains("malformed request dropped")));
    assert_eq!(d.fetch_secs(false).len(), n, "no resync from any of them");
    // The status shows the count and the last line (no log needed).
    let sip = &d.dev.status_json()["sip"];
    assert_eq!(sip["refused"], 5, "{sip}");
    assert_eq!(sip["last_refused"], refusals[4].as_str(), "{sip}");
    // ... and a good one still works.
    assert!(d
        .sip(&notify(Some("check-sync"), "", ""))
        .starts_with("SIP/2.0 200"));
    // Resync_From_SIP = No: 403.
    d.input(Input::SetParams {
        params: vec![("Resync_From_SIP".into(), "No".into())],
    });
    assert!(d
        .sip(&notify(Some("check-sync"), "", ""))
        .starts_with("SIP/2.0 403"));
}

/// R-SEC-5: with every line on TLS the SIP/UDP port is closed, so a
/// NOTIFY over UDP is dropped without an answer (one refusal line) and
/// changes nothing; `UDP:5060` in `Firewall_Config`, or `Firewall=Disabled`,
/// lets it through. TCP is not filtered (module docs of `security`).
#[test]
fn r_sec_5_firewall_drops_udp_sip_while_no_line_uses_udp() {
    let mut d = booted(&[
        ("SIP_Transport_1_", "TLS"),
        ("Line_Enable_2_", "No"),
        ("Line_Enable_3_", "No"),
        ("Line_Enable_4_", "No"),
        ("Line_Enable_5_", "No"),
    ]);
    let n = d.fetch_secs(false).len();
    let before = d.log.len();
    d.sip(&notify(Some("check-sync"), "", ""));
    assert!(
        !d.log[before..]
            .iter()
            .any(|(_, a)| matches!(a, Action::SipResponse(_))),
        "a firewall drop sends nothing"
    );
    let r = d.refusals();
    assert!(
        r.last()
            .unwrap()
            .contains("dropped by the phone's firewall"),
        "{r:?}"
    );
    assert_eq!(d.fetch_secs(false).len(), n, "no resync");
    assert_eq!(d.dev.status_json()["firewall"]["sip_udp_open"], false);
    // Over TCP the request is answered.
    d.input(Input::Sip(SipInput {
        transport: SipTransport::Tcp,
        peer: "127.0.0.1:5070".into(),
        conn: 3,
        bytes: notify(Some("check-sync"), "", "").into_bytes(),
    }));
    let tcp = d.log.iter().rev().find_map(|(_, a)| match a {
        Action::SipResponse(o) => Some(o.clone()),
        _ => None,
    });
    let tcp = tcp.expect("answered over TCP");
    assert_eq!(tcp.conn, 3);
    assert!(tcp.bytes.starts_with(b"SIP/2.0 200"));
    // Opening the port lets UDP through.
    d.input(Input::SetParams {
        params: vec![("Firewall_Config".into(), "NO_ICMP_PING, UDP:5060".into())],
    });
    assert!(d
        .sip(&notify(Some("check-sync"), "", ""))
        .starts_with("SIP/2.0 200"));
    d.input(Input::SetParams {
        params: vec![
            ("Firewall_Config".into(), "".into()),
            ("Firewall".into(), "Disabled".into()),
        ],
    });
    assert!(d
        .sip(&notify(Some("check-sync"), "", ""))
        .starts_with("SIP/2.0 200"));
    assert_eq!(d.dev.status_json()["firewall"]["sip_udp_open"], true);
}

#[test]
fn r_rule_6_notify_digest_challenge_with_line_1_credentials() {
    let mut d = booted(&[("User_ID_1_", "1001"), ("Password_1_", "s3cret")]);
    let n = d.fetch_secs(false).len();
    let r = d.sip(&notify(Some("check-sync"), "", ""));
    assert!(r.starts_with("SIP/2.0 401"), "{r}");
    let www = r
        .lines()
        .find_map(|l| l.strip_prefix("WWW-Authenticate: "))
        .expect("a challenge");
    let ch = parse_challenges(www).unwrap();
    let uri = "sip:000e08abcdef@127.0.0.1";
    let wrong = authorization(
        &ch[0],
        &Credentials::new("1001", "nope"),
        "NOTIFY",
        uri,
        b"",
        "c1",
        1,
    );
    let r = d.sip(&notify(
        Some("check-sync"),
        &format!("Authorization: {wrong}\r\n"),
        "",
    ));
    assert!(r.starts_with("SIP/2.0 401"), "{r}");
    assert_eq!(
        d.fetch_secs(false).len(),
        n,
        "no resync without the right answer"
    );
    let right = authorization(
        &ch[0],
        &Credentials::new("1001", "s3cret"),
        "NOTIFY",
        uri,
        b"",
        "c2",
        1,
    );
    let r = d.sip(&notify(
        Some("check-sync"),
        &format!("Authorization: {right}\r\n"),
        "",
    ));
    assert!(r.starts_with("SIP/2.0 200"), "{r}");
    assert_eq!(d.fetch_secs(false).len(), n + 1);
    assert!(
        !format!("{:?}", d.log).contains("s3cret"),
        "no secret in actions"
    );
}

/// The executor's side of TR-069 in these tests: every Inform is answered
/// by `answer(n)` (n = 1, 2, ...), its time and events recorded.
fn informs(d: &Dev) -> Vec<(u64, Vec<String>, u32)> {
    d.log
        .iter()
        .filter_map(|(t, a)| match a {
            Action::Inform {
                events,
                retry_count,
            } => Some((
                t.0 / 1000,
                events.iter().map(|e| e.code.as_str().to_string()).collect(),
                *retry_count,
            )),
            _ => None,
        })
        .collect()
}

fn tr069_device(answer: impl Fn(usize) -> Result<(), String> + 'static) -> Dev {
    let setup = Tr069Setup {
        interval_s: 300,
        retry_min_wait_ms: 5_000,
        bootstrapped: false,
    };
    let mut d = Dev::with_tr069(
        &[("Profile_Rule", RULE), ("Resync_Periodic", "0")],
        None,
        Some(setup),
    );
    d.server = Box::new(routes(&[(RULE, vec![ok_xml(&profile(&[]))])]));
    let n = std::cell::Cell::new(0usize);
    d.activation = Box::new(move |a| match a {
        Action::Inform { .. } => {
            n.set(n.get() + 1);
            Some(Input::InformDone(answer(n.get())))
        }
        _ => None,
    });
    d
}

#[test]
fn r_tr69_3_periodic_inform_over_an_hour() {
    let mut d = tr069_device(|_| Ok(()));
    d.input(Input::PowerOn);
    d.run_for_secs(3600);
    let got = informs(&d);
    assert_eq!(got[0].1, ["0 BOOTSTRAP", "1 BOOT"], "{got:?}");
    let t0 = got[0].0;
    let periodic: Vec<u64> = got[1..].iter().map(|(t, _, _)| t - t0).collect();
    assert_eq!(periodic, (1..=12).map(|k| k * 300).collect::<Vec<_>>());
    assert!(
        got[1..]
            .iter()
            .all(|(_, e, r)| e == &["2 PERIODIC"] && *r == 0),
        "{got:?}"
    );
    // A reboot informs 1 BOOT only (no second BOOTSTRAP); a connection
    // request at once.
    d.input(Input::Reboot);
    d.input(Input::ConnectionRequest);
    let got = informs(&d);
    assert_eq!(got[got.len() - 2].1, ["1 BOOT"]);
    assert_eq!(got[got.len() - 1].1, ["6 CONNECTION REQUEST"]);
    assert_eq!(d.dev.status_json()["tr069"]["sessions_ok"], 15);
}

#[test]
fn r_tr69_3_failed_sessions_back_off_and_keep_their_events() {
    // Four failures, then the ACS answers.
    let mut d = tr069_device(|n| {
        if n <= 4 {
            Err(format!("ACS down ({n})"))
        } else {
            Ok(())
        }
    });
    d.input(Input::PowerOn);
    d.run_for_secs(200);
    let got = informs(&d);
    assert_eq!(got.len(), 5, "{got:?}");
    let gaps: Vec<u64> = got.windows(2).map(|w| w[1].0 - w[0].0).collect();
    for (k, g) in gaps.iter().enumerate() {
        let lo = 5u64 << k;
        assert!(
            *g >= lo && *g <= 2 * lo,
            "retry {}: {g} s ({gaps:?})",
            k + 1
        );
    }
    assert_eq!(
        got.iter().map(|x| x.2).collect::<Vec<_>>(),
        [0, 1, 2, 3, 4],
        "RetryCount"
    );
    assert!(
        got.iter().all(|x| x.1 == ["0 BOOTSTRAP", "1 BOOT"]),
        "{got:?}"
    );
    // A connection request during a back-off cuts it short.
    let mut d = tr069_device(|n| if n == 1 { Err("down".into()) } else { Ok(()) });
    d.input(Input::PowerOn);
    d.input(Input::ConnectionRequest);
    let got = informs(&d);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[1].1, ["0 BOOTSTRAP", "1 BOOT", "6 CONNECTION REQUEST"]);
    assert_eq!(got[1].0, got[0].0, "no wait");
}

/// R-SEC-3: a line over TLS registers at power-on, refreshes at half its
/// `Register_Expires_1_` and, after a TLS failure, retries every
/// `Reg_Retry_Intvl`; the status shows each outcome.
#[test]
fn r_sec_3_tls_line_registers_refreshes_and_retries_over_an_hour() {
    use phoneprov_phone::register::{FlowError, LineTransport};
    use phoneprov_phone::sip::SipRequest;
    let mut d = Dev::new(
        &[
            ("Provision_Enable", "No"),
            ("SIP_Transport_1_", "TLS"),
            ("Proxy_1_", "sip.example.com"),
            ("User_ID_1_", "1001"),
            ("Register_Expires_1_", "600"),
            ("Reg_Retry_Intvl", "30"),
        ],
        None,
    );
    let fail = std::rc::Rc::new(std::cell::Cell::new(false));
    let f = fail.clone();
    // The registrar: the flow opens (or its TLS handshake fails), each
    // REGISTER gets a 200.
    d.activation = Box::new(move |a| match a {
        Action::SipOpen(flow) => {
            assert_eq!(
                (flow.host.as_str(), flow.port, flow.line, flow.transport),
                ("sip.example.com", 5061, 1, LineTransport::Tls)
            );
            assert!(flow.validate_name);
            Some(if f.get() {
                Input::SipFlowFailed {
                    flow: flow.id,
                    error: FlowError::Tls("invalid peer certificate: UnknownIssuer".into()),
                }
            } else {
                Input::SipOpened {
                    flow: flow.id,
                    local: "192.0.2.10:40000".into(),
                }
            })
        }
        Action::SipSend { flow, bytes } => {
            let req = SipRequest::parse(bytes).expect("a REGISTER");
            assert_eq!(req.method, "REGISTER");
            Some(Input::SipReceived {
                flow: *flow,
                bytes: req.response(200, "OK", "r", &[]),
            })
        }
        _ => None,
    });
    let secs_of = |d: &Dev, open: bool| -> Vec<u64> {
        let t: Vec<u64> = d
            .log
            .iter()
            .filter(|(_, a)| match a {
                Action::SipOpen(_) => open,
                Action::SipSend { .. } => !open,
                _ => false,
            })
            .map(|(t, _)| t.0)
            .collect();
        t.iter().map(|x| (x - t[0]) / 1000).collect()
    };
    d.input(Input::PowerOn);
    d.run_for_secs(3600);
    // Every REGISTER on one persistent flow (RFC 3261 §18 reuse).
    let secs = secs_of(&d, false);
    assert_eq!(secs.len(), 13, "{secs:?}");
    assert!(secs.windows(2).all(|w| w[1] - w[0] == 300), "{secs:?}");
    assert_eq!(secs_of(&d, true).len(), 1);
    assert_eq!(
        d.dev.status_json()["sip"]["lines"][0]["state"],
        "registered"
    );
    assert!(d.dev.registrations_settled());

    // The connection closes and the TLS handshakes now fail: the line
    // tries a new flow at once, then every Reg_Retry_Intvl.
    fail.set(true);
    d.input(Input::SipFlowFailed {
        flow: 1,
        error: FlowError::Network("sip.example.com:5061: the connection closed".into()),
    });
    let lost = d.dev.status_json()["sip"]["lines"][0]["flow_lost"].clone();
    assert!(
        lost.as_str().unwrap().contains("the connection closed"),
        "{lost}"
    );
    d.run_for_secs(90);
    let secs = secs_of(&d, true);
    let tail: Vec<u64> = secs[1..].windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(tail, vec![30, 30, 30], "{secs:?}");
    let line = &d.dev.status_json()["sip"]["lines"][0];
    assert_eq!(line["state"], "tls error");
    assert_eq!(line["detail"], "invalid peer certificate: UnknownIssuer");
}

/// A NOTIFY that the registrar sends on the line's registration flow (a
/// PBX reaching a phone behind NAT) is decided like one from the
/// listener and answered on that flow; the phone resyncs.
#[test]
fn r_rule_6_notify_on_the_registration_flow_is_answered_on_it() {
    use phoneprov_phone::sip::SipRequest;
    let mut d = Dev::new(
        &[
            ("Profile_Rule", RULE),
            ("Resync_Periodic", "0"),
            ("Resync_Random_Delay", "0"),
            ("SIP_Transport_1_", "TCP"),
            ("Proxy_1_", "pbx.example.com"),
            ("User_ID_1_", "1001"),
        ],
        None,
    );
    d.server = Box::new(routes(&[(RULE, vec![ok_xml(&profile(&[]))])]));
    d.activation = Box::new(|a| match a {
        Action::SipOpen(flow) => Some(Input::SipOpened {
            flow: flow.id,
            local: "192.0.2.10:40000".into(),
        }),
        Action::SipSend { flow, bytes } if bytes.starts_with(b"REGISTER") => {
            let req = SipRequest::parse(bytes).unwrap();
            Some(Input::SipReceived {
                flow: *flow,
                bytes: req.response(200, "OK", "r", &[]),
            })
        }
        _ => None,
    });
    d.input(Input::PowerOn);
    d.run_for_secs(1);
    let flow = d
        .log
        .iter()
        .find_map(|(_, a)| match a {
            Action::SipOpen(f) => Some(f.id),
            _ => None,
        })
        .expect("the line opened a flow");
    assert_eq!(
        d.dev.status_json()["sip"]["lines"][0]["state"],
        "registered"
    );
    let n = d.fetch_secs(false).len();
    d.input(Input::SipReceived {
        flow,
        bytes: notify(Some("check-sync"), "", "").into_bytes(),
    });
    let answer = d
        .log
        .iter()
        .rev()
        .find_map(|(_, a)| match a {
            Action::SipSend { flow: f, bytes } if *f == flow && bytes.starts_with(b"SIP/2.0") => {
                Some(String::from_utf8_lossy(bytes).to_string())
            }
            _ => None,
        })
        .expect("the answer went on the flow");
    assert!(answer.starts_with("SIP/2.0 200 OK\r\n"), "{answer}");
    assert!(answer.contains("CSeq: 1 NOTIFY"), "{answer}");
    assert!(!d
        .log
        .iter()
        .any(|(_, a)| matches!(a, Action::SipResponse(_))));
    assert_eq!(d.fetch_secs(false).len(), n + 1, "one resync");
    assert_eq!(d.dev.status_json()["sip"]["notifies"], 1);
}
