//! Staged firmware rollouts (issue 14 item 5b): the shell of
//! `phoneprov_api::rollout` on a real store, stepped on a virtual clock
//! (waves, the health gate from syslog reports, pause, resume, halt,
//! roll back), the `/api/v1/rollouts` routes (bad input refused with
//! nothing written, 404/409), and the resync pushes of a started wave.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{Method, StatusCode};
use common::{api, fake_phone};
use phoneprov_api::rollout::{self, RolloutRequest};
use phoneprov_store::{
    now_ms, Database, EventKind, Mac, NewDevice, NewEvent, Outcome, Selection, Store,
    FIRMWARE_FILE_VAR, FIRMWARE_VERSION_VAR,
};
use serde_json::json;

fn mac(i: u32) -> Mac {
    Mac::parse(&format!("000e0800{:04x}", i)).unwrap()
}

fn fleet(dir: &std::path::Path, n: u32) -> Store {
    let mut s = Store::open(dir).unwrap();
    for i in 1..=n {
        let mut d = NewDevice::new(mac(i));
        d.group = Some("sales".into());
        s.add_device(&d).unwrap();
    }
    s
}

fn syslog(s: &mut Store, m: Mac, text: &str) {
    s.append_event(&NewEvent {
        mac: m,
        at_ms: now_ms(),
        kind: EventKind::Syslog,
        outcome: Some(if text.contains("failed") {
            Outcome::Failed
        } else {
            Outcome::Success
        }),
        source_ip: None,
        message: format!("CP-8841-3PCC {m} -- {text}"),
    })
    .unwrap();
}

fn request() -> RolloutRequest {
    RolloutRequest {
        version: "12.0.1".into(),
        file: "cp-12.0.1.loads".into(),
        selection: Selection {
            group: "sales".into(),
            ..Selection::default()
        },
        waves: Some(vec![10, 50, 100]),
        wave_timeout: Some("10m".into()),
        push_rate: Some(0),
        ..RolloutRequest::default()
    }
}

fn target_of(s: &Store, m: Mac) -> Option<String> {
    s.device(m)
        .unwrap()
        .unwrap()
        .vars
        .get(FIRMWARE_FILE_VAR)
        .cloned()
}

/// A rollout on a filter, and one on a list of MACs, are each written by
/// the database in one statement; their waves are the machine's
/// `wave_of_each` for every fleet size (the rounding of each cumulative
/// percent up), on both backends.
#[test]
fn waves_of_a_filter_match_the_machine_for_any_fleet_size() {
    let dir = tempfile::tempdir().unwrap();
    waves_match_the_machine(fleet(dir.path(), 0));
}

/// The same on PostgreSQL (the MAC list is a `text[]` there, a JSON
/// array on SQLite).
#[test]
fn waves_of_a_filter_match_the_machine_for_any_fleet_size_on_postgres() {
    let url = phoneprov_testpeers::pg().fresh_db();
    waves_match_the_machine(Store::connect(&Database::Postgres(url)).unwrap());
}

fn waves_match_the_machine(mut s: Store) {
    let mut added = 0;
    for n in [1u32, 2, 3, 7, 99, 101, 250] {
        while added < n {
            added += 1;
            let mut d = NewDevice::new(mac(added));
            d.group = Some("sales".into());
            s.add_device(&d).unwrap();
        }
        for waves in [vec![1, 10, 50, 100], vec![33, 66, 100], vec![100]] {
            let req = RolloutRequest {
                waves: Some(waves.clone()),
                ..request()
            };
            let r = rollout::create(&mut s, &req, "test").unwrap();
            assert_eq!(r.total, i64::from(n));
            let got: Vec<(String, i64)> = s
                .rollout_devices(r.id, None, 1000)
                .unwrap()
                .into_iter()
                .map(|d| (d.mac, d.wave))
                .collect();
            let want: Vec<(String, i64)> = (1..=n)
                .zip(rollout::machine::wave_of_each(n as usize, &waves))
                .map(|(i, w)| (mac(i).to_string(), w as i64))
                .collect();
            assert_eq!(got, want, "{n} devices, waves {waves:?}");
            // The same devices as a list of MACs: the same waves.
            let listed = RolloutRequest {
                selection: Selection {
                    macs: (1..=n).rev().map(|i| mac(i).to_string()).collect(),
                    ..Selection::default()
                },
                ..req
            };
            let r = rollout::create(&mut s, &listed, "test").unwrap();
            let got_listed: Vec<(String, i64)> = s
                .rollout_devices(r.id, None, 1000)
                .unwrap()
                .into_iter()
                .map(|d| (d.mac, d.wave))
                .collect();
            assert_eq!(got_listed, want, "{n} listed devices, waves {waves:?}");
        }
    }
}

