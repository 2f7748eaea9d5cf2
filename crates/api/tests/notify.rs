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
