//! Prometheus metrics (`/metrics`) through the `metrics` facade and
//! `metrics-exporter-prometheus`.
//!
//! Series:
//! * `phoneprov_requests_total{proto, status}`: answered requests;
//! * `phoneprov_bytes_sent_total{proto}`: body bytes of those answers;
//! * `phoneprov_render_cache_total{result="hit"|"miss"}`;
//! * `phoneprov_status_dropped_total`: status writes dropped under overload.
//!
//! The recorder is process-global (one per process, installed once even
//! when tests start several servers).

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the recorder once and returns its handle.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (an embedding
            // program's): keep serving ours, which then just stays empty.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Protocol label values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// Plain HTTP.
    Http,
    /// HTTP over TLS.
    Https,
    /// TFTP.
    Tftp,
}

impl Proto {
    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Http => "http",
            Proto::Https => "https",
            Proto::Tftp => "tftp",
        }
    }
}

/// Counts one answered request.
pub fn record(proto: Proto, status: &'static str, bytes: u64) {
    metrics::counter!("phoneprov_requests_total", "proto" => proto.as_str(), "status" => status)
        .increment(1);
    if bytes > 0 {
        metrics::counter!("phoneprov_bytes_sent_total", "proto" => proto.as_str()).increment(bytes);
    }
}

/// A status code as a static label (common ones; others as "other").
pub fn status_label(code: u16) -> &'static str {
    match code {
        200 => "200",
        204 => "204",
        206 => "206",
        301 => "301",
        302 => "302",
        304 => "304",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        408 => "408",
        413 => "413",
        416 => "416",
        431 => "431",
        500 => "500",
        503 => "503",
        _ => "other",
    }
}
