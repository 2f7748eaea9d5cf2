//! The one timeline writer (issue 11): every producer's writes share its
//! group commits, a session write resolves only once committed, status
//! writes are folded, and retention runs on the writer with injected time.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[macro_use]
mod support;
use support::TestDb;

use phoneprov_store::{
    AcsRepo, EventKind, FinishWrite, InformRecord, InformWrite, Mac, NewDevice, NewEvent, NewTask,
    Outcome, Retention, Seen, SessionWrite, StatusNote, Store, TaskState, TimelineWriter,
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

on_both! {
/// The group commit under a load of sessions (which makes the writer
/// linger for bigger groups): every session write, from many sessions at
/// once, resolves only after its rows are committed (another connection
/// sees them at that moment) with its own device's next task (an
/// Inform's claim, then a task result's), and a lone write after the load
/// still resolves.
fn grouped_session_writes_are_acknowledged_only_once_committed(db: &TestDb) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    const DEVICES: usize = 48;
    let macs: Vec<String> = (0..DEVICES).map(|i| format!("0a1e0800{i:04x}")).collect();
    let mut store = db.store();
    let tasks: Vec<Vec<i64>> = macs
        .iter()
        .map(|m| {
            (0..3)
                .map(|_| {
                    store
                        .insert_task(
                            m,
                            NewTask {
                                method: "FactoryReset",
                                rpc: r#"{"rpc":"FactoryReset"}"#,
                            },
                            "api",
                        )
                        .unwrap()
                })
                .collect()
        })
        .collect();
    let w = TimelineWriter::start_db(&db.db, Retention::default()).unwrap();
    let reader = Arc::new(Mutex::new(Store::open_existing_db(&db.db).unwrap()));
    // Wave 0: each session's Inform claims its first task; waves 1 and 2:
    // the result of the task in flight claims the next. The first wave's
    // groups put the writer under load, so the later ones linger.
    for wave in 0..3 {
        let joins: Vec<_> = macs
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let write = if wave == 0 {
                    SessionWrite::Inform(InformWrite {
                        mac: m.clone(),
                        clear: false,
                        updates: Vec::new(),
                        presets: Vec::new(),
                        timeline: None,
                        claim: 1,
                    })
                } else {
                    finish(m, tasks[i][wave - 1], 1)
                };
                let (w, m, reader) = (w.clone(), m.clone(), reader.clone());
                rt.spawn(async move {
                    let claimed = w.session(write).await.unwrap();
                    // Read on a blocking thread (the PostgreSQL client's rule).
                    let ids: Vec<i64> = claimed.iter().map(|c| c.0).collect();
                    let states = tokio::task::spawn_blocking(move || {
                        let r = reader.lock().unwrap();
                        ids.iter()
                            .map(|id| r.task(&m, *id).unwrap().unwrap().state)
                            .collect::<Vec<_>>()
                    })
                    .await
                    .unwrap();
                    (i, claimed, states)
                })
            })
            .collect();
        for j in joins {
            let (i, claimed, states) = rt.block_on(j).unwrap();
            assert_eq!(
                claimed.iter().map(|c| c.0).collect::<Vec<_>>(),
                [tasks[i][wave]],
                "wave {wave}: {} claims its own next task",
                macs[i]
            );
            assert_eq!(states, ["sent"], "committed when acknowledged");
        }
    }
    let last = rt
        .block_on(w.session(finish(&macs[0], tasks[0][2], 4)))
        .unwrap();
    assert!(last.is_empty(), "nothing left to claim: {last:?}");
    let r = reader.lock().unwrap();
    for (m, ids) in macs.iter().zip(&tasks) {
        let done = ids.iter().filter(|id| r.task(m, **id).unwrap().unwrap().state == "done");
        let want = if *m == macs[0] { 3 } else { 2 };
        assert_eq!(done.count(), want, "{m}: every acknowledged result is stored");
    }
}
}

/// A task's result that claims up to `claim` next tasks of `mac`.
fn finish(mac: &str, id: i64, claim: usize) -> SessionWrite {
    SessionWrite::Finish(FinishWrite {
        id,
        state: TaskState::Done,
        result: r#"{"ok":true}"#.into(),
        mac: mac.to_string(),
        updates: Vec::new(),
        deleted_prefix: None,
        claim,
    })
}
