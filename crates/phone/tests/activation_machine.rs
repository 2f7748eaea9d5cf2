//! R-ACT: every customization state × every input against the transition
//! table documented in `phoneprov_phone::activation::machine`.
//!
//! Each state is reached by its canonical path from a fresh phone (two
//! sub-states each for Pending and GDS-Pending: waiting for an answer, or
//! with a retry armed / a URL known), then one input is fed, and the
//! resulting state and the kinds of outputs are compared with the table.
//! Output kinds: Q query, C submit code, A apply URL and resync, R schedule
//! retry, X cancel retry, I code invalid.

use phoneprov_phone::activation::{
    is_gds_rule, ActivationId as PhoneIdentity, ActivationRequest, BackoffPolicy, CodeAnswer,
    CustomizationMachine, CustomizationState as S, Input, Output, Persisted, QueryAnswer,
};
use phoneprov_phone::Time;

const URL: &str = "https://prov.example.com/$MA.xml";
const FAR: Time = Time(1 << 40); // later than any retry

fn phone() -> CustomizationMachine {
    CustomizationMachine::new(
        PhoneIdentity {
            mac: "000e08abcdef".into(),
            model: "CP-8841-3PCC".into(),
            serial: "88012BA01234".into(),
        },
        BackoffPolicy::default(),
        42,
    )
}

fn inputs() -> Vec<(&'static str, Input)> {
    vec![
        ("boot+dhcp", Input::Boot { dhcp_server: true }),
        ("boot", Input::Boot { dhcp_server: false }),
        (
            "q:url",
            Input::QueryAnswer(QueryAnswer::Redirect(URL.into())),
        ),
        ("q:unbound", Input::QueryAnswer(QueryAnswer::Unbound)),
        (
            "q:error",
            Input::QueryAnswer(QueryAnswer::Error("reset".into())),
        ),
        ("resync:ok", Input::ResyncResult { ok: true }),
        ("resync:fail", Input::ResyncResult { ok: false }),
        ("manual", Input::ManualProvisioning),
        ("gds:16", Input::GdsCode("1234567812345678".into())),
        ("gds:#short", Input::GdsCode("#123".into())),
        ("gds:bad", Input::GdsCode("12".into())),
        ("c:url", Input::CodeAnswer(CodeAnswer::Redirect(URL.into()))),
        ("c:rejected", Input::CodeAnswer(CodeAnswer::Rejected)),
        (
            "c:error",
            Input::CodeAnswer(CodeAnswer::Error("timeout".into())),
        ),
        ("factory-reset", Input::FactoryReset),
        ("retry-timer", Input::RetryTimer),
    ]
}

/// Canonical paths to each (sub-)state.
fn setup(name: &str) -> CustomizationMachine {
    let mut m = phone();
    let feed: Vec<Input> = match name {
        "open" => vec![],
        "aborted" => vec![Input::Boot { dhcp_server: true }],
        "pending(query)" => vec![Input::Boot { dhcp_server: false }],
        "pending(retry)" => vec![
            Input::Boot { dhcp_server: false },
            Input::QueryAnswer(QueryAnswer::Error("x".into())),
        ],
        "custom-pending" => vec![
            Input::Boot { dhcp_server: false },
            Input::QueryAnswer(QueryAnswer::Redirect(URL.into())),
        ],
        "acquired" => vec![
            Input::Boot { dhcp_server: false },
            Input::QueryAnswer(QueryAnswer::Redirect(URL.into())),
            Input::ResyncResult { ok: true },
        ],
        "unavailable" => vec![
            Input::Boot { dhcp_server: false },
            Input::QueryAnswer(QueryAnswer::Unbound),
        ],
        "gds-pending(code)" => vec![Input::GdsCode("1234567812345678".into())],
        "gds-pending(resync)" => vec![
            Input::GdsCode("1234567812345678".into()),
            Input::CodeAnswer(CodeAnswer::Redirect(URL.into())),
        ],
        "gds-acquired" => vec![
            Input::GdsCode("#4321".into()),
            Input::CodeAnswer(CodeAnswer::Redirect(URL.into())),
            Input::ResyncResult { ok: true },
        ],
        other => panic!("no setup {other}"),
    };
    for i in feed {
        m.handle(Time(1_000), i);
    }
    m
}

