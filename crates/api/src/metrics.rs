//! Metrics helpers (Prometheus / OpenMetrics text) for the admin API and
//! the rest of the server.
//!
//! Built on `prometheus-client` (the Prometheus project's Rust client):
//! [`Metrics`] owns one registry; the API registers its own metrics, the
//! server adds its own with [`Metrics::register`] (counters, gauges,
//! histograms, families) and the syslog filer's counters with
//! [`Metrics::attach_syslog`]. `GET /api/v1/metrics` renders them all.

use std::sync::{Arc, Mutex};

use phoneprov_syslog::FilerCounters;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Metric, Registry};

/// Label set of `phoneprov_api_requests_total`.
pub type RequestLabels = Vec<(&'static str, String)>;

/// The server's metric registry plus the API's own metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Mutex<Registry>,
    /// API requests by method and status code.
    pub(crate) requests: Family<RequestLabels, Counter>,
    /// Push resyncs by method and result (`ok`/`error`).
    pub(crate) pushes: Family<RequestLabels, Counter>,
    /// Devices in the inventory, refreshed on each scrape.
    pub(crate) devices: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry holding the API's metrics.
    pub fn new() -> Self {
        let m = Metrics {
            registry: Mutex::new(Registry::default()),
            requests: Family::default(),
            pushes: Family::default(),
            devices: Gauge::default(),
        };
        m.register(
            "phoneprov_api_requests",
            "Admin API requests by method and HTTP status",
            m.requests.clone(),
        );
        m.register(
            "phoneprov_push_resyncs",
            "Push resync requests sent to phones (R-RULE-6) by method and result",
            m.pushes.clone(),
        );
        m.register(
            "phoneprov_devices",
            "Devices in the inventory",
            m.devices.clone(),
        );
        m
    }

    /// Adds a metric (any `prometheus-client` metric; keep a clone to
    /// update it). Counter names get `_total` appended on output.
    pub fn register(&self, name: &str, help: &str, metric: impl Metric) {
        self.lock().register(name, help, metric);
    }

    /// Exposes a syslog filer's counters as
    /// `phoneprov_syslog_messages_total{result="filed|unmatched|dropped|failed"}`.
    pub fn attach_syslog(&self, counters: Arc<FilerCounters>) {
        self.lock()
            .register_collector(Box::new(SyslogCollector(counters)));
    }

    /// The OpenMetrics text of every registered metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.lock())
            .expect("writing to a String cannot fail");
        out
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        // The registry stays consistent even if a holder panicked.
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn count_request(&self, method: &str, status: u16) {
        self.requests
            .get_or_create(&vec![
                ("method", method.to_string()),
                ("code", status.to_string()),
            ])
            .inc();
    }

    pub(crate) fn count_push(&self, method: &str, ok: bool) {
        let result = if ok { "ok" } else { "error" };
        self.pushes
            .get_or_create(&vec![
                ("method", method.to_string()),
                ("result", result.to_string()),
            ])
            .inc();
    }
}

#[derive(Debug)]
struct SyslogCollector(Arc<FilerCounters>);

impl Collector for SyslogCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = self.0.snapshot();
        let mut family = encoder.encode_descriptor(
            "phoneprov_syslog_messages",
            "Syslog messages received from phones (R-LOG) by what happened to them",
            None,
            prometheus_client::metrics::MetricType::Counter,
        )?;
        for (result, value) in [
            ("filed", s.filed),
            ("unmatched", s.unmatched),
            ("dropped", s.dropped),
            ("failed", s.failed),
        ] {
            let labels = [("result", result)];
            ConstCounter::new(value).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    #[test]
    fn renders_api_server_and_syslog_metrics() {
        let m = Metrics::new();
        m.count_request("GET", 200);
        m.count_request("GET", 200);
        m.count_push("get", false);
        m.devices.set(3);
        let mine: Counter = Counter::default();
        m.register("phoneprov_tftp_transfers", "TFTP transfers", mine.clone());
        mine.inc_by(5);
        let c = Arc::new(FilerCounters::default());
        c.filed.fetch_add(7, Ordering::Relaxed);
        m.attach_syslog(c);
        let text = m.render();
        for line in [
            "phoneprov_api_requests_total{method=\"GET\",code=\"200\"} 2",
            "phoneprov_push_resyncs_total{method=\"get\",result=\"error\"} 1",
            "phoneprov_devices 3",
            "phoneprov_tftp_transfers_total 5",
            "phoneprov_syslog_messages_total{result=\"filed\"} 7",
            "phoneprov_syslog_messages_total{result=\"dropped\"} 0",
            "# EOF",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in:\n{text}"
            );
        }
    }
}
