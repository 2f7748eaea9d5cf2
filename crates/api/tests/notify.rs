//! Push resync by SIP NOTIFY from the API (R-RULE-6, issue 15): a device
//! with the `sip_contact` variable gets `NOTIFY Event: check-sync` from
//! `POST /api/v1/devices/{mac}/resync` and from `resync_with_store` with
//! no method (what the console's Resync button calls), sent to a real simulated
//! phone (`phoneprov_sim` with `--sip-listen`) that resyncs from nginx.

mod common;

use std::time::Duration;

use axum::http::{Method, StatusCode};
use common::api;
use phoneprov_sim::{Fleet, RunMode, SimConfig};
use phoneprov_store::{EventKind, Mac, NewDevice, Store};
use phoneprov_testpeers::Nginx;
use serde_json::json;

const MAC: &str = "000e08000001";

fn phone_cfg(n: &Nginx, extra: &[(&str, &str)]) -> SimConfig {
    let mut cfg = SimConfig::new(1);
    cfg.params = [
        ("Profile_Rule", format!("http://127.0.0.1:{}/a.xml", n.port)),
        ("Resync_On_Reset", "No".into()),
        ("Resync_Periodic", "0".into()),
    ]
    .into_iter()
    .chain(extra.iter().map(|(k, v)| (*k, v.to_string())))
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    cfg.sip_listen = Some("127.0.0.1:0".parse().unwrap());
    cfg.mode = RunMode::Forever;
    cfg.connect_timeout = Duration::from_secs(3);
    cfg.request_timeout = Duration::from_secs(10);
    cfg
}

