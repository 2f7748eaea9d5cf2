//! The batched lookups (issue 13): many requests at once, answered by one
//! query per batch, give exactly what `Store::device` and
//! `Store::mac_by_serial` give one at a time, on both backends.

#[macro_use]
mod support;
use support::TestDb;

use phoneprov_store::{Lookups, Mac, NewDevice, Store};

fn mac(i: u64) -> Mac {
    Mac::parse(&format!("000e08{i:06x}")).unwrap()
}

on_both! {
fn batched_lookups_answer_as_one_at_a_time(db: &TestDb) {
    let mut store = db.store();
    for i in 0..200u64 {
        let mut d = NewDevice::new(mac(i));
        // Serials 0..100, each shared by devices i and i + 100: the
        // first by MAC answers.
        d.serial = Some(format!("SN{:04}", i % 100));
        d.model = Some(format!("model-{i}"));
        store.add_device(&d).unwrap();
    }
    let l = Lookups::start(Store::connect(&db.db).unwrap()).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    // 300 device reads (100 unknown MACs, and each known one asked for
    // twice at once) and 150 serial reads (50 unknown), all at once.
    let (devices, serials) = rt.block_on(async {
        let mut dev = Vec::new();
        for i in (0..300u64).chain(0..50) {
            let l = l.clone();
            dev.push(tokio::spawn(async move { (i, l.device(mac(i)).await.unwrap()) }));
        }
        let mut ser = Vec::new();
        for i in 0..150u64 {
            let l = l.clone();
            ser.push(tokio::spawn(async move {
                let serial = format!("SN{i:04}");
                (serial.clone(), l.mac_by_serial(&serial).await.unwrap())
            }));
        }
        let mut d = Vec::new();
        for h in dev {
            d.push(h.await.unwrap());
        }
        let mut s = Vec::new();
        for h in ser {
            s.push(h.await.unwrap());
        }
        (d, s)
    });
    for (i, got) in devices {
        assert_eq!(got, store.device(mac(i)).unwrap(), "device {i}");
        assert_eq!(got.is_some(), i < 200, "device {i}");
    }
    for (serial, got) in serials {
        assert_eq!(got, store.mac_by_serial(&serial).unwrap(), "{serial}");
    }
    assert_eq!(store.mac_by_serial("SN0007").unwrap(), Some(mac(7)));
    assert_eq!(store.mac_by_serial("SN0120").unwrap(), None);

    // One handle per database per process.
    let a = Lookups::for_db(&db.db).unwrap();
    let b = Lookups::for_db(&db.db).unwrap();
    let again = rt.block_on(async { (a.device(mac(3)).await, b.mac_by_serial("SN0003").await) });
    assert_eq!(again.0.unwrap().unwrap().model.as_deref(), Some("model-3"));
    assert_eq!(again.1.unwrap(), Some(mac(3)));
}
}
