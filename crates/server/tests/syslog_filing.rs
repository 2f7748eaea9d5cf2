//! Filing into the store without sockets: MAC in the text, match by source
//! IP (from the store's statuses and from earlier messages), unmatched
//! messages, and the outcome classes of R-RESULT from phone reports.

use std::net::{IpAddr, SocketAddr};

use phoneprov_server::syslog_filing::{file_received, outcome_of, IpIndex, MatchedBy};
use phoneprov_store::{EventKind, Mac, NewDevice, Outcome, Store};
use phoneprov_syslog::{PhoneLogKind, Received};

fn rx(ip: &str, text: &str) -> Received {
    let from = SocketAddr::new(ip.parse().unwrap(), 514);
    Received::from_datagram(from, 1_000, text.as_bytes())
}

#[test]
fn files_by_mac_then_by_ip_and_skips_unknown_senders() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let a = Mac::parse("000e08000001").unwrap();
    let b = Mac::parse("000e08000002").unwrap();
    store.add_device(&NewDevice::new(a)).unwrap();
    store.add_device(&NewDevice::new(b)).unwrap();
    // b was seen by the server at 10.0.0.2: the index loads it.
    store
        .record_status(b, "10.0.0.2".parse().unwrap(), None, None)
        .unwrap();
    let mut idx = IpIndex::load(&store).unwrap();
    assert_eq!(idx.get("10.0.0.2".parse().unwrap()), Some(b));

    let f = file_received(
        &mut store,
        &mut idx,
        &rx(
            "10.0.0.1",
            "<134>P 00:0e:08:00:00:01 -- Resync failed: HTTP 404",
        ),
    )
    .unwrap()
    .unwrap();
    assert_eq!((f.mac, f.by), (a, MatchedBy::Text));
    let f = file_received(&mut store, &mut idx, &rx("10.0.0.1", "<134>line up"))
        .unwrap()
        .unwrap();
    assert_eq!((f.mac, f.by), (a, MatchedBy::SourceIp));
    // IPv4-mapped IPv6 sender (dual-stack socket) is the same phone.
    let f = file_received(&mut store, &mut idx, &rx("::ffff:10.0.0.2", "<134>hello"))
        .unwrap()
        .unwrap();
    assert_eq!((f.mac, f.by), (b, MatchedBy::SourceIp));
    assert_eq!(
        file_received(&mut store, &mut idx, &rx("10.9.9.9", "<134>who am i")).unwrap(),
        None
    );

    let ev = store.events(a, 10).unwrap();
    assert_eq!(ev.len(), 2);
    assert_eq!(ev[0].kind, EventKind::Syslog);
    assert_eq!(
        ev[0].outcome,
        Some(Outcome::NotFound),
        "R-RESULT class B for a 404"
    );
    assert_eq!(ev[0].at_ms, 1_000);
    assert_eq!(ev[1].message, "line up");
    let dev = store.device(a).unwrap().unwrap();
    assert_eq!(dev.status.ip.as_deref(), Some("10.0.0.1"));
    assert_eq!(dev.status.last_outcome, Some(Outcome::NotFound));
    let ev_b = store.events(b, 10).unwrap();
    assert_eq!(ev_b.len(), 1);
    assert_eq!(ev_b[0].source_ip.as_deref(), Some("10.0.0.2"));
}

/// Issue 12: a message naming a MAC the inventory does not hold writes
/// nothing and teaches the index nothing (a later MAC-less line from that
/// address stays unmatched), however it is classified.
#[test]
fn unknown_mac_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let mut idx = IpIndex::new();
    let r = rx(
        "192.0.2.7",
        "<134>CP-8841-3PCC 0a0b0c0d0e0f -- Upgrade failed: corrupt image",
    );
    assert_eq!(r.kind, PhoneLogKind::UpgradeFailure);
    assert_eq!(outcome_of(r.kind, &r.message.msg), Some(Outcome::Corrupt));
    assert_eq!(file_received(&mut store, &mut idx, &r).unwrap(), None);
    let mac = Mac::parse("0a0b0c0d0e0f").unwrap();
    assert!(store.events(mac, 10).unwrap().is_empty());
    assert!(store.device(mac).unwrap().is_none());
    assert_eq!(idx.get(IpAddr::from([192, 0, 2, 7])), None);
    let later = rx("192.0.2.7", "<134>no MAC here");
    assert_eq!(file_received(&mut store, &mut idx, &later).unwrap(), None);
    // Added to the inventory, the same line is filed.
    store.add_device(&NewDevice::new(mac)).unwrap();
    let f = file_received(&mut store, &mut idx, &r).unwrap().unwrap();
    assert_eq!((f.mac, f.by), (mac, MatchedBy::Text));
    assert_eq!(store.events(mac, 10).unwrap().len(), 1);
}
