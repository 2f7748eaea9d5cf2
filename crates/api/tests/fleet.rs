//! The fleet routes of issue 14 item 4: `PATCH /devices/{mac}` (checked,
//! all or nothing), export with and without keys (and its round trip
//! through the import's `key` column), pending/approve/reject.

mod common;

use axum::http::{Method, StatusCode};
use common::api;
use phoneprov_store::{Mac, NewDevice, Store, STATUS_VAR};
use serde_json::json;

const MAC: &str = "000e08abcdef";

fn add(dir: &std::path::Path, mac: &str, vars: &[(&str, &str)]) {
    let mut s = Store::open(dir).unwrap();
    let mut nd = NewDevice::new(Mac::parse(mac).unwrap());
    nd.group = Some("sales".into());
    for (k, v) in vars {
        nd.vars.insert(k.to_string(), v.to_string());
    }
    s.add_device(&nd).unwrap();
}

#[tokio::test]
async fn patch_sets_checked_pairs_and_writes_nothing_on_a_bad_one() {
    let a = api();
    add(a.dir.path(), MAC, &[("user", "1001")]);
    let r = a
        .json(
            Method::PATCH,
            "/api/v1/devices/00:0e:08:ab:cd:ef",
            json!({"display_name": "Front desk", "user": "", "group": "ops"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = r.json();
    assert_eq!(v["vars"], json!({"display_name": "Front desk"}));
    assert_eq!(v["group"], "ops");
    assert!(v.get("key").is_none());

    for bad in [
        json!({"display_name": "x", "bad name": "y"}),
        json!({"display_name": "x", "user": "two\nlines"}),
        json!({"key": "abcdefgh12"}),
        json!({}),
    ] {
        let r = a
            .json(
                Method::PATCH,
                &format!("/api/v1/devices/{MAC}"),
                bad.clone(),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.text());
        let body = r.json();
        assert!(body["error"].as_str().is_some() && body["hint"].as_str().is_some());
    }
    let s = Store::open(a.dir.path()).unwrap();
    let d = s.device(Mac::parse(MAC).unwrap()).unwrap().unwrap();
    assert_eq!(
        d.vars.get("display_name").map(String::as_str),
        Some("Front desk"),
        "nothing of the bad requests was written"
    );
    let r = a
        .json(
            Method::PATCH,
            "/api/v1/devices/000e08000000",
            json!({"a": "b"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = a
        .json(
            Method::PATCH,
            "/api/v1/devices/not-a-mac",
            json!({"a": "b"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn export_carries_keys_only_when_asked_and_imports_back() {
    let a = api();
    add(a.dir.path(), MAC, &[("user", "1001")]);
    let key = Store::open(a.dir.path())
        .unwrap()
        .device(Mac::parse(MAC).unwrap())
        .unwrap()
        .unwrap()
        .key;
    let r = a.call(Method::GET, "/api/v1/devices/export", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.headers.get("x-phoneprov-keys").is_none());
    assert_eq!(
        r.text(),
        "mac,serial,model,group,user\n000e08abcdef,,,sales,1001\n"
    );

    let r = a
        .call(Method::GET, "/api/v1/devices/export?with_keys=true", None)
        .await;
    assert_eq!(r.headers["x-phoneprov-keys"], "included");
    let csv = r.text();
    assert!(
        csv.starts_with("mac,serial,model,group,key,user\n"),
        "{csv}"
    );
    assert!(csv.contains(key.expose_secret()));

    // Into another server: the phone keeps its key.
    let b = api();
    let r = b
        .call(
            Method::POST,
            "/api/v1/devices/import",
            Some(("text/csv", csv.into_bytes())),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = b
        .call(Method::GET, &format!("/api/v1/devices/{MAC}"), None)
        .await;
    assert_eq!(r.json()["key"], key.expose_secret());

    let r = a
        .call(Method::GET, "/api/v1/devices/export?format=json", None)
        .await;
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(r.json()[0]["vars"]["user"], "1001");
    for bad in ["?format=xml", "?with_keys=maybe", "?colour=red"] {
        let r = a
            .call(Method::GET, &format!("/api/v1/devices/export{bad}"), None)
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test]
async fn pending_devices_are_listed_approved_and_rejected() {
    let a = api();
    add(a.dir.path(), MAC, &[(STATUS_VAR, "pending")]);
    add(a.dir.path(), "000e08000002", &[(STATUS_VAR, "pending")]);
    add(a.dir.path(), "000e08000003", &[]);
    let r = a.call(Method::GET, "/api/v1/devices/pending", None).await;
    let macs: Vec<_> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["mac"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(macs, ["000e08000002", MAC]);

    let r = a
        .call(
            Method::POST,
            &format!("/api/v1/devices/{MAC}/approve"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(r.json()["vars"].get(STATUS_VAR).is_none());
    let r = a
        .call(Method::POST, "/api/v1/devices/000e08000002/reject", None)
        .await;
    assert_eq!(r.json()["vars"][STATUS_VAR], "rejected");
    let r = a.call(Method::GET, "/api/v1/devices/pending", None).await;
    assert_eq!(r.json(), json!([]));

    // Not awaiting approval: 409 with a hint; unknown: 404.
    let r = a
        .call(Method::POST, "/api/v1/devices/000e08000003/approve", None)
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.json()["hint"]
        .as_str()
        .unwrap()
        .contains("device pending"));
    let r = a
        .call(Method::POST, "/api/v1/devices/000e08000009/reject", None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}
