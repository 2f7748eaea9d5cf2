//! The registration machine on a virtual clock: every timer is a
//! [`Time`] the test moves to.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::*;

const UA: &str = "Cisco-CP-8851-3PCC/11.3.1 (000e08aabbcc)";

fn params(extra: &[(&str, &str)]) -> ParamStore {
    let mut p = ParamStore::new();
    for (k, v) in [("Proxy_1_", "sip.example.com:5071"), ("User_ID_1_", "1001")]
        .iter()
        .chain(extra)
    {
        p.set(k, v);
    }
    p
}

/// One line's machine, the actions it asked for, and the phone's clock.
struct Rig {
    p: ParamStore,
    r: Registrations,
    rng: ChaCha8Rng,
    now: Time,
    out: Vec<(Time, Action)>,
}

impl Rig {
    fn new(extra: &[(&str, &str)]) -> Rig {
        let mut rig = Rig {
            p: params(extra),
            r: Registrations::default(),
            rng: ChaCha8Rng::seed_from_u64(7),
            now: Time(0),
            out: Vec::new(),
        };
        let mut out = Vec::new();
        rig.r.update(&rig.p, UA, rig.now, &mut rig.rng, &mut out);
        rig.take(out);
        rig
    }

    fn take(&mut self, out: Vec<Action>) {
        self.out.extend(out.into_iter().map(|a| (self.now, a)));
    }

    /// The id of the last flow opened.
    fn flow(&self) -> u64 {
        self.out
            .iter()
            .rev()
            .find_map(|(_, a)| match a {
                Action::SipOpen(f) => Some(f.id),
                _ => None,
            })
            .expect("a flow was opened")
    }

    fn open(&mut self) {
        let mut out = Vec::new();
        let flow = self.flow();
        self.r.opened(
            flow,
            "192.0.2.10:40000".into(),
            self.now,
            &mut self.rng,
            &mut out,
        );
        self.take(out);
    }

    /// Every REGISTER sent: (time, bytes).
    fn sent(&self) -> Vec<(u64, Vec<u8>)> {
        self.out
            .iter()
            .filter_map(|(t, a)| match a {
                Action::SipSend { bytes, .. } => Some((t.0, bytes.clone())),
                _ => None,
            })
            .collect()
    }

    /// Runs the timers until `until`.
    fn run_until(&mut self, until: u64) {
        while let Some(t) = self.r.poll_timeout().filter(|t| t.0 <= until) {
            self.now = t;
            let mut out = Vec::new();
            self.r.on_timer(&self.p, self.now, &mut self.rng, &mut out);
            self.take(out);
        }
        self.now = Time(until);
    }

    /// The registrar answers the last REGISTER.
    fn answer(&mut self, code: u16, reason: &str, extra: &[(&str, String)]) {
        let (_, last) = self.sent().pop().expect("a REGISTER was sent");
        let req = SipRequest::parse(&last).expect("the REGISTER parses");
        let bytes = req.response(code, reason, "reg", extra);
        let mut out = Vec::new();
        let flow = self.flow();
        self.r
            .received(flow, &bytes, &self.p, self.now, &mut self.rng, &mut out);
        self.take(out);
    }

    fn status(&self) -> serde_json::Value {
        self.r.status()[0].clone()
    }
}

