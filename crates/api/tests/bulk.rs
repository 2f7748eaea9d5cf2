//! Bulk jobs through the API (issue 14 item 4): a resync for a list of
//! MACs and for a group, at a rate, with progress and the end counts
//! (succeeded, failed with the phone's refusal, skipped without an
//! address or outside the inventory), cancel, a task job, and bad input
//! refused with nothing started.

mod common;

use std::time::Duration;

use axum::http::{Method, StatusCode};
use common::{api, fake_phone, Api};
use phoneprov_store::{AcsRepo, Mac, NewDevice, Store};
use serde_json::{json, Value};

fn add(dir: &std::path::Path, mac: &str, group: &str, push_url: Option<String>) {
    let mut s = Store::open(dir).unwrap();
    let mut vars = std::collections::BTreeMap::new();
    if let Some(u) = push_url {
        vars.insert("push_url".to_string(), u);
    }
    let mut d = NewDevice::new(Mac::parse(mac).unwrap());
    d.group = Some(group.into());
    d.vars = vars;
    s.add_device(&d).unwrap();
}

async fn post(a: &Api, body: Value) -> (StatusCode, Value) {
    let r = a
        .call(
            Method::POST,
            "/api/v1/bulk-jobs",
            Some(("application/json", body.to_string().into_bytes())),
        )
        .await;
    (r.status, r.json())
}

