//! The REST task API through `tower::ServiceExt::oneshot` (no socket), and
//! the connection request to a tiny local CPE listener that requires
//! Digest.

mod common;

use std::sync::{Arc, Mutex};

use axum::body::Body;
use bytes::Bytes;
use common::*;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use phoneprov_acs::{Acs, AcsSettings, ConnectionRequestSettings, TaskState};
use phoneprov_cwmp::*;
use phoneprov_httpauth::{
    challenge_headers, parse_authorization, verify_digest, Algorithm, Authorization, NonceManager,
    NonceStatus, Secret,
};
use phoneprov_types::http_error::ErrorBody;
use serde_json::{json, Value};
use tower::ServiceExt;

async fn call(acs: &Acs, method: &str, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(match body {
            Some(v) => Body::from(v.to_string()),
            None => Body::empty(),
        })
        .unwrap();
    let resp = acs.api_router().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let v = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&bytes)))
    };
    (status, v)
}

/// Asserts the admin routes' one error shape (`ErrorBody` refuses other
/// fields), with both texts filled.
fn assert_error_shape(what: &str, v: &Value) {
    let b: ErrorBody =
        serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{what}: {e}: {v}"));
    assert!(
        !b.error.is_empty() && !b.hint.is_empty() && b.rows.is_empty(),
        "{what}: {v}"
    );
}

