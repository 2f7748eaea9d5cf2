//! Issue 14 item 2: console users' API tokens carry their role. A help
//! desk token reads devices, status and timelines, resyncs and queues
//! read-only tasks; every write, key and secret is refused with 403 in the
//! one error shape, with a hint, and nothing is written. The admin token
//! keeps working as admin. A real store; the ACS task routes are merged in
//! as `phoneprov serve` does ([`ApiState::guard_api`]).

mod common;

use axum::http::{Method, StatusCode};
use common::Api;
use phoneprov_api::ApiState;
use phoneprov_store::{ApiTokenRepo as _, ConsoleRepo as _, ConsoleUser, NewDevice, Role, Store};
use serde_json::json;

const MAC: &str = "000e08abcdef";

/// An API with the ACS task routes, a device carrying a SIP password, and
/// two users with tokens: (api, help desk token, admin user's token).
fn setup() -> (Api, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let state = ApiState::open(dir.path()).unwrap();
    let token = phoneprov_api::ensure_admin_token(dir.path()).unwrap();
    let acs = phoneprov_acs::Acs::open(dir.path(), Default::default()).unwrap();
    let app = phoneprov_api::router_with(state.clone(), state.guard_api(acs.api_router()), None);
    let mut s = Store::open(dir.path()).unwrap();
    s.add_device(&NewDevice {
        mac: MAC.parse().unwrap(),
        serial: None,
        model: Some("CP-8841-3PCC".into()),
        group: Some("sales".into()),
        vars: [
            ("user".to_string(), "1001".to_string()),
            ("sip_password".to_string(), "hunter2".to_string()),
        ]
        .into(),
    })
    .unwrap();
    let mut tokens = Vec::new();
    for (name, role) in [("hd", Role::Helpdesk), ("boss", Role::Admin)] {
        s.add_console_user(&ConsoleUser {
            name: name.into(),
            role,
            pw_hash: "x".into(),
            created_ms: 1,
            updated_ms: 1,
        })
        .unwrap();
        let t = phoneprov_store::new_api_token();
        assert!(s.set_api_token(name, Some(&t)).unwrap());
        tokens.push(t);
    }
    let boss = tokens.pop().unwrap();
    let hd = tokens.pop().unwrap();
    (Api { dir, app, token }, hd, boss)
}