/// Polls the job until it is no longer running (deadline 30 s).
async fn wait_done(a: &Api, id: i64) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let j = a
            .call(Method::GET, &format!("/api/v1/bulk-jobs/{id}"), None)
            .await
            .json();
        if j["state"] != "running" {
            return j;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "job still running: {j}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bulk_resync_counts_succeeded_failed_and_skipped() {
    let a = api();
    let (ok_phone, seen) = fake_phone(StatusCode::OK).await;
    let (no_phone, _) = fake_phone(StatusCode::FORBIDDEN).await;
    for i in 1..=3 {
        let mac = format!("000e0800000{i}");
        add(
            a.dir.path(),
            &mac,
            "sales",
            Some(format!("http://{ok_phone}/{{mac}}/")),
        );
    }
    add(
        a.dir.path(),
        "000e08000004",
        "sales",
        Some(format!("http://{no_phone}/")),
    );
    add(a.dir.path(), "000e08000005", "sales", None);
    add(
        a.dir.path(),
        "000e08000006",
        "support",
        Some(format!("http://{ok_phone}/{{mac}}/")),
    );

    let (st, job) = post(
        &a,
        json!({"action": "resync", "selection": {"group": "sales"}, "rate": 200}),
    )
    .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{job}");
    assert_eq!(job["total"], 5);
    let done = wait_done(&a, job["id"].as_i64().unwrap()).await;
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(
        (
            done["succeeded"].as_i64(),
            done["failed"].as_i64(),
            done["skipped"].as_i64()
        ),
        (Some(3), Some(1), Some(1)),
        "{done}"
    );
    assert_eq!(done["failures"][0]["mac"], "000e08000004");
    assert!(
        done["failures"][0]["error"]
            .as_str()
            .unwrap()
            .contains("403"),
        "{done}"
    );
    let mut paths: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.uri.path().to_string())
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "/000e08000001/admin/resync",
            "/000e08000002/admin/resync",
            "/000e08000003/admin/resync"
        ]
    );
    // The push is in each device's timeline.
    let ev = a
        .call(Method::GET, "/api/v1/devices/000e08000002/events", None)
        .await
        .json();
    assert!(ev.to_string().contains("push resync sent"), "{ev}");

    // A list of MACs: one outside the inventory is skipped.
    let (st, job) = post(&a, json!({"action": "resync", "selection": {"macs": ["00:0e:08:00:00:06", "000e08999999"]}, "rate": 100})).await;
    assert_eq!(st, StatusCode::ACCEPTED, "{job}");
    let done = wait_done(&a, job["id"].as_i64().unwrap()).await;
    assert_eq!(
        (
            done["total"].as_i64(),
            done["succeeded"].as_i64(),
            done["skipped"].as_i64()
        ),
        (Some(2), Some(1), Some(1)),
        "{done}"
    );

    let list = a.call(Method::GET, "/api/v1/bulk-jobs", None).await.json();
    assert_eq!(list.as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn bulk_task_cancel_and_bad_input() {
    let a = api();
    for i in 0..20 {
        add(a.dir.path(), &format!("000e080001{i:02}"), "lab", None);
    }
    // A task job without an ACS queues in the store.
    let task =
        json!({"rpc": "GetParameterValues", "names": ["Device.DeviceInfo."], "max_attempts": 2});
    let (st, job) = post(
        &a,
        json!({"action": "task", "task": task, "selection": {"q": "000e0800010"}, "rate": 500}),
    )
    .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{job}");
    let done = wait_done(&a, job["id"].as_i64().unwrap()).await;
    assert_eq!(
        (done["total"].as_i64(), done["succeeded"].as_i64()),
        (Some(10), Some(10)),
        "{done}"
    );
    let s = Store::open(a.dir.path()).unwrap();
    let t = s.tasks("000e08000105", 10).unwrap();
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].max_attempts, 2);
    assert!(
        s.tasks("000e08000115", 10).unwrap().is_empty(),
        "outside the selection"
    );

    // Cancel: at 1 device/s the job is still running.
    let (_, job) = post(&a, json!({"action": "task", "task": {"rpc": "GetRPCMethods"}, "selection": {"group": "lab"}, "rate": 1})).await;
    let id = job["id"].as_i64().unwrap();
    let r = a
        .call(Method::DELETE, &format!("/api/v1/bulk-jobs/{id}"), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let done = wait_done(&a, id).await;
    assert_eq!(done["state"], "cancelled");
    assert!(done["succeeded"].as_i64().unwrap() < 20, "{done}");
    let r = a
        .call(Method::DELETE, &format!("/api/v1/bulk-jobs/{id}"), None)
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = a.call(Method::GET, "/api/v1/bulk-jobs/999", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let jobs_before = a.call(Method::GET, "/api/v1/bulk-jobs", None).await.json();
    for (bad, want) in [
        (
            json!({"action": "resync", "selection": {}}),
            "select devices",
        ),
        (
            json!({"action": "resync", "selection": {"group": "lab"}, "rate": 0}),
            "rate 0",
        ),
        (
            json!({"action": "resync", "selection": {"group": "lab"}, "rate": 5000}),
            "rate 5000",
        ),
        (
            json!({"action": "explode", "selection": {"group": "lab"}}),
            "explode",
        ),
        (
            json!({"action": "task", "selection": {"group": "lab"}}),
            "needs \"task\"",
        ),
        (
            json!({"action": "task", "task": {"rpc": "Explode"}, "selection": {"group": "lab"}}),
            "bad task JSON",
        ),
        (
            json!({"action": "resync", "selection": {"macs": ["zz"]}}),
            "zz",
        ),
        (
            json!({"action": "resync", "selection": {"macs": ["000e08000100"], "group": "lab"}}),
            "not both",
        ),
        (
            json!({"action": "resync", "selection": {"outcome": "great"}}),
            "outcome",
        ),
        (
            json!({"action": "resync", "selection": {"colour": "red"}}),
            "colour",
        ),
    ] {
        let (st, e) = post(&a, bad.clone()).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{bad}: {e}");
        assert!(e["error"].as_str().unwrap().contains(want), "{bad}: {e}");
        assert!(e["hint"].is_string());
    }
    let jobs_after = a.call(Method::GET, "/api/v1/bulk-jobs", None).await.json();
    assert_eq!(
        jobs_before.as_array().unwrap().len(),
        jobs_after.as_array().unwrap().len(),
        "nothing started"
    );
    // No token: 401.
    let r = a
        .call_auth(Method::GET, "/api/v1/bulk-jobs", None, None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}
