//! The API's series reach a Prometheus recorder installed the way
//! `phoneprov serve` installs its own (this test binary is its own
//! process, so the global recorder and the counts are this test's alone).

mod common;

use axum::http::{Method, StatusCode};
use common::{api, fake_phone};
use serde_json::json;

#[tokio::test]
async fn requests_pushes_and_device_count_are_exported() {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).expect("only this test installs a recorder");

    let a = api();
    a.json(
        Method::POST,
        "/api/v1/devices",
        json!({"mac": "000e08abcdef"}),
    )
    .await;
    a.json(
        Method::POST,
        "/api/v1/devices",
        json!({"mac": "000e08abcdee"}),
    )
    .await;
    a.call(Method::GET, "/api/v1/devices/zz", None).await;
    a.call_auth(Method::GET, "/api/v1/devices", None, None)
        .await;
    a.call(Method::GET, "/api/v1/devices", None).await;
    // An import refreshes the inventory gauge (a listing does not count
    // the fleet).
    a.call(
        Method::POST,
        "/api/v1/devices/import",
        Some(("text/csv", b"mac\n000e08abcdef\n".to_vec())),
    )
    .await;
    let (phone, _) = fake_phone(StatusCode::FORBIDDEN).await;
    a.json(
        Method::POST,
        "/api/v1/devices/000e08abcdef/resync",
        json!({"phone": phone}),
    )
    .await;
    let (phone, _) = fake_phone(StatusCode::OK).await;
    a.json(
        Method::POST,
        "/api/v1/devices/000e08abcdef/resync",
        json!({"phone": phone, "method": "execute-xml"}),
    )
    .await;

    let text = handle.render();
    for line in [
        "phoneprov_api_requests_total{method=\"POST\",status=\"201\"} 2",
        "phoneprov_api_requests_total{method=\"GET\",status=\"400\"} 1",
        "phoneprov_api_requests_total{method=\"GET\",status=\"401\"} 1",
        "phoneprov_api_requests_total{method=\"GET\",status=\"200\"} 1",
        "phoneprov_api_requests_total{method=\"POST\",status=\"502\"} 1",
        "phoneprov_push_resyncs_total{method=\"get\",result=\"refused\"} 1",
        "phoneprov_push_resyncs_total{method=\"execute-xml\",result=\"ok\"} 1",
        "phoneprov_devices 2",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
}
