//! Prometheus metrics (`/metrics`) through the `metrics` facade and
//! `metrics-exporter-prometheus`.
//!
//! Series:
//! * `phoneprov_requests_total{proto, status}`: answered requests;
//! * `phoneprov_bytes_sent_total{proto}`: body bytes of those answers;
//! * `phoneprov_render_cache_total{result="hit"|"miss"}`;
//! * `phoneprov_status_dropped_total`: status writes dropped under overload.
//!
//! * `phoneprov_status_folded_total`: identical status repeats folded.
//! * `phoneprov_acs_writes_total`, `phoneprov_acs_write_groups_total`: the
//!   ACS's session writes and the group commits that wrote them
//!   (`phoneprov-acs`; their ratio is the average group size).
//!
//! The recorder is process-global (one per process, installed once even
//! when tests start several servers). The hot path never looks a series up
//! by name and labels: [`handles`] resolves every series once (after the
//! recorder is installed) into `Counter` handles, so counting a request is
//! an atomic add (issue 4: a `counter!` with labels builds a key, hashes it
//! and probes the registry on every call).

use std::sync::OnceLock;

use metrics::Counter;
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

/// Status labels of `phoneprov_requests_total`, in [`label_index`] order.
const LABELS: &[&str] = &[
    "200",
    "204",
    "206",
    "301",
    "302",
    "304",
    "400",
    "401",
    "403",
    "404",
    "405",
    "408",
    "413",
    "416",
    "431",
    "500",
    "503",
    "other",
    // TFTP and TLS outcomes.
    "ok",
    "not-found",
    "denied",
    "error",
    "handshake-failed",
];

/// Index of "other" in [`LABELS`].
const OTHER: usize = 17;

/// Pre-resolved counters (see the module docs).
pub struct Handles {
    /// `phoneprov_requests_total` by `[proto][label index]`.
    requests: [Vec<Counter>; 3],
    /// `phoneprov_bytes_sent_total` by proto.
    bytes: [Counter; 3],
    /// `phoneprov_render_cache_total{result="hit"}`.
    pub cache_hit: Counter,
    /// `phoneprov_render_cache_total{result="miss"}`.
    pub cache_miss: Counter,
    /// `phoneprov_status_folded_total`.
    pub status_folded: Counter,
    /// `phoneprov_status_dropped_total`.
    pub status_dropped: Counter,
}

static HANDLES: OnceLock<Handles> = OnceLock::new();

/// The counters, resolved on first use (installing our recorder first if
/// nothing is installed yet, so the handles never point at the no-op one).
pub fn handles() -> &'static Handles {
    HANDLES.get_or_init(|| {
        let _ = install();
        let protos = [Proto::Http, Proto::Https, Proto::Tftp];
        let requests = protos.map(|p| {
            LABELS
                .iter()
                .map(|&l| metrics::counter!("phoneprov_requests_total", "proto" => p.as_str(), "status" => l))
                .collect()
        });
        Handles {
            requests,
            bytes: protos.map(|p| metrics::counter!("phoneprov_bytes_sent_total", "proto" => p.as_str())),
            cache_hit: metrics::counter!("phoneprov_render_cache_total", "result" => "hit"),
            cache_miss: metrics::counter!("phoneprov_render_cache_total", "result" => "miss"),
            status_folded: metrics::counter!("phoneprov_status_folded_total"),
            status_dropped: metrics::counter!("phoneprov_status_dropped_total"),
        }
    })
}

fn label_index(label: &str) -> usize {
    LABELS.iter().position(|&l| l == label).unwrap_or(OTHER)
}

fn code_index(code: u16) -> usize {
    label_index(status_label(code))
}

/// Protocol label values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// Plain HTTP.
    Http = 0,
    /// HTTP over TLS.
    Https = 1,
    /// TFTP.
    Tftp = 2,
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

/// Counts one answered request (`status`: one of the labels above; any
/// other counts as "other").
pub fn record(proto: Proto, status: &'static str, bytes: u64) {
    count(proto, label_index(status), bytes);
}

/// Counts one answered HTTP request by status code.
pub fn record_code(proto: Proto, code: u16, bytes: u64) {
    count(proto, code_index(code), bytes);
}

fn count(proto: Proto, index: usize, bytes: u64) {
    let h = handles();
    let p = proto as usize;
    h.requests[p][index].increment(1);
    if bytes > 0 {
        h.bytes[p].increment(bytes);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_label_has_its_own_counter() {
        assert_eq!(LABELS[OTHER], "other");
        assert_eq!(LABELS[code_index(404)], "404");
        assert_eq!(LABELS[code_index(418)], "other");
        assert_eq!(LABELS[label_index("handshake-failed")], "handshake-failed");
    }
}
