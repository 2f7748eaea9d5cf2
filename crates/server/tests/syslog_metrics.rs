//! The receiver's and filer's series reach a Prometheus recorder installed
//! the way `phoneprov serve` installs its own (own test binary, own
//! process: the counts are this test's alone).

use std::time::Duration;

use phoneprov_server::syslog_filing::{IpIndex, StoreFiler};
use phoneprov_store::{Mac, NewDevice, Store};
use phoneprov_syslog::run_receiver;
use tokio::net::UdpSocket;

#[tokio::test]
async fn syslog_series_are_exported() {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).expect("only this test installs a recorder");

    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    store
        .add_device(&NewDevice::new(Mac::parse("000e08abcdef").unwrap()))
        .unwrap();
    let writer = phoneprov_store::TimelineWriter::for_dir(dir.path()).unwrap();
    let filer = StoreFiler::spawn(writer, store, IpIndex::new(), 16);
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(run_receiver(sock, filer.sink(), stopped));

    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for line in [
        "<134>P 00:0e:08:ab:cd:ef -- Requesting resync http://s/x.xml",
        "<134>P 00:0e:08:ab:cd:ef -- Successful resync http://s/x.xml",
        "<134>P 00:0e:08:ab:cd:ef -- Successful resync http://s/y.xml",
    ] {
        client.send_to(line.as_bytes(), addr).await.unwrap();
    }
    // A different sender without a MAC: unmatched.
    let stranger = UdpSocket::bind("127.0.0.2:0").await.unwrap();
    stranger.send_to(b"<134>hello", addr).await.unwrap();
    // A MAC not in the inventory: counted, not filed (issue 12).
    stranger
        .send_to(
            b"<134>P 0a:0b:0c:0d:0e:0f -- Successful resync http://s/x.xml",
            addr,
        )
        .await
        .unwrap();

    let counters = filer.counters();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let s = counters.snapshot();
        if s.filed + s.unmatched + s.unknown == 5 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not processed: {s:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
    filer.shutdown();

    let text = handle.render();
    for line in [
        "phoneprov_syslog_messages_total{kind=\"resync-request\"} 1",
        "phoneprov_syslog_messages_total{kind=\"resync-success\"} 3",
        "phoneprov_syslog_messages_total{kind=\"other\"} 1",
        "phoneprov_syslog_filed_total{result=\"filed\"} 3",
        "phoneprov_syslog_filed_total{result=\"unmatched\"} 1",
        "phoneprov_syslog_filed_total{result=\"unknown\"} 1",
        "phoneprov_unknown_devices_total{proto=\"syslog\"} 1",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
}
