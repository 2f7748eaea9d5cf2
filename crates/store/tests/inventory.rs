//! Store API: add/upsert/show/list/remove, status, events, open errors.

use std::collections::BTreeMap;
use std::net::IpAddr;

#[macro_use]
mod support;
use support::TestDb;

use phoneprov_store::{
    now_ms, EventKind, Mac, NewDevice, NewEvent, Outcome, Store, StoreError, DB_FILE,
};

fn mac(s: &str) -> Mac {
    Mac::parse(s).unwrap()
}

fn dev(m: &str) -> NewDevice {
    let mut d = NewDevice::new(mac(m));
    d.serial = Some("88012BA01234".into());
    d.model = Some("CP-8841-3PCC".into());
    d.group = Some("sales".into());
    d.vars = BTreeMap::from([("user".to_string(), "1001".to_string())]);
    d
}

on_both! {
fn add_show_list_remove(db: &TestDb) {
    let mut store = db.store();
    if let Some(dir) = db.db.sqlite_dir() {
        assert!(dir.join(DB_FILE).is_file());
    }
    let a = store.add_device(&dev("00:0e:08:ab:cd:ef")).unwrap();
    assert_eq!(a.mac.to_string(), "000e08abcdef");
    assert_eq!(a.model.as_deref(), Some("CP-8841-3PCC"));
    assert_eq!(a.vars["user"], "1001");
    assert_eq!(a.key.expose_secret().len(), 32);
    assert_eq!(a.status, Default::default());

    let mut other = dev("000e08000001");
    other.group = Some("support".into());
    store.add_device(&other).unwrap();
    assert!(matches!(
        store.add_device(&dev("000E08ABCDEF")),
        Err(StoreError::Exists(m)) if m == mac("000e08abcdef")
    ));

    let all = store.devices(None).unwrap();
    assert_eq!(
        all.iter().map(|d| d.mac.to_string()).collect::<Vec<_>>(),
        ["000e08000001", "000e08abcdef"],
        "MAC order"
    );
    assert_eq!(store.devices(Some("sales")).unwrap().len(), 1);
    assert_eq!(store.count_devices(Some("support")).unwrap(), 1);
    assert_eq!(store.count_devices(None).unwrap(), 2);

    let shown = store.device(mac("000e08abcdef")).unwrap().unwrap();
    assert_eq!(shown, a);

    assert!(store.remove_device(mac("000e08abcdef")).unwrap());
    assert!(!store.remove_device(mac("000e08abcdef")).unwrap());
    assert!(store.device(mac("000e08abcdef")).unwrap().is_none());
    assert_eq!(store.count_devices(None).unwrap(), 1);
}
}

on_both! {
fn upsert_keeps_key_created_time_and_status(db: &TestDb) {
    let mut store = db.store();
    let (first, created) = store.upsert_device(&dev("000e08abcdef")).unwrap();
    assert!(created);
    let ip: IpAddr = "192.0.2.7".parse().unwrap();
    store
        .record_status(first.mac, ip, Some("11.0"), Some(Outcome::Success))
        .unwrap();
    let mut changed = NewDevice::new(first.mac);
    changed.model = Some("CP-6841-3PCC".into());
    let (second, created) = store.upsert_device(&changed).unwrap();
    assert!(!created);
    assert_eq!(second.key, first.key, "an update keeps the device key");
    assert_eq!(second.created_ms, first.created_ms);
    assert_eq!(second.model.as_deref(), Some("CP-6841-3PCC"));
    assert_eq!(second.serial, None, "fields not given are cleared");
    assert!(second.vars.is_empty());
    assert_eq!(second.status.firmware.as_deref(), Some("11.0"));
}
}

