//! The one timeline writer (issue 11): every producer's writes share its
//! group commits, a session write resolves only once committed, status
//! writes are folded, and retention runs on the writer with injected time.

use std::net::IpAddr;
use std::time::Duration;

#[macro_use]
mod support;
use support::TestDb;

use phoneprov_store::{
    AcsRepo, EventKind, InformRecord, InformWrite, Mac, NewDevice, NewEvent, NewTask, Outcome,
    Retention, Seen, SessionWrite, StatusNote, Store, TimelineWriter,
};

fn mac(s: &str) -> Mac {
    Mac::parse(s).unwrap()
}

fn ip() -> IpAddr {
    "192.0.2.7".parse().unwrap()
}

fn seen(m: Mac, message: &str) -> Seen {
    Seen {
        mac: m,
        ip: ip(),
        firmware: Some("12.0.1".into()),
        outcome: Some(Outcome::Success),
        kind: EventKind::Resync,
        message: message.into(),
    }
}

on_both! {
fn every_producer_shares_one_writer_and_sessions_resolve_after_commit(db: &TestDb) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let phone = mac("000e08abcdef");
    let mut store = db.store();
    store.add_device(&NewDevice::new(phone)).unwrap();
    let task = store
        .insert_task(
            &phone.to_string(),
            NewTask {
                method: "FactoryReset",
                rpc: r#"{"rpc":"FactoryReset"}"#,
            },
            "api",
        )
        .unwrap();

    let w = TimelineWriter::for_db(&db.db).unwrap();
    let again = TimelineWriter::for_db(&db.db).unwrap();
    assert_eq!(format!("{w:?}"), format!("{again:?}"));

    // HTTP status (twice the same: folded), syslog event with its status,
    // then an ACS Inform that must be committed when it resolves.
    assert!(w.status(seen(phone, "GET /cfg.xml")));
    assert!(again.status(seen(phone, "GET /cfg.xml")));
    assert!(w.event(
        NewEvent {
            mac: phone,
            at_ms: phoneprov_store::now_ms(),
            kind: EventKind::Syslog,
            outcome: None,
            source_ip: Some(ip()),
            message: "line up".into(),
        },
        Some(StatusNote {
            mac: phone,
            ip: ip(),
            firmware: None,
            outcome: None,
        }),
    ));
    let claimed = rt
        .block_on(w.session(SessionWrite::Inform(InformWrite {
            mac: phone.to_string(),
            clear: false,
            updates: Vec::new(),
            presets: Vec::new(),
            timeline: Some(InformRecord {
                mac: phone,
                ip: ip(),
                firmware: Some("12.0.2".into()),
                event: NewEvent {
                    mac: phone,
                    at_ms: phoneprov_store::now_ms(),
                    kind: EventKind::Inform,
                    outcome: None,
                    source_ip: Some(ip()),
                    message: "Inform [2 PERIODIC]".into(),
                },
            }),
            claim: 4,
        })))
        .unwrap();
    assert_eq!(claimed.iter().map(|c| c.0).collect::<Vec<_>>(), [task]);
    // Read through another connection: the session's rows are committed,
    // and so is everything queued before it.
    let reader = Store::open_existing_db(&db.db).unwrap();
    let kinds: Vec<EventKind> = reader
        .events(phone, 10)
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [EventKind::Resync, EventKind::Syslog, EventKind::Inform],
        "the repeated status was folded"
    );
    let dev = reader.device(phone).unwrap().unwrap();
    assert_eq!(dev.status.firmware.as_deref(), Some("12.0.2"));
    assert_eq!(
        reader
            .task(&phone.to_string(), task)
            .unwrap()
            .unwrap()
            .state,
        "sent"
    );
}
}

on_both! {
fn retention_runs_on_the_writer_with_injected_time(db: &TestDb) {
    let phone = mac("000e08000001");
    let day = 24 * 3600 * 1000;
    let now = 1_000 * day;
    let mut store = db.store();
    let ev = |at_ms, message: &str| NewEvent {
        mac: phone,
        at_ms,
        kind: EventKind::Syslog,
        outcome: None,
        source_ip: None,
        message: message.into(),
    };
    store
        .write_batch(&[], &[ev(now - 91 * day, "old"), ev(now - day, "new")])
        .unwrap();
    let retention = Retention {
        max_age: Some(Duration::from_millis(90 * day as u64)),
        max_per_device: None,
        max_total: None,
        every: Duration::from_secs(3600),
    };
    let w = TimelineWriter::start_db(&db.db, retention).unwrap();
    // A virtual clock 80 days behind `now` prunes nothing.
    assert_eq!(w.prune_now(now - 80 * day).unwrap().by_age, 0);
    let p = w.prune_now(now).unwrap();
    assert_eq!((p.by_age, p.by_count, p.more), (1, 0, false));
    let left: Vec<String> = store
        .events(phone, 10)
        .unwrap()
        .into_iter()
        .map(|e| e.message)
        .collect();
    assert_eq!(left, ["new"]);
}
}