#[test]
fn settings_transport_ports_outbound_proxy_and_timers() {
    let r = wanted(&params(&[("Password_1_", "pw")]), 1, UA).unwrap();
    assert_eq!(r.transport, LineTransport::Udp, "UDP is the default");
    assert_eq!(r.proxy, ("sip.example.com".into(), 5071));
    assert_eq!(r.credentials.unwrap().user, "1001");
    assert_eq!(
        (r.expires, r.t1, r.t2, r.timer_f),
        (3600, 500, 4000, 16_000)
    );
    let t = |v: &str| wanted(&params(&[("SIP_Transport_1_", v)]), 1, UA).unwrap();
    assert_eq!(t("TCP").transport, LineTransport::Tcp);
    assert_eq!(t("AUTO").transport, LineTransport::Udp);
    assert!(t("TLS").validate_name);
    let port = |tr: &str| {
        let p = params(&[("SIP_Transport_1_", tr), ("Proxy_1_", "h")]);
        wanted(&p, 1, UA).unwrap().proxy.1
    };
    assert_eq!((port("UDP"), port("TCP"), port("TLS")), (5060, 5060, 5061));
    let ob = wanted(&params(&[("Outbound_Proxy_1_", "[2001:db8::1]")]), 1, UA).unwrap();
    assert_eq!(ob.outbound, Some(("2001:db8::1".into(), 5060)));
    let blank_f = wanted(&params(&[("SIP_Timer_F", ""), ("SIP_T1", "1")]), 1, UA).unwrap();
    assert_eq!(
        (blank_f.t1, blank_f.t2, blank_f.timer_f),
        (1000, 4000, 64_000)
    );
    for off in [
        ("Proxy_1_", ""),
        ("User_ID_1_", ""),
        ("Line_Enable_1_", "No"),
        ("Register_1_", "No"),
        ("Proxy_1_", "h:x"),
        ("Outbound_Proxy_1_", "h:0"),
    ] {
        assert_eq!(wanted(&params(&[off]), 1, UA), None, "{off:?}");
    }
}

/// RFC 3261 §17.1.2.2 over UDP: timer E from T1 doubling to T2, timer F
/// ends the transaction; then `Reg_Retry_Intvl`.
#[test]
fn udp_retransmits_on_timer_e_and_times_out_on_timer_f() {
    let mut rig = Rig::new(&[]);
    let Some((_, Action::SipOpen(f))) = rig.out.first().cloned() else {
        panic!("{:?}", rig.out)
    };
    assert_eq!(
        (f.transport, f.host.as_str(), f.port, f.validate_name),
        (LineTransport::Udp, "sip.example.com", 5071, true)
    );
    rig.open();
    rig.run_until(16_000);
    let sent = rig.sent();
    let times: Vec<u64> = sent.iter().map(|(t, _)| *t).collect();
    assert_eq!(times, [0, 500, 1500, 3500, 7500, 11_500, 15_500]);
    assert!(
        sent.iter().all(|(_, b)| *b == sent[0].1),
        "same bytes each time"
    );
    let text = String::from_utf8(sent[0].1.clone()).unwrap();
    assert!(
        text.starts_with("REGISTER sip:sip.example.com:5071 SIP/2.0\r\n"),
        "{text}"
    );
    assert!(
        text.contains("Via: SIP/2.0/UDP 192.0.2.10:40000;branch=z9hG4bK"),
        "{text}"
    );
    assert!(
        text.contains("Contact: <sip:1001@192.0.2.10:40000>"),
        "{text}"
    );
    assert!(
        text.contains("To: <sip:1001@sip.example.com:5071>"),
        "{text}"
    );
    let s = rig.status();
    assert_eq!(s["state"], "timeout");
    assert_eq!(s["transmissions"], 7);
    let d = s["detail"].as_str().unwrap();
    assert!(d.contains("sip.example.com:5071 within 16000 ms"), "{d}");
    // The flow closed at timer F (16 s); the retry opened a new one 30 s later.
    rig.run_until(60_000);
    let closes: Vec<u64> = rig
        .out
        .iter()
        .filter(|(_, a)| matches!(a, Action::SipClose { .. }))
        .map(|(t, _)| t.0)
        .collect();
    assert_eq!(closes, [16_000]);
    let opens: Vec<u64> = rig
        .out
        .iter()
        .filter(|(_, a)| matches!(a, Action::SipOpen(_)))
        .map(|(t, _)| t.0)
        .collect();
    assert_eq!(opens, [0, 46_000]);
    assert!(!rig.r.settled(), "registering again");
}

/// A provisional answer moves timer E to T2; a final one stops it.
#[test]
fn provisional_answer_retransmits_every_t2() {
    let mut rig = Rig::new(&[]);
    rig.open();
    rig.run_until(600);
    rig.answer(100, "Trying", &[]);
    rig.run_until(9000);
    let times: Vec<u64> = rig.sent().iter().map(|(t, _)| *t).collect();
    assert_eq!(times, [0, 500, 4600, 8600]);
    rig.answer(200, "OK", &[]);
    rig.run_until(9500);
    assert_eq!(rig.sent().len(), 4);
    assert_eq!(rig.status()["state"], "registered");
}