on_both! {
fn keys_differ_between_devices_and_stay_out_of_debug_and_json(db: &TestDb) {
    let mut store = db.store();
    let a = store.add_device(&dev("000e08000001")).unwrap();
    let b = store.add_device(&dev("000e08000002")).unwrap();
    assert_ne!(a.key, b.key);
    let dbg = format!("{a:?}");
    let json = serde_json::to_string(&a).unwrap();
    for text in [&dbg, &json] {
        assert!(!text.contains(a.key.expose_secret()), "{text}");
    }
    assert!(json.contains("\"mac\":\"000e08000001\""), "{json}");
}
}

// R-HTTP-3 (firmware from the User-Agent) and R-RESULT (outcome classes).
on_both! {
fn record_status_updates_and_keeps_unknowns(db: &TestDb) {
    let mut store = db.store();
    let d = store.add_device(&dev("000e08abcdef")).unwrap();
    let before = now_ms();
    store
        .record_status(
            d.mac,
            "192.0.2.1".parse().unwrap(),
            Some("11.0"),
            Some(Outcome::NotFound),
        )
        .unwrap();
    store
        .record_status(d.mac, "2001:db8::5".parse().unwrap(), None, None)
        .unwrap();
    let s = store.device(d.mac).unwrap().unwrap().status;
    assert_eq!(s.ip.as_deref(), Some("2001:db8::5"));
    assert_eq!(
        s.firmware.as_deref(),
        Some("11.0"),
        "None keeps the firmware"
    );
    assert_eq!(
        s.last_outcome,
        Some(Outcome::NotFound),
        "None keeps the outcome"
    );
    assert!(s.last_seen_ms.unwrap() >= before);

    let unknown = mac("000e08999999");
    assert!(matches!(
        store.record_status(unknown, "192.0.2.1".parse().unwrap(), None, None),
        Err(StoreError::NotFound(m)) if m == unknown
    ));
}
}

on_both! {
fn events_keep_the_latest_in_time_order_and_go_with_the_device(db: &TestDb) {
    let mut store = db.store();
    let d = store.add_device(&dev("000e08abcdef")).unwrap();
    let other = mac("000e08000002"); // not in the inventory: still recorded
    let kinds = [
        EventKind::Resync,
        EventKind::Upgrade,
        EventKind::Syslog,
        EventKind::Report,
    ];
    for i in 0..10 {
        let id = store
            .append_event(&NewEvent {
                mac: d.mac,
                at_ms: 1_000 + i,
                kind: kinds[i as usize % 4],
                outcome: (i % 2 == 0).then_some(Outcome::Success),
                source_ip: Some("192.0.2.9".parse().unwrap()),
                message: format!("event {i}"),
            })
            .unwrap();
        assert!(id > 0);
    }
    store
        .append_event(&NewEvent {
            mac: other,
            at_ms: 5,
            kind: EventKind::Syslog,
            outcome: None,
            source_ip: None,
            message: "unknown phone".into(),
        })
        .unwrap();

    let last3 = store.events(d.mac, 3).unwrap();
    let msgs: Vec<&str> = last3.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(msgs, ["event 7", "event 8", "event 9"]);
    assert_eq!(last3[0].kind, EventKind::Report);
    assert_eq!(last3[0].outcome, None);
    assert_eq!(last3[1].outcome, Some(Outcome::Success));
    assert_eq!(last3[2].source_ip.as_deref(), Some("192.0.2.9"));
    assert!(last3[0].id < last3[1].id);
    assert_eq!(store.events(d.mac, 100).unwrap().len(), 10);
    assert_eq!(store.events(other, 100).unwrap().len(), 1);

    store.remove_device(d.mac).unwrap();
    assert!(
        store.events(d.mac, 100).unwrap().is_empty(),
        "rm drops the timeline"
    );
    assert_eq!(store.events(other, 100).unwrap().len(), 1);
}
}

#[test]
fn reopen_sees_data_and_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut store = Store::open(dir.path()).unwrap();
        store.add_device(&dev("000e08abcdef")).unwrap();
    }
    let store = Store::open_existing(dir.path()).unwrap();
    assert_eq!(store.count_devices(None).unwrap(), 1);
    assert_eq!(store.integrity_check().unwrap(), ["ok"]);
    assert!(dir.path().join("phoneprov.db-wal").exists(), "WAL mode");
}

