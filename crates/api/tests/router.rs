//! Every `/api/v1` route through `tower::ServiceExt::oneshot`: success,
//! auth failures, bad input (issue 4 items 2, 8, 9, 10).

mod common;

use axum::http::{Method, StatusCode};
use common::{api, fake_phone};
use phoneprov_store::{now_ms, EventKind, Mac, NewEvent, Store};
use serde_json::json;

const MAC: &str = "000e08abcdef";

#[tokio::test]
async fn auth_missing_wrong_and_accepted_tokens() {
    let a = api();
    let routes = [
        (Method::GET, "/api/v1/devices"),
        (Method::POST, "/api/v1/devices"),
        (Method::GET, "/api/v1/devices/000e08abcdef"),
        (Method::PUT, "/api/v1/devices/000e08abcdef"),
        (Method::DELETE, "/api/v1/devices/000e08abcdef"),
        (Method::POST, "/api/v1/devices/import"),
        (Method::GET, "/api/v1/devices/000e08abcdef/events"),
        (Method::POST, "/api/v1/devices/000e08abcdef/resync"),
    ];
    for (m, uri) in routes {
        let r = a.call_auth(m.clone(), uri, None, None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{m} {uri}");
        assert_eq!(r.headers["www-authenticate"], "Bearer realm=\"phoneprov\"");
        assert!(r.json()["hint"].as_str().unwrap().contains("admin.token"));
        let r = a.call_auth(m.clone(), uri, Some("Bearer nope"), None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{m} {uri}");
        assert!(r.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("error=\"invalid_token\""));
        assert_eq!(r.json()["error"], "wrong admin token");
        // Basic auth with the token as password is not a bearer token.
        let r = a
            .call_auth(m.clone(), uri, Some(&format!("Basic {}", a.token)), None)
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{m} {uri}");
    }
    // Scheme is case-insensitive (RFC 7235).
    let r = a
        .call_auth(
            Method::GET,
            "/api/v1/devices",
            Some(&format!("bearer {}", a.token)),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // The OpenAPI document needs no token.
    let r = a
        .call_auth(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn add_show_list_update_delete() {
    let a = api();
    let r = a
        .json(
            Method::POST,
            "/api/v1/devices",
            json!({"mac": "00:0E:08:AB:CD:EF", "model": "CP-8841-3PCC", "group": "sales", "vars": {"user": "1001"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let created = r.json();
    assert_eq!(created["mac"], MAC);
    let key = created["key"].as_str().unwrap().to_string();
    assert_eq!(key.len(), 32);

    let r = a
        .json(Method::POST, "/api/v1/devices", json!({"mac": MAC}))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.json()["hint"].as_str().unwrap().contains("PUT"));

    a.json(
        Method::POST,
        "/api/v1/devices",
        json!({"mac": "000e08000001", "group": "lab"}),
    )
    .await;
    let r = a.call(Method::GET, "/api/v1/devices", None).await;
    let all = r.json();
    assert_eq!(all.as_array().unwrap().len(), 2);
    assert!(
        all[0].get("key").is_none(),
        "list must not show keys: {all}"
    );
    let r = a
        .call(Method::GET, "/api/v1/devices?group=sales", None)
        .await;
    assert_eq!(r.json().as_array().unwrap().len(), 1);
    assert_eq!(r.json()[0]["mac"], MAC);

    let r = a
        .call(Method::GET, "/api/v1/devices/00-0e-08-ab-cd-ef", None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["key"], key.as_str());
    assert_eq!(r.json()["vars"]["user"], "1001");

    let r = a
        .json(
            Method::PUT,
            "/api/v1/devices/000e08abcdef",
            json!({"model": "CP-6841-3PCC", "vars": {"user": "2002", "pw": "x"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["vars"]["user"], "2002");
    assert_eq!(r.json()["group"], serde_json::Value::Null);
    let r = a
        .call(Method::GET, "/api/v1/devices/000e08abcdef", None)
        .await;
    assert_eq!(r.json()["key"], key.as_str(), "PUT keeps the key");
    assert_eq!(r.json()["model"], "CP-6841-3PCC");

    let r = a
        .json(Method::PUT, "/api/v1/devices/000e08000099", json!({}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);

    let r = a
        .call(Method::DELETE, "/api/v1/devices/000e08abcdef", None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = a
        .call(Method::DELETE, "/api/v1/devices/000e08abcdef", None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = a
        .call(Method::GET, "/api/v1/devices/000e08abcdef", None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.json()["error"].as_str().unwrap().contains("000e08abcdef"));
}

#[tokio::test]
async fn bad_input_is_400_with_error_and_hint() {
    let a = api();
    for (m, uri) in [
        (Method::GET, "/api/v1/devices/nope"),
        (Method::PUT, "/api/v1/devices/00:0e:08"),
        (Method::DELETE, "/api/v1/devices/000e08abcdeg"),
        (Method::GET, "/api/v1/devices/zz/events"),
        (Method::POST, "/api/v1/devices/zz/resync"),
    ] {
        let body = (m == Method::PUT).then(|| ("application/json", b"{}".to_vec()));
        let r = a.call(m.clone(), uri, body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{m} {uri}");
        let j = r.json();
        assert!(j["error"].as_str().unwrap().starts_with("bad MAC"), "{j}");
        assert!(
            j["hint"].as_str().unwrap().contains("00:0E:08:AB:CD:EF"),
            "{j}"
        );
    }
    let r = a
        .json(Method::POST, "/api/v1/devices", json!({"mac": "xyz"}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = a
        .call(
            Method::POST,
            "/api/v1/devices",
            Some(("application/json", b"{not json".to_vec())),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json()["hint"]
        .as_str()
        .unwrap()
        .contains("application/json"));
    let r = a
        .json(
            Method::POST,
            "/api/v1/devices",
            json!({"mac": MAC, "modle": "typo"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.json()["error"].as_str().unwrap().contains("modle"),
        "{}",
        r.text()
    );
    let r = a
        .call(
            Method::POST,
            "/api/v1/devices",
            Some(("text/plain", br#"{"mac":"000e08abcdef"}"#.to_vec())),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "wrong content type");
    let r = a.call(Method::GET, "/api/v1/devices?grup=x", None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = a
        .call(
            Method::GET,
            "/api/v1/devices/000e08abcdef/events?limit=abc",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = a
        .call(
            Method::GET,
            "/api/v1/devices/000e08abcdef/events?limit=0",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = a.call(Method::GET, "/api/v1/nothing/here", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.json()["hint"].as_str().unwrap().contains("openapi.json"));
}

#[tokio::test]
async fn csv_import_all_or_nothing_with_line_numbers() {
    let a = api();
    let good = "mac,model,group,user\n000e08000001,CP-8841-3PCC,a,1001\n00:0e:08:00:00:02,CP-8841-3PCC,a,1002\n";
    let r = a
        .call(
            Method::POST,
            "/api/v1/devices/import",
            Some(("text/csv", good.as_bytes().to_vec())),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json(), json!({"created": 2, "updated": 0}));

    let bad = "mac,model\n000e08000001,X\nnot-a-mac,X\n000e08000003,X\n000e08000004,X,extra\n";
    let r = a
        .call(
            Method::POST,
            "/api/v1/devices/import",
            Some(("text/csv", bad.as_bytes().to_vec())),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let j = r.json();
    let lines: Vec<u64> = j["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, vec![3, 5], "{j}");
    assert!(
        j["rows"][0]["error"].as_str().unwrap().contains("MAC"),
        "{j}"
    );
    assert!(j["error"].as_str().unwrap().contains("nothing imported"));
    // Nothing changed: 000e08000003 absent, 000e08000001 keeps its model.
    let r = a.call(Method::GET, "/api/v1/devices", None).await;
    let all = r.json();
    assert_eq!(all.as_array().unwrap().len(), 2);
    assert_eq!(all[0]["model"], "CP-8841-3PCC");

    let r = a
        .call(
            Method::POST,
            "/api/v1/devices/import",
            Some(("text/csv", b"model,group\nx,y\n".to_vec())),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["rows"][0]["line"], 1);
    let r = a
        .call(
            Method::POST,
            "/api/v1/devices/import",
            Some(("text/csv", Vec::new())),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn events_are_listed_oldest_first() {
    let a = api();
    a.json(Method::POST, "/api/v1/devices", json!({"mac": MAC}))
        .await;
    let mac = Mac::parse(MAC).unwrap();
    let mut store = Store::open(a.dir.path()).unwrap();
    for i in 0..3 {
        store
            .append_event(&NewEvent {
                mac,
                at_ms: now_ms(),
                kind: EventKind::Syslog,
                outcome: None,
                source_ip: Some("10.0.0.9".parse().unwrap()),
                message: format!("line {i}"),
            })
            .unwrap();
    }
    let r = a
        .call(
            Method::GET,
            "/api/v1/devices/000e08abcdef/events?limit=2",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let j = r.json();
    let msgs: Vec<&str> = j
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert_eq!(msgs, vec!["line 1", "line 2"]);
    assert_eq!(j[0]["kind"], "syslog");
    assert_eq!(j[0]["source_ip"], "10.0.0.9");
}

/// R-RULE-6 through the API: push to a recording fake phone, event filed.
#[tokio::test]
async fn r_rule_6_resync_route_pushes_and_records() {
    let a = api();
    a.json(Method::POST, "/api/v1/devices", json!({"mac": MAC}))
        .await;
    // No known IP and no phone: 409 with a hint.
    let r = a
        .call(Method::POST, "/api/v1/devices/000e08abcdef/resync", None)
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    assert!(r.json()["hint"].as_str().unwrap().contains("phone"));
    // Unknown device: 404.
    let r = a
        .call(Method::POST, "/api/v1/devices/000e08000042/resync", None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let (phone, seen) = fake_phone(StatusCode::OK).await;
    let rule = "[--key s3cr3t] http://prov.example/$MA.xml";
    let r = a
        .json(
            Method::POST,
            "/api/v1/devices/000e08abcdef/resync",
            json!({"phone": phone, "rule": rule, "method": "execute-xml"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["status"], 200);
    let got = seen.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].method, Method::POST);
    assert_eq!(got[0].uri.path(), "/CGI/Execute");
    let items =
        phoneprov_phone::parse_execute_xml(std::str::from_utf8(&got[0].body).unwrap()).unwrap();
    assert_eq!(
        items[0].command(),
        phoneprov_phone::ExecuteCommand::Resync(Some(rule.to_string()))
    );

    let r = a
        .call(Method::GET, "/api/v1/devices/000e08abcdef/events", None)
        .await;
    let j = r.json();
    assert_eq!(j.as_array().unwrap().len(), 1, "{j}");
    assert_eq!(j[0]["kind"], "resync");
    assert!(j[0]["message"].as_str().unwrap().contains("/CGI/Execute"));

    // A phone that refuses: 502, and the failure is in the timeline too.
    let (phone, _) = fake_phone(StatusCode::FORBIDDEN).await;
    let r = a
        .json(
            Method::POST,
            "/api/v1/devices/000e08abcdef/resync",
            json!({"phone": phone}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY);
    assert!(
        r.json()["error"].as_str().unwrap().contains("HTTP 403"),
        "{}",
        r.text()
    );
    let r = a
        .json(
            Method::POST,
            "/api/v1/devices/000e08abcdef/resync",
            json!({"phone": "a b"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = a
        .json(
            Method::POST,
            "/api/v1/devices/000e08abcdef/resync",
            json!({"method": "telnet"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

/// The `http::Request<Bytes>` adapter the server's hyper front end uses.
#[tokio::test]
async fn bytes_handler_serves_the_same_api() {
    use axum::body::Bytes;
    let a = api();
    let state = phoneprov_api::ApiState::open(a.dir.path()).unwrap();
    let handler = phoneprov_api::bytes_handler(state);
    let req = axum::http::Request::builder()
        .method("POST")
        .uri("/api/v1/devices")
        .header("authorization", format!("Bearer {}", a.token))
        .header("content-type", "application/json")
        .body(Bytes::from_static(br#"{"mac":"000e08abcdef"}"#))
        .unwrap();
    let resp = handler(req).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let j: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
    assert_eq!(j["mac"], MAC);
    let req = axum::http::Request::builder()
        .uri("/api/v1/devices")
        .body(Bytes::new())
        .unwrap();
    let resp = handler(req).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(resp.headers().contains_key("www-authenticate"));
    // The router built by the first API sees the device the handler added.
    let r = a
        .call(Method::GET, "/api/v1/devices/000e08abcdef", None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

/// `?limit=&after=` pages through the inventory in MAC order, one keyset
/// page per call (issue 14 at scale), on both backends.
#[test]
fn device_listing_pages_on_sqlite() {
    device_listing_pages(&api());
}

#[test]
fn device_listing_pages_on_postgres() {
    device_listing_pages(&common::api_pg());
}

fn macs_of(r: &common::Reply) -> Vec<String> {
    r.json()
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["mac"].as_str().unwrap().to_string())
        .collect()
}

fn device_listing_pages(a: &common::Api) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut csv = String::from("mac,group\n");
        for i in 0..25u32 {
            csv.push_str(&format!(
                "000e08{i:06x},{}\n",
                if i % 2 == 0 { "even" } else { "odd" }
            ));
        }
        let r = a
            .call(
                Method::POST,
                "/api/v1/devices/import",
                Some(("text/csv", csv.into_bytes())),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let mut seen = Vec::new();
        let mut uri = "/api/v1/devices?limit=10".to_string();
        let mut pages = 0;
        loop {
            let r = a.call(Method::GET, &uri, None).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text());
            seen.extend(macs_of(&r));
            pages += 1;
            if pages == 1 {
                // Devices added while a client pages: one before the
                // cursor is not seen, one after it is, and nothing is
                // repeated or skipped (a keyset, not an offset).
                for mac in ["000e07ffffff", "000e08000005", "000e08ffffff"] {
                    let r = a
                        .json(Method::POST, "/api/v1/devices", json!({ "mac": mac }))
                        .await;
                    assert!(
                        r.status == StatusCode::CREATED || r.status == StatusCode::CONFLICT,
                        "{}",
                        r.text()
                    );
                }
            }
            match r.headers.get("x-next-after") {
                Some(next) => {
                    uri = format!("/api/v1/devices?limit=10&after={}", next.to_str().unwrap())
                }
                None => break,
            }
        }
        let mut expected: Vec<String> = (0..25u32).map(|i| format!("000e08{i:06x}")).collect();
        expected.push("000e08ffffff".into());
        assert_eq!(seen, expected);
        assert_eq!(pages, 3);
        // The whole list without ?limit= is the same order, every device.
        let r = a.call(Method::GET, "/api/v1/devices", None).await;
        let mut all = vec!["000e07ffffff".to_string()];
        all.extend(expected.iter().cloned());
        assert_eq!(macs_of(&r), all);
        assert!(r.headers.get("x-next-after").is_none());
        // Group filter and after combine; a colon MAC is accepted in ?after=.
        let r = a
            .call(
                Method::GET,
                "/api/v1/devices?group=odd&after=00:0e:08:00:00:10&limit=100",
                None,
            )
            .await;
        assert_eq!(
            macs_of(&r),
            vec![
                "000e08000011",
                "000e08000013",
                "000e08000015",
                "000e08000017"
            ]
        );
        assert!(r.headers.get("x-next-after").is_none());
        // A full page of a group names its last MAC; the next page starts
        // after it within the group.
        let r = a
            .call(Method::GET, "/api/v1/devices?group=even&limit=3", None)
            .await;
        assert_eq!(
            macs_of(&r),
            vec!["000e08000000", "000e08000002", "000e08000004"]
        );
        let next = r.headers.get("x-next-after").unwrap().to_str().unwrap();
        assert_eq!(next, "000e08000004");
        let r = a
            .call(
                Method::GET,
                &format!("/api/v1/devices?group=even&limit=3&after={next}"),
                None,
            )
            .await;
        assert_eq!(
            macs_of(&r),
            vec!["000e08000006", "000e08000008", "000e0800000a"]
        );
        // A cursor need not be a device of the inventory; past the end
        // the page is empty.
        let r = a
            .call(
                Method::GET,
                "/api/v1/devices?after=ffffffffffff&limit=5",
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(macs_of(&r).is_empty());
        assert!(r.headers.get("x-next-after").is_none());
        for bad in [
            "limit=0",
            "limit=100001",
            "after=zz",
            "after=000e08",
            "after=000e0800000g&limit=5",
            "limit=-1",
        ] {
            let r = a
                .call(Method::GET, &format!("/api/v1/devices?{bad}"), None)
                .await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
            // The one error shape: {error, hint}, nothing else.
            let body = r.json();
            let obj = body.as_object().unwrap();
            assert!(
                obj["error"].as_str().is_some_and(|e| !e.is_empty()),
                "{bad}: {body}"
            );
            assert!(
                obj["hint"].as_str().is_some_and(|h| !h.is_empty()),
                "{bad}: {body}"
            );
            assert_eq!(obj.len(), 2, "{bad}: {body}");
        }
    });
}

/// Issue 11: one error shape for every admin route (`ErrorBody` refuses
/// other fields); the ACS and activation crates' tests assert the same on
/// theirs.
#[tokio::test]
async fn every_error_is_the_admin_error_shape() {
    let a = api();
    let json = |b: &[u8]| Some(("application/json", b.to_vec()));
    let cases = [
        (
            "bad MAC",
            Method::GET,
            "/api/v1/devices/zz".to_string(),
            None,
            400,
        ),
        (
            "no device",
            Method::GET,
            format!("/api/v1/devices/{MAC}"),
            None,
            404,
        ),
        (
            "no route",
            Method::GET,
            "/api/v1/nothing".to_string(),
            None,
            404,
        ),
        (
            "bad JSON",
            Method::POST,
            "/api/v1/devices".to_string(),
            json(b"{not json"),
            400,
        ),
        (
            "bad import",
            Method::POST,
            "/api/v1/devices/import".to_string(),
            Some(("text/csv", b"mac,serial\nzz,1\n".to_vec())),
            400,
        ),
    ];
    for (what, method, uri, body, status) in cases {
        let r = a.call(method, &uri, body).await;
        assert_eq!(r.status.as_u16(), status, "{what}");
        let b: phoneprov_api::ErrorBody = serde_json::from_value(r.json()).unwrap();
        assert!(!b.error.is_empty() && !b.hint.is_empty(), "{what}: {b:?}");
        assert_eq!(b.rows.is_empty(), what != "bad import", "{what}: {b:?}");
    }
    let r = a
        .call_auth(Method::GET, "/api/v1/devices", None, None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let b: phoneprov_api::ErrorBody = serde_json::from_value(r.json()).unwrap();
    assert!(b.hint.contains("admin.token"), "{b:?}");
}
