//! Interop with the real `logger` (util-linux): it sends RFC 3164 and
//! RFC 5424 datagrams over UDP to our receiver, which must parse them,
//! find the MAC and classify them (R-LOG-1..3), and file them into the store.

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use phoneprov_server::syslog_filing::{IpIndex, StoreFiler};
use phoneprov_store::{EventKind, Mac, NewDevice, Outcome, Store};
use phoneprov_syslog::{run_receiver, Format, PhoneLogKind, Received};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

/// Runs `logger -n 127.0.0.1 -P PORT -d ARGS…`, failing clearly if it is
/// missing or refuses.
fn logger(port: u16, args: &[&str]) {
    let out = Command::new("logger")
        .args(["-n", "127.0.0.1", "-P", &port.to_string(), "-d"])
        .args(args)
        .output()
        .expect("`logger` (util-linux) must be installed for this interop test: apt-get install bsdutils");
    assert!(
        out.status.success(),
        "logger {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A receiver on a free port whose sink forwards into a channel.
async fn start() -> (
    SocketAddr,
    mpsc::UnboundedReceiver<Received>,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        run_receiver(
            sock,
            move |r| {
                let _ = tx.send(r);
            },
            stop_rx,
        )
        .await
        .unwrap();
    });
    (addr, rx, stop_tx, task)
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Received>) -> Received {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("no datagram from logger within 10 s")
        .expect("receiver ended")
}

#[tokio::test]
async fn r_log_logger_rfc3164_is_parsed_and_classified() {
    let (addr, mut rx, stop, task) = start().await;
    logger(
        addr.port(),
        &[
            "--rfc3164",
            "-t",
            "prov",
            "-p",
            "local0.info",
            "CP-8841-3PCC 00:0e:08:ab:cd:ef -- Requesting resync http://10.0.0.1:80/x.xml",
        ],
    );
    let r = next(&mut rx).await;
    let m = &r.message;
    assert_eq!(m.format, Format::Rfc3164);
    assert_eq!((m.facility, m.severity), (16, 6));
    assert!(m.timestamp.as_ref().is_some_and(|t| t.len() == 15), "{m:?}");
    assert!(m.hostname.as_ref().is_some_and(|h| !h.is_empty()), "{m:?}");
    assert_eq!(m.app_name.as_deref(), Some("prov"));
    assert_eq!(
        m.msg,
        "CP-8841-3PCC 00:0e:08:ab:cd:ef -- Requesting resync http://10.0.0.1:80/x.xml"
    );
    assert_eq!(r.mac, Some(Mac::parse("000e08abcdef").unwrap()));
    assert_eq!(r.kind, PhoneLogKind::ResyncRequest);
    assert_eq!(r.from.ip(), addr.ip());
    stop.send(()).unwrap();
    task.await.unwrap();
}

#[tokio::test]
async fn r_log_logger_rfc5424_with_structured_data() {
    let (addr, mut rx, stop, task) = start().await;
    logger(
        addr.port(),
        &[
            "--rfc5424",
            "-t",
            "prov",
            "--msgid",
            "RESYNC",
            "--sd-id",
            "zoo@123",
            "--sd-param",
            "tiger=\"hungry\"",
            "-p",
            "local0.err",
            "CP-6841-3PCC 000E08012345 -- Resync failed: 404 not found — é",
        ],
    );
    let r = next(&mut rx).await;
    let m = &r.message;
    assert_eq!(m.format, Format::Rfc5424);
    assert_eq!((m.facility, m.severity), (16, 3));
    assert!(
        m.timestamp.as_ref().is_some_and(|t| t.contains('T')),
        "{m:?}"
    );
    assert_eq!(m.app_name.as_deref(), Some("prov"));
    assert_eq!(m.msg_id.as_deref(), Some("RESYNC"));
    let zoo = m
        .structured_data
        .iter()
        .find(|e| e.id == "zoo@123")
        .unwrap_or_else(|| panic!("no zoo@123 SD element in {m:?}"));
    assert_eq!(
        zoo.params,
        vec![("tiger".to_string(), "hungry".to_string())]
    );
    assert_eq!(
        m.msg,
        "CP-6841-3PCC 000E08012345 -- Resync failed: 404 not found — é"
    );
    assert_eq!(
        r.mac.map(|m| m.to_string()).as_deref(),
        Some("000e08012345")
    );
    assert_eq!(r.kind, PhoneLogKind::ResyncFailure);
    stop.send(()).unwrap();
    task.await.unwrap();
}

/// logger → receiver → StoreFiler → store timeline, by MAC and by source IP.
#[tokio::test]
async fn r_log_logger_messages_are_filed_into_the_timeline() {
    let dir = tempfile::tempdir().unwrap();
    let mac = Mac::parse("00:0e:08:ab:cd:ef").unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    store.add_device(&NewDevice::new(mac)).unwrap();
    let writer = phoneprov_store::TimelineWriter::for_dir(dir.path()).unwrap();
    let filer = StoreFiler::spawn(
        writer,
        Store::open(dir.path()).unwrap(),
        IpIndex::new(),
        100,
    );

    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = sock.local_addr().unwrap().port();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let sink = filer.sink();
    let task = tokio::spawn(async move { run_receiver(sock, sink, stop_rx).await.unwrap() });

    logger(
        port,
        &[
            "--rfc3164",
            "ATA192-MPP 00:0e:08:ab:cd:ef –- Successful resync tftp://192.168.1.200/basic.txt",
        ],
    );
    // No MAC: matched through the sender IP (127.0.0.1) learnt above.
    logger(port, &["--rfc5424", "Registered line 1"]);
    // Wait until both are filed (the filer runs on its own thread).
    let counters = filer.counters();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while counters.snapshot().filed < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "not filed: {:?}",
            counters.snapshot()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop_tx.send(()).unwrap();
    task.await.unwrap();
    let stats = filer.shutdown();
    assert_eq!(
        (stats.filed, stats.unmatched, stats.dropped, stats.failed),
        (2, 0, 0, 0)
    );

    let store = Store::open(dir.path()).unwrap();
    let events = store.events(mac, 10).unwrap();
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(events.iter().all(|e| e.kind == EventKind::Syslog));
    assert_eq!(events[0].outcome, Some(Outcome::Success));
    assert!(events[0].message.contains("Successful resync"));
    assert_eq!(events[0].source_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(events[1].outcome, None);
    assert_eq!(events[1].message, "Registered line 1");
    let dev = store.device(mac).unwrap().unwrap();
    assert_eq!(dev.status.ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(dev.status.last_outcome, Some(Outcome::Success));
}