on_both! {
fn two_connections_see_each_others_writes(db: &TestDb) {
    let mut a = db.store();
    let mut b = db.store();
    a.add_device(&dev("000e08000001")).unwrap();
    b.add_device(&dev("000e08000002")).unwrap();
    assert_eq!(a.count_devices(None).unwrap(), 2);
    assert_eq!(b.count_devices(None).unwrap(), 2);
}
}

#[test]
fn open_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let e = Store::open_existing(&missing).unwrap_err();
    assert!(matches!(e, StoreError::NoDatabase { .. }), "{e}");
    assert!(e.to_string().contains("--data DIR"), "{e}");
    assert!(!missing.exists(), "open_existing must not create anything");

    // A data dir below a regular file cannot be created (works as root too).
    let file = dir.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    let e = Store::open(&file.join("data")).unwrap_err();
    assert!(matches!(e, StoreError::CreateDir { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("cannot create data directory") && msg.contains("--data DIR"),
        "{msg}"
    );
    assert!(!msg.contains('\n'));

    // A file that is not a database.
    let junk = dir.path().join("junk");
    std::fs::create_dir(&junk).unwrap();
    std::fs::write(junk.join(DB_FILE), vec![b'j'; 8192]).unwrap();
    let e = Store::open(&junk).unwrap_err();
    assert!(e.to_string().contains("phoneprov.db"), "{e}");
}

on_both! {
fn prune_events_drops_only_old_ones_across_batches(db: &TestDb) {
    let mut store = db.store();
    let m = mac("000e08abcdef");
    // 10 000 is the batch size: 12 000 old events need two batches.
    for i in 0..12_500i64 {
        store
            .append_event(&NewEvent {
                mac: m,
                at_ms: if i < 12_000 { i } else { 1_000_000 + i },
                kind: EventKind::Syslog,
                outcome: None,
                source_ip: None,
                message: format!("{i}"),
            })
            .unwrap();
    }
    assert_eq!(store.prune_events(1_000_000).unwrap(), 12_000);
    let left = store.events(m, usize::MAX).unwrap();
    assert_eq!(left.len(), 500);
    assert_eq!(left[0].message, "12000");
    assert_eq!(store.prune_events(1_000_000).unwrap(), 0);
}
}

on_both! {
fn outcome_counts_group_devices_by_last_outcome(db: &TestDb) {
    let mut store = db.store();
    for m in ["000e08000001", "000e08000002", "000e08000003"] {
        store.add_device(&dev(m)).unwrap();
    }
    let ip: IpAddr = "10.0.0.7".parse().unwrap();
    store
        .record_status(mac("000e08000001"), ip, None, Some(Outcome::Success))
        .unwrap();
    store
        .record_status(mac("000e08000002"), ip, None, Some(Outcome::Corrupt))
        .unwrap();
    let mut got = store.outcome_counts().unwrap();
    got.sort_by_key(|(o, _)| o.map(|o| o.as_str()));
    assert_eq!(
        got,
        [
            (None, 1),
            (Some(Outcome::Corrupt), 1),
            (Some(Outcome::Success), 1)
        ]
    );
}
}

on_both! {
/// A device whose values are equal but for case, or equal to its serial,
/// is saved (add, then upsert): the search index holds each term once.
fn values_equal_but_for_case_are_saved(db: &TestDb) {
    let mut store = db.store();
    let mut d = dev("000e08000077");
    d.serial = Some("FOO".into());
    d.vars = BTreeMap::from([
        ("a".to_string(), "foo".to_string()),
        ("b".to_string(), "Foo".to_string()),
    ]);
    store.add_device(&d).unwrap();
    d.vars.insert("c".into(), "FOO".into());
    let (saved, _) = store.upsert_device(&d).unwrap();
    assert_eq!(saved.vars["b"], "Foo");
    assert_eq!(saved.vars["c"], "FOO");
}
}
