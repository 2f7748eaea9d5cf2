//! The Grafana dashboard under `examples/grafana/` (issue 17 item 5) is
//! valid JSON Grafana imports (a Prometheus data source input, panels with
//! targets), and every metric its expressions name is a family the server
//! describes ([`FAMILIES`]), so no panel stays empty because of a typo or
//! a renamed series.

use phoneprov_server::metrics_setup::FAMILIES;

const DASHBOARD: &str = include_str!("../../../examples/grafana/phoneprov-dashboard.json");

/// The `phoneprov_…` identifiers of a PromQL expression, with the
/// histogram suffixes mapped to their family.
fn metric_names(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = expr;
    while let Some(i) = rest.find("phoneprov_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        let name = &tail[..end];
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| FAMILIES.iter().any(|x| x.0 == *f && x.1 == "histogram"))
            })
            .unwrap_or(name);
        out.push(family.to_string());
        rest = &tail[end..];
    }
    out
}

#[test]
fn the_dashboard_is_importable_and_names_only_existing_families() {
    let d: serde_json::Value = serde_json::from_str(DASHBOARD).expect("valid JSON");
    assert_eq!(d["__inputs"][0]["pluginId"], "prometheus");
    assert!(d["title"].as_str().is_some_and(|t| !t.is_empty()));
    let panels = d["panels"].as_array().expect("panels");
    assert!(panels.len() >= 10, "{} panels", panels.len());
    let mut named = std::collections::BTreeSet::new();
    for p in panels {
        let title = p["title"].as_str().expect("every panel has a title");
        let targets = p["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{title}: no query");
        for t in targets {
            let expr = t["expr"].as_str().expect("expr");
            let names = metric_names(expr);
            assert!(
                !names.is_empty(),
                "{title}: {expr} names no phoneprov metric"
            );
            for n in names {
                assert!(
                    FAMILIES.iter().any(|f| f.0 == n),
                    "{title}: {n} is not a family the server exports"
                );
                named.insert(n);
            }
        }
    }
    // The questions of issue 17 item 5 each have a panel.
    for must in [
        "phoneprov_request_duration_seconds",
        "phoneprov_devices",
        "phoneprov_devices_by_outcome",
        "phoneprov_acs_sessions_total",
        "phoneprov_acs_tasks_total",
        "phoneprov_activation_queries_total",
        "phoneprov_render_cache_total",
        "phoneprov_build_info",
    ] {
        assert!(named.contains(must), "no panel shows {must}");
    }
}

#[test]
fn histogram_suffixes_map_to_their_family() {
    assert_eq!(
        metric_names("rate(phoneprov_request_duration_seconds_bucket[5m]) / phoneprov_devices"),
        ["phoneprov_request_duration_seconds", "phoneprov_devices"]
    );
    assert_eq!(
        metric_names("phoneprov_nope_count"),
        ["phoneprov_nope_count"]
    );
}
