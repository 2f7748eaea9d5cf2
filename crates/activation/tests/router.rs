//! The activation router through `tower::ServiceExt::oneshot`: the phone's
//! query (bound → redirect profile, unbound → 404), code redemption (good,
//! reused → 410, unknown → 404, expired → 410 on an injected clock), short
//! codes, the admin endpoints and their guard, and the timeline events.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt as _;
use phoneprov_activation::{bearer_guard, parse_redirect, router, ActivationService};
use phoneprov_store::{EventKind, Mac, Outcome, Store};
use phoneprov_types::http_error::ErrorBody;
use serde_json::{json, Value};
use tower::ServiceExt as _;

const URL: &str = "https://prov.example.com/$MA.xml";
const TOKEN: &str = "s3cret-token";

struct Fixture {
    dir: tempfile::TempDir,
    app: axum::Router,
    clock: Arc<AtomicI64>,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(AtomicI64::new(1_700_000_000_000));
    let c = clock.clone();
    let svc = ActivationService::open(dir.path(), bearer_guard(TOKEN.into()))
        .unwrap()
        .with_clock(Arc::new(move || c.load(Ordering::SeqCst)));
    Fixture {
        dir,
        app: router(svc),
        clock,
    }
}

async fn send(app: &axum::Router, req: Request<Body>) -> (StatusCode, Vec<u8>) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let body = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, body)
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