/// A request body: content type and bytes.
type Body = Option<(&'static str, Vec<u8>)>;

fn bearer(t: &str) -> String {
    format!("Bearer {t}")
}

fn json_body(v: serde_json::Value) -> Body {
    Some(("application/json", v.to_string().into_bytes()))
}

#[tokio::test]
async fn help_desk_reads_without_key_or_secrets_and_is_refused_every_write() {
    let (a, hd, _) = setup();
    let h = bearer(&hd);
    // Reads: the device without its key, the SIP password masked.
    let r = a
        .call_auth(
            Method::GET,
            &format!("/api/v1/devices/{MAC}"),
            Some(&h),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = r.json();
    assert!(v.get("key").is_none(), "{v}");
    assert_eq!(v["vars"]["sip_password"], "(secret)");
    assert_eq!(v["vars"]["user"], "1001");
    assert!(!r.text().contains("hunter2"));
    let r = a
        .call_auth(Method::GET, "/api/v1/devices", Some(&h), None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()[0]["vars"]["sip_password"], "(secret)");
    for uri in [
        format!("/api/v1/devices/{MAC}/events"),
        format!("/api/v1/devices/{MAC}/tasks"),
        "/api/v1/bulk-jobs".to_string(),
        "/api/v1/rollouts".to_string(),
    ] {
        let r = a.call_auth(Method::GET, &uri, Some(&h), None).await;
        assert_eq!(r.status, StatusCode::OK, "{uri}: {}", r.text());
    }
    // A read-only task is queued.
    let r = a
        .call_auth(
            Method::POST,
            &format!("/api/v1/devices/{MAC}/tasks"),
            Some(&h),
            json_body(json!({"rpc": "GetParameterValues", "names": ["Device.DeviceInfo."]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    // Every write is 403 with the one error shape and a hint.
    let refused: Vec<(Method, String, Body)> = vec![
        (
            Method::GET,
            "/api/v1/devices/export?with_keys=true".into(),
            None,
        ),
        (Method::GET, "/api/v1/devices/export".into(), None),
        (
            Method::PATCH,
            format!("/api/v1/devices/{MAC}"),
            json_body(json!({"sip_password": "x"})),
        ),
        (
            Method::PUT,
            format!("/api/v1/devices/{MAC}"),
            json_body(json!({"model": "CP-8841-3PCC"})),
        ),
        (Method::DELETE, format!("/api/v1/devices/{MAC}"), None),
        (
            Method::POST,
            "/api/v1/devices".into(),
            json_body(json!({"mac": "000e08000001"})),
        ),
        (
            Method::POST,
            "/api/v1/devices/import".into(),
            Some(("text/csv", b"mac\n000e08000002\n".to_vec())),
        ),
        (Method::POST, format!("/api/v1/devices/{MAC}/approve"), None),
        (
            Method::PUT,
            "/api/v1/templates/default.xml.j2?dry_run=true".into(),
            Some(("text/plain", b"<flat-profile/>".to_vec())),
        ),
        (
            Method::DELETE,
            "/api/v1/templates/default.xml.j2".into(),
            None,
        ),
        (
            Method::POST,
            "/api/v1/rollouts".into(),
            json_body(json!({"version": "1", "file": "f", "selection": {"all": true}})),
        ),
        (Method::POST, "/api/v1/rollouts/1/pause".into(), None),
        (
            Method::POST,
            format!("/api/v1/devices/{MAC}/tasks"),
            json_body(json!({"rpc": "Reboot", "command_key": "k"})),
        ),
        (
            Method::POST,
            "/api/v1/bulk-jobs".into(),
            json_body(
                json!({"action": "task", "task": {"rpc": "FactoryReset"}, "selection": {"all": true}}),
            ),
        ),
    ];
    for (m, uri, body) in refused {
        let r = a.call_auth(m.clone(), &uri, Some(&h), body).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{m} {uri}: {}", r.text());
        let v = r.json();
        let e = v["error"].as_str().unwrap();
        assert!(e.starts_with("helpdesk users cannot"), "{e}");
        assert!(v["hint"].as_str().unwrap().contains("admin"), "{v}");
    }
    // Nothing was written: one device, its variables and the one task.
    let s = Store::open(a.dir.path()).unwrap();
    assert_eq!(s.count_devices(None).unwrap(), 1);
    let d = s.device(MAC.parse().unwrap()).unwrap().unwrap();
    assert_eq!(d.vars["sip_password"], "hunter2");
    let r = a
        .call(Method::GET, &format!("/api/v1/devices/{MAC}/tasks"), None)
        .await;
    let tasks = r.json();
    assert_eq!(tasks.as_array().unwrap().len(), 1, "{tasks}");
    assert!(tasks.to_string().contains("GetParameterValues"));
    let r = a.call(Method::GET, "/api/v1/bulk-jobs", None).await;
    assert_eq!(r.json().as_array().unwrap().len(), 0);
    // A bulk job with a body that does not parse reaches the handler's 400.
    let r = a
        .call_auth(
            Method::POST,
            "/api/v1/bulk-jobs",
            Some(&h),
            json_body(json!({"action": "nope"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
}

#[tokio::test]
async fn admin_token_and_admin_users_token_see_keys_and_write() {
    let (a, _, boss) = setup();
    let mut expected = "hunter2".to_string();
    for (n, auth) in [bearer(&a.token), bearer(&boss)].into_iter().enumerate() {
        let r = a
            .call_auth(
                Method::GET,
                &format!("/api/v1/devices/{MAC}"),
                Some(&auth),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        let v = r.json();
        assert_eq!(v["key"].as_str().unwrap().len(), 32, "{v}");
        assert_eq!(v["vars"]["sip_password"], expected.as_str());
        // Admins can still set a secret variable.
        expected = format!("s3cret{n}");
        let r = a
            .call_auth(
                Method::PATCH,
                &format!("/api/v1/devices/{MAC}"),
                Some(&auth),
                json_body(json!({ "sip_password": expected })),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    }
}

#[tokio::test]
async fn revoked_replaced_or_removed_users_tokens_are_refused() {
    let (a, hd, boss) = setup();
    let mut s = Store::open(a.dir.path()).unwrap();
    let fresh = phoneprov_store::new_api_token();
    s.set_api_token("hd", Some(&fresh)).unwrap();
    s.remove_console_user("boss").unwrap();
    for t in [&hd, &boss] {
        let r = a
            .call_auth(Method::GET, "/api/v1/devices", Some(&bearer(t)), None)
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(r.json()["error"], "wrong admin token");
    }
    let r = a
        .call_auth(Method::GET, "/api/v1/devices", Some(&bearer(&fresh)), None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

/// `AdminError` names what is missing (issue 14, noticed last session).
#[tokio::test]
async fn missing_jobs_and_rollouts_are_named() {
    let (a, _, _) = setup();
    let r = a.call(Method::GET, "/api/v1/bulk-jobs/5", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json()["error"], "no bulk job 5");
    assert!(r.json()["hint"]
        .as_str()
        .unwrap()
        .contains("/api/v1/bulk-jobs"));
    let r = a.call(Method::GET, "/api/v1/rollouts/5", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json()["error"], "no rollout 5");
    assert!(r.json()["hint"]
        .as_str()
        .unwrap()
        .contains("/api/v1/rollouts"));
}
