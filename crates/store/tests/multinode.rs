//! What several `serve` nodes sharing one database rely on (issue 13),
//! each connection standing for a node: a queued ACS task is claimed once
//! whatever the number of claimers, a claim held by a dead session is
//! taken over by the device's next Inform on another connection, an
//! activation code is redeemed once under concurrent redemption, and on
//! PostgreSQL a lost server is [`StoreError::Unavailable`] until it is
//! back, then the same `Store` works again; `sslmode=require` is TLS with
//! a verified certificate.

#[macro_use]
mod support;
use support::TestDb;

use std::collections::BTreeSet;
use std::sync::{Arc, Barrier};

use phoneprov_store::{
    AcsRepo, ActivationRepo, Change, ChangeListener, CodeUse, Database, DeviceChange,
    ImportOptions, InformWrite, Mac, NewDevice, NewTask, NoObserver, SessionWrite, Store,
    StoreError, LISTEN_APPLICATION,
};

const NODES: usize = 4;

fn reboot(mac: &str, store: &mut Store, n: usize) -> Vec<i64> {
    (0..n)
        .map(|i| {
            store
                .insert_task(
                    mac,
                    NewTask {
                        method: "Reboot",
                        rpc: &format!(r#"{{"rpc":"Reboot","command_key":"k{i}"}}"#),
                    },
                    "api",
                )
                .unwrap()
        })
        .collect()
}

on_both! {
    /// Four connections claim the same device's 40 tasks at once, one at
    /// a time: every task is claimed, none twice.
    fn concurrent_claims_take_each_task_once(db: &TestDb) {
        let mac = "0011223344aa";
        let queued = reboot(mac, &mut db.store(), 40);
        let start = Arc::new(Barrier::new(NODES));
        let claimers: Vec<_> = (0..NODES)
            .map(|_| {
                let (mut store, start) = (db.store(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    let mut mine = Vec::new();
                    loop {
                        let got = store.claim_tasks(mac, 1).unwrap();
                        if got.is_empty() {
                            return mine;
                        }
                        mine.extend(got.into_iter().map(|(id, _)| id));
                    }
                })
            })
            .collect();
        let mut all = Vec::new();
        for c in claimers {
            all.extend(c.join().unwrap());
        }
        let unique: BTreeSet<i64> = all.iter().copied().collect();
        assert_eq!(all.len(), unique.len(), "a task was claimed twice: {all:?}");
        assert_eq!(unique, queued.into_iter().collect::<BTreeSet<_>>());
        let reader = db.store();
        for t in reader.tasks(mac, 100).unwrap() {
            assert_eq!((t.state.as_str(), t.attempts), ("sent", 1), "{t:?}");
        }
    }
}

on_both! {
    /// A task sent in a session on "node A" whose node died is taken back
    /// by the device's next Inform on "node B" and sent again there.
    fn a_dead_nodes_claim_is_taken_over_by_the_next_inform(db: &TestDb) {
        let mac = "0011223344bb";
        let mut a = db.store();
        let ids = reboot(mac, &mut a, 1);
        let first = a.claim_tasks(mac, 4).unwrap();
        assert_eq!(first.iter().map(|c| c.0).collect::<Vec<_>>(), ids);
        drop(a); // node A is gone with the task `sent`
        let mut b = db.store();
        let inform = SessionWrite::Inform(InformWrite {
            mac: mac.into(),
            clear: false,
            updates: Vec::new(),
            presets: Vec::new(),
            timeline: None,
            claim: 4,
        });
        let claimed = b.session_writes(&[inform]).pop().unwrap().unwrap();
        assert_eq!(claimed.iter().map(|c| c.0).collect::<Vec<_>>(), ids);
        let row = b.task(mac, ids[0]).unwrap().unwrap();
        assert_eq!((row.state.as_str(), row.attempts), ("sent", 2));
    }
}

on_both! {
    /// Eight phones on eight connections redeem one code at the same
    /// moment: exactly one gets it; the winner asking again still does.
    fn an_activation_code_is_redeemed_once_under_concurrency(db: &TestDb) {
        let now = 1_000_000;
        let code = db
            .store()
            .insert_codes("https://p.example/a.xml", 1, now, now + 60_000, &mut || {
                "1234567890123456".to_string()
            })
            .unwrap()
            .remove(0)
            .code;
        let start = Arc::new(Barrier::new(8));
        let phones: Vec<_> = (0..8u8)
            .map(|i| {
                let (mut store, start, code) = (db.store(), start.clone(), code.clone());
                std::thread::spawn(move || {
                    let mac = Mac::from_bytes([0, 0x0e, 0x08, 0, 0, i]);
                    start.wait();
                    (mac, store.use_code(&code, mac, now + 1).unwrap())
                })
            })
            .collect();
        let results: Vec<(Mac, CodeUse)> = phones.into_iter().map(|p| p.join().unwrap()).collect();
        let winners: Vec<Mac> = results
            .iter()
            .filter(|(_, r)| matches!(r, CodeUse::Granted(_)))
            .map(|(m, _)| *m)
            .collect();
        assert_eq!(winners.len(), 1, "{results:?}");
        assert_eq!(
            results.iter().filter(|(_, r)| *r == CodeUse::Used).count(),
            7,
            "{results:?}"
        );
        let mut s = db.store();
        assert_eq!(
            s.use_code(&code, winners[0], now + 2).unwrap(),
            CodeUse::Granted("https://p.example/a.xml".into())
        );
        assert_eq!(
            s.use_code("0000000000000000", winners[0], now + 2).unwrap(),
            CodeUse::Unknown
        );
    }
}

/// PostgreSQL stopped under a connected `Store`: calls fail with
/// `Unavailable` (one line, what to check), opening fails the same way,
/// and once the server is back the same `Store` answers again (it
/// reconnects by itself). A database that does not exist is a `Connect`
/// error instead: it will not pass by itself.
#[test]
fn a_lost_postgres_is_unavailable_until_it_is_back() {
    let cluster = phoneprov_testpeers::PgCluster::start();
    let db = Database::parse(&cluster.fresh_db()).unwrap();
    let mut store = Store::connect(&db).unwrap();
    let mac = Mac::parse("000e08abcdef").unwrap();
    store.add_device(&NewDevice::new(mac)).unwrap();

    cluster.stop();
    let e = store.device(mac).unwrap_err();
    assert!(matches!(e, StoreError::Unavailable(_)), "{e:?}");
    let line = e.to_string();
    assert!(
        !line.contains('\n') && line.contains("check that PostgreSQL is running"),
        "{line}"
    );
    let e = store.add_device(&NewDevice::new(mac)).unwrap_err();
    assert!(matches!(e, StoreError::Unavailable(_)), "{e:?}");
    let e = Store::connect(&db).unwrap_err();
    assert!(matches!(e, StoreError::Unavailable(_)), "{e:?}");

    cluster.restart();
    assert_eq!(store.device(mac).unwrap().unwrap().mac, mac);
    assert!(store.remove_device(mac).unwrap());

    let nowhere = Database::parse(&cluster.url("no_such_database")).unwrap();
    let e = Store::connect(&nowhere).unwrap_err();
    assert!(matches!(e, StoreError::Connect { .. }), "{e:?}");
    assert!(e.to_string().contains("no_such_database"), "{e}");
}

/// `sslmode=require`: the connection is TLS (rustls) and the server's
/// certificate is verified against `PGSSLROOTCERT`; the store works over
/// it. The same URL against a server without TLS is refused.
#[test]
fn sslmode_require_connects_over_verified_tls() {
    let cluster = phoneprov_testpeers::PgCluster::start();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    let out = std::process::Command::new(phoneprov_testpeers::peer("openssl"))
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ])
        .args(["-days", "2", "-subj", "/CN=127.0.0.1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plain = format!("{}?sslmode=require", cluster.fresh_db());
    let e = Store::connect(&Database::parse(&plain).unwrap()).unwrap_err();
    assert!(
        e.to_string().contains("TLS") || e.to_string().contains("tls"),
        "{e}"
    );

    cluster.enable_tls(&cert, &key);
    // Only this test of the binary asks for TLS, so the variable read at
    // connection time is this test's alone.
    std::env::set_var("PGSSLROOTCERT", &cert);
    let db = Database::parse(&format!("{}?sslmode=require", cluster.fresh_db())).unwrap();
    let mut store = Store::connect(&db).unwrap();
    let mac = Mac::parse("000e08abcdef").unwrap();
    store.add_device(&NewDevice::new(mac)).unwrap();
    assert_eq!(store.device(mac).unwrap().unwrap().mac, mac);
}

/// Collects a listener's notices until `want` is among them (deadline:
/// a slow machine, not a timing claim).
fn heard(listener: &mut ChangeListener, want: DeviceChange) -> Vec<DeviceChange> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut got = Vec::new();
    while !got.contains(&want) {
        assert!(
            std::time::Instant::now() < deadline,
            "waited for {want:?}, heard {got:?}"
        );
        got.extend(
            listener
                .wait(std::time::Duration::from_millis(200))
                .unwrap(),
        );
    }
    got
}