/// Waits until the phone finished `n` successful resyncs (10 s at most).
async fn wait_resyncs(fleet: &Fleet, n: u64) {
    for _ in 0..100 {
        if fleet.stats().report(1, 1.0).resyncs.a >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the phone never finished {n} resyncs");
}

fn add_device(dir: &std::path::Path, mac: &str, vars: &[(&str, String)]) {
    let mut store = Store::open(dir).unwrap();
    let mut dev = NewDevice::new(Mac::parse(mac).unwrap());
    dev.vars = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    store.upsert_device(&dev).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_rule_6_api_push_resync_sends_notify_to_the_sip_contact() {
    let n = Nginx::start("", "", |_| {});
    n.write(
        "a.xml",
        b"<flat-profile><GPP_A>notified</GPP_A></flat-profile>",
    );
    let fleet = Fleet::start(phone_cfg(&n, &[])).await.unwrap();
    let sip = fleet.sip_addr().unwrap();
    let a = api();
    let url = format!("/api/v1/devices/{MAC}/resync");

    // TCP contact: no body at all, the variable decides.
    let tcp = format!("sip:{MAC}@{sip};transport=tcp");
    add_device(a.dir.path(), MAC, &[("sip_contact", tcp)]);
    let r = a.call(Method::POST, &url, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = r.json();
    assert_eq!(v["method"], "sip-notify", "{v}");
    assert_eq!(v["status"], 200, "{v}");
    assert_eq!(v["url"], format!("sip:{MAC}@{sip}"), "{v}");
    wait_resyncs(&fleet, 1).await;

    // UDP (the contact's default) with a one-off rule in the Execute body.
    n.write(
        "b.xml",
        b"<flat-profile><GPP_B>by-rule</GPP_B></flat-profile>",
    );
    add_device(
        a.dir.path(),
        MAC,
        &[("sip_contact", format!("sip:{MAC}@{sip}"))],
    );
    let rule = format!("http://127.0.0.1:{}/b.xml", n.port);
    let r = a.json(Method::POST, &url, json!({ "rule": rule })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    wait_resyncs(&fleet, 2).await;

    // The console's Resync button: resync_with_store with no method.
    let store = Store::open(a.dir.path()).unwrap();
    let out = phoneprov_api::resync_with_store(
        Some(std::sync::Arc::new(std::sync::Mutex::new(store))),
        Mac::parse(MAC).unwrap(),
        None,
        None,
        None,
    )
    .await
    .unwrap();
    assert_eq!(out.method, phoneprov_api::PushMethod::SipNotify);
    wait_resyncs(&fleet, 3).await;

    // An explicit HTTP method still goes by HTTP (no IP known: 409).
    let r = a.json(Method::POST, &url, json!({"method":"get"})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());

    // The timeline says how the push went.
    let store = Store::open(a.dir.path()).unwrap();
    let ev = store.events(Mac::parse(MAC).unwrap(), 10).unwrap();
    let notes: Vec<&str> = ev
        .iter()
        .filter(|e| e.kind == EventKind::Resync)
        .map(|e| e.message.as_str())
        .collect();
    assert!(
        notes
            .iter()
            .filter(|m| m.contains("SIP NOTIFY") && m.contains("200 OK"))
            .count()
            == 3,
        "{notes:?}"
    );

    // Bad input: sip-notify without a contact; a contact that is not SIP.
    let other = "000e08000002";
    add_device(a.dir.path(), other, &[]);
    let r = a
        .json(
            Method::POST,
            &format!("/api/v1/devices/{other}/resync"),
            json!({"method":"sip-notify"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    assert!(r.text().contains("sip_contact"), "{}", r.text());
    let third = "000e08000003";
    add_device(a.dir.path(), third, &[("sip_contact", "http://x".into())]);
    let r = a
        .call(
            Method::POST,
            &format!("/api/v1/devices/{third}/resync"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert!(r.text().contains("bad SIP contact"), "{}", r.text());

    fleet.shutdown_handle().shutdown();
    let report = fleet.wait().await;
    assert_eq!(
        report.status.as_ref().unwrap()["sip"]["notifies"],
        3,
        "{}",
        report.to_text()
    );
    assert_eq!(
        report.status.as_ref().unwrap()["params"]["GPP_B"],
        "by-rule",
        "the NOTIFY's Execute body carried the rule"
    );
}

/// A phone whose line 1 has a password challenges the NOTIFY; the
/// device's `sip_user` / `sip_password` variables answer it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r_rule_6_api_notify_answers_the_phones_digest_challenge() {
    let n = Nginx::start("", "", |_| {});
    n.write("a.xml", b"<flat-profile><GPP_A>auth</GPP_A></flat-profile>");
    let cfg = phone_cfg(&n, &[("User_ID_1_", "1001"), ("Password_1_", "s3cret")]);
    let fleet = Fleet::start(cfg).await.unwrap();
    let sip = fleet.sip_addr().unwrap();
    let a = api();
    let contact = format!("sip:{MAC}@{sip};transport=tcp");
    add_device(a.dir.path(), MAC, &[("sip_contact", contact.clone())]);
    let url = format!("/api/v1/devices/{MAC}/resync");
    let r = a.call(Method::POST, &url, None).await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY, "{}", r.text());
    assert!(r.text().contains("401"), "{}", r.text());
    assert!(r.text().contains("sip_password"), "{}", r.text());

    add_device(
        a.dir.path(),
        MAC,
        &[
            ("sip_contact", contact),
            ("sip_user", "1001".into()),
            ("sip_password", "s3cret".into()),
        ],
    );
    let r = a.call(Method::POST, &url, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    wait_resyncs(&fleet, 1).await;
    fleet.shutdown_handle().shutdown();
    fleet.wait().await;
}

/// A SIP answer to `req` (a NOTIFY as received): its Via, From, To,
/// Call-ID and CSeq echoed, as RFC 3261 §8.2.6 asks.
fn sip_answer(req: &str, status: &str) -> String {
    let mut out = format!("SIP/2.0 {status}\r\n");
    for line in req.split("\r\n") {
        let name = line.split(':').next().unwrap_or("").to_ascii_lowercase();
        if ["via", "from", "to", "call-id", "cseq"].contains(&name.as_str()) {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("Content-Length: 0\r\n\r\n");
    out
}

/// Issue 15: a NOTIFY over UDP to a phone that does not answer no longer
/// holds the API request for timer F (32 s): after SIP_PUSH_WAIT the API
/// answers 202 with the push recorded on the timeline, keeps
/// retransmitting, and records the phone's answer when it comes (here the
/// phone answers a retransmission sent after the 202).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_udp_phone_gets_202_and_its_late_answer_reaches_the_timeline() {
    let phone = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = phone.local_addr().unwrap();
    let a = api();
    add_device(
        a.dir.path(),
        MAC,
        &[("sip_contact", format!("sip:{MAC}@{addr}"))],
    );
    let answer_now = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = answer_now.clone();
    let phone_task = tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        let mut received = 0u32;
        loop {
            let (n, from) = phone.recv_from(&mut buf).await.unwrap();
            received += 1;
            if flag.load(std::sync::atomic::Ordering::SeqCst) {
                let req = String::from_utf8_lossy(&buf[..n]).into_owned();
                assert!(req.starts_with("NOTIFY "), "{req}");
                let resp = sip_answer(&req, "200 OK");
                phone.send_to(resp.as_bytes(), from).await.unwrap();
                return received;
            }
        }
    });
    let r = a
        .call(Method::POST, &format!("/api/v1/devices/{MAC}/resync"), None)
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
    let v = r.json();
    assert_eq!(v["pending"], true, "{v}");
    assert_eq!(v["method"], "sip-notify", "{v}");
    assert!(v["message"].as_str().unwrap().contains("/events"), "{v}");
    let events = |a: &common::Api| {
        let s = Store::open(a.dir.path()).unwrap();
        s.events(Mac::parse(MAC).unwrap(), 10)
            .unwrap()
            .into_iter()
            .filter(|e| e.kind == EventKind::Resync)
            .map(|e| e.message)
            .collect::<Vec<_>>()
    };
    let first = events(&a);
    assert_eq!(first.len(), 1, "{first:?}");
    assert!(first[0].contains("still retransmitting"), "{first:?}");
    // The phone answers the next retransmission; the answer is recorded.
    answer_now.store(true, std::sync::atomic::Ordering::SeqCst);
    let received = tokio::time::timeout(Duration::from_secs(30), phone_task)
        .await
        .expect("the NOTIFY was retransmitted after the 202")
        .unwrap();
    assert!(
        received >= 2,
        "{received} transmissions: the answered one is a retransmission"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let all = events(&a);
        if all.len() == 2 {
            assert!(all[1].contains("phone answered 200"), "{all:?}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{all:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