fn kinds(out: &[Output]) -> String {
    out.iter()
        .map(|o| match o {
            Output::Request(ActivationRequest::Query { .. }) => 'Q',
            Output::Request(ActivationRequest::SubmitCode { .. }) => 'C',
            Output::ApplyProfileRule { .. } => 'A',
            Output::ScheduleRetry { .. } => 'R',
            Output::CancelRetry => 'X',
            Output::CodeInvalid(_) => 'I',
        })
        .collect()
}

/// The documented table. One row per (sub-)state, one cell per input in
/// the order of `inputs()`: `(state after, output kinds)`. Columns, four
/// per line: boot+dhcp, boot, q:url, q:unbound / q:error, resync:ok,
/// resync:fail, manual / gds:16, gds:#short, gds:bad, c:url / c:rejected,
/// c:error, factory-reset, retry-timer.
type Row = (&'static str, S, [(S, &'static str); 16]);

#[rustfmt::skip]
const TABLE: &[Row] = {
    use S::*;
    &[
        ("open", Open, [
            (Aborted, ""), (Pending, "Q"), (Open, ""), (Open, ""),
            (Open, ""), (Open, ""), (Open, ""), (Aborted, ""),
            (GdsPending, "C"), (GdsPending, "C"), (Open, "I"), (Open, ""),
            (Open, ""), (Open, ""), (Open, ""), (Open, ""),
        ]),
        ("aborted", Aborted, [
            (Aborted, ""), (Aborted, ""), (Aborted, ""), (Aborted, ""),
            (Aborted, ""), (Aborted, ""), (Aborted, ""), (Aborted, ""),
            (Aborted, ""), (Aborted, ""), (Aborted, ""), (Aborted, ""),
            (Aborted, ""), (Aborted, ""), (Open, ""), (Aborted, ""),
        ]),
        ("pending(query)", Pending, [
            (Aborted, ""), (Pending, "Q"), (CustomPending, "A"), (Unavailable, "R"),
            (Pending, "R"), (Pending, ""), (Pending, ""), (Aborted, ""),
            (GdsPending, "C"), (GdsPending, "C"), (Pending, "I"), (Pending, ""),
            (Pending, ""), (Pending, ""), (Open, ""), (Pending, ""),
        ]),
        ("pending(retry)", Pending, [
            (Aborted, "X"), (Pending, "XQ"), (Pending, ""), (Pending, ""),
            (Pending, ""), (Pending, ""), (Pending, ""), (Aborted, "X"),
            (GdsPending, "XC"), (GdsPending, "XC"), (Pending, "I"), (Pending, ""),
            (Pending, ""), (Pending, ""), (Open, "X"), (Pending, "Q"),
        ]),
        ("custom-pending", CustomPending, [
            (Aborted, ""), (CustomPending, "A"), (CustomPending, ""), (CustomPending, ""),
            (CustomPending, ""), (Acquired, ""), (Pending, "R"), (Aborted, ""),
            (CustomPending, ""), (CustomPending, ""), (CustomPending, ""), (CustomPending, ""),
            (CustomPending, ""), (CustomPending, ""), (Open, ""), (CustomPending, ""),
        ]),
        ("acquired", Acquired, [
            (Acquired, ""), (Acquired, ""), (Acquired, ""), (Acquired, ""),
            (Acquired, ""), (Acquired, ""), (Acquired, ""), (Acquired, ""),
            (Acquired, ""), (Acquired, ""), (Acquired, ""), (Acquired, ""),
            (Acquired, ""), (Acquired, ""), (Open, ""), (Acquired, ""),
        ]),
        ("unavailable", Unavailable, [
            (Aborted, "X"), (Pending, "XQ"), (Unavailable, ""), (Unavailable, ""),
            (Unavailable, ""), (Unavailable, ""), (Unavailable, ""), (Aborted, "X"),
            (GdsPending, "XC"), (GdsPending, "XC"), (Unavailable, "I"), (Unavailable, ""),
            (Unavailable, ""), (Unavailable, ""), (Open, "X"), (Pending, "Q"),
        ]),
        ("gds-pending(code)", GdsPending, [
            (Aborted, ""), (Pending, "Q"), (GdsPending, ""), (GdsPending, ""),
            (GdsPending, ""), (GdsPending, ""), (GdsPending, ""), (Aborted, ""),
            (GdsPending, ""), (GdsPending, ""), (GdsPending, ""), (GdsPending, "A"),
            (Pending, "R"), (Pending, "R"), (Open, ""), (GdsPending, ""),
        ]),
        ("gds-pending(resync)", GdsPending, [
            (Aborted, ""), (GdsPending, "A"), (GdsPending, ""), (GdsPending, ""),
            (GdsPending, ""), (GdsAcquired, ""), (Pending, "R"), (Aborted, ""),
            (GdsPending, ""), (GdsPending, ""), (GdsPending, ""), (GdsPending, ""),
            (GdsPending, ""), (GdsPending, ""), (Open, ""), (GdsPending, ""),
        ]),
        ("gds-acquired", GdsAcquired, [
            (GdsAcquired, ""), (GdsAcquired, ""), (GdsAcquired, ""), (GdsAcquired, ""),
            (GdsAcquired, ""), (GdsAcquired, ""), (GdsAcquired, ""), (GdsAcquired, ""),
            (GdsAcquired, ""), (GdsAcquired, ""), (GdsAcquired, ""), (GdsAcquired, ""),
            (GdsAcquired, ""), (GdsAcquired, ""), (Open, ""), (GdsAcquired, ""),
        ]),
    ]
};