/// TCP and TLS: one transmission; timer F alone.
#[test]
fn tcp_sends_once_and_times_out_on_timer_f() {
    let mut rig = Rig::new(&[("SIP_Transport_1_", "TCP"), ("SIP_Timer_F", "8")]);
    rig.open();
    rig.run_until(20_000);
    assert_eq!(rig.sent().len(), 1);
    let text = String::from_utf8(rig.sent()[0].1.clone()).unwrap();
    assert!(text.contains("Via: SIP/2.0/TCP "), "{text}");
    assert_eq!(rig.status()["state"], "timeout");
    // A flow that never opens times out the same way.
    let mut rig = Rig::new(&[("SIP_Transport_1_", "TLS")]);
    rig.run_until(16_000);
    let d = rig.status()["detail"].as_str().unwrap().to_string();
    assert!(d.contains("no connection from sip.example.com:5071"), "{d}");
}

/// 401 then 200: the Digest answer goes out in a second transaction (CSeq
/// 2, same Call-ID); the refresh comes at half the granted expiry.
#[test]
fn challenge_then_ok_registers_and_refreshes_at_half_expiry() {
    let mut rig = Rig::new(&[
        ("Auth_ID_1_", "auth1001"),
        ("Password_1_", "secret"),
        ("Register_Expires_1_", "600"),
    ]);
    rig.open();
    let challenge = r#"Digest realm="sip.example.com", nonce="abc123", qop="auth""#;
    rig.answer(
        401,
        "Unauthorized",
        &[("WWW-Authenticate", challenge.into())],
    );
    let sent = rig.sent();
    assert_eq!(sent.len(), 2);
    let first = SipRequest::parse(&sent[0].1).unwrap();
    let second = SipRequest::parse(&sent[1].1).unwrap();
    assert_eq!(second.header("CSeq"), Some("2 REGISTER"));
    assert_eq!(second.header("Call-ID"), first.header("Call-ID"));
    assert_ne!(second.header("Via"), first.header("Via"), "a new branch");
    let auth = second.header("Authorization").unwrap();
    assert!(auth.contains(r#"username="auth1001""#), "{auth}");
    assert!(auth.contains(r#"uri="sip:sip.example.com:5071""#), "{auth}");
    assert!(!auth.contains("secret"));
    // A second challenge is the final answer, not a loop: tested below.
    rig.now = Time(700);
    rig.answer(200, "OK", &[("Expires", "300".into())]);
    let s = rig.status();
    assert_eq!(
        (s["state"].as_str(), s["registrations"].as_u64()),
        (Some("registered"), Some(1))
    );
    assert!(rig.r.settled());
    // The registrar granted 300 s: refresh at 150 s, on the same flow
    // (kept open: the same Contact, no new socket).
    assert_eq!(rig.r.poll_timeout(), Some(Time(150_700)));
    assert!(
        !rig.r.in_flight(),
        "an idle flow is not a REGISTER in flight"
    );
    rig.run_until(150_700);
    assert_eq!(rig.flow(), 1);
    assert!(!rig
        .out
        .iter()
        .any(|(_, a)| matches!(a, Action::SipClose { .. })));
    assert_eq!(
        rig.status()["state"],
        "registered",
        "still registered while refreshing"
    );
    assert!(rig.r.in_flight());
    let third = SipRequest::parse(&rig.sent()[2].1).unwrap();
    assert_eq!(third.header("CSeq"), Some("3 REGISTER"));
    assert_eq!(third.header("Contact"), first.header("Contact"));
    assert_eq!(rig.status()["flows"], 1);
    // A challenge to an answered challenge fails the registration.
    rig.answer(
        401,
        "Unauthorized",
        &[("WWW-Authenticate", challenge.into())],
    );
    rig.answer(
        401,
        "Unauthorized",
        &[("WWW-Authenticate", challenge.into())],
    );
    let s = rig.status();
    assert_eq!(
        (s["state"].as_str(), s["code"].as_u64()),
        (Some("failed"), Some(401))
    );
}

#[test]
fn forbidden_fails_with_its_code_and_retries_after_reg_retry_intvl() {
    let mut rig = Rig::new(&[
        ("Password_1_", "wrong"),
        ("Reg_Retry_Intvl", "45"),
        ("Retry_Reg_RSC", "5??, 403"),
    ]);
    rig.open();
    rig.now = Time(200);
    rig.answer(403, "Forbidden", &[]);
    let s = rig.status();
    assert_eq!(s["state"], "failed");
    assert_eq!(s["code"], 403);
    assert_eq!(s["detail"], "403 Forbidden");
    assert!(rig.r.settled());
    assert!(!rig.r.in_flight());
    assert_eq!(rig.r.poll_timeout(), Some(Time(45_200)));
    // A stray answer for the closed flow changes nothing.
    rig.answer(200, "OK", &[]);
    assert_eq!(rig.status()["state"], "failed");
}

#[test]
fn tls_errors_name_the_setting_and_network_errors_fail() {
    let mut rig = Rig::new(&[("SIP_Transport_1_", "TLS")]);
    let mut out = Vec::new();
    let e = FlowError::Tls("invalid peer certificate: certificate not valid for name \"h\"".into());
    rig.r.flow_failed(rig.flow(), e, &rig.p, Time(10), &mut out);
    let s = rig.status();
    assert_eq!(s["state"], "tls error");
    assert!(s["detail"]
        .as_str()
        .unwrap()
        .contains("TLS_Name_Validate_1_ is Yes"));
    assert_eq!(rig.r.poll_timeout(), Some(Time(30_010)));
    // A TLS 1.3 proxy refuses a phone without a client certificate after
    // the handshake, by an alert.
    let mut rig = Rig::new(&[("SIP_Transport_1_", "TLS")]);
    let e = FlowError::Tls("received fatal alert: CertificateRequired".into());
    rig.r.flow_failed(rig.flow(), e, &rig.p, Time(10), &mut out);
    let d = rig.status()["detail"].as_str().unwrap().to_string();
    assert!(
        d.contains("sip.example.com requires a client certificate"),
        "{d}"
    );
    let mut rig = Rig::new(&[]);
    let e = FlowError::Network("sip.example.com:5071: no address".into());
    rig.r.flow_failed(rig.flow(), e, &rig.p, Time(10), &mut out);
    assert_eq!(rig.status()["state"], "failed");
}

#[test]
fn restricted_domains_refuse_and_settings_changes_restart() {
    // R-SEC-1: a proxy (or outbound proxy) outside the list is refused.
    for (k, v) in [
        ("Proxy_1_", "sip.example.com"),
        ("Outbound_Proxy_1_", "ob.example.org"),
    ] {
        let rig = Rig::new(&[
            ("Restricted_Access_Domains", "example.com"),
            ("Proxy_1_", "pbx.example.com"),
            (k, v),
        ]);
        let refused = k == "Outbound_Proxy_1_";
        assert_eq!(rig.out.is_empty(), refused, "{k}");
        if refused {
            let d = rig.status()["detail"].as_str().unwrap().to_string();
            assert!(d.contains("Outbound_Proxy_1_ refused"), "{d}");
            assert!(rig.r.settled());
        }
    }
    // A change of settings: the old flow closes, a new one opens.
    let mut rig = Rig::new(&[]);
    rig.open();
    let mut out = Vec::new();
    let p = params(&[("SIP_Transport_1_", "TCP")]);
    rig.r.update(&p, UA, Time(5), &mut rig.rng, &mut out);
    assert!(matches!(out[0], Action::SipOpen(ref f) if f.transport == LineTransport::Tcp));
    assert!(out.contains(&Action::SipClose { flow: 1 }));
    // The line turned off: forgotten, its flow closed.
    let mut out = Vec::new();
    rig.r.update(
        &params(&[("Register_1_", "No")]),
        UA,
        Time(6),
        &mut rig.rng,
        &mut out,
    );
    assert_eq!(out, [Action::SipClose { flow: 2 }]);
    assert!(rig.r.status().is_empty());
    assert_eq!(rig.r.poll_timeout(), None);
}

/// RFC 3261 §18 / RFC 5626 in spirit: a registered TCP line keeps its
/// connection; a request on it (the registrar's NOTIFY) is the Device's;
/// the connection lost → the line registers again at once on a new one,
/// and the status says why; a new flow that fails waits `Reg_Retry_Intvl`.
#[test]
fn a_lost_flow_registers_again_and_says_why() {
    let mut rig = Rig::new(&[("SIP_Transport_1_", "TCP"), ("Reg_Retry_Intvl", "40")]);
    rig.open();
    rig.answer(200, "OK", &[("Expires", "600".into())]);
    assert_eq!(rig.status()["state"], "registered");
    assert_eq!(rig.status()["local"], "192.0.2.10:40000");
    assert_eq!(rig.r.flow_peer(1).as_deref(), Some("sip.example.com:5071"));
    assert_eq!(rig.r.flow_peer(2), None);
    rig.now = Time(5000);
    let mut out = Vec::new();
    let closed = FlowError::Network("sip.example.com:5071: the connection closed".into());
    rig.r.flow_failed(1, closed, &rig.p, rig.now, &mut out);
    assert!(
        matches!(out[..], [Action::SipClose { flow: 1 }, Action::SipOpen(ref f)] if f.id == 2),
        "{out:?}"
    );
    rig.take(out);
    let s = rig.status();
    assert_eq!(s["state"], "registering");
    let why = s["flow_lost"].as_str().unwrap();
    assert!(
        why.contains(
            "TCP flow to sip.example.com:5071 lost: sip.example.com:5071: the connection closed"
        ),
        "{why}"
    );
    rig.open();
    rig.answer(200, "OK", &[]);
    let s = rig.status();
    assert_eq!(
        (
            s["state"].as_str(),
            s["flows"].as_u64(),
            s["registrations"].as_u64()
        ),
        (Some("registered"), Some(2), Some(2))
    );
    // Lost again, and the new connection is refused: no loop, a retry
    // after Reg_Retry_Intvl.
    rig.now = Time(9000);
    let mut out = Vec::new();
    rig.r.flow_failed(
        2,
        FlowError::Network("reset".into()),
        &rig.p,
        rig.now,
        &mut out,
    );
    rig.take(out);
    let mut out = Vec::new();
    rig.r.flow_failed(
        3,
        FlowError::Network("refused".into()),
        &rig.p,
        rig.now,
        &mut out,
    );
    rig.take(out);
    assert_eq!(rig.status()["state"], "failed");
    assert_eq!(rig.r.poll_timeout(), Some(Time(49_000)));
}

/// The seeds' rule for a failure answer: a code outside `Retry_Reg_RSC`
/// waits `Reg_Retry_Long_Intvl` (default 1200 s; 0 stops), a code in it
/// `Reg_Retry_Intvl`, a 503 its `Retry-After`.
#[test]
fn a_code_outside_retry_reg_rsc_waits_reg_retry_long_intvl() {
    let at = |extra: &[(&str, &str)], code: u16, headers: &[(&str, String)]| {
        let mut rig = Rig::new(extra);
        rig.open();
        rig.now = Time(1000);
        rig.answer(code, "X", headers);
        assert_eq!(rig.status()["state"], "failed");
        (rig.r.poll_timeout(), rig.status()["detail"].clone())
    };
    assert_eq!(at(&[], 404, &[]).0, Some(Time(1_201_000)), "default 1200 s");
    assert_eq!(
        at(&[("Reg_Retry_Long_Intvl", "600")], 403, &[]).0,
        Some(Time(601_000))
    );
    let rsc = [("Retry_Reg_RSC", "404,5??"), ("Reg_Retry_Intvl", "20")];
    assert_eq!(at(&rsc, 404, &[]).0, Some(Time(21_000)));
    assert_eq!(at(&rsc, 500, &[]).0, Some(Time(21_000)));
    assert_eq!(at(&rsc, 403, &[]).0, Some(Time(1_201_000)));
    let busy = [("Retry-After", "90 (maintenance)".to_string())];
    assert_eq!(at(&[], 503, &busy).0, Some(Time(91_000)));
    let (next, detail) = at(&[("Reg_Retry_Long_Intvl", "0")], 403, &[]);
    assert_eq!(next, None, "0 stops trying");
    assert!(
        detail.as_str().unwrap().contains("not retrying"),
        "{detail}"
    );
    // Without an answer (timer F): Reg_Retry_Intvl, whatever the list.
    let mut rig = Rig::new(&[("SIP_Timer_F", "2"), ("Reg_Retry_Intvl", "7")]);
    rig.open();
    rig.run_until(2000);
    assert_eq!(rig.status()["state"], "timeout");
    assert_eq!(rig.r.poll_timeout(), Some(Time(9000)));
}
