//! `/metrics` answers questions (issue 17 item 5): after HTTP, HTTPS and
//! TFTP fetches, a failed handshake, an activation query and an API call,
//! a scrape of the admin listener (curl) has every family with `# HELP`
//! and `# TYPE`, latency histograms per protocol and outcome, live device
//! gauges, build info, and no TFTP or TLS words among the HTTP status
//! labels.

mod serve_support;

use serve_support::*;
use std::time::{Duration, Instant};

use phoneprov_server::metrics_setup::FAMILIES;

fn scrape(s: &Served) -> String {
    let (code, body) = curl(&["-m", "10", &s.admin_url("/metrics")]);
    assert_eq!(code, 200);
    String::from_utf8(body).unwrap()
}

/// The value of the sample line that starts with `series ` (name and
/// labels exactly as exposed).
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

#[test]
fn a_scrape_has_every_family_described_and_the_questions_answered() {
    let s = start_default();
    // Traffic: two profile fetches (miss, hit), an unknown device, HTTPS,
    // TFTP, a plain-text client on the HTTPS port, an activation query, an
    // API call.
    for _ in 0..2 {
        let (code, _) = curl(&["-m", "10", &s.http_url(&format!("/{MAC}.cfg"))]);
        assert_eq!(code, 200);
    }
    let (code, _) = curl(&["-m", "10", &s.http_url("/000e08999999.cfg")]);
    assert_eq!(code, 404);
    let cacert = s.ca_pem();
    let (code, _) = curl(&[
        "-m",
        "10",
        "--cacert",
        cacert.to_str().unwrap(),
        &s.https_url("/nothing-here.txt"),
    ]);
    assert_eq!(code, 404);
    let (code, _) = curl(&["-m", "10", &format!("http://{}/", s.https.unwrap())]);
    assert_ne!(code, 200, "plain HTTP on the HTTPS port must fail");
    let tftp = format!("tftp://{}/{MAC}.cfg", s.tftp.unwrap());
    let dir = tempfile::tempdir().unwrap();
    let got = dir.path().join("got");
    let out = peer(
        "curl",
        &["-s", "--max-time", "10", "-o", got.to_str().unwrap(), &tftp],
    );
    assert!(out.status.success(), "curl tftp failed: {out:?}");
    let (code, _) = curl(&[
        "-m",
        "10",
        &s.http_url("/activation/v1/query?mac=000e08777777&model=CP-8841-3PCC"),
    ]);
    assert_eq!(code, 404);
    let (code, _) = curl(&[
        "-m",
        "10",
        "-H",
        &s.admin_auth(),
        &s.admin_url("/api/v1/devices"),
    ]);
    assert_eq!(code, 200);

    // The device's success reaches the store through the status writer:
    // the gauges read it at the next scrape.
    let deadline = Instant::now() + Duration::from_secs(10);
    let text = loop {
        let text = scrape(&s);
        let ok = value(&text, "phoneprov_devices_by_outcome{outcome=\"success\"}") == Some(1.0);
        if ok || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(100));
    };

    // Every family in the scrape is described (HELP and TYPE) and listed
    // in FAMILIES with the same type.
    let mut seen = Vec::new();
    for line in text.lines().filter(|l| l.starts_with("# TYPE ")) {
        let mut w = line.split_whitespace().skip(2);
        let (name, kind) = (w.next().unwrap(), w.next().unwrap());
        let family = FAMILIES.iter().find(|f| f.0 == name);
        let family = family.unwrap_or_else(|| panic!("{name} is not in FAMILIES"));
        assert_eq!(family.1, kind, "{name}");
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("# HELP {name} ")) && l.len() > name.len() + 12),
            "{name} has no # HELP line"
        );
        seen.push(name.to_string());
    }
    for must in [
        "phoneprov_requests_total",
        "phoneprov_tftp_requests_total",
        "phoneprov_request_duration_seconds",
        "phoneprov_tls_handshake_failures_total",
        "phoneprov_bytes_sent_total",
        "phoneprov_render_cache_total",
        "phoneprov_devices",
        "phoneprov_devices_by_outcome",
        "phoneprov_activation_queries_total",
        "phoneprov_build_info",
        "phoneprov_api_requests_total",
    ] {
        assert!(seen.iter().any(|n| n == must), "{must} missing:\n{text}");
    }

    // The answers.
    let v = |series: &str| value(&text, series).unwrap_or_else(|| panic!("no {series}:\n{text}"));
    assert_eq!(
        v("phoneprov_requests_total{proto=\"http\",status=\"200\"}"),
        2.0
    );
    assert_eq!(
        v("phoneprov_requests_total{proto=\"http\",status=\"404\"}"),
        2.0
    );
    assert_eq!(
        v("phoneprov_requests_total{proto=\"https\",status=\"404\"}"),
        1.0
    );
    assert_eq!(v("phoneprov_tftp_requests_total{outcome=\"ok\"}"), 1.0);
    assert!(v("phoneprov_tls_handshake_failures_total") >= 1.0);
    assert_eq!(v("phoneprov_render_cache_total{result=\"hit\"}"), 2.0);
    assert_eq!(
        v("phoneprov_request_duration_seconds_count{proto=\"http\",outcome=\"2xx\"}"),
        2.0
    );
    assert_eq!(
        v("phoneprov_request_duration_seconds_count{proto=\"tftp\",outcome=\"ok\"}"),
        1.0
    );
    assert_eq!(
        v("phoneprov_request_duration_seconds_bucket{proto=\"http\",outcome=\"4xx\",le=\"+Inf\"}"),
        2.0
    );
    assert_eq!(v("phoneprov_devices"), 1.0);
    assert_eq!(v("phoneprov_devices_by_outcome{outcome=\"success\"}"), 1.0);
    assert_eq!(v("phoneprov_devices_by_outcome{outcome=\"never\"}"), 0.0);
    assert_eq!(
        v("phoneprov_activation_queries_total{kind=\"query\",result=\"not-found\"}"),
        1.0
    );
    assert_eq!(
        v(&format!(
            "phoneprov_build_info{{version=\"{}\"}}",
            env!("CARGO_PKG_VERSION")
        )),
        1.0
    );
    // HTTP status labels are HTTP words only.
    for l in text
        .lines()
        .filter(|l| l.starts_with("phoneprov_requests_total{"))
    {
        let status = l
            .split("status=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        assert!(
            status.parse::<u16>().is_ok() || status == "other",
            "non-HTTP status label in {l}"
        );
    }
}