/// Issue 13: every change of a device's rendered fields, made on any
/// connection, reaches a node's listening connection as a notice naming
/// the device (an import: every device); a status write sends none; a
/// cut listening connection is an error, and the next wait reconnects and
/// says "everything" (what was missed meanwhile is unknown).
#[test]
fn change_notices_name_the_device_and_survive_a_cut_connection() {
    let url = phoneprov_testpeers::pg().fresh_db();
    let db = Database::parse(&url).unwrap();
    let mut store = Store::connect(&db).unwrap();
    let mut listener = ChangeListener::open(&db)
        .unwrap()
        .expect("PostgreSQL listens");
    assert_eq!(
        listener.wait(std::time::Duration::from_secs(5)).unwrap(),
        vec![DeviceChange::All],
        "the first wait connects and reports everything"
    );
    let mac = Mac::parse("0011223344cc").unwrap();
    let changed = DeviceChange::Device(mac);

    store.add_device(&NewDevice::new(mac)).unwrap();
    assert_eq!(heard(&mut listener, changed), vec![changed]);

    // The hot path sends nothing: a status write, then a variable change;
    // only the variable change is heard.
    store
        .record_status(mac, "10.0.0.9".parse().unwrap(), Some("12.0"), None)
        .unwrap();
    store
        .set_fields(mac, &[Change::parse("line1=1001").unwrap()])
        .unwrap();
    assert_eq!(heard(&mut listener, changed), vec![changed]);

    store
        .import_csv(
            "mac\n0011223344dd\n".as_bytes(),
            ImportOptions::default(),
            &mut NoObserver,
        )
        .unwrap();
    heard(&mut listener, DeviceChange::All);

    // Cut the listening connection as an operator would.
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let cut = admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name = $1 AND datname = current_database()",
            &[&LISTEN_APPLICATION],
        )
        .unwrap();
    assert_eq!(cut.len(), 1, "one listening connection");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let err = loop {
        match listener.wait(std::time::Duration::from_millis(200)) {
            Err(e) => break e,
            Ok(got) => assert!(got.is_empty(), "nothing changed: {got:?}"),
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the cut was not noticed"
        );
    };
    assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
    // A change while nobody listens: covered by the reconnect's "all".
    store.remove_device(mac).unwrap();
    assert_eq!(
        listener.wait(std::time::Duration::from_secs(5)).unwrap(),
        vec![DeviceChange::All]
    );
    store.add_device(&NewDevice::new(mac)).unwrap();
    heard(&mut listener, changed);

    // SQLite has no other node and no listener.
    let dir = tempfile::tempdir().unwrap();
    assert!(ChangeListener::open(&Database::Sqlite(dir.path().into()))
        .unwrap()
        .is_none());
}