#[test]
fn r_act_every_state_times_every_input_follows_the_table() {
    let mut failures = Vec::new();
    let mut covered = std::collections::HashSet::new();
    for (setup_name, start, row) in TABLE {
        for ((input_name, input), (want_state, want_out)) in inputs().into_iter().zip(row) {
            let mut m = setup(setup_name);
            assert_eq!(m.state(), *start, "setup {setup_name} reaches {start}");
            covered.insert(*start);
            let out = m.handle(FAR, input);
            let got = (m.state(), kinds(&out));
            if got != (*want_state, want_out.to_string()) {
                failures.push(format!(
                    "{setup_name} + {input_name}: got {} {:?}, table says {} {:?}",
                    got.0, got.1, want_state, want_out
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(covered.len(), S::ALL.len(), "every state has a row");
}

/// R-ACT-1: after Acquired, GDS-Acquired or Aborted nothing but a factory
/// reset makes the phone talk to the activation server again.
#[test]
fn r_act_1_no_activation_traffic_after_final_states_until_factory_reset() {
    for setup_name in ["aborted", "acquired", "gds-acquired"] {
        let mut m = setup(setup_name);
        for _ in 0..3 {
            for (name, input) in inputs() {
                if matches!(input, Input::FactoryReset) {
                    continue;
                }
                let out = m.handle(FAR, input);
                assert!(
                    !out.iter().any(|o| matches!(o, Output::Request(_))),
                    "{setup_name} + {name}: {out:?}"
                );
            }
        }
        m.handle(FAR, Input::FactoryReset);
        assert_eq!(m.state(), S::Open);
        let out = m.handle(FAR, Input::Boot { dhcp_server: false });
        assert!(
            matches!(out[..], [Output::Request(ActivationRequest::Query { .. })]),
            "{out:?}"
        );
    }
}

/// R-ACT-3: retries follow the backoff schedule; a timer fired early is ignored.
#[test]
fn r_act_3_retries_back_off_and_early_timers_are_ignored() {
    let policy = BackoffPolicy {
        jitter: 0.0,
        ..BackoffPolicy::default()
    };
    let mut m = CustomizationMachine::new(
        PhoneIdentity {
            mac: "000e08000001".into(),
            model: "CP-6841-3PCC".into(),
            serial: "S1".into(),
        },
        policy,
        1,
    );
    let mut now = Time(0);
    m.handle(now, Input::Boot { dhcp_server: false });
    let mut delays = Vec::new();
    for _ in 0..8 {
        let out = m.handle(now, Input::QueryAnswer(QueryAnswer::Error("down".into())));
        let [Output::ScheduleRetry { at }] = out[..] else {
            panic!("{out:?}")
        };
        delays.push((at.0 - now.0) / 1000);
        assert!(
            m.handle(Time(at.0 - 1), Input::RetryTimer).is_empty(),
            "early timer"
        );
        now = at;
        let out = m.handle(now, Input::RetryTimer);
        assert!(
            matches!(out[..], [Output::Request(ActivationRequest::Query { .. })]),
            "{out:?}"
        );
    }
    assert_eq!(delays, [60, 120, 240, 480, 960, 1920, 3600, 3600]);
    // A redirect is not the end of activation: the exponent keeps growing
    // until a final state; a factory reset starts again at 60 s.
    m.handle(now, Input::QueryAnswer(QueryAnswer::Redirect(URL.into())));
    let out = m.handle(now, Input::ResyncResult { ok: false });
    assert_eq!(m.state(), S::Pending, "Custom Pending -> Pending");
    assert!(matches!(out[..], [Output::ScheduleRetry { at }] if at.0 - now.0 == 3_600_000));
    m.handle(FAR, Input::FactoryReset);
    m.handle(FAR, Input::Boot { dhcp_server: false });
    let out = m.handle(FAR, Input::QueryAnswer(QueryAnswer::Unbound));
    assert!(
        matches!(out[..], [Output::ScheduleRetry { at }] if at.0 - FAR.0 == 60_000),
        "{out:?}"
    );
}

/// A reboot keeps the state: the persisted form round-trips through JSON
/// and a restored phone resumes (Custom Pending resyncs its URL again;
/// Acquired stays silent).
#[test]
fn persisted_state_survives_a_reboot() {
    let id = PhoneIdentity {
        mac: "000e08abcdef".into(),
        model: "CP-8841-3PCC".into(),
        serial: "88012BA01234".into(),
    };
    for (setup_name, want) in [
        ("custom-pending", "A"),
        ("acquired", ""),
        ("aborted", ""),
        ("unavailable", "XQ"),
        ("gds-pending(resync)", "A"),
    ] {
        let m = setup(setup_name);
        let json = serde_json::to_string(m.persisted()).unwrap();
        let back: Persisted = serde_json::from_str(&json).unwrap();
        assert_eq!(&back, m.persisted());
        let mut r = CustomizationMachine::restore(id.clone(), BackoffPolicy::default(), back);
        assert_eq!(r.state(), m.state());
        let out = r.handle(FAR, Input::Boot { dhcp_server: false });
        assert_eq!(kinds(&out), want, "{setup_name}: {out:?}");
        if want == "A" {
            assert_eq!(
                out.last(),
                Some(&Output::ApplyProfileRule { url: URL.into() })
            );
        }
    }
}

#[test]
fn r_rule_5_gds_rule_detection() {
    assert!(is_gds_rule("gds://"));
    assert!(is_gds_rule(" GDS:// "));
    assert!(!is_gds_rule("https://p.example.com/a.xml"));
    assert!(!is_gds_rule("#gds://"));
    assert!(!is_gds_rule(""));
}
