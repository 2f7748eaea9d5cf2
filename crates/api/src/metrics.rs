//! Metrics helpers (issue 4 item 10), emitted through the `metrics` facade.
//!
//! `phoneprov serve` installs one process-wide Prometheus recorder
//! (`metrics-exporter-prometheus`) and serves `/metrics`; emitting through
//! the same facade puts the API's series next to the server's with no
//! wiring, and costs nothing when no recorder is installed (library use,
//! the CLI). Series:
//! - `phoneprov_api_requests_total{method, status}`: admin API answers;
//! - `phoneprov_push_resyncs_total{method, result}`: pushes to phones
//!   (R-RULE-6), `result` = `ok` | `refused` | `unreachable` | `error`;
//! - `phoneprov_devices`: inventory size, refreshed on each import (a
//!   gauge a dashboard can graph without a database query; `serve` also
//!   sets it at every scrape). Listing devices does not count the fleet:
//!   a page costs the same at any depth.
//!
//! The syslog series are emitted by `phoneprov-syslog`.

use crate::push::{PushError, PushMethod};

/// Counts one API answer.
pub fn record_request(method: &str, status: u16) {
    metrics::counter!(
        "phoneprov_api_requests_total",
        "method" => method.to_string(),
        "status" => status.to_string()
    )
    .increment(1);
}

/// Counts one push resync by method and result.
pub fn record_push<T>(method: PushMethod, result: &Result<T, PushError>) {
    let result = match result {
        Ok(_) => "ok",
        Err(PushError::Refused { .. } | PushError::SipRefused { .. }) => "refused",
        Err(PushError::Unreachable { .. }) => "unreachable",
        Err(_) => "error",
    };
    metrics::counter!(
        "phoneprov_push_resyncs_total",
        "method" => method.as_str(),
        "result" => result
    )
    .increment(1);
}

/// Sets the inventory-size gauge.
pub fn record_device_count(n: u64) {
    metrics::gauge!("phoneprov_devices").set(n as f64);
}