#[test]
fn waves_gate_pause_resume_halt_and_roll_back_on_a_virtual_clock() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = fleet(dir.path(), 20);
    let r = rollout::create(&mut s, &request(), "test").unwrap();
    assert_eq!((r.total, r.wave, r.state.as_str()), (20, -1, "running"));
    let step = |s: &mut Store, t: i64| {
        let r = s.rollout(1).unwrap().unwrap();
        rollout::step(s, &r, t).unwrap();
        s.rollout(1).unwrap().unwrap()
    };
    // t=0: wave 1 (10 % of 20 = 2 devices) gets the target.
    let r = step(&mut s, 0);
    assert_eq!((r.wave, r.wave_started_ms), (0, Some(0)));
    assert_eq!(target_of(&s, mac(1)).as_deref(), Some("cp-12.0.1.loads"));
    assert_eq!(target_of(&s, mac(3)), None, "wave 2 waits");
    // Nothing reported yet: the wave waits.
    assert_eq!(step(&mut s, 1000).wave, 0);
    syslog(
        &mut s,
        mac(1),
        "Successful upgrade http://s/firmware/cp-12.0.1.loads -- ",
    );
    assert_eq!(step(&mut s, 2000).wave, 0, "one of two reported");
    s.record_status(mac(2), "127.0.0.1".parse().unwrap(), Some("12.0.1"), None)
        .unwrap();
    let r = step(&mut s, 3000);
    assert_eq!(
        (r.wave, r.state.as_str()),
        (1, "running"),
        "both upgraded: wave 2"
    );
    assert_eq!(target_of(&s, mac(10)).as_deref(), Some("cp-12.0.1.loads"));
    assert_eq!(target_of(&s, mac(11)), None);

    // Paused: reports come in, nothing is decided.
    let r = rollout::pause(&mut s, 1).unwrap();
    assert_eq!(r.state, "paused");
    assert!(rollout::pause(&mut s, 1).is_err(), "paused twice");
    syslog(
        &mut s,
        mac(3),
        "Upgrade failed: image version 12.0.1 is below Downgrade_Rev_Limit 99; refused",
    );
    assert_eq!(step(&mut s, 4000).state, "paused");
    let (r, started) = rollout::resume(&mut s, 1, 5000).unwrap();
    assert!(started.is_none());
    assert_eq!(
        (r.state.as_str(), r.wave_started_ms),
        ("running", Some(5000))
    );

    // 1 of 8 failed: 12.5 % is over 10 %: halted, the device named.
    let r = step(&mut s, 6000);
    assert_eq!(r.state, "halted");
    let why = r.reason.clone().unwrap();
    assert!(
        why.starts_with("wave 2 of 3: 1 of 8 devices failed"),
        "{why}"
    );
    assert!(
        why.contains(&mac(3).to_string()) && why.contains("Downgrade_Rev_Limit"),
        "{why}"
    );
    let st = rollout::status(&s, 1).unwrap();
    assert_eq!(st.failed.len(), 1);
    assert_eq!(st.failed[0].mac, mac(3).to_string());
    assert_eq!(
        step(&mut s, 600_000).state,
        "halted",
        "a halt stays until an operator acts"
    );

    // Resumed: the operator accepts wave 2; wave 3 starts now. Its
    // devices stay silent past the timeout: halted again.
    let (r, started) = rollout::resume(&mut s, 1, 700_000).unwrap();
    assert_eq!((r.state.as_str(), r.wave), ("running", 2));
    assert_eq!(
        started.unwrap().devices.len(),
        0,
        "push rate 0: nothing to push"
    );
    assert_eq!(target_of(&s, mac(20)).as_deref(), Some("cp-12.0.1.loads"));
    assert_eq!(step(&mut s, 700_000 + 599_000).state, "running");
    let r = step(&mut s, 700_000 + 600_000);
    assert_eq!(r.state, "halted");
    assert!(r
        .reason
        .unwrap()
        .contains("10 of them silent after the 600 s wave timeout"));

    // Roll back: every switched device loses the target.
    let (n, r) = rollout::roll_back(&mut s, 1, "test").unwrap();
    assert_eq!((n, r.state.as_str()), (20, "rolled-back"));
    for i in [1, 3, 20] {
        let d = s.device(mac(i)).unwrap().unwrap();
        assert!(
            !d.vars.contains_key(FIRMWARE_FILE_VAR) && !d.vars.contains_key(FIRMWARE_VERSION_VAR)
        );
    }
    assert!(
        rollout::roll_back(&mut s, 1, "test").is_err(),
        "rolled back twice"
    );
    assert!(rollout::resume(&mut s, 1, 0).is_err());
}

