//! Prometheus metrics (`/metrics` on the admin listener) through the
//! `metrics` facade and `metrics-exporter-prometheus` (issue 17 item 5).
//!
//! Every family the workspace emits is described in [`FAMILIES`] (the
//! `# HELP` line; a test checks that each one is scraped with it):
//! * `phoneprov_requests_total{proto="http"|"https", status}`: answered
//!   HTTP(S) requests by status code (HTTP words only);
//! * `phoneprov_tftp_requests_total{outcome}`: TFTP read requests by
//!   outcome (`ok`, `not-found`, `denied`, `error`);
//! * `phoneprov_request_duration_seconds{proto, outcome}`: latency
//!   histogram; `outcome` is the status class (`2xx`..`5xx`) for HTTP(S)
//!   and the TFTP outcome for TFTP;
//! * `phoneprov_tls_handshake_failures_total`: HTTPS handshakes that failed
//!   (refused client certificate, scanners, timeouts);
//! * `phoneprov_bytes_sent_total{proto}`, `phoneprov_render_cache_total`,
//!   `phoneprov_status_dropped_total`, `phoneprov_status_folded_total`;
//! * `phoneprov_devices` and `phoneprov_devices_by_outcome{outcome}`:
//!   inventory size and devices by last outcome, refreshed from the
//!   database at every scrape ([`set_device_counts`]), so they are live;
//! * `phoneprov_activation_queries_total{kind, result}`: the phones'
//!   activation queries and code redemptions (R-ACT);
//! * `phoneprov_build_info{version}`: always 1;
//! * the series other crates emit (API, push, auth throttle, ACS,
//!   syslog, retention, access log), listed in [`FAMILIES`] too.
//!
//! The recorder is process-global (one per process, installed once even
//! when tests start several servers). The hot path never looks a series up
//! by name and labels: [`handles`] resolves every series once (after the
//! recorder is installed) into `Counter`/`Histogram` handles, so counting a
//! request is an atomic add (issue 4: a `counter!` with labels builds a
//! key, hashes it and probes the registry on every call).

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Latency histogram buckets (seconds): a warm profile answers in well
/// under a millisecond, a firmware download or a stalled client takes
/// seconds.
const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0,
];

/// Every metric family of the workspace: (name, kind, help). Described
/// once at install, so each is scraped with `# HELP`; the Grafana
/// dashboard under `examples/grafana/` only names families listed here.
pub const FAMILIES: &[(&str, &str, &str)] = &[
    ("phoneprov_requests_total", "counter", "HTTP(S) requests answered on the phones' ports, by protocol and status code"),
    ("phoneprov_tftp_requests_total", "counter", "TFTP read requests answered, by outcome (ok, not-found, denied, error)"),
    ("phoneprov_request_duration_seconds", "histogram", "Time to answer a phone's request, by protocol and outcome (HTTP status class or TFTP outcome)"),
    ("phoneprov_tls_handshake_failures_total", "counter", "HTTPS handshakes that failed (refused client certificate, bad client, timeout)"),
    ("phoneprov_bytes_sent_total", "counter", "Body bytes sent to phones, by protocol"),
    ("phoneprov_render_cache_total", "counter", "Rendered-profile cache lookups, by result (hit, miss)"),
    ("phoneprov_status_dropped_total", "counter", "Device status writes dropped because the writer queue was full"),
    ("phoneprov_status_folded_total", "counter", "Identical device status repeats folded into the previous write"),
    ("phoneprov_devices", "gauge", "Devices in the inventory (read at every scrape)"),
    ("phoneprov_devices_by_outcome", "gauge", "Devices by the outcome of their last request (success, not-found, corrupt, failed, never)"),
    ("phoneprov_activation_queries_total", "counter", "Activation queries and code redemptions from phones, by kind (query, code) and result (redirect, not-found, refused, error)"),
    ("phoneprov_build_info", "gauge", "Always 1; the version label is the running phoneprov's"),
    ("phoneprov_api_requests_total", "counter", "Admin API answers, by method and status code"),
    ("phoneprov_push_resyncs_total", "counter", "Push resyncs sent to phones, by method and result"),
    ("phoneprov_auth_failures_total", "counter", "Failed authentications, by door (profile, report, admin, acs, console)"),
    ("phoneprov_auth_throttled_total", "counter", "Requests refused by the authentication throttle, by door"),
    ("phoneprov_acs_sessions_total", "counter", "CWMP sessions opened by CPEs at the ACS"),
    ("phoneprov_acs_tasks_total", "counter", "ACS tasks answered by CPEs, by result (done, transferring, fault)"),
    ("phoneprov_acs_writes_total", "counter", "ACS session writes committed"),
    ("phoneprov_acs_write_groups_total", "counter", "Group commits that wrote the ACS session writes"),
    ("phoneprov_syslog_messages_total", "counter", "Syslog messages received, by kind"),
    ("phoneprov_syslog_filed_total", "counter", "Syslog messages filed in device timelines, by result"),
    ("phoneprov_events_pruned_total", "counter", "Timeline events removed by retention, by reason (age, count)"),
    ("phoneprov_access_log_dropped_total", "counter", "Access log lines dropped because the writer queue was full"),
    ("phoneprov_unknown_devices_total", "counter", "Requests and syslog messages for MACs not in the inventory, by protocol"),
    ("phoneprov_reports_refused_total", "counter", "Reports not recorded because they did not prove their device, by reason (undecryptable)"),
];