fn post(uri: &str, body: Value, token: Option<&str>) -> Request<Body> {
    let mut r = Request::post(uri).header(header::CONTENT_TYPE, "application/json");
    if let Some(t) = token {
        r = r.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    r.body(Body::from(body.to_string())).unwrap()
}

async fn admin(app: &axum::Router, uri: &str, body: Value) -> (StatusCode, Value) {
    let (st, b) = send(app, post(uri, body, Some(TOKEN))).await;
    (st, serde_json::from_slice(&b).unwrap_or(Value::Null))
}

#[tokio::test]
async fn r_act_1_bound_phone_gets_redirect_unbound_gets_404() {
    let f = fixture();
    let q = "/activation/v1/query?mac=00:0e:08:ab:cd:ef&model=CP-8841-3PCC&serial=88012BA01234";
    let (st, body) = send(&f.app, get(q)).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert!(String::from_utf8_lossy(&body).contains("phoneprov activation bind"));

    let (st, b) = admin(
        &f.app,
        "/api/v1/activation/bindings",
        json!({"mac": "000e08abcdef", "url": URL, "model": "CP-8841-3PCC"}),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
    assert_eq!(b["url"], URL);

    let resp = f.app.clone().oneshot(get(q)).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[header::CONTENT_TYPE], "application/xml");
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(parse_redirect(&body).unwrap(), URL);

    // Model filter: another model of the same MAC is not this provider's.
    let (st, _) = send(
        &f.app,
        get("/activation/v1/query?mac=000e08abcdef&model=CP-6841-3PCC"),
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    // Bad MAC: 400 with the MAC error.
    let (st, body) = send(&f.app, get("/activation/v1/query?mac=nonsense")).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(&body).contains("bad MAC"));

    // Timeline: a not-found then a success, both activation events.
    let inv = Store::open_existing(f.dir.path()).unwrap();
    let ev = inv.events(Mac::parse("000e08abcdef").unwrap(), 10).unwrap();
    let got: Vec<_> = ev.iter().map(|e| (e.kind, e.outcome)).collect();
    assert_eq!(
        got,
        [
            (EventKind::Activation, Some(Outcome::NotFound)),
            (EventKind::Activation, Some(Outcome::Success)),
            (EventKind::Activation, Some(Outcome::NotFound)),
        ]
    );
    assert!(ev[1].message.contains(URL), "{}", ev[1].message);
}

#[tokio::test]
async fn r_act_2_code_flows_good_reused_wrong_expired() {
    let f = fixture();
    let (st, b) = admin(
        &f.app,
        "/api/v1/activation/codes",
        json!({"url": URL, "count": 3, "ttl_secs": 600}),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
    let codes: Vec<String> = b["codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(codes.len(), 3);

    let redeem = |mac: &str, code: &str| {
        post(
            "/activation/v1/code",
            json!({"mac": mac, "code": code}),
            None,
        )
    };
    let (st, body) = send(&f.app, redeem("000e08000001", &codes[0])).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(parse_redirect(&body).unwrap(), URL);
    // Reused by another phone: 410.
    let (st, body) = send(&f.app, redeem("000e08000002", &codes[0])).await;
    assert_eq!(st, StatusCode::GONE, "{}", String::from_utf8_lossy(&body));
    // Wrong: 404.
    let wrong = if codes.contains(&"1111222233334444".to_string()) {
        "1111222233334445"
    } else {
        "1111222233334444"
    };
    let (st, _) = send(&f.app, redeem("000e08000002", wrong)).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    // Malformed: 400.
    let (st, body) = send(&f.app, redeem("000e08000002", "12345")).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(&body).contains("exactly 16"));
    // Expired: 410, one second before it is still good.
    f.clock.fetch_add(599_999, Ordering::SeqCst);
    let (st, _) = send(&f.app, redeem("000e08000003", &codes[1])).await;
    assert_eq!(st, StatusCode::OK);
    f.clock.fetch_add(1, Ordering::SeqCst);
    let (st, body) = send(&f.app, redeem("000e08000004", &codes[2])).await;
    assert_eq!(st, StatusCode::GONE);
    assert!(String::from_utf8_lossy(&body).contains("expired"));

    // The code's redemption bound the phone: its MAC query now redirects.
    let (st, _) = send(&f.app, get("/activation/v1/query?mac=000e08000001")).await;
    assert_eq!(st, StatusCode::OK);
    // Events never carry a whole activation code.
    let inv = Store::open_existing(f.dir.path()).unwrap();
    let ev = inv.events(Mac::parse("000e08000002").unwrap(), 10).unwrap();
    assert_eq!(
        ev.len(),
        2,
        "reused and wrong are recorded; malformed never reaches the store"
    );
    assert!(ev.iter().all(|e| !e.message.contains(&codes[0])), "{ev:?}");
}

#[tokio::test]
async fn r_act_2_short_codes_through_the_same_endpoint() {
    let f = fixture();
    let (st, b) = admin(
        &f.app,
        "/api/v1/activation/codes",
        json!({"url": URL, "short": "4321"}),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
    assert_eq!(b["short_code"]["code"], "4321");
    for mac in ["000e08000001", "000e08000002"] {
        let (st, body) = send(
            &f.app,
            post(
                "/activation/v1/code",
                json!({"mac": mac, "code": "#4321"}),
                None,
            ),
        )
        .await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(parse_redirect(&body).unwrap(), URL);
    }
    let (st, _) = send(
        &f.app,
        post(
            "/activation/v1/code",
            json!({"mac": "000e08000001", "code": "#12"}),
            None,
        ),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "2 digits is not a short code");
    let (st, b) = admin(
        &f.app,
        "/api/v1/activation/codes",
        json!({"url": "http://x.example.com/y", "short": "4321"}),
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT, "{b}");
}

#[tokio::test]
async fn admin_endpoints_need_the_guard_and_validate() {
    let f = fixture();
    for (uri, body) in [
        (
            "/api/v1/activation/bindings",
            json!({"mac": "000e08000001", "url": URL}),
        ),
        ("/api/v1/activation/codes", json!({"url": URL})),
        ("/api/v1/activation/unbind", json!({"mac": "000e08000001"})),
    ] {
        for tok in [None, Some("wrong")] {
            let resp = f
                .app
                .clone()
                .oneshot(post(uri, body.clone(), tok))
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{uri}");
            // RFC 6750 §3, as the admin API answers.
            let challenge = resp.headers()[header::WWW_AUTHENTICATE].to_str().unwrap();
            assert!(
                challenge.starts_with("Bearer realm=\"phoneprov\""),
                "{challenge}"
            );
            assert_eq!(
                challenge.contains("invalid_token"),
                tok.is_some(),
                "{challenge}"
            );
        }
    }
    let (st, _) = send(&f.app, get("/api/v1/activation")).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);

    let (st, b) = admin(
        &f.app,
        "/api/v1/activation/bindings",
        json!({"mac": "000e08000001", "url": "gds://"}),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(
        b["error"].as_str().unwrap().contains("bad profile URL"),
        "{b}"
    );
    let (st, _) = admin(&f.app, "/api/v1/activation/bindings", json!({"url": URL})).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "no target");
    let (st, _) = admin(
        &f.app,
        "/api/v1/activation/bindings",
        json!({"serial_from": "88012BA00000", "serial_to": "88012BA09999", "url": URL}),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED);
    let (st, _) = send(
        &f.app,
        get("/activation/v1/query?mac=000e08000009&serial=88012BA00042"),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "serial range binding answers");

    let req = Request::get("/api/v1/activation")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    let (st, body) = send(&f.app, req).await;
    assert_eq!(st, StatusCode::OK);
    let listing: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(listing["bindings"].as_array().unwrap().len(), 1);

    let (st, _) = admin(
        &f.app,
        "/api/v1/activation/unbind",
        json!({"serial_from": "88012BA00000", "serial_to": "88012BA09999"}),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let (st, _) = admin(
        &f.app,
        "/api/v1/activation/unbind",
        json!({"mac": "000e08000001"}),
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _) = send(
        &f.app,
        get("/activation/v1/query?mac=000e08000009&serial=88012BA00042"),
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
}

/// Asserts the admin routes' one error shape (`ErrorBody` refuses other
/// fields), with both texts filled.
fn assert_error_shape(what: &str, b: &[u8]) {
    let text = String::from_utf8_lossy(b);
    let e: ErrorBody = serde_json::from_slice(b).unwrap_or_else(|e| panic!("{what}: {e}: {text}"));
    assert!(
        !e.error.is_empty() && !e.hint.is_empty() && e.rows.is_empty(),
        "{what}: {text}"
    );
}

/// Every error of the activation routes, admin and phone side, is the
/// admin API's `{"error": …, "hint": …}` (issue 11: one error shape).
#[tokio::test]
async fn every_error_is_the_admin_error_shape() {
    let f = fixture();
    let bad_json = Request::post("/api/v1/activation/bindings")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::from("{not json"))
        .unwrap();
    let cases = [
        (
            "no token",
            post("/api/v1/activation/codes", json!({"url": URL}), None),
            StatusCode::UNAUTHORIZED,
        ),
        ("bad JSON", bad_json, StatusCode::BAD_REQUEST),
        (
            "bad URL",
            post(
                "/api/v1/activation/bindings",
                json!({"mac": "000e08000001", "url": "gds://"}),
                Some(TOKEN),
            ),
            StatusCode::BAD_REQUEST,
        ),
        (
            "nothing to unbind",
            post(
                "/api/v1/activation/unbind",
                json!({"mac": "000e08000001"}),
                Some(TOKEN),
            ),
            StatusCode::NOT_FOUND,
        ),
        (
            "bad MAC (phone query)",
            get("/activation/v1/query?mac=zz"),
            StatusCode::BAD_REQUEST,
        ),
        (
            "no query",
            get("/activation/v1/query"),
            StatusCode::BAD_REQUEST,
        ),
        (
            "unbound (phone query)",
            get("/activation/v1/query?mac=000e08000042"),
            StatusCode::NOT_FOUND,
        ),
        (
            "bad code (phone)",
            post(
                "/activation/v1/code",
                json!({"mac": "000e08000042", "code": "12"}),
                None,
            ),
            StatusCode::BAD_REQUEST,
        ),
        (
            "unknown code (phone)",
            post(
                "/activation/v1/code",
                json!({"mac": "000e08000042", "code": "1234567890123456"}),
                None,
            ),
            StatusCode::NOT_FOUND,
        ),
    ];
    for (what, req, status) in cases {
        let (st, b) = send(&f.app, req).await;
        assert_eq!(st, status, "{what}: {}", String::from_utf8_lossy(&b));
        assert_error_shape(what, &b);
    }
}

/// `phoneprov serve` also nests the admin API (`phoneprov-api`) at
/// `/api/v1` with its own fallback; merging this router beside it must
/// neither panic nor let the fallback swallow `/api/v1/activation/...`.
#[tokio::test]
async fn merges_beside_a_nested_api_v1_router_with_a_fallback() {
    let f = fixture();
    let api = axum::Router::new()
        .route("/devices", axum::routing::get(|| async { "devices" }))
        .fallback(|| async { (StatusCode::IM_A_TEAPOT, "api fallback") });
    let app = axum::Router::new()
        .nest("/api/v1", api)
        .merge(f.app.clone());
    let req = Request::get("/api/v1/activation")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    let (st, body) = send(&app, req).await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let (st, _) = send(&app, get("/api/v1/devices")).await;
    assert_eq!(st, StatusCode::OK);
    let (st, _) = send(&app, get("/api/v1/nothing")).await;
    assert_eq!(st, StatusCode::IM_A_TEAPOT);
    let (st, _) = send(&app, get("/activation/v1/query?mac=000e08000001")).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
}
