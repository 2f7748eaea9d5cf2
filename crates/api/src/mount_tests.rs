//! Unit tests of [`crate::router_with`] / [`crate::bytes_handler_with`]:
//! merged routes (the shapes `phoneprov serve` merges: the ACS task API
//! and the activation service) win over the `/api/v1` fallback, the API's
//! own routes and token check stay as they were, and the OpenAPI document
//! lists the merged paths.

use axum::body::Bytes;
use axum::http::{Method, Request, StatusCode};
use axum::routing::{get, post};
use axum::Router;

use crate::{acs_doc, activation_doc, bytes_handler_with, ensure_admin_token, ApiState};

/// Routes shaped like the ACS and activation routers, each answering its
/// own name, the admin ones behind the API's own guard.
fn extra(state: &ApiState) -> Router {
    let guard = state.admin_guard();
    let admin = Router::new()
        .route(
            "/api/v1/devices/{mac}/tasks",
            get(|| async { "extra:list-tasks" }).post(|| async { "extra:create-task" }),
        )
        .route(
            "/api/v1/devices/{mac}/tasks/{id}",
            get(|| async { "extra:task" }),
        )
        .route(
            "/api/v1/activation/bindings",
            post(|| async { "extra:bind" }),
        )
        .route_layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| {
                let ok = guard(req.headers());
                async move {
                    if ok {
                        next.run(req).await
                    } else {
                        axum::response::IntoResponse::into_response(StatusCode::UNAUTHORIZED)
                    }
                }
            },
        ));
    Router::new()
        .route("/activation/v1/query", get(|| async { "extra:query" }))
        .merge(admin)
}

fn doc() -> utoipa::openapi::OpenApi {
    let mut d = acs_doc();
    d.merge(activation_doc());
    d
}

#[tokio::test]
async fn merged_routes_win_over_the_api_fallback_and_own_routes_still_work() {
    let dir = tempfile::tempdir().unwrap();
    let state = ApiState::open(dir.path()).unwrap();
    let token = ensure_admin_token(dir.path()).unwrap();
    let handler = bytes_handler_with(state.clone(), extra(&state), Some(doc()));
    let call = |method: Method, uri: &str, auth: bool| {
        let mut req = Request::builder().method(method).uri(uri);
        if auth {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        handler(req.body(Bytes::new()).unwrap())
    };
    let text = |r: &axum::http::Response<Bytes>| String::from_utf8_lossy(r.body()).to_string();

    for (method, uri, want) in [
        (
            Method::GET,
            "/api/v1/devices/000e08abcdef/tasks",
            "extra:list-tasks",
        ),
        (
            Method::POST,
            "/api/v1/devices/000e08abcdef/tasks",
            "extra:create-task",
        ),
        (
            Method::GET,
            "/api/v1/devices/000e08abcdef/tasks/7",
            "extra:task",
        ),
        (Method::POST, "/api/v1/activation/bindings", "extra:bind"),
        (
            Method::GET,
            "/activation/v1/query?mac=000e08abcdef",
            "extra:query",
        ),
    ] {
        let r = call(method.clone(), uri, true).await;
        assert_eq!(r.status(), StatusCode::OK, "{method} {uri}: {}", text(&r));
        assert_eq!(text(&r), want, "{method} {uri}");
    }
    // The merged admin routes keep their own guard: no token, no entry.
    let r = call(Method::GET, "/api/v1/devices/000e08abcdef/tasks", false).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // A method the merged route does not serve is 405 from that route, not
    // the fallback's 404.
    let r = call(Method::DELETE, "/api/v1/activation/bindings", true).await;
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    // Paths nobody serves still get the API's JSON 404 with its hint.
    let r = call(Method::GET, "/api/v1/devices/000e08abcdef/nothing", true).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let body: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("no API route"),
        "{body}"
    );
    // The API's own routes and token check are unchanged.
    assert_eq!(
        call(Method::GET, "/api/v1/devices", false).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let r = call(Method::GET, "/api/v1/devices", true).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", text(&r));
    assert_eq!(text(&r), "[]");
    // The document lists both the API's paths and the merged ones.
    let r = call(Method::GET, "/api/v1/openapi.json", false).await;
    assert_eq!(r.status(), StatusCode::OK);
    let d: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
    for (path, method) in [
        ("/api/v1/devices", "get"),
        ("/api/v1/devices/{mac}/tasks", "post"),
        ("/api/v1/devices/{mac}/tasks/{id}", "get"),
        ("/api/v1/devices/{mac}/tasks/{id}", "delete"),
        ("/api/v1/devices/{mac}/datamodel", "get"),
        ("/api/v1/activation/bindings", "post"),
        ("/api/v1/activation/codes", "post"),
        ("/activation/v1/query", "get"),
        ("/activation/v1/code", "post"),
    ] {
        assert!(
            d["paths"][path][method].is_object(),
            "{method} {path} missing"
        );
    }
    assert!(d["paths"]["/api/v1/devices/{mac}/tasks"]["post"]["security"].is_array());
    assert!(d["paths"]["/activation/v1/query"]["get"]["security"].is_null());
}

#[tokio::test]
async fn admin_guard_accepts_exactly_the_admin_token() {
    let dir = tempfile::tempdir().unwrap();
    let state = ApiState::open(dir.path()).unwrap();
    let token = ensure_admin_token(dir.path()).unwrap();
    let guard = state.admin_guard();
    let headers = |v: &str| {
        let mut h = axum::http::HeaderMap::new();
        h.insert("authorization", v.parse().unwrap());
        h
    };
    assert!(guard(&headers(&format!("Bearer {token}"))));
    assert!(guard(&headers(&format!("bearer  {token} "))));
    assert!(!guard(&headers(&format!("Bearer {token}x"))));
    assert!(!guard(&headers(&format!("Basic {token}"))));
    assert!(!guard(&axum::http::HeaderMap::new()));
}

#[tokio::test]
async fn client_address_extension_reaches_handlers_as_connect_info() {
    use axum::extract::ConnectInfo;
    use std::net::SocketAddr;
    let dir = tempfile::tempdir().unwrap();
    let state = ApiState::open(dir.path()).unwrap();
    let extra = Router::new().route(
        "/activation/v1/query",
        // How the activation router reads it: from the extensions.
        get(|req: axum::extract::Request| async move {
            req.extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map_or("none".to_string(), |c| c.0.to_string())
        }),
    );
    let handler = bytes_handler_with(state, extra, None);
    let peer: SocketAddr = "192.0.2.7:5060".parse().unwrap();
    let mut req = Request::get("/activation/v1/query")
        .body(Bytes::new())
        .unwrap();
    req.extensions_mut().insert(peer);
    assert_eq!(handler(req).await.body().as_ref(), b"192.0.2.7:5060");
    let req = Request::get("/activation/v1/query")
        .body(Bytes::new())
        .unwrap();
    assert_eq!(handler(req).await.body().as_ref(), b"none");
}