/// Installs the recorder once and returns its handle.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("phoneprov_request_duration_seconds".into()),
                    LATENCY_BUCKETS,
                )
                .expect("the bucket list is not empty")
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (an embedding
            // program's): keep serving ours, which then just stays empty.
            let _ = metrics::set_global_recorder(recorder);
            for &(name, kind, help) in FAMILIES {
                match kind {
                    "gauge" => metrics::describe_gauge!(name, help),
                    "histogram" => metrics::describe_histogram!(name, metrics::Unit::Seconds, help),
                    _ => metrics::describe_counter!(name, help),
                }
            }
            metrics::gauge!("phoneprov_build_info", "version" => env!("CARGO_PKG_VERSION"))
                .set(1.0);
            handle
        })
        .clone()
}

/// Status labels of `phoneprov_requests_total`, in [`label_index`] order.
const LABELS: &[&str] = &[
    "200", "204", "206", "301", "302", "304", "400", "401", "403", "404", "405", "408", "413",
    "416", "429", "431", "500", "503", "other",
];

/// Index of "other" in [`LABELS`].
const OTHER: usize = 18;

/// HTTP status classes (`outcome` of the latency histogram).
const CLASSES: &[&str] = &["1xx", "2xx", "3xx", "4xx", "5xx"];

/// TFTP outcomes, in [`tftp_index`] order.
const TFTP_OUTCOMES: &[&str] = &["ok", "not-found", "denied", "error"];

