//! The OpenAPI document parses as OpenAPI 3 and lists every route the
//! router serves, with the bearer scheme on every route but itself.

mod common;

use axum::http::{Method, StatusCode};
use common::api;

#[tokio::test]
async fn openapi_document_lists_every_route() {
    let a = api();
    let r = a
        .call_auth(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let doc = r.json();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    assert!(doc["info"]["title"].as_str().unwrap().contains("phoneprov"));
    let expected = [
        ("/api/v1/devices", "get"),
        ("/api/v1/devices", "post"),
        ("/api/v1/devices/{mac}", "get"),
        ("/api/v1/devices/{mac}", "put"),
        ("/api/v1/devices/{mac}", "delete"),
        ("/api/v1/devices/import", "post"),
        ("/api/v1/devices/{mac}/events", "get"),
        ("/api/v1/devices/{mac}/resync", "post"),
        ("/api/v1/devices/{mac}", "patch"),
        ("/api/v1/devices/export", "get"),
        ("/api/v1/devices/pending", "get"),
        ("/api/v1/devices/{mac}/approve", "post"),
        ("/api/v1/devices/{mac}/reject", "post"),
        ("/api/v1/bulk-jobs", "post"),
        ("/api/v1/bulk-jobs", "get"),
        ("/api/v1/bulk-jobs/{id}", "get"),
        ("/api/v1/bulk-jobs/{id}", "delete"),
        ("/api/v1/templates", "get"),
        ("/api/v1/templates/{name}", "get"),
        ("/api/v1/templates/{name}", "put"),
        ("/api/v1/templates/{name}", "delete"),
        ("/api/v1/rollouts", "post"),
        ("/api/v1/rollouts", "get"),
        ("/api/v1/rollouts/{id}", "get"),
        ("/api/v1/rollouts/{id}/pause", "post"),
        ("/api/v1/rollouts/{id}/resume", "post"),
        ("/api/v1/rollouts/{id}/rollback", "post"),
        ("/api/v1/openapi.json", "get"),
    ];
    let paths = doc["paths"].as_object().unwrap();
    let listed: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(
        listed,
        expected.len(),
        "routes in the document: {:?}",
        paths.keys()
    );
    for (path, method) in expected {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} missing");
        let secured = op["security"]
            .as_array()
            .is_some_and(|s| s.iter().any(|s| s.get("bearer").is_some()));
        assert_eq!(
            secured,
            path != "/api/v1/openapi.json",
            "{method} {path} security"
        );
        // Every documented route really exists: without a token it is 401
        // (or 200 for the document), never 404/405.
        let uri = path.replace("{mac}", "000e08abcdef").replace("{id}", "1");
        let m: Method = method.to_uppercase().parse().unwrap();
        let status = a.call_auth(m, &uri, None, None).await.status;
        assert!(
            status == StatusCode::UNAUTHORIZED || status == StatusCode::OK,
            "{method} {path}: {status}"
        );
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"]
            .as_str()
            .map(str::to_lowercase)
            .as_deref(),
        Some("bearer")
    );
    for schema in [
        "DeviceView",
        "ErrorBody",
        "EventView",
        "ImportResult",
        "NewDeviceBody",
        "PushOutcome",
    ] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "schema {schema} missing"
        );
    }
}
