//! Property tests: the parser never panics on any bytes, and well-formed
//! messages survive format → parse unchanged (RFC 3164 and RFC 5424).
//! The expanded R-LOG-2 default templates always yield their MAC and kind.

use phoneprov_syslog::{classify, find_mac, parse, Format, PhoneLogKind, SdElement, SyslogMessage};
use phoneprov_types::Mac;
use proptest::prelude::*;

fn soup() -> impl Strategy<Value = Vec<u8>> {
    let frag = prop_oneof![
        Just(b"<13>".to_vec()),
        Just(b"<191>".to_vec()),
        Just(b"1 ".to_vec()),
        Just(b"Nov 21 20:00:00 ".to_vec()),
        Just(b"2026-11-21T20:00:00Z ".to_vec()),
        Just(b"- ".to_vec()),
        Just(b"[a b=\"".to_vec()),
        Just(b"\\".to_vec()),
        Just(b"\"]".to_vec()),
        Just(b"]".to_vec()),
        Just(b"tag[1]: ".to_vec()),
        Just("\u{feff}é–".as_bytes().to_vec()),
        Just(b"00:0e:08:ab:cd:ef".to_vec()),
        Just(b"resync failed".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..6),
    ];
    proptest::collection::vec(frag, 0..12).prop_map(|v| v.concat())
}

fn token() -> impl Strategy<Value = String> {
    "[!-~]{1,16}".prop_filter("nil", |t| t != "-")
}

fn msg3164_bare() -> impl Strategy<Value = String> {
    "\\PC{0,40}".prop_filter("would parse as a header", |m| {
        !m.starts_with("1 ") && parse(format!("<0>{m}").as_bytes()).timestamp.is_none()
    })
}

fn rfc3164() -> impl Strategy<Value = SyslogMessage> {
    let month = prop::sample::select(vec![
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]);
    let ts = (month, 1u8..=31, 0u8..24, 0u8..60, 0u8..60)
        .prop_map(|(m, d, h, mi, s)| format!("{m} {d:>2} {h:02}:{mi:02}:{s:02}"));
    let full = (
        0u8..24,
        0u8..8,
        ts,
        "[A-Za-z0-9.-]{1,20}",
        "[A-Za-z0-9_./-]{1,20}",
        proptest::option::of("[0-9]{1,6}"),
        "\\PC{0,40}",
    )
        .prop_map(|(f, s, ts, host, tag, pid, msg)| SyslogMessage {
            facility: f,
            severity: s,
            timestamp: Some(ts),
            hostname: Some(host),
            app_name: Some(tag),
            proc_id: pid,
            msg_id: None,
            structured_data: vec![],
            msg,
            format: Format::Rfc3164,
        });
    let bare = (0u8..24, 0u8..8, msg3164_bare()).prop_map(|(f, s, msg)| SyslogMessage {
        facility: f,
        severity: s,
        timestamp: None,
        hostname: None,
        app_name: None,
        proc_id: None,
        msg_id: None,
        structured_data: vec![],
        msg,
        format: Format::Rfc3164,
    });
    prop_oneof![full, bare]
}

fn sd() -> impl Strategy<Value = Vec<SdElement>> {
    let el = (
        "[A-Za-z0-9@._]{1,12}",
        proptest::collection::vec(("[A-Za-z0-9_.]{1,8}", "\\PC{0,12}"), 0..3),
    )
        .prop_map(|(id, params)| SdElement { id, params });
    proptest::collection::vec(el, 0..3)
}

fn rfc5424() -> impl Strategy<Value = SyslogMessage> {
    (
        (0u8..24, 0u8..8),
        proptest::option::of(token()),
        proptest::option::of(token()),
        proptest::option::of(token()),
        proptest::option::of(token()),
        proptest::option::of(token()),
        sd(),
        "\\PC{0,40}",
    )
        .prop_map(
            |((f, s), ts, host, app, pid, msgid, sd, msg)| SyslogMessage {
                facility: f,
                severity: s,
                timestamp: ts,
                hostname: host,
                app_name: app,
                proc_id: pid,
                msg_id: msgid,
                structured_data: sd,
                msg,
                format: Format::Rfc5424,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn never_panics_on_arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        phoneprov_syslog::fuzz_entry(&data);
        let m = parse(&data);
        prop_assert!(m.facility < 24 && m.severity < 8);
    }

    #[test]
    fn never_panics_on_syslog_soup(data in soup()) {
        phoneprov_syslog::fuzz_entry(&data);
    }

    #[test]
    fn rfc3164_round_trips(m in rfc3164()) {
        let wire = m.to_wire();
        prop_assert_eq!(parse(wire.as_bytes()), m, "wire: {:?}", wire);
    }

    #[test]
    fn rfc5424_round_trips(m in rfc5424(), bom in any::<bool>()) {
        let mut wire = m.to_wire();
        if bom && !m.msg.is_empty() {
            // RFC 5424 §6.4: a UTF-8 message may start with a BOM; it is not part of the text.
            let at = wire.len() - m.msg.len();
            wire.insert(at, '\u{feff}');
        }
        prop_assert_eq!(parse(wire.as_bytes()), m, "wire: {:?}", wire);
    }

    /// R-LOG-2/3: every default template, expanded for any MAC, product and URL.
    #[test]
    fn r_log_templates_classify(
        mac in any::<[u8; 6]>(),
        pn in "[A-Z0-9-]{2,16}",
        path in "/[a-z0-9/._-]{0,20}",
        err in "[a-z ]{0,20}",
        upper in any::<bool>(),
    ) {
        let mac = Mac::from_bytes(mac);
        let b = mac.bytes();
        let colon = format!("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2], b[3], b[4], b[5]);
        let colon = if upper { colon.to_uppercase() } else { colon };
        let url = format!("http://10.1.2.3:80{path}");
        let cases = [
            (format!("{pn} {colon} -- Requesting resync {url}"), PhoneLogKind::ResyncRequest),
            (format!("{pn} {colon} -- Successful resync {url}"), PhoneLogKind::ResyncSuccess),
            (format!("{pn} {colon} -- Resync failed: {err}"), PhoneLogKind::ResyncFailure),
            (format!("{pn} {colon} -- Requesting upgrade {url}"), PhoneLogKind::UpgradeRequest),
            (format!("{pn} {colon} -- Successful upgrade {url} -- {err}"), PhoneLogKind::UpgradeSuccess),
            (format!("{pn} {colon} -- Upgrade failed: {err}"), PhoneLogKind::UpgradeFailure),
        ];
        for (text, kind) in cases {
            let m = parse(format!("<134>{text}").as_bytes());
            prop_assert_eq!(classify(&m.msg), kind, "{}", text);
            prop_assert_eq!(find_mac(&m.msg), Some(mac), "{}", text);
        }
    }
}