/// Pre-resolved counters (see the module docs).
pub struct Handles {
    /// `phoneprov_requests_total` by `[http|https][label index]`.
    requests: [Vec<Counter>; 2],
    /// `phoneprov_request_duration_seconds` by `[http|https][class]`.
    http_latency: [Vec<Histogram>; 2],
    /// `phoneprov_tftp_requests_total` by outcome.
    tftp: Vec<Counter>,
    /// `phoneprov_request_duration_seconds{proto="tftp"}` by outcome.
    tftp_latency: Vec<Histogram>,
    /// `phoneprov_bytes_sent_total` by proto.
    bytes: [Counter; 3],
    /// `phoneprov_tls_handshake_failures_total`.
    handshake_failures: Counter,
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
        let web = [Proto::Http, Proto::Https];
        let requests = web.map(|p| {
            LABELS
                .iter()
                .map(|&l| metrics::counter!("phoneprov_requests_total", "proto" => p.as_str(), "status" => l))
                .collect()
        });
        let latency = |p: Proto, outcome: &'static str| {
            metrics::histogram!("phoneprov_request_duration_seconds", "proto" => p.as_str(), "outcome" => outcome)
        };
        let http_latency = web.map(|p| CLASSES.iter().map(|&c| latency(p, c)).collect());
        Handles {
            requests,
            http_latency,
            tftp: TFTP_OUTCOMES
                .iter()
                .map(|&o| metrics::counter!("phoneprov_tftp_requests_total", "outcome" => o))
                .collect(),
            tftp_latency: TFTP_OUTCOMES.iter().map(|&o| latency(Proto::Tftp, o)).collect(),
            bytes: [Proto::Http, Proto::Https, Proto::Tftp]
                .map(|p| metrics::counter!("phoneprov_bytes_sent_total", "proto" => p.as_str())),
            handshake_failures: metrics::counter!("phoneprov_tls_handshake_failures_total"),
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

fn tftp_index(outcome: &str) -> usize {
    TFTP_OUTCOMES
        .iter()
        .position(|&o| o == outcome)
        .unwrap_or(TFTP_OUTCOMES.len() - 1)
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

/// Counts one answered HTTP(S) request (`proto`: HTTP or HTTPS) by status
/// code, with its body bytes and the time to answer.
pub fn record_http(proto: Proto, code: u16, bytes: u64, took: Duration) {
    let h = handles();
    let p = match proto {
        Proto::Https => 1,
        _ => 0,
    };
    h.requests[p][code_index(code)].increment(1);
    let class = usize::from(code / 100).clamp(1, 5) - 1;
    h.http_latency[p][class].record(took.as_secs_f64());
    if bytes > 0 {
        h.bytes[p].increment(bytes);
    }
}

/// Counts one answered TFTP read request by outcome (`ok`, `not-found`,
/// `denied`, `error`; anything else counts as `error`).
pub fn record_tftp(outcome: &str, bytes: u64, took: Duration) {
    let h = handles();
    let i = tftp_index(outcome);
    h.tftp[i].increment(1);
    h.tftp_latency[i].record(took.as_secs_f64());
    if bytes > 0 {
        h.bytes[Proto::Tftp as usize].increment(bytes);
    }
}

/// Counts one failed HTTPS handshake.
pub fn record_handshake_failure() {
    handles().handshake_failures.increment(1);
}

/// Counts one activation request from a phone (`/activation/v1/query` or
/// `/code`) by the status it got.
pub fn record_activation(path: &str, code: u16) {
    let kind = if path.ends_with("/code") {
        "code"
    } else {
        "query"
    };
    let result = match code {
        200..=299 => "redirect",
        404 => "not-found",
        400..=499 => "refused",
        _ => "error",
    };
    metrics::counter!("phoneprov_activation_queries_total", "kind" => kind, "result" => result)
        .increment(1);
}

/// Sets `phoneprov_devices` and `phoneprov_devices_by_outcome` from the
/// inventory's counts by last outcome (read at every scrape of `/metrics`
/// by the admin listener). Outcomes with no device are set to 0 so a
/// series never sticks at an old value.
pub fn set_device_counts(counts: Vec<(Option<phoneprov_store::Outcome>, u64)>) {
    let mut by = [0u64; 5];
    for (outcome, n) in counts {
        let i = match outcome {
            Some(phoneprov_store::Outcome::Success) => 0,
            Some(phoneprov_store::Outcome::NotFound) => 1,
            Some(phoneprov_store::Outcome::Corrupt) => 2,
            Some(phoneprov_store::Outcome::Failed) => 3,
            None => 4,
        };
        by[i] += n;
    }
    metrics::gauge!("phoneprov_devices").set(by.iter().sum::<u64>() as f64);
    for (label, n) in ["success", "not-found", "corrupt", "failed", "never"]
        .into_iter()
        .zip(by)
    {
        metrics::gauge!("phoneprov_devices_by_outcome", "outcome" => label).set(n as f64);
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
        429 => "429",
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
        assert_eq!(LABELS[code_index(429)], "429");
        assert_eq!(TFTP_OUTCOMES[tftp_index("denied")], "denied");
        assert!(
            LABELS
                .iter()
                .all(|l| l.parse::<u16>().is_ok() || *l == "other"),
            "no TFTP or TLS words among the HTTP status labels"
        );
    }
}