/// Every error of the task API is the admin API's `{"error": …, "hint": …}`
/// (issue 11: one error shape), the guard's 401 included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_is_the_admin_error_shape() {
    let dir = tempfile::tempdir().unwrap();
    let acs = Acs::open(dir.path(), open_settings()).unwrap();
    let base = "/api/v1/devices/000e08abcdef";
    let cases = [
        (
            "bad MAC",
            "GET",
            "/api/v1/devices/zz/tasks".to_string(),
            None,
            StatusCode::BAD_REQUEST,
        ),
        (
            "bad task",
            "POST",
            format!("{base}/tasks"),
            Some(json!({"rpc":"Explode"})),
            StatusCode::BAD_REQUEST,
        ),
        (
            "no such task",
            "GET",
            format!("{base}/tasks/99999"),
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            "task id not a number",
            "GET",
            format!("{base}/tasks/abc"),
            None,
            StatusCode::BAD_REQUEST,
        ),
        (
            "bad limit",
            "GET",
            format!("{base}/tasks?limit=-1"),
            None,
            StatusCode::BAD_REQUEST,
        ),
        (
            "no connection request URL",
            "POST",
            format!("{base}/connection-request"),
            None,
            StatusCode::NOT_FOUND,
        ),
    ];
    for (what, method, uri, body, status) in cases {
        let (st, e) = call(&acs, method, &uri, body).await;
        assert_eq!(st, status, "{what}: {e}");
        assert_error_shape(what, &e);
    }
    let guarded = acs.api_router_guarded(Arc::new(|_: &http::HeaderMap| false));
    for (what, auth) in [("no token", None), ("wrong token", Some("Bearer nope"))] {
        let mut req = Request::get(format!("{base}/tasks"));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let resp = guarded
            .clone()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{what}");
        let challenge = resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_string();
        assert_eq!(
            challenge.contains("invalid_token"),
            auth.is_some(),
            "{challenge}"
        );
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        assert_error_shape(what, &serde_json::from_slice(&bytes).unwrap());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_api_queues_lists_shows_and_refuses_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let acs = Acs::open(dir.path(), open_settings()).unwrap();
    let base = "/api/v1/devices/00:0E:08:AB:CD:EF";
    let (st, t) = call(
        &acs,
        "POST",
        &format!("{base}/tasks"),
        Some(json!({"rpc":"GetParameterValues","names":["Device.DeviceInfo.","TLS_Cipher_List"]})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{t}");
    assert_eq!(t["state"], "queued");
    assert_eq!(t["mac"], MAC);
    assert_eq!(
        t["rpc"]["names"][1],
        "Device.X_CISCO_SecuritySettings.TLSCipherList"
    );
    let id = t["id"].as_i64().unwrap();
    let (st, _) = call(
        &acs,
        "POST",
        &format!("{base}/tasks"),
        Some(json!({"rpc":"Reboot"})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED);

    let (st, list) = call(&acs, "GET", &format!("{base}/tasks"), None).await;
    assert_eq!(st, StatusCode::OK);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[1]["id"], id, "newest first");

    let (st, one) = call(&acs, "GET", &format!("{base}/tasks/{id}"), None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(one["rpc"]["rpc"], "GetParameterValues");
    let (st, e) = call(&acs, "GET", &format!("{base}/tasks/99999"), None).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert!(e["error"].as_str().unwrap().contains("99999"));

    // Issue 14 item 4: cancel a queued task; it stays listed as
    // cancelled, a second cancel is 409 naming the state, unknown is 404.
    let (st, c) = call(&acs, "DELETE", &format!("{base}/tasks/{id}"), None).await;
    assert_eq!(st, StatusCode::OK, "{c}");
    assert_eq!(c["state"], "cancelled");
    let (st, e) = call(&acs, "DELETE", &format!("{base}/tasks/{id}"), None).await;
    assert_eq!(st, StatusCode::CONFLICT);
    assert!(e["error"].as_str().unwrap().contains("is cancelled"), "{e}");
    assert!(e["hint"].is_string());
    let (st, _) = call(&acs, "DELETE", &format!("{base}/tasks/99999"), None).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (_, one) = call(&acs, "GET", &format!("{base}/tasks/{id}"), None).await;
    assert_eq!(one["state"], "cancelled");

    for bad in [
        json!({"rpc":"Explode"}),
        json!({"rpc":"GetParameterValues"}),
        json!({"rpc":"GetParameterValues","names":["Not_A_Param_Name"]}),
        json!({"rpc":"Download","file_type":"config"}),
        json!({"rpc":"SetParameterAttributes","attributes":[{"name":"Device.A","notification":7}]}),
        json!({"rpc":"Reboot","expires_after":"soon"}),
        json!({"rpc":"Reboot","expires_after":3600}),
        json!({"rpc":"Reboot","max_attempts":0}),
        json!({"rpc":"Reboot","max_attempts":"3"}),
        json!({"rpc":"Reboot","max_attempts":101}),
    ] {
        let before = call(&acs, "GET", &format!("{base}/tasks"), None).await.1;
        let (st, e) = call(&acs, "POST", &format!("{base}/tasks"), Some(bad.clone())).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{bad}");
        assert!(e["error"].is_string());
        let after = call(&acs, "GET", &format!("{base}/tasks"), None).await.1;
        assert_eq!(before, after, "{bad}: nothing queued");
    }
    let (st, e) = call(
        &acs,
        "POST",
        &format!("{base}/tasks"),
        Some(json!({"rpc":"Reboot","expires_after":"soon"})),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .contains("expires_after \"soon\""),
        "{e}"
    );

    // Issue 14 item 4: a task's own limits are stored and shown.
    let before = phoneprov_store::now_ms();
    let (st, t) = call(
        &acs,
        "POST",
        &format!("{base}/tasks"),
        Some(json!({"rpc":"GetRPCMethods","expires_after":"1h","max_attempts":3})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{t}");
    assert_eq!(t["max_attempts"], 3);
    let expires = t["expires_ms"].as_i64().unwrap();
    assert!(
        (before + 3_600_000..=phoneprov_store::now_ms() + 3_600_000).contains(&expires),
        "{t}"
    );
    let (_, t) = call(
        &acs,
        "POST",
        &format!("{base}/tasks"),
        Some(json!({"rpc":"GetRPCMethods"})),
    )
    .await;
    assert_eq!(t["max_attempts"], 5);
    assert!(t.get("expires_ms").is_none(), "{t}");
    let (st, _) = call(&acs, "GET", "/api/v1/devices/nonsense/tasks", None).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    let (st, dm) = call(&acs, "GET", &format!("{base}/datamodel"), None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(dm, json!([]));
    // No Inform yet: no ConnectionRequestURL known.
    let (st, _) = call(&acs, "POST", &format!("{base}/connection-request"), None).await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // The guarded router refuses what the guard refuses.
    let guarded = acs.api_router_guarded(Arc::new(|h: &http::HeaderMap| {
        h.get("x-token").is_some_and(|v| v == "ok")
    }));
    let req = Request::get(format!("{base}/tasks"))
        .body(Body::empty())
        .unwrap();
    let resp = guarded.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let req = Request::get(format!("{base}/tasks"))
        .header("x-token", "ok")
        .body(Body::empty())
        .unwrap();
    assert_eq!(guarded.oneshot(req).await.unwrap().status(), StatusCode::OK);
}

/// What the fake CPE's connection-request listener saw.
#[derive(Default)]
struct Seen {
    requests: Vec<(String, Option<String>)>,
    accepted: u32,
}

/// A connection-request listener that requires Digest (`cr`/`crpw`).
async fn cpe_listener(seen: Arc<Mutex<Seen>>) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let nonces = Arc::new(NonceManager::new(
        [9; 32],
        std::time::Duration::from_secs(60),
    ));
    tokio::spawn(async move {
        loop {
            let (s, _) = listener.accept().await.unwrap();
            let seen = seen.clone();
            let nonces = nonces.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let seen = seen.clone();
                    let nonces = nonces.clone();
                    async move {
                        let auth = req
                            .headers()
                            .get("authorization")
                            .map(|v| v.to_str().unwrap().to_string());
                        let mut s = seen.lock().unwrap();
                        s.requests.push((req.uri().to_string(), auth.clone()));
                        let ok = match auth.as_deref().map(parse_authorization) {
                            Some(Ok(Authorization::Digest(d))) => {
                                d.uri == req.uri().to_string()
                                    && verify_digest(&d, "GET", Secret::Password("crpw"), b"")
                                    && d.username == "cr"
                                    && nonces.record(&d, 1_000) == NonceStatus::Valid
                            }
                            _ => false,
                        };
                        let mut r = Response::new(Full::new(Bytes::new()));
                        if ok {
                            s.accepted += 1;
                            *r.status_mut() = StatusCode::NO_CONTENT;
                        } else {
                            *r.status_mut() = StatusCode::UNAUTHORIZED;
                            for h in challenge_headers(
                                "cpe",
                                &[Algorithm::Md5],
                                &nonces.issue(1_000),
                                false,
                            ) {
                                r.headers_mut()
                                    .append("www-authenticate", h.parse().unwrap());
                            }
                        }
                        Ok::<_, std::convert::Infallible>(r)
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(s), svc)
                    .await;
            });
        }
    });
    addr
}

/// The ACS sends a connection request to the URL from the device's
/// Inform, answers the CPE's Digest challenge with the configured
/// credentials, and reports success; wrong credentials give 502.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_request_uses_digest_against_the_cached_url() {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let cr_addr = cpe_listener(seen.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    add_phone(dir.path());
    let settings = AcsSettings {
        connection_request: ConnectionRequestSettings {
            username: "cr".into(),
            password: "crpw".into(),
        },
        ..open_settings()
    };
    let acs = start(dir.path(), settings).await;
    let mut model = phone_model();
    model.insert(
        CR_URL,
        &format!("http://{cr_addr}/cr/000e08abcdef"),
        ValueType::String,
        false,
    );
    let mut cpe = HttpCpe::new(acs.addr, None);
    let inf = inform(&model, SERIAL, vec![EventCode::Boot]);
    run_session(&mut cpe, CpeSession::new(inf), &mut model)
        .await
        .unwrap();

    let (st, out) = call(
        &acs.acs,
        "POST",
        "/api/v1/devices/000e08abcdef/connection-request",
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{out}");
    assert_eq!(out["status"], 204);
    assert_eq!(out["authenticated"], true);
    {
        let s = seen.lock().unwrap();
        assert_eq!(s.accepted, 1);
        assert_eq!(s.requests.len(), 2, "challenge, then authenticated GET");
        assert_eq!(s.requests[0].1, None);
        assert!(s.requests[1].1.as_deref().unwrap().starts_with("Digest "));
        assert_eq!(s.requests[1].0, "/cr/000e08abcdef");
    }
    acs.stop().await;

    // Wrong password: the CPE keeps answering 401 → 502 from the API.
    let settings = AcsSettings {
        connection_request: ConnectionRequestSettings {
            username: "cr".into(),
            password: "wrong".into(),
        },
        ..open_settings()
    };
    let acs = Acs::open(dir.path(), settings).unwrap();
    let (st, e) = call(
        &acs,
        "POST",
        "/api/v1/devices/000e08abcdef/connection-request",
        None,
    )
    .await;
    assert_eq!(st, StatusCode::BAD_GATEWAY);
    assert!(e["error"].as_str().unwrap().contains("401"), "{e}");
    assert_eq!(seen.lock().unwrap().accepted, 1);
}

/// A task queued through the API is picked up by the device's next
/// session and its result shows in the API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_task_result_visible_after_session() {
    let dir = tempfile::tempdir().unwrap();
    add_phone(dir.path());
    let acs = start(dir.path(), open_settings()).await;
    let (_, t) = call(
        &acs.acs,
        "POST",
        "/api/v1/devices/000e08abcdef/tasks",
        Some(json!({"rpc":"SetParameterValues","values":[{"name":"Device.NoSuch","value":"1"}]})),
    )
    .await;
    let id = t["id"].as_i64().unwrap();
    let mut model = phone_model();
    let mut cpe = HttpCpe::new(acs.addr, None);
    let inf = inform(&model, SERIAL, vec![EventCode::ConnectionRequest]);
    run_session(&mut cpe, CpeSession::new(inf), &mut model)
        .await
        .unwrap();
    let (_, t) = call(
        &acs.acs,
        "GET",
        &format!("/api/v1/devices/000e08abcdef/tasks/{id}"),
        None,
    )
    .await;
    assert_eq!(t["state"], "fault");
    assert_eq!(t["result"]["fault"]["code"], 9003);
    assert_eq!(t["result"]["fault"]["parameter_faults"][0]["code"], 9005);
    assert_eq!(
        acs.acs.task(mac(), id).unwrap().unwrap().state,
        TaskState::Fault
    );
    acs.stop().await;
}