#[test]
fn healthy_waves_soak_then_finish() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = fleet(dir.path(), 4);
    let req = RolloutRequest {
        waves: Some(vec![50, 100]),
        soak: Some("1m".into()),
        ..request()
    };
    rollout::create(&mut s, &req, "test").unwrap();
    let step = |s: &mut Store, t: i64| {
        let r = s.rollout(1).unwrap().unwrap();
        rollout::step(s, &r, t).unwrap();
        s.rollout(1).unwrap().unwrap()
    };
    step(&mut s, 0);
    for i in 1..=2 {
        syslog(
            &mut s,
            mac(i),
            "Successful upgrade http://s/firmware/cp-12.0.1.loads -- ",
        );
    }
    let r = step(&mut s, 1000);
    assert_eq!((r.wave, r.soak_until_ms), (0, Some(61_000)));
    assert_eq!(step(&mut s, 60_000).wave, 0, "soaking");
    assert_eq!(step(&mut s, 61_000).wave, 1);
    for i in 3..=4 {
        syslog(
            &mut s,
            mac(i),
            "Successful upgrade http://s/firmware/cp-12.0.1.loads -- ",
        );
    }
    let r = step(&mut s, 62_000);
    assert_eq!(r.state, "done");
    assert!(r.finished_ms.is_some());
    let st = rollout::status(&s, 1).unwrap();
    let ok: i64 = st
        .counts
        .iter()
        .filter(|c| c.result == "success")
        .map(|c| c.devices)
        .sum();
    assert_eq!(ok, 4, "{:?}", st.counts);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_rollouts_api_refuses_bad_input_and_answers_404_and_409() {
    let a = api();
    drop(fleet(a.dir.path(), 3));
    let post = |body: serde_json::Value| {
        let a = &a;
        async move {
            let r = a
                .call(
                    Method::POST,
                    "/api/v1/rollouts",
                    Some(("application/json", body.to_string().into_bytes())),
                )
                .await;
            (r.status, r.json())
        }
    };
    for (body, want) in [
        (
            json!({"version": "12", "file": "../x", "selection": {"all": true}}),
            "firmware directory",
        ),
        (
            json!({"version": "12", "file": "x.loads", "selection": {}}),
            "select devices",
        ),
        (
            json!({"version": "12", "file": "x.loads", "selection": {"group": "nobody"}}),
            "matches no device",
        ),
        (
            json!({"version": "12", "file": "x.loads", "selection": {"all": true}, "waves": [5]}),
            "ending at 100",
        ),
        (
            json!({"version": "12", "file": "x.loads", "selection": {"all": true}, "rate": 3}),
            "unknown field",
        ),
    ] {
        let (code, v) = post(body).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{v}");
        assert!(v["error"].as_str().unwrap().contains(want), "{v}");
    }
    let list = a.call(Method::GET, "/api/v1/rollouts", None).await.json();
    assert_eq!(list, json!([]), "nothing written");

    let (code, v) = post(json!({"version": "12.0.1", "file": "cp.loads", "selection": {"all": true}, "waves": [50, 100]})).await;
    assert_eq!(code, StatusCode::ACCEPTED, "{v}");
    let id = v["id"].as_i64().unwrap();
    assert_eq!(
        (v["state"].as_str(), v["total"].as_i64()),
        (Some("running"), Some(3))
    );
    let st = a
        .call(Method::GET, &format!("/api/v1/rollouts/{id}"), None)
        .await
        .json();
    assert_eq!(st["counts"][0]["result"], "waiting", "{st}");
    assert_eq!(st["failed"], json!([]));
    let r = a
        .call(Method::POST, &format!("/api/v1/rollouts/{id}/pause"), None)
        .await;
    assert_eq!(
        (r.status, r.json()["state"].clone()),
        (StatusCode::OK, json!("paused"))
    );
    let r = a
        .call(Method::POST, &format!("/api/v1/rollouts/{id}/pause"), None)
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    let r = a
        .call(Method::POST, &format!("/api/v1/rollouts/{id}/resume"), None)
        .await;
    assert_eq!(
        (r.status, r.json()["state"].clone()),
        (StatusCode::OK, json!("running"))
    );
    let r = a
        .call(
            Method::POST,
            &format!("/api/v1/rollouts/{id}/rollback"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        (
            r.json()["state"].clone(),
            r.json()["rolled_back_devices"].clone()
        ),
        (json!("rolled-back"), json!(0))
    );
    let r = a.call(Method::GET, "/api/v1/rollouts/99", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let doc = a
        .call(Method::GET, "/api/v1/openapi.json", None)
        .await
        .json();
    for p in [
        "/api/v1/rollouts",
        "/api/v1/rollouts/{id}",
        "/api/v1/rollouts/{id}/pause",
        "/api/v1/rollouts/{id}/resume",
        "/api/v1/rollouts/{id}/rollback",
    ] {
        assert!(
            doc["paths"].get(p).is_some(),
            "{p} missing from the OpenAPI document"
        );
    }
}

/// A started wave's phones get a resync pushed (where `push_url` says).
#[tokio::test(flavor = "multi_thread")]
async fn a_started_wave_pushes_resyncs() {
    let (addr, seen) = fake_phone(StatusCode::OK).await;
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path()).unwrap();
    for i in 1..=2 {
        let mut d = NewDevice::new(mac(i));
        d.group = Some("sales".into());
        d.vars
            .insert("push_url".into(), format!("http://{addr}/{{mac}}/"));
        s.add_device(&d).unwrap();
    }
    let req = RolloutRequest {
        waves: Some(vec![100]),
        push_rate: Some(50),
        ..request()
    };
    rollout::create(&mut s, &req, "test").unwrap();
    let started = rollout::step_all(&mut s, now_ms()).unwrap();
    assert_eq!(started.len(), 1);
    assert_eq!(started[0].devices.len(), 2);
    let w = started.into_iter().next().unwrap();
    tokio::time::timeout(
        Duration::from_secs(20),
        rollout::push_wave(Arc::new(Mutex::new(s)), w),
    )
    .await
    .unwrap();
    let seen = seen.lock().unwrap();
    let paths: Vec<String> = seen.iter().map(|s| s.uri.path().to_string()).collect();
    assert_eq!(paths.len(), 2, "{paths:?}");
    assert!(
        paths.iter().all(|p| p.ends_with("/admin/resync")),
        "{paths:?}"
    );
}
